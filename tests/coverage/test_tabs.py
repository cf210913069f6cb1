"""The coverage tabs at city scale (issue 13): small page shells, answers of
/api/v1/coverage/<theme>/map checked against independent SQL and geopandas computations on the
Anda demo, the coverage tile layers decoded and held to the jurisdiction, and the cache keyed
by the coverage data version."""
from __future__ import annotations

import io
import json
import math
import re

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, Polygon
from sqlalchemy import text

from gis.store import db
from tests.helpers import client_for, make_account, unique

TOWN = "231281001000"          # 铁西街道
TABS = {"staff": "staffing", "cameras": "cameras", "response": "response",
        "blind-spots": "blind-spots"}
UTM = "EPSG:32651"             # UTM zone 51N, an independent metric CRS for Anda (125° E)


@pytest.fixture(scope="module")
def eng(demo_db):
    return db.engine(demo_db)


@pytest.fixture(scope="module")
def town(demo_db):
    return make_account(demo_db, unique("tab-town"), "official", [TOWN])


@pytest.fixture
def town_client(demo_db, town):
    return client_for(demo_db, town["token"])


def _gen(conn) -> int:
    return conn.execute(text("SELECT id FROM generation WHERE is_active")).scalar()


def _frame(conn, sql, params=None) -> gpd.GeoDataFrame:
    df = pd.read_sql(text(sql), conn, params=params or {})
    geoms = shapely.from_wkb([bytes(b) for b in df.pop("wkb")])
    return gpd.GeoDataFrame(df, geometry=list(geoms), crs="EPSG:4326")


def _answer(client, theme, level=None) -> dict:
    r = client.get(f"/api/v1/coverage/{theme}/map" + (f"?level={level}" if level else ""))
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return r.json


def _stats(answer) -> dict:
    return {s["id"]: s["value"] for s in answer["stats"]}


def _rows(client, theme, level="township") -> dict:
    r = client.get(f"/api/v1/coverage/{theme}?level={level}")
    assert r.status_code == 200
    return {row["unit_code"]: row for row in r.json["rows"]}


# ---- tiles ----

def _tile_of(lon, lat, z):
    n = 2 ** z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


def _tiles_over(bounds, z):
    (x0, y1), (x1, y0) = _tile_of(bounds[0], bounds[1], z), _tile_of(bounds[2], bounds[3], z)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def _decode(res) -> dict:
    assert res.status_code in (200, 204), res.get_data(as_text=True)[:300]
    return mapbox_vector_tile.decode(res.data) if res.status_code == 200 else {}


