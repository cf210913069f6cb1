"""Synthetic lifecycle history for the demo incidents (labelled synthetic like the rest of the
demo data): the demo file carries statuses only, so the officials' figures would have no times
and no resolving level. Deterministic (hash of the external id) and idempotent."""
from __future__ import annotations

from sqlalchemy import Connection, text

HISTORY = """
WITH r AS (
    SELECT id, severity, status, reported_at,
           ('x' || substr(md5(external_id), 1, 8))::bit(32)::int & 2147483647 AS h
    FROM incident WHERE source = 'demo' AND accepted_at IS NULL AND status <> 'reported'
)
UPDATE incident i SET
    accepted_at = r.reported_at + make_interval(mins => 20 + r.h % 600),
    mediated_at = CASE WHEN r.status IN ('mediating', 'resolved', 'closed')
                       THEN r.reported_at + make_interval(mins => 60 + r.h % 1400) END,
    resolved_at = CASE WHEN r.status IN ('resolved', 'closed')
                       THEN r.reported_at + make_interval(hours => 3 + (r.h / 7) % (CASE r.severity
                            WHEN 'low' THEN 48 WHEN 'medium' THEN 120 ELSE 300 END)) END,
    closed_at = CASE WHEN r.status = 'closed'
                     THEN r.reported_at + make_interval(hours => 320 + r.h % 100) END,
    resolved_level = CASE WHEN r.status IN ('resolved', 'closed') THEN
        CASE WHEN r.severity = 'low' THEN (ARRAY['grid','grid','grid','grid','village'])[1 + r.h % 5]
             WHEN r.severity = 'medium' THEN (ARRAY['grid','village','village','township'])[1 + r.h % 4]
             ELSE (ARRAY['village','township','township','city'])[1 + r.h % 4] END END,
    handling_level = CASE WHEN r.status = 'escalated'
                          THEN (ARRAY['village','village','township'])[1 + r.h % 3]
                          ELSE i.handling_level END,
    escalated_at = CASE WHEN r.status = 'escalated'
                        THEN r.reported_at + make_interval(hours => 2 + r.h % 40) END
FROM r WHERE i.id = r.id
"""


def synthesize_history(conn: Connection) -> int:
    """Fill accept/mediate/resolve/close times and resolving levels of demo incidents that have
    none; returns the number of incidents updated."""
    return conn.execute(text(HISTORY)).rowcount


def roster_units(conn: Connection) -> dict | None:
    """Units for the demo accounts: the active city's code and the township and grid with the
    most incidents (None before the demo is loaded)."""
    city = conn.execute(text(
        "SELECT a.code FROM admin_area a JOIN generation g ON g.id = a.generation_id "
        "AND g.is_active WHERE a.level = 1 ORDER BY a.code LIMIT 1")).scalar()
    busiest = conn.execute(text("""
        SELECT t.code AS township, x.code AS grid FROM incident i
        JOIN grid x ON x.id = i.grid_id JOIN admin_area t ON t.id = x.township_id
        JOIN generation g ON g.id = x.generation_id AND g.is_active
        GROUP BY t.code, x.code ORDER BY count(*) DESC, x.code LIMIT 1""")).mappings().first()
    if city is None or busiest is None:
        return None
    return {"city": city, "township": busiest["township"], "grid": busiest["grid"]}
