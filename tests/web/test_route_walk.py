"""Jurisdiction across every route and role: walk all endpoints of the app as each account and
assert that no record from outside the account's jurisdiction appears in any answer, that
records inside it do, and that forbidden writes change nothing.

The data: the factory set (two townships, four villages, ten grids) with one incident in every
grid (external id ext-<grid code>) and one outside the city. A new route that is not walked
here fails test_every_endpoint_is_walked.
"""
from __future__ import annotations

import io
import json
import re
import uuid

import pytest
from shapely.geometry import shape
from sqlalchemy import text

from gis.access.roles import ROLE_PERMISSIONS
from gis.access.scope import Scope, Unit, ancestor_codes
from gis.boundaries.importing import import_boundaries
from gis.incidents.submit import submit_incident
from gis.store import db, scratch
from tests.helpers import client_for, make_account

T1, T2 = "231281101000", "231281102000"
OUTSIDE = (125.6, 46.2)
ACCOUNTS = {
    "admin": ("admin", []),
    "official-t1": ("official", [T1]),
    "planner-v": ("planner", ["231281101002"]),
    "worker-g": ("grid_worker", ["231281101001001001"]),
    "client-t2": ("client", [T2]),
}
# Walked separately (sign-in flow in test_auth.py) or carrying no records.
NOT_WALKED = {"static"}


def incident_feature(ext, lon, lat, source=None):
    """A report; accounts with a jurisdiction report under their own source (none given)."""
    props = {"external_id": ext, "category": "dispute_neighbour",
             "occurred_at": "2026-05-01T09:30:00+08:00"}
    if source:
        props["source"] = source
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": props}


@pytest.fixture(scope="module")
def world(admin_engine, template_db, factory_gpkg):
    name = f"gridgis_test_access_{uuid.uuid4().hex[:6]}"
    url = scratch.create_database(admin_engine, name, template=template_db)
    eng = db.engine(url)
    import_boundaries(eng, factory_gpkg, commit=True, name="factory")
    with eng.begin() as conn:
        grids = conn.execute(text(
            "SELECT code, ST_AsGeoJSON(ST_PointOnSurface(geom)) AS p FROM grid")).all()
        areas = conn.execute(text("SELECT code FROM admin_area")).scalars().all()
        points = {}
        for code, p in grids:
            pt = shape(__import__("json").loads(p))
            submit_incident(conn, incident_feature(f"ext-{code}", pt.x, pt.y, "walk"),
                            scope=Scope.all())
            points[code] = (pt.x, pt.y)
        submit_incident(conn, incident_feature("ext-outside", *OUTSIDE, "walk"), scope=Scope.all())
        ids = {
            "incidents": dict(conn.execute(text("SELECT external_id, id FROM incident")).all()),
            "grids": dict(conn.execute(text("SELECT code, id FROM grid")).all()),
            "areas": dict(conn.execute(text("SELECT code, id FROM admin_area")).all()),
        }
    accounts = {name: make_account(url, name, role, units)
                for name, (role, units) in ACCOUNTS.items()}
    yield {"url": url, "grid_points": points, "area_codes": list(areas), "ids": ids,
           "accounts": accounts}
    db.engine(url).dispose()
    scratch.drop_database(admin_engine, name)


def scope_of(account) -> Scope:
    if account["role"] == "admin":
        return Scope.all()
    return Scope(tuple(Unit(u["level"], u["code"]) for u in account["units"]))


def foreign_markers(world, account) -> tuple[list[str], list[str]]:
    """Codes and incident ids the account must never see, and incident ids it must see."""
    scope = scope_of(account)
    if scope.everything:
        return [], list(world["ids"]["incidents"])
    context = set(scope.ancestor_codes())
    codes = [c for c in world["area_codes"] + list(world["grid_points"])
             if not scope.contains_code(c) and c not in context]
    own = [f"ext-{c}" for c in world["grid_points"] if scope.contains_code(c)]
    foreign = [e for e in world["ids"]["incidents"] if e not in own]
    return codes + foreign, own


def find_foreign(body: str, markers: list[str]) -> list[str]:
    return [m for m in markers if re.search(rf"(?<![\w-]){re.escape(m)}(?![\w-])", body)]


class Walker:
    """Sends requests as one account and records which endpoints were reached."""

    def __init__(self, world, name, reached):
        self.world, self.account = world, world["accounts"][name]
        self.client = client_for(world["url"], self.account["token"], RATELIMIT_ENABLED=False)
        self.markers, self.own = foreign_markers(world, self.account)
        self.reached = reached
        self.app = self.client.application

    def send(self, method, path, **kw):
        adapter = self.app.url_map.bind("localhost")
        endpoint, _ = adapter.match(path.split("?")[0], method=method)
        self.reached.add(endpoint)
        res = self.client.open(path, method=method, **kw)
        # binary answers (map tiles) are searched too: codes and ids are ASCII inside them
        leaked = find_foreign(res.get_data().decode("utf-8", "replace"), self.markers)
        assert not leaked, (f"{self.account['username']} {method} {path} -> {res.status_code} "
                            f"shows foreign records: {leaked[:5]}")
        assert res.status_code < 500, res.get_data()[:500]
        return res


