"""Incident lifecycle in PostGIS: loading and saving lifecycle states with optimistic locking,
the event log, deadline rules, overdue incidents. The rules themselves are in
gis.incidents.lifecycle; the use cases in gis.incidents.handling."""
from __future__ import annotations

import json

from sqlalchemy import Connection, text

from gis.access.roles import Principal
from gis.access.scope import Scope
from gis.domain import (AWAITING_ACCEPTANCE, LEVEL_NUMBER, LEVELS_UP, LIFECYCLE_FIELDS, OPEN,
                        STAGE_OF)
from gis.errors import Conflict
from gis.store.scope import assigned_clause, incident_clause

STATE_COLUMNS = ", ".join(f"i.{c}" for c in ("reported_at", *LIFECYCLE_FIELDS))
UNIT_CODES = ", ".join(f"(SELECT '{lv}:' || code FROM admin_area WHERE id = i.{lv}_id)"
                       for lv in LEVELS_UP)
LEVEL_NAME = "CASE a.level " + " ".join(f"WHEN {n} THEN '{name}'"
                                        for name, n in LEVEL_NUMBER.items()) + " END"


STAGE_SQL = ("CASE i2.status " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in STAGE_OF.items())
             + " END")


def _list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def overdue_accept_sql(alias: str = "i", now: str = "now()") -> str:
    return (f"({alias}.status IN ({_list(AWAITING_ACCEPTANCE)}) "
            f"AND {alias}.accept_due_at < {now})")


def overdue_resolve_sql(alias: str = "i", now: str = "now()") -> str:
    return f"({alias}.status IN ({_list(OPEN)}) AND {alias}.resolve_due_at < {now})"


def rules(conn: Connection) -> list[dict]:
    """Deadline rules: level, accept_hours, resolve_hours."""
    rows = conn.execute(text("SELECT level, accept_hours, resolve_hours FROM deadline_rule"))
    return [{"level": r.level, "accept_hours": float(r.accept_hours),
             "resolve_hours": float(r.resolve_hours)} for r in rows]


def set_rules(conn: Connection, new: list[dict]) -> None:
    """Replace the rules of the given levels (dicts with level, accept_hours, resolve_hours).
    Due times already set do not change; the new hours apply to incidents reported or
    escalated from now on."""
    conn.execute(text(
        "INSERT INTO deadline_rule (level, accept_hours, resolve_hours) "
        "SELECT * FROM unnest(CAST(:levels AS text[]), CAST(:accept AS numeric[]), "
        "CAST(:resolve AS numeric[])) "
        "ON CONFLICT (level) DO UPDATE SET accept_hours = EXCLUDED.accept_hours, "
        "resolve_hours = EXCLUDED.resolve_hours"),
        {"levels": [r["level"] for r in new], "accept": [r["accept_hours"] for r in new],
         "resolve": [r["resolve_hours"] for r in new]})


def load(conn: Connection, incident_id: int, scope: Scope, *, lock: bool = False,
         account_id: int | None = None) -> dict | None:
    """The lifecycle of an incident inside the scope (None otherwise, either case), with the
    (level, code) pairs of the units that contain it and the database time `now`. account_id:
    the incidents dispatched to that account or its departments are visible too, and
    `assignee` says whether this one is. lock: hold the row until the transaction ends."""
    clause, params = incident_clause(scope, "i", account_id=account_id)
    mine, mine_params = assigned_clause(account_id if account_id is not None else -1, "i")
    row = conn.execute(text(f"""
        SELECT i.id, i.external_id, i.public_id, i.category, i.reported_by, i.remind_count,
               (SELECT coalesce(nullif(a.display_name, ''), a.username) FROM account a
                WHERE a.id = i.assignee_account_id) AS assignee_account_name,
               (SELECT d.name FROM department d WHERE d.id = i.assignee_department_id)
                   AS assignee_department_name,
               {STATE_COLUMNS}, now() AS now, {mine} AS assignee,
               CASE WHEN i.grid_id IS NOT NULL THEN ARRAY[
                   'grid:' || (SELECT code FROM grid WHERE id = i.grid_id), {UNIT_CODES}]
               ELSE ARRAY(SELECT {LEVEL_NAME} || ':' || a.code FROM admin_area a
                          WHERE a.generation_id = i.generation_id AND ST_Covers(a.geom, i.geom))
               END AS units
        FROM incident i WHERE i.id = :id AND {clause}
        {'FOR UPDATE OF i' if lock else ''}"""),
        {"id": incident_id, **params, **mine_params}).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["state"] = {k: row[k] for k in ("reported_at", *LIFECYCLE_FIELDS)}
    out["units"] = {tuple(u.split(":", 1)) for u in row["units"] if u}
    return out


