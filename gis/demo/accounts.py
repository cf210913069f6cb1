"""The demo accounts: one per role over the demo data (plus a township and a village official
to show scoping and verification by another account, and a member of a demo department that
cases can be dispatched to), created or reset with the same secrets every run (kept in
.gridgis/demo-accounts.json, mode 600)."""
from __future__ import annotations

import json
import os

from gis.access.credentials import new_password
from gis.access.roles import SYSTEM
from gis.config import STATE_DIR
from gis.errors import InputError
from gis.store import accounts, audit
from gis.store import demo as dstore
from gis.store import departments
from gis.store.db import Engine

SECRETS = STATE_DIR / "demo-accounts.json"


def roster(units: dict) -> list[dict]:
    city = units["city"]
    return [
        {"username": "admin", "role": "admin", "units": []},
        {"username": "planner", "role": "planner", "units": [city]},
        {"username": "official", "role": "official", "units": [city]},
        {"username": "township-official", "role": "official", "units": [units["township"]]},
        {"username": "village-official", "role": "official", "units": [units["grid"][:12]]},
        {"username": "grid-worker", "role": "grid_worker", "units": [units["grid"]]},
        {"username": "dept-staff", "role": "official", "units": [units["township"]],
         "department": DEPARTMENTS[0][0]},
        {"username": "hotline-12345", "role": "client", "units": [city]},
    ]


# The demo's departments (name, the level of the unit they serve): a city bureau that
# townships call on (吹哨报到) and a township office; removed with the demo.
DEPARTMENTS = (("(演示 demo) 城管执法局 Urban management bureau", "city"),
               ("(演示 demo) 司法所 Judicial office", "township"))
DEPARTMENT_NAMES = tuple(name for name, _ in DEPARTMENTS)


USERNAMES = tuple(spec["username"] for spec in roster({"city": "", "township": "", "grid": ""}))


def _departments(conn, units: dict) -> dict[str, int]:
    """The demo departments (created once); name -> id."""
    out = {}
    for name, level in DEPARTMENTS:
        code = units[level]
        found = next((d for d in departments.list_all(conn, inactive=True)
                      if d["name"] == name), None)
        out[name] = found["id"] if found else departments.insert(conn, name, level, code)
    return out


def ensure_demo_accounts(engine: Engine) -> dict[str, dict]:
    """Create (or reset) the demo accounts; returns name -> password, role, units and (for the
    machine client) its API token."""
    saved = json.loads(SECRETS.read_text()) if SECRETS.exists() else {}
    with engine.begin() as conn:
        units = dstore.roster_units(conn)
        if units is None:
            raise InputError("load the demo data first (gridgis demo load)")
        out = {}
        depts = _departments(conn, units)
        members: dict[int, list[int]] = {d: [] for d in depts.values()}
        for spec in roster(units):
            name = spec["username"]
            password = saved.get(name, {}).get("password") or new_password()
            resolved = accounts.resolve_units(conn, spec["units"])
            account = accounts.get_by_username(conn, name)
            if account is None:
                account = accounts.create(conn, name, spec["role"], password=password,
                                          units=resolved, display_name=f"演示 demo {name}")
            else:  # reset; keep the password (and so the client's token) when it still works
                same = accounts.password_matches(conn, account["id"], password)
                accounts.update(conn, account["id"], role=spec["role"],
                                active=None if account["active"] else True,
                                password=None if same else password, units=resolved)
            entry = {"password": password, "role": spec["role"], "units": spec["units"]}
            if spec.get("department"):
                members[depts[spec["department"]]].append(account["id"])
                entry["department"] = spec["department"]
            if spec["role"] == "client":
                secret = saved.get(name, {}).get("token")
                if not secret or accounts.token_account(conn, secret) is None:
                    _, secret = accounts.create_token(conn, account["id"], "demo")
                entry["token"] = secret
            out[name] = entry
        for dept_id, ids in members.items():
            departments.set_members(conn, dept_id, ids)
        audit.record(conn, SYSTEM, "account_update", "demo-accounts",
                     details={"accounts": sorted(out)})
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(SECRETS, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    return out
