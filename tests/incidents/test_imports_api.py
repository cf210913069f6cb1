"""Uploads through the API: boundary sets (GeoPackage or zipped GeoJSON folder) and incident
tables, all or nothing, recorded in the audit trail in the same transaction."""
from __future__ import annotations

import io
import zipfile

from sqlalchemy import text

from gis.store import db
from tests.helpers import client_for, make_account


def counts(url):
    with db.engine(url).connect() as conn:
        return conn.execute(text(
            "SELECT (SELECT count(*) FROM generation), (SELECT count(*) FROM grid), "
            "(SELECT count(*) FROM audit_event WHERE action = 'boundary_import')")).one()


def test_boundary_upload_dry_run_then_commit_is_audited(fresh_db, factory_gpkg):
    admin = make_account(fresh_db, "uploader", "admin")
    client = client_for(fresh_db, admin["token"])
    data = factory_gpkg.read_bytes()
    res = client.post("/api/v1/imports/boundaries", content_type="multipart/form-data",
                      data={"file": (io.BytesIO(data), "plan.gpkg")})
    assert res.status_code == 200 and res.get_json()["committed"] is False
    assert res.get_json()["counts"]["grid"] == 10
    assert tuple(counts(fresh_db)) == (0, 0, 0)
    res = client.post("/api/v1/imports/boundaries", content_type="multipart/form-data",
                      data={"file": (io.BytesIO(data), "plan.gpkg"), "commit": "true"},
                      headers={"User-Agent": "planner-tool/1.0"})
    assert res.status_code == 201 and res.get_json()["committed"] is True
    assert tuple(counts(fresh_db)) == (1, 10, 1)
    events = client.get("/api/v1/audit?action=boundary_import").get_json()["events"]
    assert events[0]["username"] == "uploader" and events[0]["ip"] == "127.0.0.1"
    assert events[0]["target"] == f"generation/{res.get_json()['generation_id']}"


def test_zipped_geojson_folder_and_a_broken_one(fresh_db, factory_gpkg, tmp_path):
    import geopandas as gpd
    admin = make_account(fresh_db, "zipper", "admin")
    client = client_for(fresh_db, admin["token"])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for layer in ("city", "township", "village", "hamlet", "grid"):
            frame = gpd.read_file(factory_gpkg, layer=layer)
            zf.writestr(f"plan/{layer}.geojson", frame.to_json())
    res = client.post("/api/v1/imports/boundaries", content_type="multipart/form-data",
                      data={"file": (io.BytesIO(buf.getvalue()), "plan.zip")})
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["counts"]["township"] == 2
    res = client.post("/api/v1/imports/boundaries", content_type="multipart/form-data",
                      data={"file": (io.BytesIO(b"PK\x03\x04broken"), "plan.zip"),
                            "commit": "true"})
    assert res.status_code == 400 and "zip" in res.get_json()["error"]["message"]
    assert tuple(counts(fresh_db)) == (0, 0, 0)


def test_incident_upload_with_a_bad_row_imports_nothing(factory_db, factory_admin):
    client = client_for(factory_db, factory_admin["token"])
    csv = ("external_id,category,occurred_at,lon,lat,description\n"
           "up-a,dispute_land,2026-05-02 10:00,125.05,46.05,邻里纠纷\n"
           "up-b,not_a_category,2026-05-02 10:00,125.05,46.05,\n").encode("gbk")
    res = client.post("/api/v1/imports/incidents", content_type="multipart/form-data",
                      data={"file": (io.BytesIO(csv), "gbk.csv")})
    assert res.status_code == 422
    assert [d["row"] for d in res.get_json()["error"]["details"]] == [3]
    res = client.post("/api/v1/imports/incidents", content_type="multipart/form-data",
                      data={"file": (io.BytesIO(csv), "gbk.csv"), "skip_bad": "true"})
    assert res.status_code == 201 and res.get_json()["inserted"] == 1
    with db.engine(factory_db).connect() as conn:
        assert conn.execute(text("SELECT description FROM incident WHERE external_id = 'up-a'")
                            ).scalar_one() == "邻里纠纷"