def save_transition(conn: Connection, incident_id: int, old_version: int, new: dict,
                    event: dict, actor: Principal) -> dict:
    """Write a new lifecycle state (LIFECYCLE_FIELDS) over `old_version` and its event (at,
    action, from/to status and level, note); returns the event row. The caller holds the row
    lock (load(..., lock=True))."""
    sets = ", ".join(f"{c} = :{c}" for c in LIFECYCLE_FIELDS)
    updated = conn.execute(text(f"UPDATE incident SET {sets} WHERE id = :id AND version = :old"),
                           {**{c: new[c] for c in LIFECYCLE_FIELDS},
                            "id": incident_id, "old": old_version}).rowcount
    if updated != 1:  # cannot happen while the row is locked; never write a lost update
        raise Conflict(f"incident {incident_id} changed while it was being updated")
    start_stage_clock(conn, incident_id)
    return record_event(conn, incident_id, event, actor)


def start_stage_clock(conn: Connection, incident_id: int) -> None:
    """Fill stage_yellow_at (80 %) and stage_due_at of the stage the incident is in, from its
    stage_started_at and the stage's limit in working hours (the category's, else the
    default); NULL when its status has no stage."""
    conn.execute(text(f"""
        UPDATE incident i SET stage_yellow_at = work_add(i.stage_started_at, l.hours * 2880),
                              stage_due_at = work_add(i.stage_started_at, l.hours * 3600)
        FROM (SELECT (SELECT sl.hours FROM stage_limit sl WHERE sl.stage = {STAGE_SQL}
                        AND sl.category IN (i2.category, '') ORDER BY sl.category DESC LIMIT 1)
                     AS hours
              FROM incident i2 WHERE i2.id = :id) l
        WHERE i.id = :id AND i.stage_started_at IS NOT NULL AND l.hours IS NOT NULL"""),
        {"id": incident_id})


EVENT_COLUMNS = ("id, at, action, from_status, to_status, from_level, to_level, account_id, "
                 "username, note, details")


def record_event(conn: Connection, incident_id: int, event: dict, actor: Principal) -> dict:
    """Append an event (at, action, from/to status and level, note, details) to the log."""
    return dict(conn.execute(text(
        "INSERT INTO incident_event (incident_id, at, action, from_status, to_status, "
        "from_level, to_level, account_id, username, note, details) "
        "VALUES (:i, :at, :a, :fs, :ts, :fl, :tl, :acc, :u, :n, CAST(:d AS jsonb)) "
        f"RETURNING {EVENT_COLUMNS}"),
        {"i": incident_id, "at": event["at"], "a": event["action"],
         "fs": event["from_status"], "ts": event["to_status"], "fl": event["from_level"],
         "tl": event["to_level"], "acc": actor.account_id, "u": actor.username,
         "n": event["note"],
         "d": json.dumps(event.get("details"), ensure_ascii=False)
         if event.get("details") else None}).mappings().one())


def count_reminder(conn: Connection, incident_id: int) -> int:
    """One more reminder (催办) on the incident; its version does not move (the handler's page
    stays current). Returns the new count."""
    return conn.execute(text("UPDATE incident SET remind_count = remind_count + 1 "
                             "WHERE id = :id RETURNING remind_count"),
                        {"id": incident_id}).scalar_one()


def events(conn: Connection, incident_id: int) -> list[dict]:
    """The event log of an incident, oldest first (the caller checks visibility)."""
    return [dict(r) for r in conn.execute(text(
        f"SELECT {EVENT_COLUMNS} FROM incident_event WHERE incident_id = :i ORDER BY at, id"),
        {"i": incident_id}).mappings()]


def overdue(conn: Connection, scope: Scope, *, kind: str = "any", limit: int = 100,
            offset: int = 0) -> tuple[list[dict], int, object]:
    """Open incidents past a due time inside the scope, longest overdue first. kind: accept,
    resolve or any. Returns (rows, total, now)."""
    clause, params = incident_clause(scope, "i")
    acc, res = overdue_accept_sql("i"), overdue_resolve_sql("i")
    which = {"accept": acc, "resolve": res, "any": f"({acc} OR {res})"}[kind]
    rows = conn.execute(text(f"""
        SELECT i.id, i.source, i.external_id, i.category, i.severity, i.status,
               i.handling_level, i.occurred_at, i.reported_at, i.accept_due_at,
               i.resolve_due_at, {acc} AS overdue_accept, {res} AS overdue_resolve,
               round(CAST(extract(epoch FROM now() - CASE WHEN {acc}
                   THEN least(i.accept_due_at, i.resolve_due_at) ELSE i.resolve_due_at END)
                   / 3600 AS numeric), 2)::float AS hours_overdue,
               g.code AS grid_code, v.code AS village_code, t.code AS township_code,
               count(*) OVER () AS total, now() AS now
        FROM incident i
        LEFT JOIN grid g ON g.id = i.grid_id
        LEFT JOIN admin_area v ON v.id = i.village_id
        LEFT JOIN admin_area t ON t.id = i.township_id
        WHERE {clause} AND {which}
        ORDER BY hours_overdue DESC, i.id LIMIT :limit OFFSET :offset"""),
        {**params, "limit": limit, "offset": offset}).mappings().all()
    if rows:
        return [dict(r) for r in rows], rows[0]["total"], rows[0]["now"]
    total, now = conn.execute(text(
        f"SELECT count(*), now() FROM incident i WHERE {clause} AND {which}"), params).one()
    return [], total, now
