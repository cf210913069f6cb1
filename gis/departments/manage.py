"""Department use cases. Administrators create, rename, deactivate departments and set their
members; every account reads the departments serving its jurisdiction or a unit above it (the
departments a township can call on: 吹哨报到). Changes are audited ("department_update")."""
from __future__ import annotations

from gis.access.roles import Principal
from gis.access.scope import Scope
from gis.errors import Conflict, Forbidden, InputError, NotFound, UnprocessableError
from gis.store import accounts as astore
from gis.store import audit
from gis.store import departments as dstore
from gis.store.db import Connection

PERMISSION = "account.manage"
MAX_NAME = 100


def visible(scope: Scope, dept: dict) -> bool:
    return scope.everything or scope.contains_code(dept["unit_code"]) \
        or dept["unit_code"] in scope.ancestor_codes()


def as_json(dept: dict) -> dict:
    return {"id": dept["id"], "name": dept["name"], "unit_level": dept["unit_level"],
            "unit_code": dept["unit_code"], "unit_name": dept["unit_name"],
            "active": dept["active"], "member_ids": list(dept["member_ids"])}


def list_departments(conn: Connection, actor: Principal, *, inactive: bool = False) -> dict:
    return {"departments": [as_json(d) for d in dstore.list_all(conn, inactive=inactive)
                            if visible(actor.scope, d)]}


def _check(actor: Principal) -> None:
    if not actor.can(PERMISSION):
        raise Forbidden(f"role {actor.role} may not change departments ({PERMISSION})")


def _name(body: dict, required: bool) -> str | None:
    name = body.get("name")
    if name is None and not required:
        return None
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise UnprocessableError(f"name must be a text of 1-{MAX_NAME} characters",
                                 field="name")
    return name.strip()


def _members(conn: Connection, body: dict) -> list[int] | None:
    ids = body.get("member_ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int)
                                        for i in ids):
        raise UnprocessableError("member_ids must be a list of account ids", field="member_ids")
    missing = sorted(set(ids) - dstore.existing_accounts(conn, ids))
    if missing:
        raise UnprocessableError(f"no account with id {', '.join(map(str, missing))}",
                                 field="member_ids")
    return sorted(set(ids))


def create(conn: Connection, actor: Principal, body, *, origin: dict | None = None) -> dict:
    """{"name", "unit": code of an area of the active generation, "member_ids": [...]}."""
    _check(actor)
    if not isinstance(body, dict):
        raise InputError('send a JSON object {"name": ..., "unit": ..., "member_ids": [...]}')
    name = _name(body, True)
    unit = body.get("unit")
    if not isinstance(unit, str):
        raise UnprocessableError("unit must be the code of the area the department serves",
                                 field="unit")
    (resolved,) = astore.resolve_units(conn, [unit])
    if resolved.level == "grid":
        raise UnprocessableError("a department serves an area (city, township, village...), "
                                 "not a grid", field="unit")
    if not actor.scope.contains_code(resolved.code):
        raise Forbidden(f"unit {resolved.code} is not within your jurisdiction")
    members = _members(conn, body)
    new_id = dstore.insert(conn, name, resolved.level, resolved.code)
    if new_id is None:
        raise Conflict(f"unit {resolved.code} has a department named {name} already",
                       field="name")
    if members:
        dstore.set_members(conn, new_id, members)
    dept = dstore.get(conn, new_id)
    audit.record(conn, actor, "department_update", f"department/{new_id}",
                 details={"op": "create", **as_json(dept)}, **(origin or {}))
    return as_json(dept)


def get(conn: Connection, actor: Principal, department_id: int) -> dict:
    dept = dstore.get(conn, department_id)
    if dept is None or not visible(actor.scope, dept):
        raise NotFound(f"department {department_id} does not exist or is not within your "
                       "jurisdiction")
    return dept


def update(conn: Connection, actor: Principal, department_id: int, body, *,
           origin: dict | None = None) -> dict:
    """Change name, active and/or member_ids."""
    _check(actor)
    if not isinstance(body, dict):
        raise InputError('send a JSON object with name, active and/or member_ids')
    before = as_json(get(conn, actor, department_id))
    name = _name(body, False)
    active = body.get("active")
    if active is not None and not isinstance(active, bool):
        raise UnprocessableError("active must be true or false", field="active")
    members = _members(conn, body)
    if not dstore.update(conn, department_id, name=name, active=active):
        raise Conflict(f"the unit has a department named {name} already", field="name")
    if members is not None:
        dstore.set_members(conn, department_id, members)
    after = as_json(dstore.get(conn, department_id))
    audit.record(conn, actor, "department_update", f"department/{department_id}",
                 details={"op": "update", "before": before, "after": after}, **(origin or {}))
    return after
