"""The demo accounts: one per role over the demo data (plus a township official to show
scoping), created or reset with the same secrets every run (kept in
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
from gis.store.db import Engine

SECRETS = STATE_DIR / "demo-accounts.json"


def roster(units: dict) -> list[dict]:
    city = units["city"]
    return [
        {"username": "admin", "role": "admin", "units": []},
        {"username": "planner", "role": "planner", "units": [city]},
        {"username": "official", "role": "official", "units": [city]},
        {"username": "township-official", "role": "official", "units": [units["township"]]},
        {"username": "grid-worker", "role": "grid_worker", "units": [units["grid"]]},
        {"username": "hotline-12345", "role": "client", "units": [city]},
    ]


USERNAMES = tuple(spec["username"] for spec in roster({"city": "", "township": "", "grid": ""}))


def ensure_demo_accounts(engine: Engine) -> dict[str, dict]:
    """Create (or reset) the demo accounts; returns name -> password, role, units and (for the
    machine client) its API token."""
    saved = json.loads(SECRETS.read_text()) if SECRETS.exists() else {}
    with engine.begin() as conn:
        units = dstore.roster_units(conn)
        if units is None:
            raise InputError("load the demo data first (gridgis demo load)")
        out = {}
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
            if spec["role"] == "client":
                secret = saved.get(name, {}).get("token")
                if not secret or accounts.token_account(conn, secret) is None:
                    _, secret = accounts.create_token(conn, account["id"], "demo")
                entry["token"] = secret
            out[name] = entry
        audit.record(conn, SYSTEM, "account_update", "demo-accounts",
                     details={"accounts": sorted(out)})
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(SECRETS, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    return out