@pytest.fixture(scope="module")
def reached():
    return set()


def get_paths(world):
    ids = world["ids"]
    yield "/"
    yield "/maps/coverage"
    yield "/maps/hotspots"
    yield "/maps/hotspots?category=dispute&bandwidth=250"
    for level in ("township", "village", "hamlet", "grid"):
        yield f"/maps/rates?level={level}"
    yield f"/maps/rates?level=grid&unit={T2[:9]}001"
    yield "/api/v1/exports/incidents?format=csv"
    yield "/api/v1/exports/incidents?format=geojson&category=dispute"
    yield "/api/v1/"
    yield "/api/v1/conformance"
    yield "/api/v1/collections"
    for coll in ("cities", "townships", "villages", "hamlets", "grids", "incidents"):
        yield f"/api/v1/collections/{coll}"
        yield f"/api/v1/collections/{coll}/items?limit=10000"
    for code, gid in ids["grids"].items():
        yield f"/api/v1/collections/grids/items/{gid}"
    for code, aid in ids["areas"].items():
        for coll in ("cities", "townships", "villages", "hamlets"):
            yield f"/api/v1/collections/{coll}/items/{aid}"
    for ext, iid in ids["incidents"].items():
        yield f"/api/v1/collections/incidents/items/{iid}"
        yield f"/api/v1/incidents/{iid}"
    for code, (lon, lat) in world["grid_points"].items():
        yield f"/api/v1/locate?lon={lon}&lat={lat}"
    yield f"/api/v1/locate?lon={OUTSIDE[0]}&lat={OUTSIDE[1]}"
    yield "/api/v1/me"
    yield "/api/v1/tokens"
    yield "/api/v1/categories"
    yield "/api/v1/categories?inactive=true"
    yield "/api/v1/figures?level=township&by=category&source=walk"
    yield "/api/v1/figures?by=source"
    yield "/api/v1/accounts"
    yield "/api/v1/audit?limit=1000"
    yield "/api/v1/openapi.json"
    yield "/health"
    yield "/login"
    yield from lifecycle_paths(world)
    yield from plan_paths(world)
    yield from ["/maps/plans", *(f"/maps/plans/{plan_world(world)[k]}" for k in ("own", "foreign"))]
    yield from coverage_paths(world)
    yield from analysis_paths()
    yield from tile_paths(world)
    yield from case_paths(world)


def attachment_world(world) -> dict:
    """One photo on every incident (stored directly), built once per module."""
    if "attachments" not in world:
        from PIL import Image

        from gis.attachments.content import prepare
        from gis.store import attachments as astore
        buf = io.BytesIO()
        Image.new("RGB", (40, 30), (200, 60, 60)).save(buf, "PNG")
        photo = prepare("photo.png", buf.getvalue())
        row = {k: getattr(photo, k) for k in ("kind", "filename", "content_type", "sha256",
                                               "data", "thumbnail", "width", "height")}
        row.update(size_bytes=photo.size_bytes, gps_lon=None, gps_lat=None)
        with db.engine(world["url"]).begin() as conn:
            world["attachments"] = {
                iid: astore.insert(conn, iid, [row], event_id=None, account_id=None,
                                   username="walk")[0]["id"]
                for iid in world["ids"]["incidents"].values()}
    return world["attachments"]


def case_paths(world):
    yield from ("/incidents", "/incidents?tab=overdue", "/tasks", "/supervision", "/report",
                "/admin/accounts", "/admin/audit", "/api/v1/audit?format=csv",
                "/api/v1/units?q=2312", "/api/v1/units?q=镇")
    for tab in ("all", "accept", "overdue"):
        yield f"/api/v1/cases?tab={tab}&limit=200"
    yield "/api/v1/cases?q=ext-"
    yield "/api/v1/cases/export.csv"
    yield "/api/v1/tasks?limit=200"
    yield "/api/v1/tasks/unread"
    yield "/api/v1/supervision"
    yield "/api/v1/supervision?level=grid"
    yield "/api/v1/departments"
    yield "/api/v1/calendar"
    yield "/api/v1/stage-limits"
    yield from ("/open311/v2/services.json", "/open311/v2/services/petition.json",
                "/open311/v2/requests.json?limit=1000", "/open311/v2/nothing-here")
    with db.engine(world["url"]).connect() as conn:
        for public_id in conn.execute(text("SELECT public_id FROM incident")).scalars():
            yield f"/open311/v2/requests/{public_id}.json"
    for iid, aid in attachment_world(world).items():
        yield f"/incidents/{iid}"
        yield f"/api/v1/incidents/{iid}/dispatch-targets"
        yield f"/api/v1/incidents/{iid}/attachments"
        yield f"/api/v1/attachments/{aid}"
        yield f"/api/v1/attachments/{aid}/thumbnail"


