"""Vector tiles from PostGIS: what a tile holds against an independent geopandas selection,
the jurisdiction inside the tile, binned incidents, ETag/304 and data versions, stored results
only for the account they were made for, and clear errors."""
from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
import shapely
from shapely.geometry import box
from sqlalchemy import text

from gis.store import boundaries as bstore
from tests.helpers import client_for, make_account, unique


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_box(z: int, x: int, y: int, margin: float = 0.0):
    """The tile's lon/lat box, grown by `margin` of its size on every side."""
    n = 2 ** z

    def lon(v):
        return v / n * 360 - 180

    def lat(v):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * v / n))))
    return box(lon(x - margin), lat(y + 1 + margin), lon(x + 1 + margin), lat(y - margin))


def decode(res) -> dict:
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    assert res.mimetype == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(res.get_data())


@pytest.fixture
def grids(demo_engine):
    with demo_engine.connect() as conn:
        gen = bstore.require_active_generation(conn)["id"]
        return bstore.load_grids(conn, gen), gen


def test_a_grid_tile_holds_the_grids_in_it_and_no_others(demo_client, grids):
    frame, gen = grids
    centre = frame.geometry.iloc[len(frame) // 2].representative_point()
    z = 13
    x, y = tile_of(centre.x, centre.y, z)
    tile = decode(demo_client.get(f"/tiles/grids/{z}/{x}/{y}.mvt"))
    codes = {f["properties"]["code"] for f in tile["grids"]["features"]}
    inside = set(frame.loc[frame.intersects(tile_box(z, x, y, -0.02)), "code"])
    near = set(frame.loc[frame.intersects(tile_box(z, x, y, 64 / 4096 + 0.01)), "code"])
    assert inside and inside <= codes <= near
    one = next(f for f in tile["grids"]["features"] if f["properties"]["code"] in inside)
    row = frame.loc[frame["code"] == one["properties"]["code"]].iloc[0]
    assert one["properties"]["name"] == row["name"]
    assert one["properties"]["households"] == row["households"]
    assert one["properties"]["gid"] == one["id"] == row["id"]
    assert one["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_low_zoom_tiles_are_simplified(demo_client, demo_engine, grids):
    frame, _ = grids
    c = frame.union_all().centroid
    z = 8
    x, y = tile_of(c.x, c.y, z)
    feats = decode(demo_client.get(f"/tiles/townships/{z}/{x}/{y}.mvt"))["townships"]["features"]
    with demo_engine.connect() as conn:
        source = dict(conn.execute(text(
            "SELECT code, ST_NPoints(geom) FROM admin_area WHERE level = 4")).all())
    assert len(feats) == len(source)
    shown = {f["properties"]["code"]: len(shapely.get_coordinates(
        shapely.geometry.shape(f["geometry"]))) for f in feats}
    # half a pixel at zoom 8 is ~300 m: every boundary loses vertices, none vanishes
    assert sum(shown.values()) < 0.5 * sum(source.values())
    assert all(n >= 4 for n in shown.values())


def test_the_jurisdiction_applies_inside_the_tile(demo_db, grids):
    frame, _ = grids
    township = frame["code"].iloc[0][:9] + "000"
    official = make_account(demo_db, unique("tile-official"), "official", [township])
    client = client_for(demo_db, official["token"])
    c = frame.union_all().centroid
    z = 9
    x, y = tile_of(c.x, c.y, z)
    own = [f["properties"]["code"] for f in decode(
        client.get(f"/tiles/grids/{z}/{x}/{y}.mvt"))["grids"]["features"]]
    assert own and all(code.startswith(township[:9]) for code in own)
    assert len(own) == int((frame["code"].str[:9] == township[:9]).sum())
    towns = decode(client.get(f"/tiles/townships/{z}/{x}/{y}.mvt"))["townships"]["features"]
    assert [f["properties"]["code"] for f in towns] == [township]
    with db_engine(demo_db).connect() as conn:
        expected = conn.execute(text(
            "SELECT count(*) FROM incident i JOIN admin_area t ON t.id = i.township_id "
            "WHERE t.code = :c"), {"c": township}).scalar_one()
    # every tile over the city: the township's incidents and none of the others'
    west, south, east, north = frame.total_bounds
    (x0, y0), (x1, y1) = tile_of(west, north, z), tile_of(east, south, z)
    seen = 0
    for tx in range(x0, x1 + 1):
        for ty in range(y0, y1 + 1):
            res = client.get(f"/tiles/incidents/{z}/{tx}/{ty}.mvt")
            if res.status_code == 200:
                seen += sum(f["properties"]["count"] for f in decode(res)["incidents"]["features"])
    assert seen == expected > 0


def db_engine(url):
    from gis.store import db
    return db.engine(url)


def test_binned_incidents_add_up_and_points_show_from_zoom_14(demo_client, demo_engine, grids):
    frame, _ = grids
    c = frame.union_all().centroid
    z = 8
    x, y = tile_of(c.x, c.y, z)
    binned = decode(demo_client.get(f"/tiles/incidents/{z}/{x}/{y}.mvt"))["incidents"]
    env = tile_box(z, x, y)
    with demo_engine.connect() as conn:
        total = conn.execute(text(
            "SELECT count(*) FROM incident WHERE ST_Intersects(geom, ST_GeomFromText(:w, 4326))"),
            {"w": env.wkt}).scalar_one()
    assert sum(f["properties"]["count"] for f in binned["features"]) == total
    with demo_engine.connect() as conn:  # the same cells from PostGIS's own projection
        cells = conn.execute(text("""
            WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
            p AS (SELECT ST_Transform(i.geom, 3857) AS g FROM incident i
                  WHERE ST_Intersects(i.geom, ST_GeomFromText(:w, 4326)))
            SELECT count(*) FROM p CROSS JOIN b
            GROUP BY floor((ST_X(g) - ST_XMin(b.env)) / :cell),
                     floor((ST_Y(g) - ST_YMin(b.env)) / :cell)"""),
            {"z": z, "x": x, "y": y, "w": env.wkt,
             "cell": 2 * math.pi * 6378137.0 / 2 ** z / 64}).scalars().all()
    assert sorted(f["properties"]["count"] for f in binned["features"]) == sorted(cells)
    with demo_engine.connect() as conn:
        lon, lat, ext = conn.execute(text(
            "SELECT ST_X(geom), ST_Y(geom), external_id FROM incident ORDER BY id LIMIT 1")).one()
    x, y = tile_of(lon, lat, 16)
    points = decode(demo_client.get(f"/tiles/incidents/16/{x}/{y}.mvt"))["incidents"]
    assert ext in {f["properties"]["external_id"] for f in points["features"]}
    assert all("count" not in f["properties"] for f in points["features"])


def test_filters_apply_inside_incident_tiles(demo_client, demo_engine, grids):
    frame, _ = grids
    c = frame.union_all().centroid
    x, y = tile_of(c.x, c.y, 6)
    feats = decode(demo_client.get(
        f"/tiles/incidents/6/{x}/{y}.mvt?category=dispute&severity=high"))["incidents"]
    with demo_engine.connect() as conn:
        expected = conn.execute(text(
            "SELECT count(*) FROM incident WHERE category LIKE 'dispute%' AND severity = 'high'"
        )).scalar_one()
    assert sum(f["properties"]["count"] for f in feats["features"]) == expected


def test_an_empty_tile_answers_204_and_bad_requests_say_why(demo_client):
    assert demo_client.get("/tiles/grids/10/0/0.mvt").status_code == 204
    res = demo_client.get("/tiles/roads-of-rome/10/0/0.mvt")
    assert res.status_code == 404 and "layers" in res.get_json()["error"]["message"]
    res = demo_client.get("/tiles/grids/23/0/0.mvt")
    assert res.status_code == 400 and "zoom" in res.get_json()["error"]["message"]
    res = demo_client.get("/tiles/grids/3/8/0.mvt")
    assert res.status_code == 400
    res = demo_client.get("/tiles/grids/3/1/1.mvt?g=999999")
    assert res.status_code == 404
    assert client_for_anonymous(demo_client).get("/tiles/grids/3/1/1.mvt").status_code == 401


def client_for_anonymous(client):
    anon = client.application.test_client()
    return anon


def test_etag_answers_304_until_the_data_changes(private_factory_db):
    admin = make_account(private_factory_db, unique("etag-admin"), "admin")
    client = client_for(private_factory_db, admin["token"])
    with db_engine(private_factory_db).connect() as conn:
        gen = bstore.require_active_generation(conn)["id"]
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid "
            "WHERE generation_id = :g ORDER BY code LIMIT 1) s"), {"g": gen}).one()
    x, y = tile_of(lon, lat, 12)
    first = client.get(f"/tiles/grids/12/{x}/{y}.mvt")
    etag = first.headers["ETag"]
    assert "private" in first.headers["Cache-Control"]
    again = client.get(f"/tiles/grids/12/{x}/{y}.mvt", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.get_data()
    inc = client.get(f"/tiles/incidents/12/{x}/{y}.mvt")
    assert inc.status_code == 204
    post = client.post("/api/v1/incidents", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"external_id": unique("etag"), "category": "dispute_neighbour",
                       "occurred_at": "2026-11-01T10:00:00+08:00"}})
    assert post.status_code == 201, post.get_data(as_text=True)
    after = client.get(f"/tiles/incidents/12/{x}/{y}.mvt",
                       headers={"If-None-Match": inc.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != inc.headers["ETag"]
    assert sum(f["properties"]["count"] for f in decode(after)["incidents"]["features"]) == 1
    # the boundaries did not change: their tile still answers 304
    assert client.get(f"/tiles/grids/12/{x}/{y}.mvt",
                      headers={"If-None-Match": etag}).status_code == 304
    # while another transaction has written incidents but not committed, the version may count
    # rows this tile cannot see yet: no ETag is promised and nothing may be cached
    settled = client.get(f"/tiles/incidents/12/{x}/{y}.mvt").headers["ETag"]
    assert settled == after.headers["ETag"]
    with db_engine(private_factory_db).connect() as writer:
        writer.execute(text("UPDATE incident SET description = description "
                            "WHERE id = (SELECT min(id) FROM incident)"))
        open1 = client.get(f"/tiles/incidents/12/{x}/{y}.mvt", headers={"If-None-Match": settled})
        open2 = client.get(f"/tiles/incidents/12/{x}/{y}.mvt")
        assert open1.status_code == 200 and "max-age=0" in open1.headers["Cache-Control"]
        assert len({open1.headers["ETag"], open2.headers["ETag"], settled}) == 3
        # the boundaries are not being written: their tiles keep their promise
        assert client.get(f"/tiles/grids/12/{x}/{y}.mvt",
                          headers={"If-None-Match": etag}).status_code == 304
        writer.rollback()
    # settled again (the version moved on, as sequences do): one ETag that answers 304 again
    calm = client.get(f"/tiles/incidents/12/{x}/{y}.mvt")
    assert "max-age=0" not in calm.headers["Cache-Control"]
    assert client.get(f"/tiles/incidents/12/{x}/{y}.mvt",
                      headers={"If-None-Match": calm.headers["ETag"]}).status_code == 304


def test_another_accounts_etag_is_not_this_accounts(demo_db, demo_client, grids):
    frame, _ = grids
    c = frame.union_all().centroid
    x, y = tile_of(c.x, c.y, 9)
    admin_etag = demo_client.get(f"/tiles/grids/9/{x}/{y}.mvt").headers["ETag"]
    official = make_account(demo_db, unique("etag-official"), "official",
                            [frame["code"].iloc[0][:9] + "000"])
    res = client_for(demo_db, official["token"]).get(
        f"/tiles/grids/9/{x}/{y}.mvt", headers={"If-None-Match": admin_etag})
    assert res.status_code == 200 and res.headers["ETag"] != admin_etag


def test_tiles_and_json_are_compressed_for_clients_that_accept_it(demo_client, grids):
    import gzip
    frame, _ = grids
    c = frame.union_all().centroid
    x, y = tile_of(c.x, c.y, 10)
    plain = demo_client.get(f"/tiles/grids/10/{x}/{y}.mvt")
    packed = demo_client.get(f"/tiles/grids/10/{x}/{y}.mvt",
                             headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert len(packed.get_data()) < 0.8 * len(plain.get_data())
    again = demo_client.get(f"/tiles/grids/10/{x}/{y}.mvt", headers={
        "Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304
    res = demo_client.get("/api/v1/analysis/rates?level=grid", headers={"Accept-Encoding": "gzip"})
    assert res.headers["Content-Encoding"] == "gzip"


def test_the_response_minutes_tiles_accept_are_the_coverage_ones():
    # gis.tiles may not import gis.coverage (sibling features): the two lists must agree
    from gis.coverage.response import MINUTES
    from gis.tiles.layers import RESPONSE_MINUTES
    assert tuple(RESPONSE_MINUTES) == tuple(MINUTES)