def _features(client, layer, z, tiles, query=""):
    out = []
    for x, y in tiles:
        for lyr in _decode(client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt?{query}")).values():
            out += [(f, (z, x, y)) for f in lyr["features"]]
    return out


def _lonlat(z, x, y, px, py, extent=4096):
    """A tile coordinate (decoded with y up) as lon/lat."""
    n = 2 ** z
    lon = (x + px / extent) / n * 360 - 180
    merc = math.pi * (1 - 2 * (y + 1 - py / extent) / n)
    return lon, math.degrees(math.atan(math.sinh(merc)))


def _coords(geometry):
    coords = geometry["coordinates"]
    while coords and isinstance(coords[0], (list, tuple)) and isinstance(coords[0][0],
                                                                         (list, tuple)):
        coords = [c for part in coords for c in part]
    return coords if coords and isinstance(coords[0], (list, tuple)) else [coords]


def _town_shape(conn):
    wkb = conn.execute(text("SELECT ST_AsBinary(geom) FROM admin_area WHERE code = :c AND "
                            "generation_id = :g"), {"c": TOWN, "g": _gen(conn)}).scalar()
    return shapely.from_wkb(bytes(wkb))


def _ids_in_town(conn, table):
    return set(conn.execute(text(
        f"SELECT c.id FROM {table} c JOIN admin_area a ON a.code = :c AND a.generation_id = :g "
        f"AND ST_Covers(a.geom, c.geom)"), {"c": TOWN, "g": _gen(conn)}).scalars())


def test_camera_and_post_tiles_hold_only_the_jurisdictions_points(eng, demo_client, town_client):
    with eng.connect() as conn:
        shape = _town_shape(conn)
        cams, posts = _ids_in_town(conn, "camera"), _ids_in_town(conn, "response_post")
    tiles = _tiles_over(shape.bounds, 14)
    mine = {f["properties"]["gid"] for f, _t in _features(town_client, "cameras", 14, tiles)}
    everyone = {f["properties"]["gid"] for f, _t in _features(demo_client, "cameras", 14, tiles)}
    assert mine == cams and len(cams) > 100
    assert everyone - mine  # the tiles do hold other townships' cameras, for the city
    views = {f["properties"]["gid"] for f, _t in _features(town_client, "camera_views", 14,
                                                              tiles)}
    assert views and views <= cams
    mine = {f["properties"]["gid"] for f, _t in _features(town_client, "posts", 12,
                                                          _tiles_over(shape.bounds, 12))}
    assert mine == posts and posts
    # binned at low zoom: the counts add up to the jurisdiction's cameras
    z = 11
    binned = _features(town_client, "cameras", z, _tiles_over(shape.bounds, z))
    assert binned and all("gid" not in f["properties"] for f, _t in binned)
    # binned tiles have no buffer: every camera is counted in exactly one tile
    assert sum(f["properties"]["count"] for f, _t in binned) == len(cams)


def test_street_tiles_are_cut_to_the_jurisdictions_land(eng, demo_client, town_client):
    with eng.connect() as conn:
        shape = _town_shape(conn)
    tiles = _tiles_over(shape.bounds, 14)
    mine_key = _answer(town_client, "cameras")["result"]
    city_key = _answer(demo_client, "cameras")["result"]
    near = shape.buffer(0.0005)  # simplification by half a pixel, and MVT rounding
    for kind in ("covered", "uncovered"):
        mine = _features(town_client, "roads", 14, tiles, f"kind={kind}&result={mine_key}")
        assert mine
        for f, (z, x, y) in mine:
            for px, py in _coords(f["geometry"]):
                assert near.covers(Point(_lonlat(z, x, y, px, py)))
        everyone = _features(demo_client, "roads", 14, tiles, f"kind={kind}&result={city_key}")
        points = sum(len(_coords(f["geometry"])) for f, _t in everyone)
        assert points > sum(len(_coords(f["geometry"])) for f, _t in mine)
    x, y = tiles[0]
    assert town_client.get(f"/tiles/roads/14/{x}/{y}.mvt?kind=covered").status_code == 400
    assert town_client.get(f"/tiles/roads/14/{x}/{y}.mvt?kind=all&result="
                           f"{mine_key}").status_code == 400


def test_results_and_shapes_only_for_their_own_jurisdiction(eng, demo_client, town_client):
    with eng.connect() as conn:
        shape = _town_shape(conn)
    admin = _answer(demo_client, "response")
    mine = _answer(town_client, "response")
    x, y = _tile_of(*shape.centroid.coords[0], 12)
    for layer, query in (("grids", f"result={admin['result']}"),
                         ("response_areas", f"minutes=5&result={admin['result']}"),
                         ("villages", f"result={admin['villages']}")):
        assert town_client.get(f"/tiles/{layer}/12/{x}/{y}.mvt?{query}").status_code == 404
    assert town_client.get(f"/tiles/response_areas/12/{x}/{y}.mvt").status_code == 400
    assert town_client.get(f"/tiles/response_areas/12/{x}/{y}.mvt?minutes=2&result="
                           f"{mine['result']}").status_code == 400
    assert town_client.get(f"/tiles/blind_spots/12/{x}/{y}.mvt?kind=x&result="
                           f"{mine['result']}").status_code == 400
    # the 5-minute reach of every post, cut to the township's land
    reach = _features(town_client, "response_areas", 12, _tiles_over(shape.bounds, 12),
                      f"result={mine['result']}")
    labels = [f["properties"]["label"] for f, _t in reach]
    assert {"5分钟可达 Reachable within 5 min", "1分钟可达 Reachable within 1 min"} <= set(labels)
    # drawn 5 minutes first, so the smaller areas lie on top
    assert labels.index("5分钟可达 Reachable within 5 min") < labels.index(
        "1分钟可达 Reachable within 1 min")
    near = shape.buffer(0.001)
    for f, (z, tx, ty) in reach:
        for px, py in _coords(f["geometry"]):
            lon, lat = _lonlat(z, tx, ty, px, py)
            box = shapely.box(*_tile_bounds(z, tx, ty))
            if box.buffer(-0.0001).covers(Point(lon, lat)):  # not the tile's clipping edge
                assert near.covers(Point(lon, lat))
    # the grid tiles of the tab carry its classes, only the township's grids
    grids = _features(town_client, "grids", 12, _tiles_over(shape.bounds, 12),
                      f"result={mine['result']}")
    assert grids and all(f["properties"]["code"].startswith(TOWN[:9]) for f, _t in grids)
    assert all(f["properties"]["colour"].startswith("#") for f, _t in grids)


def _tile_bounds(z, x, y):
    w, n = _lonlat(z, x, y, 0, 4096)
    e, s = _lonlat(z, x, y, 4096, 0)
    return w, s, e, n


def test_coverage_tiles_change_their_etag_with_the_coverage_version(private_factory_db):
    url = private_factory_db
    client = client_for(url, make_account(url, unique("tab-etag"), "admin")["token"])
    x, y = _tile_of(125.1, 46.25, 12)
    path = f"/tiles/cameras/12/{x}/{y}.mvt"
    first = client.get(path)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, max-age=60"
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    geo = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [125.1, 46.25]},
         "properties": {"external_id": unique("C"), "range_m": 100}}]}
    r = client.post("/api/v1/cameras/imports", content_type="multipart/form-data",
                    data={"file": (io.BytesIO(json.dumps(geo).encode()), "c.geojson")})
    assert r.status_code == 201
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag
    assert _decode(again)