def analysis_paths():
    for level in ("township", "village", "hamlet", "grid"):
        yield f"/api/v1/analysis/rates?level={level}"
    yield f"/api/v1/analysis/rates?level=grid&unit={T2[:9]}001&measure=count"
    yield "/api/v1/analysis/hotspots"
    yield "/api/v1/analysis/hotspots?category=dispute&bandwidth=250"


def tile_of(lon, lat, z):
    import math
    n = 2 ** z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


def tile_paths(world):
    """Every tile over the city (and the outside incident) of every layer at a few zooms."""
    from gis.tiles.layers import LAYERS
    xs = [p[0] for p in world["grid_points"].values()] + [OUTSIDE[0]]
    ys = [p[1] for p in world["grid_points"].values()] + [OUTSIDE[1]]
    for z in (9, 12, 15):
        (x0, y0), (x1, y1) = tile_of(min(xs), max(ys), z), tile_of(max(xs), min(ys), z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                for layer in LAYERS:
                    if z == 15 and layer not in ("incidents", "uncovered"):
                        continue
                    yield f"/tiles/{layer}/{z}/{x}/{y}.mvt"


def result_tiles(w: "Walker", world) -> None:
    """Tiles drawing the account's own stored results, and another account's refused."""
    z = 12
    x, y = tile_of(*next(iter(world["grid_points"].values())), z)
    for level, layer in (("township", "townships"), ("grid", "grids")):
        res = w.send("GET", f"/api/v1/analysis/rates?level={level}")
        if res.status_code != 200:
            continue
        key = res.get_json()["result"]
        assert w.send("GET", f"/tiles/{layer}/{z}/{x}/{y}.mvt?result={key}").status_code \
            in (200, 204)
    foreign = world.setdefault("admin_result", None)
    if foreign and w.account["role"] != "admin":
        plain = w.send("GET", f"/tiles/grids/{z}/{x}/{y}.mvt").status_code
        res = w.send("GET", f"/tiles/grids/{z}/{x}/{y}.mvt?result={foreign}")
        # a reader gets "no such result for you" (not the admin's values); others the 403
        assert res.status_code == (404 if plain in (200, 204) else plain)


def coverage_world(world) -> dict:
    """One worker per grid (st-<grid code>), a camera in every grid and a post per township;
    built once per module."""
    if "coverage" not in world:
        import pandas as pd

        from gis.coverage import imports as coverage_service
        eng = db.engine(world["url"])
        staff = pd.DataFrame([{"external_id": f"st-{c}", "name": "员", "role": "full_time",
                               "grids": c} for c in world["grid_points"]])
        cams = pd.DataFrame([{"external_id": f"cam-{c}", "lon": x, "lat": y, "range_m": 50}
                             for c, (x, y) in world["grid_points"].items()])
        posts = pd.DataFrame([{"external_id": f"post-{t}", "name": "派出所", "lon": lon,
                               "lat": 46.3} for t, lon in ((T1, 125.1), (T2, 125.3))])
        folder = scratch_folder()
        for frame, name in ((staff, "staff.csv"), (cams, "cams.csv"), (posts, "posts.csv")):
            frame.to_csv(folder / name, index=False)
        coverage_service.import_staff(eng, folder / "staff.csv")
        coverage_service.import_cameras(eng, folder / "cams.csv")
        coverage_service.import_posts(eng, folder / "posts.csv")
        world["coverage"] = {"staff": list(staff["external_id"])}
    return world["coverage"]


def scratch_folder():
    import tempfile
    from pathlib import Path
    return Path(tempfile.mkdtemp(prefix="gridgis-walk-"))


def coverage_paths(world):
    cov = coverage_world(world)
    yield from ("/maps/coverage/staff", "/maps/coverage/staff?level=village",
                "/maps/coverage/cameras", "/maps/coverage/response?level=village",
                "/maps/coverage/blind-spots")
    yield from ("/api/v1/staff", "/api/v1/cameras", "/api/v1/posts", "/api/v1/roads",
                "/api/v1/coverage/settings", "/api/v1/coverage/blind-spots?format=csv",
                "/api/v1/coverage/blind-spots/map")
    for theme in ("staffing", "cameras", "response"):
        for level in ("township", "village", "grid"):
            yield f"/api/v1/coverage/{theme}?level={level}"
            yield f"/api/v1/coverage/{theme}/map?level={level}"
    for eid in cov["staff"]:
        yield f"/api/v1/staff/{eid}"


@pytest.mark.parametrize("name", list(ACCOUNTS))
def test_reads_show_nothing_from_outside_the_jurisdiction(world, reached, name):
    w = Walker(world, name, reached)
    for path in get_paths(world):
        w.send("GET", path)
    if w.account["role"] == "admin":
        world["admin_result"] = w.send("GET", "/api/v1/analysis/rates?level=grid"
                                       ).get_json()["result"]
    result_tiles(w, world)
    # and what is inside is there: the account's own incidents are listed
    if w.account["role"] != "client":
        body = w.send("GET", "/api/v1/collections/incidents/items?limit=10000").get_json()
        listed = {f["properties"]["external_id"] for f in body["features"]}
        assert w.own and listed == set(w.own)
    for ext in w.own:
        res = w.send("GET", f"/api/v1/incidents/{world['ids']['incidents'][ext]}")
        assert res.status_code == 200


@pytest.mark.parametrize("name", [n for n in ACCOUNTS if n != "admin"])
def test_foreign_records_answer_403_like_missing_ones(world, reached, name):
    w = Walker(world, name, reached)
    foreign = [i for e, i in world["ids"]["incidents"].items() if e not in w.own]
    missing = max(world["ids"]["incidents"].values()) + 1000
    a = w.send("GET", f"/api/v1/incidents/{foreign[0]}")
    b = w.send("GET", f"/api/v1/incidents/{missing}")
    assert a.status_code == b.status_code == 403
    assert a.get_json()["error"]["code"] == b.get_json()["error"]["code"] == "forbidden"
    assert a.get_data(as_text=True).replace(str(foreign[0]), "N") == \
        b.get_data(as_text=True).replace(str(missing), "N")


def count_incidents(world) -> int:
    with db.engine(world["url"]).connect() as conn:
        return conn.execute(text("SELECT count(*) FROM incident")).scalar_one()


@pytest.mark.parametrize("name", list(ACCOUNTS))
def test_writes_outside_the_jurisdiction_change_nothing(world, reached, name):
    w = Walker(world, name, reached)
    role = w.account["role"]
    scope = scope_of(w.account)
    foreign_grid = next((c for c in world["grid_points"] if not scope.contains_code(c)), None)
    own_grid = next(c for c in world["grid_points"] if scope.contains_code(c))
    before = count_incidents(world)
    if foreign_grid:  # a report from outside is kept where it lies, under the reporter's unit
        lon, lat = world["grid_points"][foreign_grid]
        res = w.send("POST", "/api/v1/incidents",
                     json=incident_feature(f"w-{name}-foreign", lon, lat))
        creates = "incident.create" in ROLE_PERMISSIONS[role]
        assert res.status_code == (201 if creates else 403)
        if creates:
            props = res.get_json()["properties"]
            assert props["reporter_unit"] == w.account["units"][0]["code"] and props["covered"]
        assert count_incidents(world) == before + creates
        before = count_incidents(world)
        csv = ("external_id,category,occurred_at,lon,lat\n"
               f"w-{name}-csv-own,dispute_land,2026-05-02 10:00,"
               f"{world['grid_points'][own_grid][0]},{world['grid_points'][own_grid][1]}\n"
               f"w-{name}-csv-foreign,dispute_land,2026-05-02 10:00,{lon},{lat}\n")
        res = w.send("POST", "/api/v1/imports/incidents",
                     data={"file": (io.BytesIO(csv.encode()), "in.csv")},
                     content_type="multipart/form-data")
        imports = "incident.import" in ROLE_PERMISSIONS[role]
        assert res.status_code == (201 if imports else 403)
        if imports:
            assert res.get_json()["outside_jurisdiction"] == 1
        assert count_incidents(world) == before + 2 * imports
    lon, lat = world["grid_points"][own_grid]
    res = w.send("POST", "/api/v1/incidents", json=incident_feature(f"w-{name}-own", lon, lat))
    assert res.status_code == (201 if role != "planner" else 403)
    # account administration and boundary imports are the administrator's
    other = world["accounts"]["admin" if name != "admin" else "official-t1"]
    for method, path, kw in (
        ("POST", "/api/v1/accounts", {"json": {"username": f"x-{name}", "role": "admin",
                                               "password": "long-enough-password"}}),
        ("PATCH", f"/api/v1/accounts/{other['id']}", {"json": {"active": True}}),
        ("POST", "/api/v1/tokens", {"json": {"name": "x", "account_id": other["id"]}}),
        ("DELETE", f"/api/v1/tokens/{_spare_token(world, other)}", {}),
        ("POST", "/api/v1/imports/boundaries",
         {"data": {"file": (io.BytesIO(b"x"), "set.gpkg")}, "content_type": "multipart/form-data"}),
        # activating the active generation: changes nothing, even for the administrator
        ("POST", f"/api/v1/generations/{plan_world(world)['generation']}/activate", {}),
    ):
        res = w.send(method, path, **kw)
        if role == "admin":
            assert res.status_code in (200, 201, 400, 422), (path, res.get_json())
        else:
            assert res.status_code == 403, (path, res.status_code)


def _spare_token(world, account) -> int:
    from gis.store import accounts
    with db.engine(world["url"]).begin() as conn:
        return accounts.create_token(conn, account["id"], "spare")[0]["id"]


NEXT_ACTION = {"reported": "accept", "accepted": "mediate", "mediating": "resolve",
               "resolved": "verify", "verified": "close"}


@pytest.mark.parametrize("name", list(ACCOUNTS))
def test_lifecycle_outside_the_jurisdiction_changes_nothing(world, reached, name):
    """Transitions on foreign incidents answer 403 and change nothing; deadlines are the
    administrator's; the overdue list holds exactly the account's incidents."""
    w = Walker(world, name, reached)
    scope = scope_of(w.account)
    eng = db.engine(world["url"])

    def lifecycle(ext):
        with eng.connect() as conn:
            return tuple(conn.execute(text(
                "SELECT i.status, i.version, i.handling_level, count(e.id) FROM incident i "
                "LEFT JOIN incident_event e ON e.incident_id = i.id WHERE i.external_id = :e "
                "GROUP BY i.id"), {"e": ext}).one())

    foreign = [e for e in world["ids"]["incidents"] if e not in w.own]
    for ext in foreign[:3]:
        before = lifecycle(ext)
        res = w.send("POST", f"/api/v1/incidents/{world['ids']['incidents'][ext]}/transitions",
                     json={"action": NEXT_ACTION[before[0]], "version": before[1],
                           "method": "phone"})
        assert res.status_code == 403 and lifecycle(ext) == before
    own = next(e for e in sorted(w.own) if lifecycle(e)[0] in NEXT_ACTION)
    before = lifecycle(own)
    res = w.send("POST", f"/api/v1/incidents/{world['ids']['incidents'][own]}/transitions",
                 json={"action": NEXT_ACTION[before[0]], "version": before[1],
                           "method": "phone"})
    if w.account["role"] in ("planner", "client"):
        assert res.status_code == 403 and lifecycle(own) == before
    else:
        assert res.status_code == 200 and lifecycle(own)[1:] == (before[1] + 1, "grid",
                                                                 before[3] + 1)
    rules = w.send("GET", "/api/v1/deadlines").get_json()
    res = w.send("PUT", "/api/v1/deadlines", json={"rules": [
        {"level": "grid", "accept_hours": 1, "resolve_hours": 2}]})
    if w.account["role"] == "admin":
        assert res.status_code == 200
        res = w.send("PUT", "/api/v1/deadlines", json={"rules": [
            {k: r[k] for k in ("level", "accept_hours", "resolve_hours")}
            for r in rules["rules"]]})
        assert res.status_code == 200
    else:
        assert res.status_code == 403
    assert w.send("GET", "/api/v1/deadlines").get_json() == rules
    # every incident overdue: the list shows the account's own and nothing else
    with eng.begin() as conn:
        conn.execute(text("UPDATE incident SET accept_due_at = now() - interval '2 hours', "
                          "resolve_due_at = now() - interval '1 hour'"))
        rows = conn.execute(text("SELECT i.external_id, g.code, i.status FROM incident i "
                                 "LEFT JOIN grid g ON g.id = i.grid_id")).all()
    expected = {e for e, code, status in rows if status not in ("resolved", "closed")
                and (scope.everything or (code and scope.contains_code(code)))}
    listed = w.send("GET", "/api/v1/incidents/overdue?limit=1000").get_json()["incidents"]
    assert expected and {i["external_id"] for i in listed} == expected


@pytest.mark.parametrize("name", list(ACCOUNTS))
def test_plans_outside_the_jurisdiction_change_nothing(world, reached, name):
    """Draft plans: a planner edits only drafts of its own units (others answer 403 and stay as
    they were), other roles not at all; re-assigning history is the administrator's."""
    w = Walker(world, name, reached)
    role = w.account["role"]
    p = plan_world(world)
    eng = db.engine(world["url"])

    def drafts():
        with eng.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "SELECT d.id, d.version, d.status, count(g.code), sum(g.households), "
                "md5(string_agg(ST_AsText(g.geom), ',' ORDER BY g.code)) FROM plan_draft d "
                "LEFT JOIN plan_grid g ON g.draft_id = d.id GROUP BY d.id ORDER BY d.id")).all()]

    def version(plan_id):
        return next(d[1] for d in drafts() if d[0] == plan_id)

    unit = T2[:9] + "001"
    grid = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[
        [125.2, 46.0], [125.4, 46.0], [125.4, 46.1], [125.2, 46.1], [125.2, 46.0]]]},
        "properties": {"code": unit + "001", "name": "g", "parent_code": unit}}
    upload = json.dumps({"type": "FeatureCollection", "features": [grid]}).encode()
    before, fv = drafts(), version(p["foreign"])
    writes = [
        ("POST", "/api/v1/plans", {"json": {"name": "x", "unit_code": unit}}),
        ("POST", f"/api/v1/plans/{p['foreign']}/edits",
         {"json": {"op": "split_equal", "code": unit + "001", "k": 2, "version": fv}}),
        ("POST", f"/api/v1/plans/{p['foreign']}/proposals", {"json": {"unit": unit}}),
        ("POST", f"/api/v1/plans/{p['foreign']}/publish", {"json": {"version": fv - 1}}),
        ("POST", "/api/v1/plans/imports", {"data": {"file": (io.BytesIO(upload), "p.geojson")},
                                           "content_type": "multipart/form-data"}),
    ]
    for method, path, kw in writes:
        res = w.send(method, path, **kw)
        if role == "admin":
            assert res.status_code in (200, 201, 409), (path, res.get_json())
        else:
            assert res.status_code == 403, (path, res.get_json())
    if role != "admin":
        assert drafts() == before
    res = w.send("POST", f"/api/v1/generations/{p['generation']}/reassign-history")
    assert res.status_code == (200 if role == "admin" else 403)
    # the planner's own drafts: opened, edited, undone
    own = "231281101002"
    res = w.send("POST", "/api/v1/plans", json={"name": f"walk-{name}", "unit_code": own})
    assert res.status_code == (201 if role in ("admin", "planner") else 403)
    if res.status_code == 201:
        plan_id = res.get_json()["draft"]["id"]
        res = w.send("POST", f"/api/v1/plans/{plan_id}/edits",
                     json={"op": "split_equal", "code": own + "001", "k": 2, "version": 1})
        assert res.status_code == 200 and res.get_json()["added"] == [own + "003"]
        res = w.send("POST", f"/api/v1/plans/{plan_id}/edits", json={"op": "undo", "version": 2})
        assert res.status_code == 200 and res.get_json()["removed"] == [own + "003"]
    with eng.connect() as conn:
        assert conn.execute(text("SELECT id FROM generation WHERE is_active")).scalar() == \
            p["generation"]


