"""Coverage against a real PostGIS, checked with hand-computed cases on the factory boundary set
(tests/factory.py): cameras of known range on a square grid and a straight road, posts on a
known road graph (pgRouting and SciPy), staff imports, blind spots."""
from __future__ import annotations

import math
import uuid

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point
from sqlalchemy import text

from gis.access.scope import Scope, Unit
from gis.coverage import imports as service
from gis.coverage import network, report
from gis.coverage.city import metric_crs
from gis.coverage.settings import update_settings
from gis.errors import ValidationFailed
from gis.store import coverage as cstore
from gis.store import db

GRID = "231281101002001"  # village 231281101002 (125.0-125.2 E, 46.2-46.4 N), southern grid
OTHER_TOWN_GRID = "231281102001001"


@pytest.fixture(scope="module")
def world(private_factory_db):
    """This module's own database with the factory boundaries; cleaned of coverage rows per
    test (fixture eng)."""
    return db.engine(private_factory_db)


@pytest.fixture
def eng(world):
    with world.begin() as conn:
        conn.execute(text("DELETE FROM staff; DELETE FROM camera; DELETE FROM response_post; "
                          "DELETE FROM road; DELETE FROM road_node; DELETE FROM road_network; "
                          "DELETE FROM coverage_setting"))
    return world


def _metric(eng):
    with eng.connect() as conn:
        gen = conn.execute(text("SELECT id FROM generation WHERE is_active")).scalar()
        crs = metric_crs(conn, gen)
        centre = conn.execute(text(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM grid "
            "WHERE code = :g) s"), {"g": GRID}).one()
    from pyproj import Transformer
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    cx, cy = fwd.transform(*centre)
    return crs, cx, cy, back


def _write_csv(path, rows: list[dict]):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _lonlat(back, x, y):
    lon, lat = back.transform(x, y)
    return round(lon, 9), round(lat, 9)


