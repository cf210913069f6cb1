"""Finding units by name or code (the unit picker): areas and grids of the active generations
inside a jurisdiction."""
from __future__ import annotations

from sqlalchemy import Connection, text

from gis.access.scope import Scope
from gis.store.scope import grid_clause


def search(conn: Connection, scope: Scope, q: str, limit: int) -> list[dict]:
    """Units whose name contains q or whose code starts with it, inside the jurisdiction
    (the account's own units and everything under them), areas first, then by code."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if scope.everything:
        a_sql, g_sql, params = "TRUE", "TRUE", {}
    else:
        patterns = [u.prefix + "%" for u in scope.units if u.level != "grid"]
        a_sql = "a.code LIKE ANY(:a_patterns)"
        g_sql, params = grid_clause(scope, "x")
        params["a_patterns"] = patterns
    rows = conn.execute(text(f"""
        SELECT * FROM (
            SELECT a.code, a.name, a.level AS level_number, p.name AS parent_name, 0 AS is_grid
            FROM admin_area a JOIN generation g ON g.id = a.generation_id AND g.is_active
            LEFT JOIN admin_area p ON p.id = a.parent_id
            WHERE {a_sql} AND (a.name ILIKE :contains OR a.code LIKE :prefix)
            UNION ALL
            SELECT x.code, x.name, NULL, coalesce(h.name, v.name), 1
            FROM grid x JOIN generation g ON g.id = x.generation_id AND g.is_active
            LEFT JOIN admin_area v ON v.id = x.village_id
            LEFT JOIN admin_area h ON h.id = x.hamlet_id
            WHERE {g_sql} AND (x.name ILIKE :contains OR x.code LIKE :prefix)) u
        ORDER BY is_grid, level_number, code COLLATE "C" LIMIT :limit"""),
        {**params, "contains": f"%{escaped}%", "prefix": escaped + "%", "limit": limit})
    return [dict(r) for r in rows.mappings()]