# ---- page shells ----

@pytest.mark.parametrize("path", list(TABS))
def test_tab_pages_are_small_shells_without_geojson(demo_client, path):
    res = demo_client.get(f"/maps/coverage/{path}")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert len(res.data) < 200_000
    for geojson in ("FeatureCollection", '"coordinates"', '"geometry"'):
        assert geojson not in html
    assert len(re.findall(r"\b2312810\d{8}\b", html)) < 5  # grid codes: none inlined
    assert "/tiles/grids/{z}/{x}/{y}.mvt" in html and "coverage.js" in html
    assert f"/api/v1/coverage/{TABS[path]}/map" in html
    assert "图例 Legend" in html and "Synthetic demo data" in html


def test_the_answer_is_cached_and_follows_the_level(demo_client):
    first = _answer(demo_client, "staffing", "village")
    again = _answer(demo_client, "staffing", "township")
    assert again["cached"] and again["result"] == first["result"]
    assert again["villages"] == first["villages"]
    assert first["level"] == "village" and first["rows_total"] > 100
    assert again["rows_total"] == 18 and again["columns"][0] == ["unit_name",
                                                                "乡镇/街道 Township"]
    assert demo_client.get("/api/v1/coverage/blind-spots/map?level=village").status_code == 400
    assert demo_client.get("/api/v1/coverage/nothing/map").status_code == 404