@pytest.mark.parametrize("name", list(ACCOUNTS))
def test_coverage_writes_outside_the_jurisdiction_change_nothing(world, reached, name):
    """Staff go only into the account's own grids and only with staff.manage; cameras and posts
    only inside its land and with coverage.manage; the road network and settings are
    city-wide."""
    w = Walker(world, name, reached)
    role = w.account["role"]
    scope = scope_of(w.account)
    coverage_world(world)
    eng = db.engine(world["url"])

    def state():
        with eng.connect() as conn:
            return conn.execute(text(
                "SELECT (SELECT md5(string_agg(s.external_id || s.role || sg.grid_code, ',' "
                "ORDER BY s.external_id, sg.grid_code)) FROM staff s JOIN staff_grid sg "
                "ON sg.staff_id = s.id), (SELECT count(*) FROM camera), "
                "(SELECT count(*) FROM response_post), (SELECT count(*) FROM coverage_setting)"
            )).one()

    foreign_grid = next((c for c in world["grid_points"] if not scope.contains_code(c)), None)
    own_grid = next(c for c in world["grid_points"] if scope.contains_code(c))
    before = state()
    if foreign_grid:
        res = w.send("POST", "/api/v1/staff", json={
            "external_id": f"new-{name}", "name": "某", "role": "part_time",
            "grids": [foreign_grid]})
        assert res.status_code in (403, 422)
        res = w.send("PUT", f"/api/v1/staff/st-{foreign_grid}", json={
            "name": "某", "role": "grid_head", "grids": [own_grid]})
        assert res.status_code in (403, 404)
        lon, lat = world["grid_points"][foreign_grid]
        csv = f"external_id,lon,lat,range_m\ncam-new-{name},{lon},{lat},60\n"
        res = w.send("POST", "/api/v1/cameras/imports",
                     data={"file": (io.BytesIO(csv.encode()), "c.csv")},
                     content_type="multipart/form-data")
        assert res.status_code in (403, 422)
        csv = f"external_id,name,lon,lat\npost-new-{name},站,{lon},{lat}\n"
        res = w.send("POST", "/api/v1/posts/imports",
                     data={"file": (io.BytesIO(csv.encode()), "p.csv")},
                     content_type="multipart/form-data")
        assert res.status_code in (403, 422)
        staff_csv = f"external_id,name,role,grids\nimp-{name},某,full_time,{foreign_grid}\n"
        res = w.send("POST", "/api/v1/staff/imports",
                     data={"file": (io.BytesIO(staff_csv.encode()), "s.csv")},
                     content_type="multipart/form-data")
        assert res.status_code in (403, 422)
        assert state() == before
    roads = json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {}, "geometry": {
            "type": "LineString", "coordinates": [[125.01, 46.01], [125.39, 46.01]]}}]})
    res = w.send("POST", "/api/v1/roads/imports",
                 data={"file": (io.BytesIO(roads.encode()), "r.geojson")},
                 content_type="multipart/form-data")
    # a planner may manage coverage, but the network is city-wide and theirs is a village
    assert res.status_code == {"admin": 201}.get(role, 403)  # roads are city-wide
    res = w.send("PUT", "/api/v1/coverage/settings", json={"households_per_worker": 120})
    assert res.status_code == (200 if role == "admin" else 403)  # settings are city-wide too
    res = w.send("POST", "/api/v1/staff", json={
        "external_id": f"own-{name}", "name": "某", "role": "part_time", "grids": [own_grid]})
    assert res.status_code == (201 if role in ("admin", "official") else 403)
    if res.status_code == 201:
        res = w.send("PUT", f"/api/v1/staff/own-{name}", json={
            "name": "某", "role": "full_time", "grids": [own_grid]})
        assert res.status_code == 200 and res.get_json()["updated"] == 1


