"""Coverage API over HTTP (Flask test client, real PostGIS): staff registration and imports,
camera/post imports, figures as JSON and CSV, settings, permissions and jurisdiction."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import text

from gis.store import db
from tests.helpers import client_for, make_account

GRID = "231281101002001"
OTHER = "231281102001001"
TOWN = "231281101000"


@pytest.fixture(scope="module")
def url(private_factory_db):
    return private_factory_db


@pytest.fixture(scope="module")
def accounts(url):
    return {"admin": make_account(url, "cov-admin", "admin"),
            "planner": make_account(url, "cov-planner", "planner", ["231281000000"]),
            "town": make_account(url, "cov-town", "official", [TOWN]),
            "worker": make_account(url, "cov-worker", "grid_worker", [OTHER])}


@pytest.fixture
def clients(url, accounts):
    with db.engine(url).begin() as conn:
        conn.execute(text("DELETE FROM staff; DELETE FROM camera; DELETE FROM response_post; "
                          "DELETE FROM coverage_setting"))
    return {k: client_for(url, a["token"]) for k, a in accounts.items()}


def _staff(eid, grids, role="full_time", name="张三"):
    return {"external_id": eid, "name": name, "role": role, "grids": grids}


def test_register_read_and_update_staff(clients):
    admin = clients["admin"]
    r = admin.post("/api/v1/staff", json=_staff("S1", [GRID], "grid_head"))
    assert r.status_code == 201, r.json
    assert r.json["staff"]["grids"] == [GRID] and r.json["inserted"] == 1
    again = admin.post("/api/v1/staff", json=_staff("S1", [GRID], "grid_head"))
    assert again.status_code == 409 and "exists already" in again.json["error"]["message"]
    assert "details" not in again.json["error"]  # the same answer as for a foreign id
    r = admin.put("/api/v1/staff/S1", json={"name": "张三", "role": "full_time",
                                            "grids": [GRID, OTHER]})
    assert r.status_code == 200 and r.json["updated"] == 1
    assert admin.put("/api/v1/staff/S1", json={"name": "张三", "role": "full_time",
                                               "grids": [GRID, OTHER]}).json["unchanged"] == 1
    assert admin.get("/api/v1/staff/S1").json["staff"]["grids"] == [GRID, OTHER]
    listed = admin.get(f"/api/v1/staff?grid={OTHER}").json["staff"]
    assert [s["external_id"] for s in listed] == ["S1"]


@pytest.mark.parametrize("body,field", [
    ({"external_id": "X", "name": "某", "role": "boss", "grids": [GRID]}, None),
    ({"external_id": "X", "name": "某", "role": "full_time", "grids": GRID}, "grids"),
    ({"external_id": "X", "name": "某", "role": "full_time", "grids": []}, None),
    ({"external_id": "X", "name": "某", "role": "full_time", "grids": ["231281999999001"]},
     None),
    ({"external_id": "X", "name": "某", "role": "full_time", "grids": [GRID], "age": 3}, "age"),
])
def test_bad_staff_bodies_are_refused_with_a_reason(clients, body, field):
    r = clients["admin"].post("/api/v1/staff", json=body)
    assert r.status_code in (400, 422), r.json
    assert r.json["error"]["message"]
    if field:
        assert r.json["error"]["field"] == field
    assert clients["admin"].get("/api/v1/staff").json["staff"] == []


def test_jurisdiction_and_permissions_on_staff(clients):
    town, worker, planner = clients["town"], clients["worker"], clients["planner"]
    assert town.post("/api/v1/staff", json=_staff("T1", [GRID])).status_code == 201
    refused = town.post("/api/v1/staff", json=_staff("T2", [OTHER]))
    assert refused.status_code == 422 and "jurisdiction" in json.dumps(refused.json,
                                                                       ensure_ascii=False)
    assert planner.post("/api/v1/staff", json=_staff("P1", [GRID])).status_code == 403
    assert clients["admin"].post("/api/v1/staff", json=_staff("W1", [OTHER])).status_code == 201
    # the worker sees staff of their grid only; a foreign record answers like a missing one
    assert [s["external_id"] for s in worker.get("/api/v1/staff").json["staff"]] == ["W1"]
    missing = worker.get("/api/v1/staff/NOPE")
    foreign = worker.get("/api/v1/staff/T1")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json["error"]["code"] == missing.json["error"]["code"]
    # the township official may not move someone else's worker into their township
    r = town.put("/api/v1/staff/W1", json={"name": "x", "role": "full_time", "grids": [GRID]})
    assert r.status_code == 404


def test_staff_csv_upload_in_gbk_is_all_or_nothing(clients):
    admin = clients["admin"]
    csv = ("external_id,name,role,grids\nG1,网格长甲,网格长,%s\nG2,兼职乙,兼职网格员,%s;%s\n"
           % (GRID, GRID, OTHER)).encode("gbk")
    r = admin.post("/api/v1/staff/imports", data={"file": (io.BytesIO(csv), "staff.csv")},
                   content_type="multipart/form-data")
    assert r.status_code == 201 and r.json["inserted"] == 2
    r = admin.post("/api/v1/staff/imports", data={"file": (io.BytesIO(csv), "staff.csv")},
                   content_type="multipart/form-data")
    assert r.status_code == 200 and r.json["unchanged"] == 2
    bad = csv + "G3,某,主任,%s\n".encode("gbk") % GRID.encode()
    r = admin.post("/api/v1/staff/imports", data={"file": (io.BytesIO(bad), "staff.csv")},
                   content_type="multipart/form-data")
    assert r.status_code == 422
    assert r.json["error"]["details"][0]["row"] == 4
    assert len(admin.get("/api/v1/staff").json["staff"]) == 2


def test_camera_import_and_figures_as_json_and_csv(clients):
    admin = clients["admin"]
    geo = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [125.1, 46.25]},
         "properties": {"external_id": "C1", "range_m": 120, "direction_deg": 45,
                        "fov_deg": 90}}]}
    r = admin.post("/api/v1/cameras/imports",
                   data={"file": (io.BytesIO(json.dumps(geo).encode()), "cams.geojson")},
                   content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    cams = admin.get("/api/v1/cameras").json
    assert cams["features"][0]["properties"]["fov_deg"] == 90
    assert clients["planner"].post("/api/v1/cameras/imports", data={
        "file": (io.BytesIO(json.dumps(geo).encode()), "c.geojson")},
        content_type="multipart/form-data").status_code == 200  # planners manage coverage
    assert clients["town"].post("/api/v1/cameras/imports", data={
        "file": (io.BytesIO(b"x"), "c.csv")},
        content_type="multipart/form-data").status_code == 403
    rows = admin.get("/api/v1/coverage/cameras?level=grid").json["rows"]
    hit = [row for row in rows if row["cameras"]]
    assert [h["code"] for h in hit] == [GRID]
    assert hit[0]["area_share"] > 0
    csv = admin.get("/api/v1/coverage/cameras?level=township&format=csv")
    assert csv.status_code == 200 and csv.data.startswith("\ufeff".encode())
    assert b"area_share" in csv.data and b"231281101000" in csv.data


def test_figures_follow_the_jurisdiction(clients):
    rows = clients["town"].get("/api/v1/coverage/staffing?level=grid").json["rows"]
    assert rows and all(r["code"].startswith("231281101") for r in rows)
    blind = clients["town"].get("/api/v1/coverage/blind-spots").json["rows"]
    assert [b["unit_code"] for b in blind] == [TOWN]
    assert clients["admin"].get("/api/v1/coverage/blind-spots?level=grid").status_code == 400
    assert clients["admin"].get("/api/v1/coverage/nothing").status_code == 404


def test_settings_are_checked_and_recompute_response_areas(clients):
    admin, planner, town = clients["admin"], clients["planner"], clients["town"]
    post = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [125.1, 46.25]},
         "properties": {"external_id": "P1", "name": "派出所", "kind": "派出所"}}]}
    r = admin.post("/api/v1/posts/imports",
                   data={"file": (io.BytesIO(json.dumps(post).encode()), "posts.geojson")},
                   content_type="multipart/form-data")
    assert r.status_code == 201 and r.json["response_areas"]["buffer"] == 1
    before = admin.get("/api/v1/coverage/response?level=grid").json["rows"]
    r = planner.put("/api/v1/coverage/settings", json={"buffer_speed_kmh": 15})
    assert r.status_code == 200 and r.json["response_areas"]["areas"] == 3
    after = admin.get("/api/v1/coverage/response?level=grid").json["rows"]
    share = {x["code"]: x["share_5"] for x in before}
    share_after = {x["code"]: x["share_5"] for x in after}
    assert share_after[GRID] == pytest.approx(share[GRID] / 4, rel=0.02)  # half the radius
    assert admin.put("/api/v1/coverage/settings",
                     json={"buffer_speed_kmh": -1}).status_code == 400
    assert admin.put("/api/v1/coverage/settings", json={"colour": 1}).status_code == 400
    assert town.put("/api/v1/coverage/settings", json={"access_m": 10}).status_code == 403
    assert admin.get("/api/v1/coverage/settings").json["settings"]["buffer_speed_kmh"] == 15
