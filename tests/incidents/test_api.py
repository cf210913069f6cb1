"""Locate and incident submission through the HTTP API (Flask test client, real PostGIS)."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from gis.geo.crs import gcj02_to_bd09, wgs84_to_gcj02
from gis.store import db


def feature(external_id, lon=125.05, lat=46.05, **props):
    base = {"external_id": external_id, "category": "dispute_neighbour",
            "occurred_at": "2026-05-01T09:30:00+08:00"}
    base.update(props)
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": base}


def test_locate_returns_grid_and_every_level(factory_client):
    res = factory_client.get("/api/v1/locate?lon=125.05&lat=46.05")
    assert res.status_code == 200
    body = res.get_json()
    assert body["covered"] is True
    assert body["grid"]["code"] == "231281101001001001"
    assert body["hamlet"]["code"] == "231281101001001"
    assert body["village"]["code"] == "231281101001"
    assert body["township"]["code"] == "231281101000"
    assert body["city"] == {"code": "231281000000", "name": "安达市", "kind": "city"}


def test_locate_in_community_without_hamlet(factory_client):
    body = factory_client.get("/api/v1/locate?lon=125.3&lat=46.35").get_json()
    assert body["grid"]["code"] == "231281102002002"
    assert body["hamlet"] is None
    assert body["village"]["kind"] == "community"


@pytest.mark.parametrize("lon,lat,expected", [
    (125.1, 46.05, "231281101001001001"),   # hamlet border: both hamlets' grids cover it
    (125.2, 46.3, "231281101002001"),       # township and grid border: four grids
    (125.2, 46.2, "231281101001002002"),    # corner of four grids
])
def test_point_on_shared_border_goes_to_smallest_code(factory_client, lon, lat, expected):
    body = factory_client.get(f"/api/v1/locate?lon={lon}&lat={lat}").get_json()
    assert body["grid"]["code"] == expected


def test_locate_converts_gcj02_and_bd09(factory_client):
    # A WGS84 point 60 m west of the 125.1 E hamlet border; its GCJ-02 coordinates read as
    # WGS84 would land ~500 m east, in the other hamlet.
    lon, lat = 125.0992, 46.05
    glon, glat = (float(v) for v in wgs84_to_gcj02(lon, lat))
    blon, blat = (float(v) for v in gcj02_to_bd09(glon, glat))
    assert glon - lon > 0.003
    want = "231281101001001001"
    assert factory_client.get(f"/api/v1/locate?lon={lon}&lat={lat}").get_json()["grid"]["code"] == want
    wrong = factory_client.get(f"/api/v1/locate?lon={glon}&lat={glat}").get_json()
    assert wrong["grid"]["code"] != want
    for crs, (x, y) in {"GCJ02": (glon, glat), "BD09": (blon, blat),
                        "EPSG:4490": (lon, lat)}.items():
        body = factory_client.get(f"/api/v1/locate?lon={x}&lat={y}&crs={crs}").get_json()
        assert body["grid"]["code"] == want, crs
        assert abs(body["point"]["lon"] - lon) < 1e-6 and abs(body["point"]["lat"] - lat) < 1e-6


def test_locate_projected_crs(factory_client):
    from pyproj import Transformer
    x, y = Transformer.from_crs(4326, 32651, always_xy=True).transform(125.3, 46.35)
    body = factory_client.get(f"/api/v1/locate?lon={x}&lat={y}&crs=EPSG:32651").get_json()
    assert body["grid"]["code"] == "231281102002002"


def test_locate_outside_every_grid(factory_client):
    body = factory_client.get("/api/v1/locate?lon=126.0&lat=46.2").get_json()
    assert body["covered"] is False and body["grid"] is None and body["city"] is None


@pytest.mark.parametrize("query,status,field", [
    ("lat=46.1", 400, "lon"),
    ("lon=abc&lat=46.1", 400, "lon"),
    ("lon=200&lat=46.1", 422, "geometry"),
    ("lon=125&lat=95", 422, "geometry"),
    ("lon=125&lat=46&crs=EPSG:999999", 400, "crs"),
    ("lon=125&lat=46&crs=MARS2000", 400, "crs"),
])
def test_locate_bad_input(factory_client, query, status, field):
    res = factory_client.get(f"/api/v1/locate?{query}")
    assert res.status_code == status
    err = res.get_json()["error"]
    assert err["field"] == field and err["message"]


def test_post_incident_assigns_and_stores(factory_client, factory_db):
    res = factory_client.post("/api/v1/incidents", json=feature("T-1", 125.3, 46.1,
                                                               severity="high"))
    assert res.status_code == 201
    body = res.get_json()
    assert body["properties"]["grid_code"] == "231281102001001"
    assert body["properties"]["township_code"] == "231281102000"
    assert body["properties"]["covered"] is True
    assert res.headers["Location"].endswith(f"/api/v1/incidents/{body['id']}")
    again = factory_client.get(res.headers["Location"]).get_json()
    assert again["properties"]["external_id"] == "T-1"
    assert again["properties"]["occurred_at"].startswith("2026-05-01T01:30:00")
    assert re.fullmatch(r"\d{8}-\d{6}", again["properties"]["public_id"])


def test_a_report_without_external_id_gets_a_case_number_as_its_id(factory_client, factory_db):
    made = []
    for _ in range(2):
        res = factory_client.post("/api/v1/incidents", json={
            **feature("x"), "properties": {"category": "petition",
                                           "occurred_at": "2026-01-01T00:00:00+08:00"}})
        assert res.status_code == 201, res.get_json()
        made.append(res.get_json()["properties"])
    today = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    for props in made:
        assert props["public_id"].startswith(today + "-")
        assert props["external_id"] == props["public_id"]
    assert made[0]["public_id"] != made[1]["public_id"]


def test_post_same_external_id_twice_creates_one_incident(factory_client, factory_db):
    first = factory_client.post("/api/v1/incidents", json=feature("T-dup"))
    second = factory_client.post("/api/v1/incidents", json=feature("T-dup"))
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    changed = factory_client.post("/api/v1/incidents", json=feature("T-dup", 125.3, 46.3))
    assert changed.status_code == 409
    assert changed.get_json()["error"]["details"]["existing_id"] == first.get_json()["id"]
    with db.engine(factory_db).connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM incident WHERE external_id = 'T-dup'"))
        assert n.scalar() == 1


def test_post_uncovered_incident_is_kept(factory_client, factory_db):
    res = factory_client.post("/api/v1/incidents", json=feature("T-out", 126.5, 46.1))
    assert res.status_code == 201
    props = res.get_json()["properties"]
    assert props["covered"] is False and props["grid_code"] is None
    with db.engine(factory_db).connect() as conn:
        row = conn.execute(text("SELECT grid_id, ST_X(geom) FROM incident "
                                "WHERE external_id = 'T-out'")).one()
        assert row[0] is None and abs(row[1] - 126.5) < 1e-9


def test_post_gcj02_incident_is_converted(factory_client):
    glon, glat = (float(v) for v in wgs84_to_gcj02(125.0992, 46.05))
    res = factory_client.post("/api/v1/incidents?crs=GCJ02", json=feature("T-gcj", glon, glat))
    props = res.get_json()["properties"]
    assert props["grid_code"] == "231281101001001001" and props["input_crs"] == "GCJ02"


@pytest.mark.parametrize("body,status,needle", [
    ("{not json", 400, "not valid JSON"),
    ({"type": "FeatureCollection"}, 400, "GeoJSON Feature"),
    ({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
      "properties": {}}, 422, "Point"),
    (feature("x", 190, 46), 422, "longitude"),
    (feature("x", 125, -91), 422, "latitude"),
    ({**feature("x"), "properties": {"external_id": "", "category": "petition"}}, 422,
     "occurred_at"),
    (feature("x", category="alien_landing"), 422, "category"),
    (feature("x", occurred_at="yesterday"), 422, "occurred_at"),
    (feature("x", occurred_at="0001-01-01T00:00:00+08:00"), 422, "outside 1900"),
    (feature("x", occurred_at="9999-12-31T23:00:00+08:00"), 422, "outside 1900"),
    (feature("x", occurred_at="2026-05-02T00:00:00+08:00",
             reported_at="2026-05-01T00:00:00+08:00"), 422, "earlier"),
    ({**feature("x"), "crs": {"type": "name", "properties": {"name": "EPSG:0"}}}, 400, "unknown"),
])
def test_post_bad_input_is_refused_with_a_reason(factory_client, factory_db, body, status, needle):
    with db.engine(factory_db).connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM incident")).scalar()
    if isinstance(body, str):
        res = factory_client.post("/api/v1/incidents", data=body,
                                  content_type="application/json")
    else:
        res = factory_client.post("/api/v1/incidents", json=body)
    assert res.status_code == status
    assert needle in res.get_json()["error"]["message"]
    with db.engine(factory_db).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident")).scalar() == before


def test_unknown_api_route_is_json_404(factory_client):
    res = factory_client.get("/api/v1/nothing-here")
    assert res.status_code == 404 and res.get_json()["error"]["code"] == "not_found"


def test_case_numbers_grow_past_six_digits_without_repeating(fresh_db):
    with db.engine(fresh_db).begin() as conn:
        conn.execute(text("SELECT setval('incident_public_seq', 999998)"))
        made = [conn.execute(text("SELECT next_public_id()")).scalar() for _ in range(3)]
    assert [m.split("-")[1] for m in made] == ["999999", "1000000", "1000001"]