@pytest.mark.parametrize("name", list(ACCOUNTS))
def test_case_handling_writes_follow_role_and_jurisdiction(world, reached, name):
    """Departments, the calendar and stage limits are the administrator's; attachments go on
    incidents inside the jurisdiction only; marking tasks seen is everyone's own."""
    w = Walker(world, name, reached)
    role = w.account["role"]
    admin = role == "admin"
    eng = db.engine(world["url"])

    def state():
        with eng.connect() as conn:
            return [conn.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all()
                    for t in ("department", "stage_limit", "work_calendar")]

    before = state()
    assert w.send("POST", "/api/v1/tasks/seen").status_code == 200
    res = w.send("POST", "/api/v1/departments", json={"name": f"walk {name}", "unit": T1})
    assert res.status_code == (201 if admin else 403)
    dept = res.get_json()["id"] if admin else 1
    res = w.send("PATCH", f"/api/v1/departments/{dept}", json={"active": False})
    assert res.status_code == (200 if admin else 403)
    calendar = w.send("GET", "/api/v1/calendar").get_json()
    keep = {k: calendar[k] for k in ("timezone", "periods", "weekdays", "holidays",
                                     "workdays", "first_year", "last_year")}
    assert w.send("PUT", "/api/v1/calendar", json=keep).status_code == (200 if admin else 403)
    res = w.send("PUT", "/api/v1/stage-limits", json={"limits": [
        {"stage": "accept", "hours": 4}]})
    assert res.status_code == (200 if admin else 403)
    if not admin:
        assert state() == before
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    scope = scope_of(w.account)
    may_add = bool({"incident.create", "incident.manage"} & ROLE_PERMISSIONS[role])
    for ext, iid in sorted(world["ids"]["incidents"].items()):
        if ext not in ("ext-outside", *(f"ext-{c}" for c in world["grid_points"])):
            continue
        inside = ext in w.own or scope.everything
        with eng.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM incident_attachment "
                                  "WHERE incident_id = :i"), {"i": iid}).scalar()
        res = w.send("POST", f"/api/v1/incidents/{iid}/attachments",
                     data={"file": (io.BytesIO(buf.getvalue()), "p.png")},
                     content_type="multipart/form-data")
        assert res.status_code == (201 if inside and may_add else 403), (ext, res.status_code)
        with eng.connect() as conn:
            after = conn.execute(text("SELECT count(*) FROM incident_attachment "
                                      "WHERE incident_id = :i"), {"i": iid}).scalar()
        assert after == n + (res.status_code == 201)
        if inside and may_add:
            break
    # Open311 requests: stored inside the jurisdiction and, as any report, outside it too
    may_report = "incident.create" in ROLE_PERMISSIONS[role]
    own = next(c for c in world["grid_points"] if scope.contains_code(c))
    foreign = next((world["grid_points"][c] for c in world["grid_points"]
                    if not scope.contains_code(c)), OUTSIDE)
    for lon, lat in (world["grid_points"][own], foreign):
        res = w.send("POST", "/open311/v2/requests.json", data={
            "service_code": "petition", "lat": lat, "long": lon})
        assert res.status_code == (201 if may_report else 403), res.get_json()


