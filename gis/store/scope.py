"""Jurisdiction filters: the one place where an account's scope becomes SQL.

Every query that returns areas, grids or incidents to a user takes a Scope and adds the clause
from here (rules in gis.access). Each function returns (sql, params); parameter names carry the
table alias so several clauses can share one statement.
"""
from __future__ import annotations

from sqlalchemy import Connection, text

from gis.access.scope import Scope
from gis.domain import LEVELS as AREA_LEVELS


def _patterns(scope: Scope) -> list[str]:
    return [u.code if u.level == "grid" else u.prefix + "%" for u in scope.units]


def area_clause(scope: Scope, alias: str = "a") -> tuple[str, dict]:
    """Areas inside the jurisdiction, plus the chain of their ancestors."""
    if scope.everything:
        return "TRUE", {}
    p = f"{alias}_scope"
    patterns = [u.prefix + "%" for u in scope.units if u.level != "grid"]
    return (f"({alias}.code LIKE ANY(:{p}_patterns) OR {alias}.code = ANY(:{p}_ancestors))",
            {f"{p}_patterns": patterns, f"{p}_ancestors": scope.ancestor_codes()})


def grid_clause(scope: Scope, alias: str = "g") -> tuple[str, dict]:
    if scope.everything:
        return "TRUE", {}
    p = f"{alias}_scope"
    return f"{alias}.code LIKE ANY(:{p}_patterns)", {f"{p}_patterns": _patterns(scope)}


def assigned_clause(account_id: int, alias: str = "i") -> tuple[str, dict]:
    """Incidents dispatched to the account or to a department it is a member of."""
    p = f"{alias}_assignee"
    return (f"({alias}.assignee_account_id = :{p} OR {alias}.assignee_department_id IN "
            f"(SELECT department_id FROM department_member WHERE account_id = :{p}))",
            {p: account_id})


def incident_clause(scope: Scope, alias: str = "i", reported: bool = False,
                    account_id: int | None = None) -> tuple[str, dict]:
    """Incidents assigned (under their own generation) to a unit of the jurisdiction, and
    incidents outside every grid that lie inside one of its area units. With reported, also
    the incidents a unit of the jurisdiction reported from outside it (incident.reporter_unit):
    reading one incident and the blind spots show them; figures and analyses count incidents
    where they lie. With account_id, also the incidents dispatched to that account or its
    departments (the case list, tasks and the incident itself).

    Covered incidents are found through their grid (a covered incident carries its grid's
    units: migration 0009 checks it), so the incident table needs no index per level."""
    if scope.everything:
        return "TRUE", {}
    if account_id is not None:
        own, own_params = incident_clause(scope, alias, reported)
        mine, mine_params = assigned_clause(account_id, alias)
        return f"({own} OR {mine})", {**own_params, **mine_params}
    if not scope.units:
        return "FALSE", {}
    p = f"{alias}_scope"
    grids, loose, params = [], [], {}
    grid_codes = [u.code for u in scope.units if u.level == "grid"]
    if grid_codes:
        grids.append(f"SELECT id FROM grid WHERE code = ANY(:{p}_grids)")
        params[f"{p}_grids"] = grid_codes
    area_codes = []
    for level in AREA_LEVELS:
        codes = [u.code for u in scope.units if u.level == level]
        if codes:
            units = f"(SELECT id FROM admin_area WHERE code = ANY(:{p}_{level}))"
            grids.append(f"SELECT id FROM grid WHERE {level}_id IN {units}")
            loose.append(f"{alias}.{level}_id IN {units}")
            params[f"{p}_{level}"] = codes
            area_codes += codes
    parts = [f"{alias}.grid_id IN ({' UNION ALL '.join(grids)})"]
    if area_codes:
        loose.append(f"EXISTS (SELECT 1 FROM admin_area su "
                     f"WHERE su.generation_id = {alias}.generation_id "
                     f"AND su.code = ANY(:{p}_areas) AND ST_Covers(su.geom, {alias}.geom))")
        parts.append(f"({alias}.grid_id IS NULL AND ({' OR '.join(loose)}))")
        params[f"{p}_areas"] = area_codes
    if reported:
        parts.append(f"{alias}.reporter_unit LIKE ANY(:{p}_reporters)")
        params[f"{p}_reporters"] = _patterns(scope)
    return "(" + " OR ".join(parts) + ")", params


def reporter_unit(scope: Scope) -> str | None:
    """The unit a report made by an account with this jurisdiction is kept under when it lies
    outside the jurisdiction: the account's first unit (None for accounts that see
    everything, or have no unit)."""
    return None if scope.everything or not scope.units else scope.units[0].code


def point_in_scope(conn: Connection, scope: Scope, lon: float, lat: float,
                   generation_id: int, grid_code: str | None) -> bool:
    """Whether a located point (its grid, or the point itself when no grid covers it) falls
    inside the jurisdiction under the given generation."""
    if scope.everything:
        return True
    if grid_code is not None:
        return scope.contains_code(grid_code)
    codes = [u.code for u in scope.units if u.level != "grid"]
    if not codes:
        return False
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM admin_area WHERE generation_id = :g AND code = ANY(:codes) "
        "AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)))"),
        {"g": generation_id, "codes": codes, "lon": lon, "lat": lat}).scalar())
