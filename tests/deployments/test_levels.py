"""Levels as data (issue 14, part 1): a prefecture-level city (prefecture > districts >
subdistricts > communities > grids) loads, locates, scopes, counts and draws at every level; a
set that skips levels (townships right under a prefecture, as in Dongguan) loads too; codes are
checked against their parents at every level."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from gis.access.scope import Scope, Unit, ancestor_codes
from gis.boundaries.importing import import_boundaries
from gis.boundaries.read import read_boundary_set
from gis.boundaries.validate import validate_boundary_set
from gis.domain import code_problem
from gis.incidents.submit import submit_incident
from gis.store import db
from tests.helpers import client_for, factory, make_account, petition, unique

PREF, (D1, D2) = factory.PREFECTURE, factory.DISTRICTS
IN_D1, IN_D2 = (126.05, 45.65), (126.35, 45.95)


@pytest.fixture(scope="module")
def harbin(module_db, tmp_path_factory):
    url = module_db
    path = factory.write(factory.prefecture_layers(),
                         tmp_path_factory.mktemp("pref") / "harbin.gpkg")
    report = import_boundaries(db.engine(url), path, commit=True, name="harbin")
    assert report.committed, report.problems
    eng = db.engine(url)
    with eng.begin() as conn:
        for ext, (lon, lat) in (("a", IN_D1), ("b", IN_D1), ("c", IN_D2)):
            submit_incident(conn, petition(f"h-{ext}", lon, lat), scope=Scope.all())
    yield {"url": url, "report": report, "accounts": {
        "admin": make_account(url, "lv-admin", "admin"),
        "prefecture": make_account(url, "lv-pref", "official", [PREF]),
        "district": make_account(url, "lv-d1", "official", [D1])}}
    eng.dispose()


def client(world, who):
    return client_for(world["url"], world["accounts"][who]["token"], RATELIMIT_ENABLED=False)


def test_the_set_loads_with_every_level(harbin):
    assert harbin["report"].counts == {"prefecture": 1, "city": 2, "township": 4, "village": 8,
                                       "grid": 16}
    with db.engine(harbin["url"]).connect() as conn:
        levels = dict(conn.execute(text(
            "SELECT level, count(*) FROM admin_area GROUP BY level")).all())
        chain = conn.execute(text("""
            SELECT p.code, c.code, t.code, v.code, g.hamlet_id, g.province_id FROM grid g
            JOIN admin_area p ON p.id = g.prefecture_id JOIN admin_area c ON c.id = g.city_id
            JOIN admin_area t ON t.id = g.township_id JOIN admin_area v ON v.id = g.village_id
            WHERE g.code = '230102001001001'""")).one()
    assert levels == {2: 1, 3: 2, 4: 4, 5: 8}
    assert chain == (PREF, D1, "230102001000", "230102001001", None, None)


def test_locate_and_incidents_name_every_level(harbin):
    res = client(harbin, "admin").get(f"/api/v1/locate?lon={IN_D1[0]}&lat={IN_D1[1]}")
    body = res.get_json()
    assert body["prefecture"]["code"] == PREF and body["city"]["code"] == D1
    assert body["province"] is None and body["grid"]["code"] == "230102001001001"
    with db.engine(harbin["url"]).begin() as conn:
        inc, _ = submit_incident(conn, petition(unique("l"), *IN_D2), scope=Scope.all())
    assert inc["properties"]["prefecture_code"] == PREF
    assert inc["properties"]["city_code"] == D2


def test_jurisdiction_of_a_district_and_of_the_prefecture(harbin):
    district, prefecture = client(harbin, "district"), client(harbin, "prefecture")
    d_grids = district.get("/api/v1/collections/grids/items?limit=100").get_json()
    p_grids = prefecture.get("/api/v1/collections/grids/items?limit=100").get_json()
    assert {f["properties"]["code"][:6] for f in d_grids["features"]} == {D1[:6]}
    assert len(p_grids["features"]) == 16
    # the district sees its prefecture as context, not the other district
    cities = district.get("/api/v1/collections/cities/items").get_json()
    assert [f["properties"]["code"] for f in cities["features"]] == [D1]
    prefs = district.get("/api/v1/collections/prefectures/items").get_json()
    assert [f["properties"]["code"] for f in prefs["features"]] == [PREF]
    # an incident of the other district is not the district's
    foreign = prefecture.get("/api/v1/collections/incidents/items?limit=10").get_json()
    other = next(f for f in foreign["features"] if f["properties"]["external_id"] == "h-c")
    assert district.get(f"/api/v1/incidents/{other['id']}").status_code == 403


def test_collections_are_the_levels_the_deployment_has(harbin):
    listed = client(harbin, "admin").get("/api/v1/collections").get_json()
    ids = {c["id"] for c in listed["collections"]}
    assert {"prefectures", "cities", "townships", "villages", "grids", "incidents"} <= ids
    assert not ids & {"provinces", "hamlets"}


@pytest.mark.parametrize("level,expected", [
    ("prefecture", {PREF: 3}), ("city", {D1: 2, D2: 1}),
    ("township", {"230102001000": 2, "230103002000": 1, "230102002000": 0,
                  "230103001000": 0})])
def test_figures_at_every_level(harbin, level, expected):
    body = client(harbin, "admin").get(f"/api/v1/figures?level={level}").get_json()
    got = {r["unit_code"]: r["found"] for r in body["units"] if r["kind"] == "unit"}
    # incidents posted by other tests of this module only add to these units
    assert set(got) == set(expected)
    assert all(got[k] >= v for k, v in expected.items())


def test_figures_of_a_district_official(harbin):
    body = client(harbin, "district").get("/api/v1/figures?level=city").get_json()
    assert [r["unit_code"] for r in body["units"] if r["kind"] == "unit"] == [D1]
    body = client(harbin, "district").get("/api/v1/figures?level=township").get_json()
    assert {r["unit_code"][:6] for r in body["units"] if r["kind"] == "unit"} == {D1[:6]}


def test_tiles_of_the_new_levels_draw_inside_the_jurisdiction(harbin):
    admin, district = client(harbin, "admin"), client(harbin, "district")
    # zoom 9 tile holding the whole prefecture
    res = admin.get("/tiles/prefectures/9/435/182.mvt")
    assert res.status_code == 200 and PREF.encode() in res.data
    both = admin.get("/tiles/cities/9/435/182.mvt").data
    mine = district.get("/tiles/cities/9/435/182.mvt").data
    assert D1.encode() in both and D2.encode() in both
    assert D1.encode() in mine and D2.encode() not in mine


def test_a_set_that_skips_levels_loads(fresh_db, tmp_path):
    """Townships right under the prefecture (no county rung), as in Dongguan (441900)."""
    frames = factory.prefecture_layers()
    frames = {k: v for k, v in frames.items() if k != "city"}
    frames["prefecture"].loc[0, "code"] = "441900000000"
    t = frames["township"]
    t["code"] = [f"4419000{i + 1:02d}000" for i in range(len(t))]
    t["parent_code"] = "441900000000"
    new_code = dict(zip(factory.prefecture_layers()["township"]["code"], t["code"]))
    v = frames["village"]
    v["parent_code"] = v["parent_code"].map(new_code)
    v["code"] = [p[:9] + c[9:] for p, c in zip(v["parent_code"], v["code"])]
    g = frames["grid"]
    village_code = dict(zip(factory.prefecture_layers()["village"]["code"], v["code"]))
    g["parent_code"] = g["parent_code"].map(village_code)
    g["code"] = [p + c[12:] for p, c in zip(g["parent_code"], g["code"])]
    path = factory.write(frames, tmp_path / "dongguan.gpkg")
    assert validate_boundary_set(read_boundary_set(path)) == []
    eng = db.engine(fresh_db)
    report = import_boundaries(eng, path, commit=True)
    assert report.committed
    with eng.connect() as conn:
        row = conn.execute(text(
            "SELECT count(*) FILTER (WHERE city_id IS NULL), count(*) FILTER "
            "(WHERE prefecture_id IS NOT NULL AND township_id IS NOT NULL) FROM grid")).one()
    assert row == (16, 16)
    eng.dispose()


def test_codes_are_checked_against_parents_at_every_level(tmp_path):
    frames = factory.prefecture_layers()
    frames["city"].loc[1, "code"] = "240103000000"     # not in prefecture 2301
    found = validate_boundary_set(read_boundary_set(factory.write(frames, tmp_path / "b.gpkg")))
    assert ("bad_code", "240103000000") in {(p.rule, p.code) for p in found}
    assert code_problem("township", "441900003000", "441900000000", "prefecture") is None
    assert code_problem("township", "441900000000", "441900000000", "prefecture") is not None
    assert code_problem("city", "230102000000", "230100000000", "prefecture") is None
    assert code_problem("prefecture", "230100000001", "230000000000", "province") is not None
    assert ancestor_codes("230102001001001") == [
        "230000000000", "230100000000", "230102000000", "230102001000", "230102001001"]
    assert Scope((Unit("prefecture", PREF),)).contains_code("230103002001001")
    assert not Scope((Unit("city", D1),)).contains_code("230103002001001")


def test_rates_start_under_the_root_and_drill_down(harbin):
    admin = client(harbin, "admin")
    body = admin.get("/api/v1/analysis/rates").get_json()
    assert body["level"] == "city" and body["child"] == "township"
    assert {r["code"] for r in body["rows"]} == {D1, D2}
    body = admin.get(f"/api/v1/analysis/rates?level=township&unit={D1}").get_json()
    assert body["child"] == "village"
    assert {r["code"][:6] for r in body["rows"]} == {D1[:6]}
    page = admin.get("/maps/rates").get_data(as_text=True)
    assert 'name="level" value="city" data-default="city"' in page


def test_drilling_up_follows_the_ladder(harbin):
    admin = client(harbin, "admin")
    body = admin.get(f"/api/v1/analysis/rates?level=township&unit={D1}").get_json()
    assert body["up"] == {"level": "city", "unit": None}
    body = admin.get("/api/v1/analysis/rates?level=village&unit=230102001000").get_json()
    assert body["up"] == {"level": "township", "unit": D1}


@pytest.mark.parametrize("who", ["admin", "prefecture", "district"])
def test_every_page_serves_a_prefecture_deployment(harbin, who):
    c = client(harbin, who)
    for path in ("/", "/maps/coverage", "/maps/coverage/staff", "/maps/coverage/cameras",
                 "/maps/coverage/response", "/maps/coverage/blind-spots", "/maps/hotspots",
                 "/maps/rates", "/maps/plans"):
        res = c.get(path)
        plans_for_officials = path == "/maps/plans" and who != "admin"
        assert res.status_code == (403 if plans_for_officials else 200), (who, path)
    for path in ("/api/v1/coverage/staffing", "/api/v1/coverage/blind-spots",
                 "/api/v1/analysis/hotspots", "/api/v1/analysis/rates?level=village"):
        res = c.get(path)
        assert res.status_code == 200, (who, path, res.get_data(as_text=True)[:300])


def test_escalation_climbs_to_the_prefecture_and_stops_there(harbin):
    admin, district, prefecture = (client(harbin, w) for w in ("admin", "district", "prefecture"))
    with db.engine(harbin["url"]).begin() as conn:
        inc, _ = submit_incident(conn, petition(unique("e"), *IN_D1), scope=Scope.all())
    path = f"/api/v1/incidents/{inc['id']}"
    seen = []
    for who in (admin, admin, admin, district):  # grid -> village -> township -> city -> prefecture
        state = who.get(f"{path}/events").get_json()["incident"]
        res = who.post(f"{path}/transitions", json={"action": "escalate", "version":
                                                    state["version"], "note": "上交 up"})
        assert res.status_code == 200, res.get_json()
        seen.append(res.get_json()["incident"]["handling_level"])
    assert seen == ["village", "township", "city", "prefecture"]
    state = district.get(f"{path}/events").get_json()["incident"]
    assert state["allowed_actions"] == []  # above the district now
    assert district.post(f"{path}/transitions", json={"action": "accept",
                                                      "version": state["version"]}
                         ).status_code == 403
    state = prefecture.get(f"{path}/events").get_json()["incident"]
    assert "escalate" not in state["allowed_actions"] and "accept" in state["allowed_actions"]
    res = prefecture.post(f"{path}/transitions", json={"action": "escalate", "version":
                                                       state["version"], "note": "x"})
    assert res.status_code == 422 and "top level of its ladder" in res.get_json()["error"]["message"]
    res = prefecture.post(f"{path}/transitions", json={"action": "accept",
                                                       "version": state["version"]})
    assert res.status_code == 200
    with db.engine(harbin["url"]).connect() as conn:
        due = conn.execute(text("SELECT resolve_due_at - escalated_at FROM incident "
                                "WHERE id = :i"), {"i": inc["id"]}).scalar()
        rule = conn.execute(text("SELECT resolve_hours FROM deadline_rule "
                                 "WHERE level = 'prefecture'")).scalar()
    assert due.total_seconds() == float(rule) * 3600
