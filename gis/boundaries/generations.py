"""Boundary generations: the active one, and all of them for listing."""
from __future__ import annotations

from gis.store import boundaries as bstore
from gis.store.db import Connection

active_generation = bstore.active_generation
require_active_generation = bstore.require_active_generation


def _iso(t) -> str | None:
    return t.isoformat() if t is not None else None


def list_generations(conn: Connection) -> list[dict]:
    return [{"id": g["id"], "name": g["name"], "note": g["note"], "source": g["source"],
             "is_active": g["is_active"], "created_at": _iso(g["created_at"]),
             "activated_at": _iso(g["activated_at"])} for g in bstore.list_generations(conn)]