def _roads_geojson(path, lines_m, back, speed=36.0):
    import json
    feats = []
    for i, line in enumerate(lines_m):
        coords = [list(_lonlat(back, x, y)) for x, y in line.coords]
        feats.append({"type": "Feature", "properties": {"name": f"路{i}", "kind": "primary",
                                                        "speed_kmh": speed},
                      "geometry": {"type": "LineString", "coordinates": coords}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def _grid_row(frame, code):
    return frame[frame["code"] == code].iloc[0]


def test_camera_disc_and_sector_cover_their_hand_computed_area(eng, tmp_path):
    crs, cx, cy, back = _metric(eng)
    lon, lat = _lonlat(back, cx, cy)
    lon2, lat2 = _lonlat(back, cx + 2000, cy)
    service.import_cameras(eng, _write_csv(tmp_path / "c.csv", [
        {"external_id": "disc", "lon": lon, "lat": lat, "range_m": 100},
        {"external_id": "east", "lon": lon2, "lat": lat2, "range_m": 100, "direction_deg": 90,
         "fov_deg": 90}]))
    with eng.connect() as conn:
        ctx = report.context(conn, Scope.all())
        per_grid = report.camera_coverage(conn, ctx)["per_grid"]
        grid_m2 = conn.execute(text("SELECT ST_Area(geom::geography) FROM grid WHERE code = :g"),
                               {"g": GRID}).scalar()
    row = _grid_row(per_grid, GRID)
    expected = math.pi * 100**2 * (1 + 0.25)  # the disc and a quarter disc
    assert row["area_share"] * grid_m2 == pytest.approx(expected, rel=0.01)
    assert row["cameras"] == 2
    assert not row["no_camera"]
    assert per_grid[per_grid["code"] != GRID]["no_camera"].all()


def test_camera_covers_its_diameter_of_a_straight_street(eng, tmp_path):
    crs, cx, cy, back = _metric(eng)
    lon, lat = _lonlat(back, cx, cy)
    service.import_cameras(eng, _write_csv(tmp_path / "c.csv", [
        {"external_id": "c1", "lon": lon, "lat": lat, "range_m": 100}]))
    service.import_roads(eng, _roads_geojson(
        tmp_path / "r.geojson", [LineString([(cx - 1000, cy), (cx + 1000, cy)])], back))
    with eng.connect() as conn:
        ctx = report.context(conn, Scope.all())
        cov = report.camera_coverage(conn, ctx)
    row = _grid_row(cov["per_grid"], GRID)
    assert row["road_m"] == pytest.approx(2000, rel=0.002)
    assert row["road_covered_m"] == pytest.approx(200, rel=0.005)
    assert row["road_share"] == pytest.approx(0.1, rel=0.005)
    covered = cov["roads_covered"].to_crs(crs).length.sum()
    uncovered = cov["roads_uncovered"].to_crs(crs).length.sum()
    assert covered == pytest.approx(200, rel=0.005)
    assert uncovered == pytest.approx(1800, rel=0.005)


def test_response_area_along_a_straight_road_is_the_reachable_stretch(eng, tmp_path):
    """36 km/h = 10 m/s: 1 minute reaches 600 m of road; with 50 m either side the area is
    600 x 100 + pi 50^2 (the stadium around the stretch)."""
    crs, cx, cy, back = _metric(eng)
    update_settings(eng, {"access_m": 50.0})
    service.import_roads(eng, _roads_geojson(
        tmp_path / "r.geojson", [LineString([(cx, cy), (cx + 1500, cy)]),
                                 LineString([(cx + 1500, cy), (cx + 3000, cy)])], back))
    lon, lat = _lonlat(back, cx, cy)
    report_ = service.import_posts(eng, _write_csv(tmp_path / "p.csv", [
        {"external_id": "P1", "name": "一号派出所", "kind": "police_post", "lon": lon,
         "lat": lat}]))
    assert report_["response_areas"] == {"posts": 1, "areas": 3, "network": 1, "buffer": 0}
    with eng.connect() as conn:
        areas = {r.minutes: r for r in conn.execute(text(
            "SELECT minutes, method, note, ST_Area(geom::geography) AS m2 FROM response_area"))}
    stadium = lambda length: length * 100 + math.pi * 50**2  # noqa: E731
    assert areas[1].m2 == pytest.approx(stadium(600), rel=0.01)
    assert areas[3].m2 == pytest.approx(stadium(1800), rel=0.01)
    assert areas[5].m2 == pytest.approx(stadium(3000), rel=0.01)  # the whole road, no more
    assert all(a.method == "network" for a in areas.values())
    assert "pgRouting" in areas[1].note


def test_post_far_from_the_roads_gets_a_speed_buffer_and_says_so(eng, tmp_path):
    crs, cx, cy, back = _metric(eng)
    service.import_roads(eng, _roads_geojson(
        tmp_path / "r.geojson", [LineString([(cx, cy), (cx + 1000, cy)])], back))
    lon, lat = _lonlat(back, cx, cy + 2000)
    service.import_posts(eng, _write_csv(tmp_path / "p.csv", [
        {"external_id": "P9", "name": "远郊巡逻站", "kind": "patrol_station", "lon": lon,
         "lat": lat}]))
    with eng.connect() as conn:
        rows = conn.execute(text("SELECT minutes, method, note, ST_Area(geom::geography) AS m2 "
                                 "FROM response_area ORDER BY minutes")).all()
    assert [r.method for r in rows] == ["buffer"] * 3
    # 30 km/h: 500 m per minute
    for r in rows:
        assert r.m2 == pytest.approx(math.pi * (500 * r.minutes) ** 2, rel=0.01)
    assert "road network" in rows[0].note and "30" in rows[0].note


def test_pgrouting_and_scipy_give_the_same_travel_times(eng, tmp_path):
    crs, cx, cy, back = _metric(eng)
    lines = [LineString([(cx, cy), (cx + 800, cy)]),
             LineString([(cx + 800, cy), (cx + 800, cy + 700)]),
             LineString([(cx + 800, cy), (cx + 1600, cy + 300)]),
             LineString([(cx, cy), (cx, cy - 900), (cx + 1600, cy + 300)])]
    service.import_roads(eng, _roads_geojson(tmp_path / "r.geojson", lines, back, speed=36))
    with eng.connect() as conn:
        assert cstore.has_pgrouting(conn)
        edges = cstore.roads_frame(conn).to_crs(crs)
        nodes = cstore.nodes_frame(conn).to_crs(crs)
        start, dist = network.snap_to_node(nodes, Point(cx, cy), 1.0)
        pgr = cstore.pgr_costs(conn, start, 10_000)
    scipy_costs = network.node_costs(edges, [start], 10_000)[start]
    assert set(pgr) == set(scipy_costs)
    for node, cost in pgr.items():
        assert cost == pytest.approx(scipy_costs[node], abs=1e-6)
    # by hand, at 10 m/s: (800, 0) 80 s; (800, 700) 150 s; (1600, 300) by the short diagonal
    # 80 + 854.4 m / 10, not by the 2,900 m detour; (0, -900) is a bend, not a node
    assert dist < 0.01
    assert sorted(pgr.values()) == pytest.approx([0, 80, 150, 80 + math.hypot(800, 300) / 10],
                                                 abs=0.05)


def test_response_shares_per_grid_and_outside_area(eng, tmp_path):
    crs, cx, cy, back = _metric(eng)
    lon, lat = _lonlat(back, cx, cy)
    service.import_posts(eng, _write_csv(tmp_path / "p.csv", [
        {"external_id": "P1", "name": "派出所", "lon": lon, "lat": lat}]))
    with eng.connect() as conn:
        ctx = report.context(conn, Scope.all())
        res = report.response_coverage(conn, ctx)
        grid_m2 = conn.execute(text("SELECT ST_Area(geom::geography) FROM grid WHERE code = :g"),
                               {"g": GRID}).scalar()
        town_m2 = conn.execute(text("SELECT ST_Area(geom::geography) FROM admin_area "
                                    "WHERE code = '231281101000'")).scalar()
        units = report.response_units(conn, ctx)
    row = _grid_row(res["per_grid"], GRID)
    circle = math.pi * 2500**2  # 5 minutes at 30 km/h, wholly inside the grid
    assert row["share_5"] * grid_m2 == pytest.approx(circle, rel=0.01)
    assert row["share_1"] * grid_m2 == pytest.approx(math.pi * 500**2, rel=0.01)
    town = res["outside"][res["outside"]["code"] == "231281101000"].index[0]
    assert res["outside_km2"][town] * 1e6 == pytest.approx(town_m2 - circle, rel=0.001)
    t = units[units["unit_code"] == "231281101000"].iloc[0]
    # households spread evenly: the grid's 300 households x its share, over the township's
    with eng.connect() as conn:
        town_hh = conn.execute(text("SELECT sum(households) FROM grid WHERE code LIKE "
                                    "'231281101%'")).scalar()
    assert t["household_share_5"] == pytest.approx(300 * row["share_5"] / town_hh, rel=1e-6)


def _staff(rows):
    return [{"external_id": e, "name": n, "role": r, "grids": g} for e, n, r, g in rows]


def test_staff_import_is_all_or_nothing_and_idempotent(eng, tmp_path):
    good = _staff([("S1", "张三", "网格长", GRID), ("S2", "李四", "专职网格员", GRID),
                   ("S3", "王五", "part_time", f"{GRID};{OTHER_TOWN_GRID}")])
    bad = good + _staff([("S4", "赵六", "full_time", "231281999999001")])
    with pytest.raises(ValidationFailed) as err:
        service.import_staff(eng, _write_csv(tmp_path / "bad.csv", bad))
    assert err.value.details[0]["row"] == 5
    assert "unknown grid code" in err.value.details[0]["error"]
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM staff")).scalar() == 0
    path = _write_csv(tmp_path / "good.csv", good)
    assert service.import_staff(eng, path) == {"rows": 3, "inserted": 3, "updated": 0,
                                               "unchanged": 0}
    assert service.import_staff(eng, path) == {"rows": 3, "inserted": 0, "updated": 0,
                                               "unchanged": 3}
    moved = _staff([("S2", "李四", "full_time", OTHER_TOWN_GRID)])
    assert service.import_staff(eng, _write_csv(tmp_path / "m.csv", moved))["updated"] == 1
    with eng.connect() as conn:
        grids = conn.execute(text("SELECT grid_code FROM staff_grid sg JOIN staff s ON "
                                  "s.id = sg.staff_id WHERE s.external_id = 'S2'")).scalars()
        assert list(grids) == [OTHER_TOWN_GRID]
        events = conn.execute(text("SELECT count(*) FROM audit_event "
                                   "WHERE action = 'staff_import'")).scalar()
    assert events == 3  # the refused file wrote nothing, not even its audit event


def test_staff_import_refuses_grids_outside_the_jurisdiction(eng, tmp_path):
    town = Scope(units=(Unit("township", "231281101000"),))
    rows = _staff([("S1", "张三", "grid_head", GRID), ("S2", "李四", "grid_head",
                                                        OTHER_TOWN_GRID)])
    with pytest.raises(ValidationFailed) as err:
        service.import_staff(eng, _write_csv(tmp_path / "s.csv", rows), scope=town)
    assert [d["external_id"] for d in err.value.details] == ["S2"]
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM staff")).scalar() == 0


def test_staffing_gaps_per_grid_and_township(eng, tmp_path):
    update_settings(eng, {"households_per_worker": 400})
    rows = _staff([("H1", "甲", "grid_head", GRID), ("W1", "乙", "part_time", GRID),
                   ("W2", "丙", "full_time", OTHER_TOWN_GRID)])
    service.import_staff(eng, _write_csv(tmp_path / "s.csv", rows))
    with eng.connect() as conn:
        ctx = report.context(conn, Scope.all())
        per_grid = report.staff_per_grid(conn, ctx)
        towns = report.staff_units(conn, ctx, "township")
    g = _grid_row(per_grid, GRID)
    assert (g["heads"], g["worker_fte"]) == (1, 0.5)
    assert g["households_per_worker"] == pytest.approx(300 / 0.5)
    assert g["over_target"] and not g["no_head"] and not g["no_worker"]
    o = _grid_row(per_grid, OTHER_TOWN_GRID)
    assert o["no_head"] and not o["no_worker"] and not o["over_target"]  # 300 per worker
    t = towns.set_index("unit_code").loc["231281101000"]
    assert t["grids"] == 6 and t["no_staff"] == 5 and t["no_head"] == 5


def test_blind_spots_count_land_without_grids_and_incidents_in_it(eng, tmp_path, world):
    with world.begin() as conn:
        lost = conn.execute(text("SELECT ST_Area(geom::geography), ST_X(ST_Centroid(geom)), "
                                 "ST_Y(ST_Centroid(geom)) FROM grid WHERE code = :g"),
                            {"g": GRID}).one()
        conn.execute(text("DELETE FROM grid WHERE code = :g"), {"g": GRID})
    try:
        from gis.incidents.submit import submit_incident
        with eng.begin() as conn:
            submit_incident(conn, {"type": "Feature", "geometry": {
                "type": "Point", "coordinates": [lost[1], lost[2]]}, "properties": {
                "external_id": f"gap-{uuid.uuid4().hex[:6]}", "category": "dispute_neighbour",
                "occurred_at": "2026-11-01T10:00:00+08:00"}}, scope=Scope.all())
        with eng.connect() as conn:
            ctx = report.context(conn, Scope.all())
            blind = report.blind_spots(conn, ctx)
        t = blind["table"].set_index("unit_code")
        assert t.loc["231281101000", "ungridded_km2"] * 1e6 == pytest.approx(lost[0], rel=0.001)
        assert t.loc["231281102000", "ungridded_km2"] == 0
        assert t.loc["231281101000", "uncovered_incidents"] >= 1
        assert t.loc["231281102000", "uncovered_incidents"] == 0
        assert len(blind["layers"]["ungridded"]) == 1
    finally:
        from gis.store.boundaries import write_boundary_set  # noqa: F401
        from tests.helpers import factory
        g = factory.layers()["grid"]
        row = g[g["code"] == GRID].iloc[0]
        with world.begin() as conn:
            conn.execute(text(
                "DELETE FROM incident WHERE grid_id IS NULL; "))
            conn.execute(text(
                "INSERT INTO grid (generation_id, code, name, area_id, hamlet_id, village_id, "
                "township_id, city_id, households, population, geom) SELECT generation_id, "
                ":code, :name, id, NULL, id, parent_id, (SELECT parent_id FROM admin_area t "
                "WHERE t.id = v.parent_id), :hh, :pop, ST_Multi(ST_GeomFromText(:wkt, 4326)) "
                "FROM admin_area v WHERE code = '231281101002' AND generation_id = "
                "(SELECT id FROM generation WHERE is_active)"),
                {"code": GRID, "name": row["name"], "hh": int(row["households"]),
                 "pop": int(row["population"]), "wkt": row.geometry.wkt})


def test_camera_file_with_bad_rows_is_refused_whole(eng, tmp_path):
    crs, cx, cy, back = _metric(eng)
    lon, lat = _lonlat(back, cx, cy)
    rows = [{"external_id": "ok", "lon": lon, "lat": lat, "range_m": 80},
            {"external_id": "neg", "lon": lon, "lat": lat, "range_m": -5},
            {"external_id": "far", "lon": 100.0, "lat": 30.0, "range_m": 80},
            {"external_id": "ok", "lon": lon, "lat": lat, "range_m": 80}]
    with pytest.raises(ValidationFailed) as err:
        service.import_cameras(eng, _write_csv(tmp_path / "c.csv", rows))
    errors = {(d["row"], d["error"].split(" ")[0]) for d in err.value.details}
    assert (3, "range_m") in errors
    assert any(r == 4 and "outside the city" in d["error"]
               for d in err.value.details for r in [d["row"]])
    assert {d["row"] for d in err.value.details if "more than once" in d["error"]} == {2, 5}
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM camera")).scalar() == 0


def test_roads_outside_the_city_or_not_lines_are_refused(eng, tmp_path):
    import json
    path = tmp_path / "r.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {
            "type": "LineString", "coordinates": [[116.3, 39.9], [116.31, 39.9]]}}]}))
    with pytest.raises(ValidationFailed, match="outside the city"):
        service.import_roads(eng, path)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {
            "type": "Point", "coordinates": [125.1, 46.1]}}]}))
    from gis.errors import InputError
    with pytest.raises(InputError, match="no line layer"):
        service.import_roads(eng, path)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM road")).scalar() == 0


