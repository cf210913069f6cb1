"""Open311 GeoReport v2 service requests in PostgreSQL: the incidents an account may read
(gis.store.scope.incident_clause, as the case lists), filtered and newest first. The mapping to
GeoReport fields is gis.incidents.open311's."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from gis.access.scope import Scope
from gis.store.scope import incident_clause

SELECT = """
    SELECT i.id, i.public_id, i.category, i.status, i.handling_level, i.description,
           i.reported_at, i.resolve_due_at, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
           g.code AS grid_code, g.name AS grid_name, v.code AS village_code,
           v.name AS village_name, t.code AS township_code, t.name AS township_name,
           coalesce((SELECT max(e.at) FROM incident_event e WHERE e.incident_id = i.id),
                    i.reported_at) AS updated_at
    FROM incident i
    LEFT JOIN grid g ON g.id = i.grid_id
    LEFT JOIN admin_area v ON v.id = i.village_id
    LEFT JOIN admin_area t ON t.id = i.township_id"""


def requests(conn: Connection, scope: Scope, account_id: int | None, *,
             public_ids: list[str] | None = None, category: str | None = None,
             start: datetime | None = None, end: datetime | None = None,
             statuses: tuple[str, ...] | None = None, exclude_statuses: bool = False,
             limit: int = 50) -> list[dict]:
    """Incidents visible to the account (its jurisdiction, its reports from outside it and
    the cases dispatched to it), newest reported first. statuses: only these (or, with
    exclude_statuses, all but these); start/end bound reported_at (inclusive)."""
    where, params = incident_clause(scope, "i", reported=True, account_id=account_id)
    parts = [where]
    if public_ids is not None:
        parts.append("i.public_id = ANY(:public_ids)")
        params["public_ids"] = public_ids
    if category is not None:
        parts.append("i.category = :category")
        params["category"] = category
    if start is not None:
        parts.append("i.reported_at >= :start")
        params["start"] = start
    if end is not None:
        parts.append("i.reported_at <= :end")
        params["end"] = end
    if statuses is not None:
        parts.append(f"{'NOT ' if exclude_statuses else ''}(i.status = ANY(:statuses))")
        params["statuses"] = list(statuses)
    rows = conn.execute(text(f"{SELECT} WHERE {' AND '.join(parts)} "
                             "ORDER BY i.reported_at DESC, i.id DESC LIMIT :limit"),
                        {**params, "limit": limit}).mappings()
    return [dict(r) for r in rows]
