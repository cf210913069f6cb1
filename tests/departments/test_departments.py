"""Departments through the API (real PostGIS): administrators create and change them, every
account lists those serving its jurisdiction or a unit above it, bad input changes nothing."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from gis.store import db
from tests.helpers import client_for, make_account


@pytest.fixture(scope="module")
def dw(factory_db):
    accounts = {n: make_account(factory_db, f"dp-{n}-{uuid.uuid4().hex[:4]}", role, units)
                for n, role, units in (("admin", "admin", []),
                                       ("t1", "official", ["231281101000"]),
                                       ("t2", "official", ["231281102000"]))}
    return {"url": factory_db, "accounts": accounts,
            "clients": {n: client_for(factory_db, a["token"], RATELIMIT_ENABLED=False)
                        for n, a in accounts.items()}}


def test_departments_are_made_by_administrators_and_seen_within_the_jurisdiction(dw):
    admin, t1, t2 = (dw["clients"][n] for n in ("admin", "t1", "t2"))
    name = f"司法所 {uuid.uuid4().hex[:4]}"
    res = admin.post("/api/v1/departments", json={
        "name": name, "unit": "231281101000", "member_ids": [dw["accounts"]["t1"]["id"]]})
    assert res.status_code == 201, res.get_json()
    local = res.get_json()
    assert local["unit_level"] == "township" and local["member_ids"] == [dw["accounts"]["t1"]["id"]]
    city = admin.post("/api/v1/departments", json={
        "name": f"住建局 {uuid.uuid4().hex[:4]}", "unit": "231281000000"}).get_json()
    seen_t1 = {d["id"] for d in t1.get("/api/v1/departments").get_json()["departments"]}
    seen_t2 = {d["id"] for d in t2.get("/api/v1/departments").get_json()["departments"]}
    assert {local["id"], city["id"]} <= seen_t1
    assert city["id"] in seen_t2 and local["id"] not in seen_t2
    assert t1.post("/api/v1/departments", json={"name": "x", "unit": "231281101000"}) \
        .status_code == 403
    again = admin.post("/api/v1/departments", json={"name": name, "unit": "231281101000"})
    assert again.status_code == 409
    for body, field in (({"name": "", "unit": "231281101000"}, "name"),
                        ({"name": "x", "unit": "231281101001001001"}, "unit"),
                        ({"name": "x", "unit": "231281101000", "member_ids": [10**6]},
                         "member_ids")):
        res = admin.post("/api/v1/departments", json=body)
        assert res.status_code in (400, 422) and res.get_json()["error"]["field"] == field
    res = admin.patch(f"/api/v1/departments/{local['id']}", json={
        "active": False, "member_ids": []})
    assert res.status_code == 200 and res.get_json()["active"] is False
    assert local["id"] not in {d["id"] for d in t1.get("/api/v1/departments").get_json()[
        "departments"]}
    with db.engine(dw["url"]).connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM audit_event WHERE action = "
                              "'department_update' AND target = :t"),
                         {"t": f"department/{local['id']}"}).scalar()
    assert n == 2