def test_footprints_and_shares_use_metres_not_degrees(eng, tmp_path):
    """The same 100 m camera placed far north would cover a smaller share of a degree box in
    degrees; in metres the covered area stays pi r^2."""
    crs, cx, cy, back = _metric(eng)
    lon, lat = _lonlat(back, cx, cy)
    service.import_cameras(eng, _write_csv(tmp_path / "c.csv", [
        {"external_id": "c", "lon": lon, "lat": lat, "range_m": 100}]))
    with eng.connect() as conn:
        ctx = report.context(conn, Scope.all())
        prints = report.camera_coverage(conn, ctx)["footprints"]
    geod_area = prints.to_crs(crs).area.iloc[0]
    assert geod_area == pytest.approx(math.pi * 100**2, rel=0.005)
    b = prints.total_bounds
    # 100 m is ~0.0013 degrees of longitude at 46 N but ~0.0009 of latitude
    assert (b[2] - b[0]) / (b[3] - b[1]) == pytest.approx(
        1 / math.cos(math.radians(lat)), rel=0.02)
    assert np.isfinite(shapely.area(prints.geometry.to_numpy())).all()
    assert Point(lon, lat).within(prints.geometry.iloc[0])


def test_osm_style_geopackage_roads_take_speeds_from_highway_and_maxspeed(eng, tmp_path):
    """An OSM extract saved as a GeoPackage: a point layer before the lines, `highway` and
    `maxspeed` columns, a MultiLineString; speeds come from maxspeed, else from the highway."""
    import geopandas as gpd
    from shapely.geometry import MultiLineString
    crs, cx, cy, back = _metric(eng)
    a, b, c = (_lonlat(back, cx, cy), _lonlat(back, cx + 1000, cy),
               _lonlat(back, cx + 1000, cy + 1000))
    path = tmp_path / "osm.gpkg"
    gpd.GeoDataFrame({"name": ["路口"]}, geometry=[Point(a)], crs="EPSG:4326").to_file(
        path, layer="points", driver="GPKG")
    gpd.GeoDataFrame({"name": ["建设路", "中央大街"], "highway": ["residential", "primary"],
                      "maxspeed": [None, "60"]},
                     geometry=[LineString([a, b]), MultiLineString([[b, c]])],
                     crs="EPSG:4326").to_file(path, layer="lines", driver="GPKG")
    result = service.import_roads(eng, path)
    assert result["edges"] == 2 and result["nodes"] == 3
    assert result["length_km"] == pytest.approx(2.0, rel=0.002)
    with eng.connect() as conn:
        speeds = dict(conn.execute(text("SELECT name, speed_kmh FROM road")).all())
        cost = dict(conn.execute(text("SELECT name, cost_s FROM road")).all())
    assert speeds == {"建设路": 20.0, "中央大街": 60.0}
    assert cost["中央大街"] == pytest.approx(1000 / (60 / 3.6), rel=0.002)


def test_slivers_are_rounding_and_squares_are_land():
    from shapely.geometry import MultiPolygon, box
    strip = box(0, 0, 3000, 0.3)        # 900 m² but 0.3 m wide: two layers' edges disagreeing
    speck = box(100, 100, 103, 103)     # 9 m²
    plot = box(500, 500, 505, 505)      # 25 m², 5 m wide: a real (small) piece of land
    kept = report._drop_slivers(MultiPolygon([strip, speck, plot]))
    assert kept.area == pytest.approx(25.0)
    assert report._drop_slivers(strip).is_empty
