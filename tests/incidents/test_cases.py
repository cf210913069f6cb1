"""The incident centre, my tasks and supervision through the API (real PostGIS): tabs and
their counts follow the workflow, search, sorting and paging, jurisdiction, cards as the clock
moves, the unread count, and the export of the current list."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from gis import times
from gis.store import db
from tests.helpers.worlds import factory_world

T1_GRID = "231281101001001001"
T2_GRID = "231281102001001"
ACCOUNTS = {
    "admin": ("admin", []),
    "worker": ("grid_worker", [T1_GRID]),
    "village": ("official", ["231281101001"]),
    "township": ("official", ["231281101000"]),
    "other": ("official", ["231281102000"]),
    "city": ("official", ["231281000000"]),
    "staff": ("official", ["231281102000"]),  # a department member from elsewhere
}


@pytest.fixture(scope="module")
def cw(admin_engine, template_db, factory_gpkg):
    with factory_world(admin_engine, template_db, factory_gpkg, "cs", ACCOUNTS) as w:
        yield w


def report(cw, who="worker", grid=T1_GRID, **props) -> dict:
    p = cw["points"][grid]
    res = cw["clients"][who].post("/api/v1/incidents", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [p.x, p.y]},
        "properties": {"category": "dispute_land", "occurred_at": "2026-05-01T09:00:00+08:00",
                       **props}})
    assert res.status_code == 201, res.get_json()
    return res.get_json()


def act(cw, who, iid, action, **params):
    version = cw["clients"]["admin"].get(
        f"/api/v1/incidents/{iid}/events").get_json()["incident"]["version"]
    res = cw["clients"][who].post(f"/api/v1/incidents/{iid}/transitions",
                                  json={"action": action, "version": version, **params})
    assert res.status_code == 200, res.get_json()
    return res.get_json()


def cases(cw, who, **args) -> dict:
    res = cw["clients"][who].get("/api/v1/cases", query_string=args)
    assert res.status_code == 200, res.get_json()
    return res.get_json()


def counts(body) -> dict:
    return {t["tab"]: t["count"] for t in body["tabs"]}


def test_tabs_follow_the_workflow_and_search_finds_the_case(cw):
    mark = uuid.uuid4().hex[:8]
    inc = report(cw, description=f"占道经营 {mark}")
    iid, public_id = inc["id"], inc["properties"]["public_id"]

    def tab_of():
        found = cases(cw, "township", q=mark)
        assert found["total"] == 1 and found["cases"][0]["public_id"] == public_id
        return [t for t, n in counts(found).items() if n and t not in ("all", "overdue")]

    assert tab_of() == ["accept"]
    act(cw, "township", iid, "accept")
    assert tab_of() == ["dispatch"]
    act(cw, "township", iid, "register")
    act(cw, "township", iid, "dispatch", account_id=cw["accounts"]["worker"]["id"])
    assert tab_of() == ["handle"]
    act(cw, "worker", iid, "resolve", note="已劝离 moved on")
    assert tab_of() == ["verify"]
    act(cw, "village", iid, "verify", method="on_site")
    act(cw, "village", iid, "close")
    assert tab_of() == ["closed"]
    by_number = cases(cw, "township", q=public_id)
    assert [c["id"] for c in by_number["cases"]] == [iid]
    item = by_number["cases"][0]
    assert item["status_label"].startswith("已结案") and item["stage"] is None
    assert item["grid_code"] == T1_GRID and item["assignee_username"] == "cs-worker"
    # another township sees none of it, not even in the counts
    assert cases(cw, "other", q=public_id)["total"] == 0
    assert counts(cases(cw, "other", q=mark))["all"] == 0


def test_sorting_paging_and_filters(cw):
    mark = uuid.uuid4().hex[:8]
    made = [report(cw, description=f"{mark} {n}", severity=sev,
                   reported_at=f"2026-05-0{n + 1}T10:00:00+08:00")["id"]
            for n, sev in enumerate(("low", "high", "medium"))]
    newest_first = cases(cw, "township", q=mark)
    assert [c["id"] for c in newest_first["cases"]] == made[::-1]
    oldest = cases(cw, "township", q=mark, order="asc", limit=2)
    assert [c["id"] for c in oldest["cases"]] == made[:2] and oldest["total"] == 3
    assert [c["id"] for c in cases(cw, "township", q=mark, order="asc", limit=2,
                                   offset=2)["cases"]] == made[2:]
    by_severity = cases(cw, "township", q=mark, sort="severity")
    assert [c["severity"] for c in by_severity["cases"]] == ["high", "medium", "low"]
    assert cases(cw, "township", q=mark, severity="high")["total"] == 1
    assert cases(cw, "township", q=mark, unit="231281101001")["total"] == 3
    for bad in ({"tab": "later"}, {"sort": "colour"}, {"limit": "0"}, {"severity": "huge"}):
        res = cw["clients"]["township"].get("/api/v1/cases", query_string=bad)
        assert res.status_code == 400, bad
    assert cw["clients"]["township"].get("/api/v1/cases?unit=231281102000").status_code == 403


def test_cards_turn_yellow_then_red_as_the_clock_moves(cw, monkeypatch):
    mark = uuid.uuid4().hex[:8]
    iid = report(cw, description=mark)["id"]
    with db.engine(cw["url"]).begin() as conn:
        # the case's own deadlines far away: only the stage clock matters here
        conn.execute(text("UPDATE incident SET accept_due_at = now() + interval '30 days', "
                          "resolve_due_at = now() + interval '60 days' WHERE id = :i"),
                     {"i": iid})
        yellow, due = conn.execute(text(
            "SELECT stage_yellow_at, stage_due_at FROM incident WHERE id = :i"), {"i": iid}).one()

    def seen_at(moment):
        monkeypatch.setattr(times, "now", lambda: moment)
        body = cases(cw, "township", q=mark)
        return body["cases"][0]["card"], counts(body)["overdue"]

    assert seen_at(yellow - timedelta(minutes=1)) == (None, 0)
    assert seen_at(yellow + timedelta(minutes=1)) == ("yellow", 0)
    assert seen_at(due + timedelta(minutes=1)) == ("red", 1)
    assert cases(cw, "township", q=mark, tab="overdue")["cases"][0]["id"] == iid
    # the level above sees the card on its unit, and may remind
    sup = cw["clients"]["city"].get("/api/v1/supervision?level=township").get_json()
    t1 = next(u for u in sup["units"] if u["unit_code"] == "231281101000")
    assert t1["red"] >= 1 and iid in [c["id"] for c in sup["cases"]]
    assert all(u["unit_code"] != "231281102000" or u["red"] == 0 for u in sup["units"])
    act(cw, "city", iid, "remind", note="请尽快受理 accept it today")
    sup = cw["clients"]["city"].get("/api/v1/supervision?level=township").get_json()
    assert next(u for u in sup["units"] if u["unit_code"] == "231281101000")["reminders"] >= 1
    other = cw["clients"]["other"].get("/api/v1/supervision").get_json()
    assert iid not in [c["id"] for c in other["cases"]]
    # accepting starts the next stage's clock: no card for now
    monkeypatch.setattr(times, "now", lambda: datetime.now(timezone.utc))
    act(cw, "township", iid, "accept")
    assert cases(cw, "township", q=mark)["cases"][0]["card"] is None


def test_tasks_hold_what_waits_for_me_and_what_i_did(cw):
    admin = cw["clients"]["admin"]
    dept = admin.post("/api/v1/departments", json={
        "name": f"城管执法 {uuid.uuid4().hex[:4]}", "unit": "231281000000",
        "member_ids": [cw["accounts"]["staff"]["id"]]}).get_json()
    staff = cw["clients"]["staff"]
    staff.post("/api/v1/tasks/seen")
    assert staff.get("/api/v1/tasks/unread").get_json()["unread"] == 0
    iid = report(cw)["id"]
    worker_tasks = cw["clients"]["worker"].get("/api/v1/tasks").get_json()
    assert iid in [t["id"] for t in worker_tasks["tasks"]]
    act(cw, "township", iid, "accept")
    act(cw, "township", iid, "register")
    # a grid-level case waits at the grid: the worker's task, not the township's
    assert iid in [t["id"] for t in cw["clients"]["worker"].get(
        "/api/v1/tasks?limit=200").get_json()["tasks"]]
    assert iid not in [t["id"] for t in cw["clients"]["township"].get(
        "/api/v1/tasks?limit=200").get_json()["tasks"]]
    act(cw, "worker", iid, "dispatch", department_id=dept["id"])
    assert iid not in [t["id"] for t in cw["clients"]["worker"].get(
        "/api/v1/tasks?limit=200").get_json()["tasks"]]
    mine = staff.get("/api/v1/tasks").get_json()
    assert [t["id"] for t in mine["tasks"]] == [iid] and mine["unread"] == 1
    assert mine["tasks"][0]["assignee_department"] == dept["name"]
    assert staff.get(f"/api/v1/cases?q={iid}").get_json()["total"] == 1
    assert staff.post("/api/v1/tasks/seen").get_json()["unread"] == 0
    act(cw, "staff", iid, "resolve", note="已处理 dealt with")
    after = staff.get("/api/v1/tasks").get_json()
    assert after["tasks"] == [] and after["done"][0]["id"] == iid
    assert after["done"][0]["done_action"] == "resolve"
    # verification waits at the case's level again, for another account than the handler
    assert iid in [t["id"] for t in cw["clients"]["worker"].get(
        "/api/v1/tasks?limit=200").get_json()["tasks"]]
    escalated = report(cw)["id"]
    act(cw, "worker", escalated, "escalate", note="需乡镇协调 the township must coordinate")
    act(cw, "village", escalated, "escalate", note="需乡镇协调 the township must coordinate")
    assert escalated in [t["id"] for t in cw["clients"]["township"].get(
        "/api/v1/tasks?limit=200").get_json()["tasks"]]


def test_export_of_the_current_list_carries_stage_due_and_card(cw):
    mark = uuid.uuid4().hex[:8]
    iid = report(cw, description=mark)["id"]
    res = cw["clients"]["township"].get(f"/api/v1/cases/export.csv?q={mark}&tab=accept")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(res.data.decode("utf-8-sig"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["环节 Stage"] == "受理 accept" and row["办理层级 Handling level"].startswith("网格")
    assert row["环节时限 Stage due"] and row["案件编号 Case number"]
    assert cw["clients"]["worker"].get(f"/api/v1/cases/export.csv?q={mark}").status_code == 403
    assert iid
