"""Boundary generations: the active one, all of them for listing, and making an older one
active again."""
from __future__ import annotations

from gis.access.roles import SYSTEM, Principal
from gis.access.scope import Scope, Unit
from gis.domain import LEVEL_OF_NUMBER
from gis.errors import NotFound
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store.db import Connection

active_generation = bstore.active_generation
require_active_generation = bstore.require_active_generation


def _iso(t) -> str | None:
    return t.isoformat() if t is not None else None


def generation_body(g: dict) -> dict:
    return {"id": g["id"], "name": g["name"], "note": g["note"], "source": g["source"],
            "is_active": g["is_active"], "demo": g["demo"], "root_code": g["root_code"],
            "created_at": _iso(g["created_at"]),
            "activated_at": _iso(g["activated_at"])}


def active_roots(conn: Connection) -> list[dict]:
    """The roots side by side: each active generation with its root unit's code and name."""
    names = bstore.root_names(conn)
    return [{**generation_body(g), "root_name": names.get(g["id"])}
            for g in bstore.active_generations(conn)]


def view_scope(conn: Connection, scope: Scope, root: str | None) -> Scope:
    """The jurisdiction a reader views: an administrator's narrowed to one root's unit when
    `root` (a root code) is given, so views that work from the jurisdiction show that city;
    anyone else's as it is (NotFound for a root no active generation has)."""
    if not root or not scope.everything:
        return scope
    gen = bstore.require_active_generation(conn, root=root)
    return Scope((Unit(LEVEL_OF_NUMBER[gen["root_level"]], gen["root_code"]),))


def list_generations(conn: Connection) -> list[dict]:
    return [generation_body(g) for g in bstore.list_generations(conn)]


def activate(conn: Connection, generation_id: int, *, actor: Principal = SYSTEM,
             origin: dict | None = None) -> dict:
    """Make a stored generation the active one of its root (new incidents there are assigned
    under it; past incidents keep the generation they were assigned under; other roots are not
    touched), audited. Activating the active
    generation changes nothing and records nothing. Returns the generation and the one it
    replaced (`previous`, None when none was active or nothing changed)."""
    target = bstore.generation_by_id(conn, generation_id) if 0 < generation_id < 2**31 else None
    if target is None:
        raise NotFound(f"generation {generation_id} does not exist")
    current = bstore.lock_active_generation(conn, target["root_code"])
    if current == generation_id:
        return {"generation": generation_body(target), "previous": None, "changed": False}
    replaced = bstore.activate_generation(conn, generation_id)
    audit.record(conn, actor, "boundary_activate", f"generation/{generation_id}",
                 details={"previous": current, "replaced": replaced, "name": target["name"],
                          "root": target["root_code"]}, **(origin or {}))
    return {"generation": generation_body(bstore.generation_by_id(conn, generation_id)),
            "previous": current, "changed": True}
