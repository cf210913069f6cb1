"""Locate a point: the grid and the units holding it in the active generation, within the
account's jurisdiction."""
from __future__ import annotations

from gis.access.scope import OUTSIDE_JURISDICTION, Scope
from gis.domain import LEVEL_LABELS, LEVEL_OF_NUMBER, LEVELS_UP
from gis.errors import Forbidden, InputError
from gis.store import boundaries as bstore
from gis.store import units as ustore
from gis.store.db import Connection
from gis.store.scope import point_in_scope

UNIT_KEYS = LEVELS_UP


def describe_assignment(conn: Connection, gen_id: int, grid: dict | None) -> dict:
    """JSON-ready description: the grid and its units with codes and names."""
    body = {"generation": gen_id, "covered": grid is not None, "grid": None}
    body.update({k: None for k in UNIT_KEYS})
    if grid:
        body["grid"] = {"code": grid["code"], "name": grid["name"],
                        "households": grid["households"], "population": grid["population"]}
        units = bstore.units_by_id(conn, [grid[f"{k}_id"] for k in UNIT_KEYS])
        for k in UNIT_KEYS:
            unit = units.get(grid[f"{k}_id"])
            body[k] = {"code": unit["code"], "name": unit["name"], "kind": unit["kind"]} \
                if unit else None
    return body


def locate(conn: Connection, lon: float, lat: float, input_crs: str, *, scope: Scope) -> dict:
    """The grid and units at a point under the active generation of the root holding it."""
    gen_id, grid = bstore.locate_active(conn, lon, lat)
    if gen_id is None:
        gen_id = bstore.require_active_generation(conn, scope)["id"]
    if not point_in_scope(conn, scope, lon, lat, gen_id, grid["code"] if grid else None):
        raise Forbidden(OUTSIDE_JURISDICTION)
    body = describe_assignment(conn, gen_id, grid)
    body["point"] = {"lon": round(lon, 7), "lat": round(lat, 7), "input_crs": input_crs}
    return body


MAX_UNIT_QUERY = 50


def find_units(conn: Connection, scope: Scope, q: str | None, limit: int = 20) -> dict:
    """The unit picker: units inside the jurisdiction whose name contains q or whose code
    starts with it (at least one character)."""
    q = (q or "").strip()
    if not q or len(q) > MAX_UNIT_QUERY:
        raise InputError(f"q must be 1-{MAX_UNIT_QUERY} characters: part of a name or the "
                         "start of a code", field="q")
    out = []
    for r in ustore.search(conn, scope, q, limit):
        level = "grid" if r["is_grid"] else LEVEL_OF_NUMBER[r["level_number"]]
        out.append({"code": r["code"], "name": r["name"], "level": level,
                    "level_label": " ".join(LEVEL_LABELS[level]),
                    "parent_name": r["parent_name"]})
    return {"units": out}
