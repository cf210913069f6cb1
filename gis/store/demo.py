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
    """Units for the demo accounts: the demo city's code and its township and grid with the
    most incidents (None before the demo is loaded or while its generation is not active)."""
    gens = demo_generations(conn)
    city = conn.execute(text(
        "SELECT a.code FROM admin_area a JOIN generation g ON g.id = a.generation_id "
        "AND g.is_active AND g.id = ANY(:gens) WHERE a.parent_id IS NULL "
        "ORDER BY a.code LIMIT 1"), {"gens": gens}).scalar()
    busiest = conn.execute(text("""
        SELECT t.code AS township, x.code AS grid FROM incident i
        JOIN grid x ON x.id = i.grid_id JOIN admin_area t ON t.id = x.township_id
        JOIN generation g ON g.id = x.generation_id AND g.is_active AND g.id = ANY(:gens)
        GROUP BY t.code, x.code ORDER BY count(*) DESC, x.code LIMIT 1"""),
        {"gens": gens}).mappings().first()
    if city is None or busiest is None:
        return None
    return {"city": city, "township": busiest["township"], "grid": busiest["grid"]}


# ---- removal (gis.demo.remove) ----

def demo_generations(conn: Connection) -> list[int]:
    """The demo's generations: those the demo loader wrote and those published from plans drawn
    on them."""
    return list(conn.execute(text("""
        WITH RECURSIVE d(id) AS (
            SELECT id FROM generation WHERE demo
            UNION
            SELECT p.published_generation_id FROM plan_draft p JOIN d ON p.base_generation_id = d.id
            WHERE p.published_generation_id IS NOT NULL)
        SELECT id FROM d ORDER BY id""")).scalars())


def demo_accounts(conn: Connection, usernames) -> list[str]:
    """Of these names, the accounts the demo made (gis.demo.accounts names them so)."""
    return list(conn.execute(text(
        "SELECT username FROM account WHERE username = ANY(:u) "
        "AND display_name = '演示 demo ' || username ORDER BY username"),
        {"u": list(usernames)}).scalars())


def _demo_incident(sources_param: str = ":sources", gens_param: str = ":gens") -> str:
    return (f"(i.source = 'demo' OR (i.source = ANY({sources_param}) "
            f"AND i.generation_id = ANY({gens_param})))")


def other_incidents(conn: Connection, gens: list[int], sources: list[str]) -> list[dict]:
    """Incidents assigned under the demo's generations that are not the demo's: per source."""
    return [dict(r) for r in conn.execute(text(f"""
        SELECT i.source, count(*) AS incidents FROM incident i
        WHERE i.generation_id = ANY(:gens) AND NOT {_demo_incident()}
        GROUP BY i.source ORDER BY i.source"""), {"gens": gens, "sources": sources}).mappings()]


def other_incident_points(conn: Connection, gens: list[int], sources: list[str]):
    """(ids, lon, lat) of those incidents."""
    rows = conn.execute(text(f"""
        SELECT i.id, ST_X(i.geom), ST_Y(i.geom) FROM incident i
        WHERE i.generation_id = ANY(:gens) AND NOT {_demo_incident()} ORDER BY i.id"""),
        {"gens": gens, "sources": sources}).all()
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def reassign(conn: Connection, ids: list[int], generation_id: int, assignment: dict) -> int:
    """Give incidents a new assignment of record (their generation is going away):
    assignment holds one list per column (grid_id, hamlet_id, ...), None for uncovered."""
    cols = list(assignment)
    arrays = ", ".join(f"CAST(:{c} AS bigint[])" for c in cols)
    sets = ", ".join(f"{c} = s.{c}" for c in cols)
    return conn.execute(text(f"""
        UPDATE incident i SET generation_id = :gen, {sets}
        FROM unnest(CAST(:ids AS bigint[]), {arrays}) AS s(id, {', '.join(cols)})
        WHERE i.id = s.id"""), {"ids": ids, "gen": generation_id, **assignment}).rowcount


def delete_demo(conn: Connection, gens: list[int], sources: list[str], accounts: list[str],
                other_too: bool, departments: tuple[str, ...] = ()) -> dict:
    """Delete the demo: its incidents (and, with other_too, every incident left under its
    generations), plans drawn on its generations, the synthetic coverage set, its generations
    and its accounts and departments (by name). Returns counts per kind."""
    p = {"gens": gens, "sources": sources, "accounts": accounts}
    other = " OR i.generation_id = ANY(:gens)" if other_too else ""
    out = {"incidents": conn.execute(text(
        f"DELETE FROM incident i WHERE {_demo_incident()}{other}"), p).rowcount}
    out["plans"] = conn.execute(text(
        "DELETE FROM plan_draft WHERE base_generation_id = ANY(:gens) "
        "OR published_generation_id = ANY(:gens)"), p).rowcount
    for table in ("staff", "camera", "response_post"):
        out[table] = conn.execute(text(f"DELETE FROM {table} WHERE synthetic")).rowcount
    synthetic_roads = conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM road_network WHERE synthetic)")).scalar()
    out["roads"] = 0
    if synthetic_roads:  # the network is replaced whole, so it goes whole
        out["roads"] = conn.execute(text("DELETE FROM road")).rowcount
        conn.execute(text("DELETE FROM road_node"))
        conn.execute(text("DELETE FROM road_network"))
    out["generations"] = conn.execute(text(
        "DELETE FROM generation WHERE id = ANY(:gens)"), p).rowcount
    out["accounts"] = conn.execute(text(
        "DELETE FROM account WHERE username = ANY(:accounts)"), p).rowcount
    out["departments"] = conn.execute(text(
        "DELETE FROM department WHERE name = ANY(:departments)"),
        {"departments": list(departments)}).rowcount
    return out


def newest_generation(conn: Connection) -> int | None:
    return conn.execute(text("SELECT max(id) FROM generation")).scalar()


def has_demo_incidents(conn: Connection) -> bool:
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM incident WHERE source = 'demo')")).scalar())