def test_staffing_matches_sql(eng, demo_client):
    answer = _answer(demo_client, "staffing")
    with eng.connect() as conn:
        per_grid = pd.read_sql(text("""
            SELECT g.id, g.code, substr(g.code, 1, 9) || '000' AS town,
                   count(DISTINCT s.id) FILTER (WHERE s.role = 'grid_head') AS heads,
                   count(DISTINCT s.id) FILTER (WHERE s.role <> 'grid_head') AS workers
            FROM grid g LEFT JOIN staff_grid sg ON sg.grid_code = g.code
            LEFT JOIN staff s ON s.id = sg.staff_id AND s.active
            WHERE g.generation_id = :g GROUP BY g.id, g.code"""), conn,
                               params={"g": _gen(conn)})
    stats = _stats(answer)
    assert int(stats["stat-grids"]) == len(per_grid)
    assert int(stats["stat-no-head"]) == int((per_grid["heads"] == 0).sum()) > 0
    assert int(stats["stat-no-worker"]) == int((per_grid["workers"] == 0).sum()) > 0
    rows = _rows(demo_client, "staffing")
    for code, group in per_grid.groupby("town"):
        assert rows[code]["grids"] == len(group)
        assert rows[code]["heads"] == int(group["heads"].sum())
        assert rows[code]["no_head"] == int((group["heads"] == 0).sum())
    # the grid tiles carry the same people counts
    lon, lat = 125.32, 46.42
    x, y = _tile_of(lon, lat, 13)
    tile = _decode(demo_client.get(f"/tiles/grids/13/{x}/{y}.mvt?result={answer['result']}"))
    heads = dict(zip(per_grid["code"], per_grid["heads"]))
    feats = tile["grids"]["features"]
    assert feats and all(f["properties"]["heads"] == heads[f["properties"]["code"]]
                         for f in feats)


def _footprint(x, y, r, direction, fov):
    if direction != direction or fov != fov or fov >= 360:
        return Point(x, y).buffer(r, 64)
    t = np.radians(np.linspace(direction - fov / 2, direction + fov / 2, int(fov) + 1))
    return Polygon([(x, y), *zip(x + r * np.sin(t), y + r * np.cos(t)), (x, y)])


def test_camera_area_shares_match_geopandas(eng, demo_client):
    with eng.connect() as conn:
        cams = pd.read_sql(text("SELECT ST_X(geom) lon, ST_Y(geom) lat, range_m, "
                                "direction_deg, fov_deg FROM camera"), conn)
        grids = _frame(conn, "SELECT code, substr(code, 1, 9) || '000' AS town, "
                             "ST_AsBinary(geom) AS wkb FROM grid WHERE generation_id = :g",
                       {"g": _gen(conn)}).to_crs(UTM)
    pts = gpd.GeoSeries(gpd.points_from_xy(cams["lon"], cams["lat"]), crs="EPSG:4326").to_crs(UTM)
    cover = shapely.union_all([_footprint(p.x, p.y, r, d, f) for p, r, d, f in zip(
        pts, cams["range_m"], cams["direction_deg"].astype(float), cams["fov_deg"].astype(float))])
    grids["covered"] = grids.geometry.intersection(cover).area
    grids["area"] = grids.geometry.area
    share = grids.groupby("town")[["covered", "area"]].sum()
    rows = _rows(demo_client, "cameras")
    assert (share["covered"] > 0).sum() >= 5
    for town, r in share.iterrows():
        assert rows[town]["area_share"] == pytest.approx(r["covered"] / r["area"], abs=0.002)
    answer = _answer(demo_client, "cameras")
    total = float(_stats(answer)["stat-area-share"].rstrip("%")) / 100
    assert total == pytest.approx(share["covered"].sum() / share["area"].sum(), abs=0.001)
    assert int(_stats(answer)["stat-cameras"]) == len(cams)