@pytest.mark.parametrize("name", list(ACCOUNTS))
def test_category_changes_are_the_administrators(world, reached, name):
    """Every account reads the categories; only an administrator adds, changes or loads
    them (403 for the others, and nothing changes)."""
    w = Walker(world, name, reached)
    eng = db.engine(world["url"])

    def state():
        with eng.connect() as conn:
            return conn.execute(text("SELECT * FROM category ORDER BY code")).all()

    before = state()
    res = w.send("GET", "/api/v1/categories")
    assert res.status_code == 200 and "petition" in {c["code"] for c in
                                                     res.get_json()["categories"]}
    admin = w.account["role"] == "admin"
    res = w.send("POST", "/api/v1/categories", json={
        "code": f"walk_{name.replace('-', '_')}", "name_zh": "巡检", "name_en": "Walk"})
    assert res.status_code == (201 if admin else 403)
    code = f"walk_{name.replace('-', '_')}" if admin else "petition"
    res = w.send("PATCH", f"/api/v1/categories/{code}", json={"active": False})
    assert res.status_code == (200 if admin else 403)
    res = w.send("POST", "/api/v1/categories/sets/cjt214")
    assert res.status_code == (200 if admin else 403)
    if not admin:
        assert state() == before


def test_every_endpoint_is_walked(world, reached):
    """Runs last in this module: every route of the app was requested by the tests above."""
    app = client_for(world["url"], None).application
    endpoints = {r.endpoint for r in app.url_map.iter_rules()} - NOT_WALKED
    missing = endpoints - reached - {"auth.logout"}  # logout: session only, see test_auth.py
    assert not missing, f"routes not walked for jurisdiction: {sorted(missing)}"


