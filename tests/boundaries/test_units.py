"""The unit picker (GET /api/v1/units): by name or code, only inside the jurisdiction."""
from __future__ import annotations

import uuid

from tests.helpers import client_for, make_account


def test_units_are_found_by_name_or_code_inside_the_jurisdiction(factory_db, factory_client):
    t1 = client_for(factory_db, make_account(factory_db, f"u-{uuid.uuid4().hex[:5]}",
                                             "official", ["231281101000"])["token"])
    mine = t1.get("/api/v1/units?q=2312811").get_json()["units"]
    codes = [u["code"] for u in mine]
    assert codes[0] == "231281101000" and all(c.startswith("231281101") for c in codes)
    assert {u["level"] for u in mine} >= {"township", "village", "grid"}
    assert t1.get("/api/v1/units?q=231281102").get_json()["units"] == []
    by_name = factory_client.get("/api/v1/units?q=镇").get_json()["units"]
    assert {u["code"] for u in by_name} >= {"231281101000", "231281102000"}
    assert all("镇" in u["name"] for u in by_name)
    assert factory_client.get("/api/v1/units?q=%25").get_json()["units"] == []  # no wildcard
    assert len(factory_client.get("/api/v1/units?q=2312&limit=3").get_json()["units"]) == 3
    for bad in ("", "x" * 51):
        res = factory_client.get(f"/api/v1/units?q={bad}")
        assert res.status_code == 400 and res.get_json()["error"]["field"] == "q"