def test_response_household_shares_match_geopandas(eng, demo_client):
    with eng.connect() as conn:
        areas = _frame(conn, "SELECT minutes, ST_AsBinary(geom) AS wkb FROM response_area")
        grids = _frame(conn, "SELECT households, ST_AsBinary(geom) AS wkb FROM grid "
                             "WHERE generation_id = :g", {"g": _gen(conn)}).to_crs(UTM)
    areas = areas.to_crs(UTM)
    stats = _stats(_answer(demo_client, "response"))
    for minutes in (1, 3, 5):
        union = shapely.union_all(areas.geometry[areas["minutes"] == minutes].to_numpy())
        inside = grids.geometry.intersection(union).area / grids.geometry.area
        share = float((grids["households"] * inside).sum() / grids["households"].sum())
        shown = float(stats[f"stat-households-{minutes}"].rstrip("%")) / 100
        assert shown == pytest.approx(share, abs=0.0015)  # one decimal of a percentage
    assert int(stats["stat-posts"]) == 22


def test_blind_spots_match_sql(eng, demo_client, town_client):
    with eng.connect() as conn:
        g = _gen(conn)
        uncovered = dict(conn.execute(text(
            "SELECT a.code, count(*) FROM incident i JOIN admin_area a ON a.generation_id = :g "
            "AND a.level = 4 AND ST_Covers(a.geom, i.geom) WHERE i.grid_id IS NULL "
            "GROUP BY a.code"), {"g": g}).all())
        no_staff = dict(conn.execute(text(
            "SELECT substr(g.code, 1, 9) || '000', count(*) FROM grid g WHERE "
            "g.generation_id = :g AND NOT EXISTS (SELECT 1 FROM staff_grid sg JOIN staff s ON "
            "s.id = sg.staff_id AND s.active WHERE sg.grid_code = g.code) GROUP BY 1"),
            {"g": g}).all())
        outside_city = conn.execute(text(
            "SELECT count(*) FROM incident i WHERE i.grid_id IS NULL AND NOT EXISTS (SELECT 1 "
            "FROM admin_area a WHERE a.generation_id = :g AND a.level = 4 AND "
            "ST_Covers(a.geom, i.geom))"), {"g": g}).scalar()
    rows = _rows(demo_client, "blind-spots")
    assert {c: r["uncovered_incidents"] for c, r in rows.items()
            if c and r["uncovered_incidents"]} == uncovered
    assert {c: r["grids_without_staff"] for c, r in rows.items()
            if c and r["grids_without_staff"]} == no_staff
    assert rows.get(None, {"uncovered_incidents": 0})["uncovered_incidents"] == outside_city
    stats = _stats(_answer(demo_client, "blind-spots"))
    assert int(stats["stat-uncovered"]) == sum(uncovered.values()) + outside_city > 0
    mine = _answer(town_client, "blind-spots")
    assert [r[0] for r in mine["rows"]] == ["铁西街道"]
    assert int(_stats(mine)["stat-uncovered"]) == uncovered.get(TOWN, 0)


def test_csv_comes_from_the_cached_answer(demo_client):
    answer = _answer(demo_client, "cameras", "village")
    csv = demo_client.get("/api/v1/coverage/cameras?level=village&format=csv")
    assert csv.status_code == 200 and csv.data.startswith("\ufeff".encode())
    table = pd.read_csv(io.BytesIO(csv.data), encoding="utf-8-sig")
    assert len(table) == answer["rows_total"]
    assert list(table.columns[:3]) == ["unit_code", "unit_name", "grids"]


def test_a_write_makes_the_next_answer_compute_afresh(private_factory_db):
    url = private_factory_db
    client = client_for(url, make_account(url, unique("tab-cache"), "admin")["token"])
    first = _answer(client, "staffing")
    assert _answer(client, "staffing")["cached"]
    grid = "231281101002001"
    r = client.post("/api/v1/staff", json={"external_id": unique("S"), "name": "甲",
                                           "role": "grid_head", "grids": [grid]})
    assert r.status_code == 201
    after = _answer(client, "staffing")
    assert not after["cached"] and after["result"] != first["result"]
    before_heads = int(_stats(first)["stat-no-head"])
    assert int(_stats(after)["stat-no-head"]) == before_heads - 1
