"""Grid staff one at a time (the API): list, read, register and replace a grid head or worker,
inside the jurisdiction; files go through gis.coverage.imports.import_staff."""
from __future__ import annotations

import pandas as pd

from gis.access.roles import Principal
from gis.access.scope import Scope
from gis.coverage import inputs
from gis.coverage.imports import save_staff
from gis.errors import Conflict, InputError, NotFound
from gis.store import coverage as cstore
from gis.store.db import Connection

STAFF_KEYS = {"external_id", "name", "role", "grids", "phone", "active"}
ROLES = tuple(dict.fromkeys(inputs.STAFF_ROLES.values()))


def staff_json(r: dict, scope: Scope | None = None) -> dict:
    """A stored staff record as JSON.

    Parameters
    ----------
    r : dict
        A staff row with external_id, name, role, phone, active, synthetic and grids.
    scope : Scope, optional
        The reader's jurisdiction: only its grids are listed (a person may serve others too).

    Returns
    -------
    dict
        external_id, name, role (grid_head, full_time or part_time), phone (None when unknown),
        active, synthetic and grids (list of grid codes).
    """
    grids = [g for g in r["grids"] if scope is None or scope.contains_code(g)]
    return {"external_id": r["external_id"], "name": r["name"], "role": r["role"],
            "phone": r["phone"], "active": r["active"], "synthetic": r["synthetic"],
            "grids": grids}


def list_staff(conn: Connection, scope: Scope, *, grid: str | None, role: str | None,
               limit: int, offset: int) -> list[dict]:
    """Staff with at least one grid in the jurisdiction; grid and role narrow it.

    Parameters
    ----------
    conn : Connection
        Database connection.
    scope : Scope
        The jurisdiction.
    grid : str or None
        Only staff of this grid code.
    role : str or None
        Only staff with this role: grid_head, full_time or part_time.
    limit, offset : int
        Page size and number of records to skip, by external_id.

    Returns
    -------
    list of dict
        One `staff_json` per staff member.

    Raises
    ------
    InputError
        An unknown role (field "role").
    """
    if role is not None and role not in ROLES:
        raise InputError("role must be grid_head, full_time or part_time", field="role")
    rows = cstore.list_staff(conn, scope, grid_code=grid, role=role, limit=limit, offset=offset)
    return [staff_json(r, scope) for r in rows]


def get_staff(conn: Connection, scope: Scope, external_id: str) -> dict:
    """One staff member with at least one grid in the jurisdiction.

    Parameters
    ----------
    conn : Connection
        Database connection.
    scope : Scope
        The jurisdiction.
    external_id : str
        The staff member's external id.

    Returns
    -------
    dict
        The `staff_json` of the record.

    Raises
    ------
    NotFound
        No such staff member in the jurisdiction.
    """
    found = cstore.staff_in_scope(conn, scope, external_id)
    if found is None:
        raise NotFound(f"no staff member {external_id!r}")
    return staff_json(found, scope)


def _staff_frame(body: dict, external_id: str | None = None) -> pd.DataFrame:
    unknown = set(body) - STAFF_KEYS
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(sorted(unknown))}",
                         field=sorted(unknown)[0])
    if external_id is not None:
        if body.get("external_id", external_id) != external_id:
            raise InputError("external_id in the body differs from the URL", field="external_id")
        body = {**body, "external_id": external_id}
    for key in ("external_id", "name", "role"):
        if not isinstance(body.get(key), str):
            raise InputError(f"{key} is required (a string)", field=key)
    grids = body.get("grids")
    if not isinstance(grids, list) or not all(isinstance(g, str) for g in grids):
        raise InputError("grids must be a list of grid codes", field="grids")
    phone = body.get("phone")
    if phone is not None and not isinstance(phone, str):
        raise InputError("phone must be a string", field="phone")
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise InputError("active must be true or false", field="active")
    raw = pd.DataFrame([{"external_id": body["external_id"], "name": body["name"],
                         "role": body["role"], "grids": ";".join(grids), "phone": phone or "",
                         "active": "true" if active else "false"}])
    good, problems = inputs.check_staff(raw)
    if problems:
        p = problems[0]
        raise InputError(p["error"], details=[{k: v for k, v in q.items() if k != "row"}
                                               for q in problems])
    good["row"] = None
    return good


def _save_one(conn: Connection, actor: Principal, frame: pd.DataFrame,
              origin: dict | None) -> dict:
    external_id = frame["external_id"][0]
    counts = save_staff(conn, frame, scope=actor.scope, actor=actor, origin=origin,
                        source=f"api:{external_id}")
    body = cstore.staff_by_external_id(conn, [external_id])
    return {**counts, "staff": staff_json(body[external_id], actor.scope)}


def register_staff(conn: Connection, actor: Principal, body: dict, *,
                   origin: dict | None = None) -> dict:
    """Register one grid head or worker; Conflict when the external_id exists already.

    Checked like a row of a staff file, then written and audited (source "api:<external_id>").

    Parameters
    ----------
    conn : Connection
        Database connection (the caller's transaction).
    actor : Principal
        The account; every grid must lie in its jurisdiction.
    body : dict
        external_id, name, role (English or Chinese) and grids (list of grid codes) required;
        phone (string) and active (bool, default true) optional; no other keys.
    origin : dict, optional
        Where the request came from (ip, user_agent, via), recorded with the audit event.

    Returns
    -------
    dict
        rows (1), inserted, updated, unchanged and staff (the stored record, `staff_json`).

    Raises
    ------
    InputError
        Unknown or ill-typed fields, or a row problem of gis.coverage.inputs.check_staff
        (details list them).
    Conflict
        The external_id exists already, in the jurisdiction or outside it (the same answer).
    ValidationFailed
        A grid code is unknown in the active generation or outside the jurisdiction.
    NotFound
        No active boundary generation.
    """
    frame = _staff_frame(body)
    external_id = frame["external_id"][0]
    if cstore.staff_by_external_id(conn, [external_id]):
        # the same answer whether the record is the account's or another jurisdiction's, so
        # that it tells nothing about others; the account can read its own with GET
        raise Conflict(f"staff {external_id!r} exists already; to change a staff member of your "
                       f"jurisdiction, PUT /api/v1/staff/{external_id}", field="external_id")
    return _save_one(conn, actor, frame, origin)


def replace_staff(conn: Connection, actor: Principal, external_id: str, body: dict, *,
                  origin: dict | None = None) -> dict:
    """Replace one staff member's name, role, grids, phone and active flag (idempotent).

    Parameters
    ----------
    conn : Connection
        Database connection (the caller's transaction).
    actor : Principal
        The account; the staff member and every grid must lie in its jurisdiction.
    external_id : str
        The staff member's external id (from the URL).
    body : dict
        As for `register_staff`; an external_id in it must equal `external_id`.
    origin : dict, optional
        Where the request came from (ip, user_agent, via), recorded with the audit event.

    Returns
    -------
    dict
        rows (1), inserted, updated, unchanged and staff (the stored record, `staff_json`).

    Raises
    ------
    InputError
        Unknown or ill-typed fields, an external_id differing from the URL, or a row problem.
    NotFound
        No such staff member in the jurisdiction, or no active boundary generation.
    ValidationFailed
        The staff member also has grids outside the jurisdiction, or a grid code is unknown in
        the active generation or outside the jurisdiction.
    """
    frame = _staff_frame(body, external_id)
    get_staff(conn, actor.scope, external_id)
    return _save_one(conn, actor, frame, origin)