def test_every_endpoint_declares_a_permission(world):
    from web.auth import PUBLIC_ENDPOINTS
    app = client_for(world["url"], None).application
    undeclared = [e for e, view in app.view_functions.items()
                  if e not in PUBLIC_ENDPOINTS and not hasattr(view, "required_permission")]
    assert undeclared == []


def test_signed_out_requests_get_401_everywhere(world):
    from web.auth import PUBLIC_ENDPOINTS
    client = client_for(world["url"], None)
    app = client.application
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = re.sub(r"<(int:)?\w+>", lambda m: "1" if m.group(1) else "grids", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            res = client.open(path, method=method,
                              headers={"Authorization": "Bearer ggt_not-a-token"})
            assert res.status_code == 401, (method, path, res.status_code)
            if method == "GET":
                res = client.open(path, method=method)
                assert res.status_code == 401, (method, path, res.status_code)


def test_ancestor_codes():
    # province 23 and prefecture 2312 (Suihua) first: codes that may lie above, present or not
    assert ancestor_codes("231281101001001001") == [
        "230000000000", "231200000000", "231281000000", "231281101000", "231281101001",
        "231281101001001"]
    assert ancestor_codes("231281101000") == ["230000000000", "231200000000", "231281000000"]
    assert ancestor_codes("231281000000") == ["230000000000", "231200000000"]
    assert ancestor_codes("230000000000") == []


def lifecycle_paths(world):
    """Lifecycle, deadlines, overdue incidents and figures (web/incidents_api.py)."""
    for ext, iid in world["ids"]["incidents"].items():
        yield f"/api/v1/incidents/{iid}/events"
    yield "/api/v1/incidents/overdue?limit=1000"
    yield "/api/v1/deadlines"
    for level in ("city", "township", "village", "hamlet", "grid"):
        yield f"/api/v1/figures?level={level}"
    yield "/api/v1/figures?level=grid&format=csv"
    yield f"/api/v1/figures?level=village&unit={T1}"


def plan_world(world) -> dict:
    """Drafts for the plan routes (made once): in planner-v's village, and in T2's."""
    if "plans" not in world:
        from gis.access.roles import SYSTEM
        from gis.planning import drafts as plans
        with db.engine(world["url"]).begin() as conn:
            own = plans.create_draft(conn, SYSTEM, {"name": "own", "unit_code": "231281101002"})
            foreign = plans.create_draft(conn, SYSTEM, {"name": "foreign",
                                                        "unit_code": T2[:9] + "001"})
            gen = conn.execute(text("SELECT id FROM generation WHERE is_active")).scalar_one()
        world["plans"] = {"own": own.id, "foreign": foreign.id, "generation": gen}
    return world["plans"]


def plan_paths(world):
    """Draft plans and generations (web/plans_api.py)."""
    p = plan_world(world)
    yield "/api/v1/plans"
    yield "/api/v1/plans?status=open"
    for plan_id in (p["own"], p["foreign"]):
        for suffix in ("", "/grids", "/history", "/checks?min=200&max=400", "/compare",
                       "/export?format=geojson"):
            yield f"/api/v1/plans/{plan_id}{suffix}"
    yield "/api/v1/generations"
    yield f"/api/v1/generations/{p['generation']}/export?format=geojson"
    yield f"/api/v1/generations/{p['generation']}/export?format=geojson&layer=village"
