"""Several roots side by side (issue 14, part 2): two county-level cities, each with its own
active generation; a point is located under the root that holds it; one city publishes a new
generation without touching the other; readers work in their own root's generation."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from gis.access.scope import Scope
from gis.boundaries.generations import activate
from gis.boundaries.importing import import_boundaries
from gis.coverage.report import OUTSIDE_TOWNSHIPS
from gis.incidents.importing import import_incidents
from gis.incidents.submit import submit_incident
from gis.store import boundaries as bstore
from gis.store import db
from tests.helpers import client_for, factory, make_account, petition, unique

A, B = "231281000000", "231282000000"
IN_A, IN_B, NOWHERE = (125.1, 46.25), (125.6, 46.25), (126.5, 46.25)


@pytest.fixture(scope="module")
def two(module_db, tmp_path_factory):
    url = module_db
    folder = tmp_path_factory.mktemp("roots")
    eng = db.engine(url)
    gen_a = import_boundaries(eng, factory.write(factory.layers(), folder / "a.gpkg"),
                              commit=True, name="A").generation_id
    gen_b = import_boundaries(eng, factory.write(factory.neighbour_layers(), folder / "b.gpkg"),
                              commit=True, name="B").generation_id
    yield {"url": url, "eng": eng, "a": gen_a, "b": gen_b, "folder": folder, "accounts": {
        "admin": make_account(url, "rt-admin", "admin"),
        "a": make_account(url, "rt-a", "official", [A]),
        "b": make_account(url, "rt-b", "official", [B])}}
    eng.dispose()


def client(two, who):
    return client_for(two["url"], two["accounts"][who]["token"], RATELIMIT_ENABLED=False)


def test_both_cities_stay_active(two):
    with two["eng"].connect() as conn:
        active = {g["root_code"]: g["id"] for g in bstore.active_generations(conn)}
    assert active == {A: two["a"], B: two["b"]}


def test_points_are_assigned_under_their_own_root(two):
    with two["eng"].begin() as conn:
        in_a, _ = submit_incident(conn, petition(unique("a"), *IN_A), scope=Scope.all())
        in_b, _ = submit_incident(conn, petition(unique("b"), *IN_B), scope=Scope.all())
    assert in_a["properties"]["generation_id"] == two["a"]
    assert in_a["properties"]["city_code"] == A
    assert in_b["properties"]["generation_id"] == two["b"]
    assert in_b["properties"]["grid_code"].startswith("231282")
    res = client(two, "admin").get(f"/api/v1/locate?lon={IN_B[0]}&lat={IN_B[1]}")
    assert res.get_json()["generation"] == two["b"] and res.get_json()["city"]["code"] == B
    # the hotline of city B reports a point outside both: kept, uncovered, under B
    hotline = make_account(two["url"], unique("hot"), "client", [B])
    res = client_for(two["url"], hotline["token"]).post(
        "/api/v1/incidents", json=petition(unique("n"), *NOWHERE))
    assert res.status_code == 201
    assert res.get_json()["properties"]["generation_id"] == two["b"]
    assert res.get_json()["properties"]["covered"] is False


def test_a_bulk_file_spanning_both_cities(two, tmp_path):
    rows = ["external_id,category,occurred_at,lon,lat"]
    for k, (lon, lat) in enumerate([IN_A, IN_B, IN_B, NOWHERE]):
        rows.append(f"bulk-{k},petition,2026-03-01T10:00:00+08:00,{lon},{lat}")
    path = tmp_path / "both.csv"
    path.write_text("\n".join(rows) + "\n")
    report = import_incidents(two["eng"], path, source="bulk-roots")
    assert report.inserted == 4 and report.uncovered == 1
    with two["eng"].connect() as conn:
        got = dict(conn.execute(text(
            "SELECT external_id, generation_id FROM incident WHERE source = 'bulk-roots'")).all())
    assert got["bulk-0"] == two["a"] and got["bulk-1"] == got["bulk-2"] == two["b"]
    # outside both: the first root's generation holds it (the command line sees everything)
    assert got["bulk-3"] in (two["a"], two["b"])


def test_each_official_reads_their_own_city(two):
    for who, code in (("a", A), ("b", B)):
        body = client(two, who).get("/api/v1/figures?level=city").get_json()
        assert [r["unit_code"] for r in body["units"] if r["kind"] == "unit"] == [code]
        grids = client(two, who).get("/api/v1/collections/grids/items?limit=100").get_json()
        assert {f["properties"]["code"][:6] for f in grids["features"]} == {code[:6]}
    # the administrator chooses the root
    body = client(two, "admin").get(f"/api/v1/figures?level=city&root={B}").get_json()
    assert [r["unit_code"] for r in body["units"] if r["kind"] == "unit"] == [B]
    assert client(two, "admin").get("/api/v1/figures?level=city&root=999999000000"
                                    ).status_code == 404


def test_one_city_publishes_without_touching_the_other(two):
    frames = factory.neighbour_layers()
    frames["grid"].loc[0, "name"] = "新名字"
    new_b = import_boundaries(two["eng"], factory.write(frames, two["folder"] / "b2.gpkg"),
                              commit=True, name="B v2").generation_id
    with two["eng"].connect() as conn:
        active = {g["root_code"]: g["id"] for g in bstore.active_generations(conn)}
    assert active == {A: two["a"], B: new_b}
    with two["eng"].begin() as conn:  # and back: A is not touched either way
        out = activate(conn, two["b"])
        assert out["previous"] == new_b
        active = {g["root_code"]: g["id"] for g in bstore.active_generations(conn)}
    assert active == {A: two["a"], B: two["b"]}


def _tile(lon, lat, z):
    import math
    n = 2 ** z
    return int((lon + 180) / 360 * n), \
        int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_tiles_default_to_the_readers_root(two):
    x, y = _tile(*IN_B, 11)
    mine = client(two, "b").get(f"/tiles/grids/11/{x}/{y}.mvt")
    theirs = client(two, "a").get(f"/tiles/grids/11/{x}/{y}.mvt")
    assert mine.status_code == 200 and b"231282101" in mine.data
    assert theirs.status_code == 204  # A's official's generation has nothing there


def test_a_plan_published_in_one_city_leaves_the_other(two):
    from gis.access.roles import SYSTEM
    from gis.planning import drafts, publish
    with two["eng"].begin() as conn:
        before = {g["root_code"]: g["id"] for g in bstore.active_generations(conn)}
        draft = drafts.create_draft(conn, SYSTEM, {"name": "b-plan", "unit_code": "231282101002"})
        assert draft.base_generation_id == before[B]
        out = publish.publish(conn, SYSTEM, draft.id, {"version": draft.version})
        after = {g["root_code"]: g["id"] for g in bstore.active_generations(conn)}
        root = conn.execute(text("SELECT root_code FROM generation WHERE id = :g"),
                            {"g": out.generation_id}).scalar()
    assert out.previous_generation_id == before[B] and root == B
    assert after == {A: before[A], B: out.generation_id}


def test_the_administrators_start_page_lists_both_cities(two):
    page = client(two, "admin").get("/").get_data(as_text=True)
    assert 'data-testid="roots"' in page and A in page and B in page
    assert f"/maps/rates?root={B}" in page
    rates = client(two, "admin").get(f"/maps/rates?root={B}")
    assert rates.status_code == 200
    # an official of one city gets no list
    assert 'data-testid="roots"' not in client(two, "a").get("/").get_data(as_text=True)


def test_an_administrators_map_page_stays_in_the_chosen_city(two):
    with two["eng"].connect() as conn:
        active = {g["root_code"]: g["id"] for g in bstore.active_generations(conn)}
    for root in (A, B):
        page = client(two, "admin").get(f"/maps/hotspots?root={root}").get_data(as_text=True)
        assert f"g={active[root]}" in page, root


def test_coverage_views_of_the_chosen_city(two):
    admin = client(two, "admin")
    for root in (A, B):
        body = admin.get(f"/api/v1/coverage/blind-spots/map?root={root}").get_json()
        assert body["columns"][0][0] == "unit_name"
        names = {r[0] for r in body["rows"]} - {OUTSIDE_TOWNSHIPS}
        neighbour = {n for n in names if n.startswith("邻")}  # factory.neighbour_layers
        assert names and neighbour == (names if root == B else set()), (root, names)
        assert admin.get(f"/maps/coverage/staff?root={root}").status_code == 200
    assert admin.get("/api/v1/coverage/blind-spots/map?root=999999000000").status_code == 404
    # an official's root stays their own whatever the parameter says
    body = client(two, "a").get(f"/api/v1/coverage/blind-spots/map?root={B}").get_json()
    assert not any(r[0].startswith("邻") for r in body["rows"])
