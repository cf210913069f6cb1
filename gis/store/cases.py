"""The case lists in PostgreSQL: the incident centre's tabs with their counts, search, sorting
and paging; my tasks and what I did (已办); cards per unit for supervision. Tabs and sort keys
are defined in gis.incidents.cases; this module turns them into SQL."""
from __future__ import annotations

from sqlalchemy import Connection, text

from gis.access.scope import Scope
from gis.domain import STAGE_OF
from gis.store.aggregates import filter_clause
from gis.store.lifecycle import overdue_accept_sql, overdue_resolve_sql
from gis.store.scope import assigned_clause, incident_clause


def _list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


STAGED = _list(STAGE_OF)
CARD_SQL = (f"CASE WHEN i.status NOT IN ({STAGED}) THEN NULL "
            "WHEN i.stage_due_at < :now THEN 'red' "
            "WHEN i.stage_yellow_at < :now THEN 'yellow' END")
OVERDUE_SQL = (f"((i.status IN ({STAGED}) AND i.stage_due_at < :now) OR "
               f"{overdue_accept_sql('i', ':now')} OR {overdue_resolve_sql('i', ':now')})")
TAB_STATUSES = {"accept": ("reported", "escalated"), "dispatch": ("accepted", "registered"),
                "handle": ("dispatched", "mediating"), "verify": ("resolved", "verified"),
                "closed": ("closed", "evaluated", "returned")}
TAB_SQL = {**{tab: f"i.status IN ({_list(st)})" for tab, st in TAB_STATUSES.items()},
           "overdue": OVERDUE_SQL, "all": "TRUE"}
SORT_SQL = {"reported_at": "i.reported_at", "stage_due_at": "i.stage_due_at",
            "occurred_at": "i.occurred_at", "public_id": "i.public_id",
            "severity": "CASE i.severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END"}
NULLABLE_SORTS = ("stage_due_at",)  # the others are never NULL: an index gives their order
ITEM = f"""
    i.id, i.public_id, i.external_id, i.source, i.category, i.severity, i.status,
    i.handling_level, i.occurred_at, i.reported_at, i.accept_due_at, i.resolve_due_at,
    i.stage_started_at, i.stage_yellow_at, i.stage_due_at, i.rework_count, i.remind_count,
    left(i.description, 200) AS description, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
    {CARD_SQL} AS card, {OVERDUE_SQL} AS overdue,
    g.code AS grid_code, g.name AS grid_name, v.name AS village_name, t.name AS township_name,
    i.assignee_account_id, acc.username AS assignee_username,
    i.assignee_department_id, dep.name AS assignee_department"""
JOINS = """
    LEFT JOIN grid g ON g.id = i.grid_id
    LEFT JOIN admin_area v ON v.id = i.village_id
    LEFT JOIN admin_area t ON t.id = i.township_id
    LEFT JOIN account acc ON acc.id = i.assignee_account_id
    LEFT JOIN department dep ON dep.id = i.assignee_department_id"""


def _where(scope: Scope, account_id: int | None, f, unit_scope: Scope | None,
           q: str | None) -> tuple[str, dict]:
    s_sql, params = incident_clause(scope, "i", reported=True, account_id=account_id)
    f_sql, f_params = filter_clause(f, "i")
    params.update(f_params)
    parts = [s_sql, f_sql]
    if unit_scope is not None:
        u_sql, u_params = incident_clause(unit_scope, "iu")
        parts.append(u_sql.replace("iu.", "i."))
        params.update(u_params)
    if q:
        parts.append("(i.public_id = :q OR i.external_id = :q OR i.public_id LIKE :q_prefix "
                     "OR i.description ILIKE :q_text OR CAST(i.id AS text) = :q)")
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.update({"q": q, "q_prefix": escaped + "%", "q_text": f"%{escaped}%"})
    return " AND ".join(parts), params


def counts(conn: Connection, scope: Scope, account_id: int | None, f, unit_scope, q,
           now) -> dict:
    """The count of every tab: one scan grouped by status and whether overdue."""
    where, params = _where(scope, account_id, f, unit_scope, q)
    rows = conn.execute(text(f"""
        SELECT i.status, {OVERDUE_SQL} AS overdue, count(*) AS n
        FROM incident i WHERE {where} GROUP BY 1, 2"""), {**params, "now": now}).all()
    out = {tab: sum(n for s, _, n in rows if s in statuses)
           for tab, statuses in TAB_STATUSES.items()}
    out["overdue"] = sum(n for _, late, n in rows if late)
    out["all"] = sum(n for _, _, n in rows)
    return out


def page(conn: Connection, scope: Scope, account_id: int | None, f, unit_scope, q, *,
         tab: str, sort: str, descending: bool, limit: int, offset: int, now) -> list[dict]:
    where, params = _where(scope, account_id, f, unit_scope, q)
    way = "DESC" if descending else "ASC"
    nulls = " NULLS LAST" if sort in NULLABLE_SORTS else ""
    order = f"{SORT_SQL[sort]} {way}{nulls}, i.id {way}"
    rows = conn.execute(text(f"""
        SELECT {ITEM} FROM incident i {JOINS}
        WHERE {where} AND {TAB_SQL[tab]}
        ORDER BY {order} LIMIT :limit OFFSET :offset"""),
        {**params, "now": now, "limit": limit, "offset": offset}).mappings()
    return [dict(r) for r in rows]


def _tasks_clause(scope: Scope, account_id: int, levels: list[str]) -> tuple[str, str, dict]:
    """(what waits for the account, dispatched to it or its departments, params): cases
    dispatched to it or its departments (dispatched, in hand), and the cases of its
    jurisdiction waiting at the handling levels it acts at (`levels`) to be accepted,
    dispatched or verified (not by the account that handled them)."""
    mine, params = assigned_clause(account_id, "i")
    s_sql, s_params = incident_clause(scope, "i")
    waiting = (f"({s_sql} AND i.handling_level = ANY(:levels) AND i.status IN "
               "('reported', 'escalated', 'accepted', 'registered', 'resolved') "
               "AND NOT (i.status = 'resolved' AND i.resolved_by = :me))")
    where = f"(({mine} AND i.status IN ('dispatched', 'mediating')) OR {waiting})"
    return where, mine, {**params, **s_params, "levels": levels, "me": account_id}


def tasks(conn: Connection, scope: Scope, account_id: int, levels: list[str], *, limit: int,
          offset: int, now) -> tuple[list[dict], int]:
    """The account's to-do list (_tasks_clause), due soonest first. Returns (rows, total)."""
    where, mine, params = _tasks_clause(scope, account_id, levels)
    rows = conn.execute(text(f"""
        SELECT {ITEM}, {mine} AS assigned, count(*) OVER () AS total
        FROM incident i {JOINS} WHERE {where}
        ORDER BY i.stage_due_at ASC NULLS LAST, i.id LIMIT :limit OFFSET :offset"""),
        {**params, "now": now, "limit": limit, "offset": offset}).mappings().all()
    total = rows[0]["total"] if rows else conn.execute(text(
        f"SELECT count(*) FROM incident i WHERE {where}"), params).scalar()
    return [dict(r) for r in rows], total


def unread(conn: Connection, scope: Scope, account_id: int, levels: list[str]) -> int:
    """Tasks that arrived (entered their stage) since the account last opened its tasks."""
    where, _, params = _tasks_clause(scope, account_id, levels)
    return conn.execute(text(f"""
        SELECT count(*) FROM incident i, account a
        WHERE a.id = :me AND i.stage_started_at > coalesce(a.tasks_seen_at, '-infinity')
          AND {where}"""), params).scalar()


def mark_tasks_seen(conn: Connection, account_id: int) -> None:
    conn.execute(text("UPDATE account SET tasks_seen_at = now() WHERE id = :me"),
                 {"me": account_id})


def done_by(conn: Connection, account_id: int, *, limit: int) -> list[dict]:
    """What the account did recently (已办): its latest events, newest first."""
    return [dict(r) for r in conn.execute(text(f"""
        SELECT DISTINCT ON (e.at, e.incident_id) e.at AS done_at, e.action AS done_action,
               e.note AS done_note, {ITEM.replace(':now', 'now()')}
        FROM incident_event e JOIN incident i ON i.id = e.incident_id {JOINS}
        WHERE e.account_id = :me
        ORDER BY e.at DESC, e.incident_id LIMIT :limit"""),
        {"me": account_id, "limit": limit}).mappings()]


def cards_by_unit(conn: Connection, scope: Scope, level: str, generation_id: int,
                  now) -> list[dict]:
    """Per unit of `level` inside the jurisdiction: open cases, yellow and red cards and
    reminders sent, most red cards first."""
    col = "grid_id" if level == "grid" else f"{level}_id"
    table = "grid" if level == "grid" else "admin_area"
    s_sql, params = incident_clause(scope, "i")
    rows = conn.execute(text(f"""
        SELECT u.code AS unit_code, u.name AS unit_name, a.open, a.yellow, a.red, a.reminders
        FROM (SELECT c.uid, count(*) AS open, count(*) FILTER (WHERE c.card = 'yellow') AS yellow,
                     count(*) FILTER (WHERE c.card = 'red') AS red,
                     sum(c.remind_count)::bigint AS reminders
              FROM (SELECT i.{col} AS uid, i.remind_count, {CARD_SQL} AS card
                    FROM incident i WHERE {s_sql} AND i.generation_id = :gen
                      AND i.status IN ({STAGED})) c
              GROUP BY c.uid) a
        JOIN {table} u ON u.id = a.uid
        ORDER BY a.red DESC, a.yellow DESC, u.code"""),
        {**params, "gen": generation_id, "now": now}).mappings()
    return [dict(r) for r in rows]


def carded(conn: Connection, scope: Scope, unit_scope: Scope | None, *, limit: int,
           now) -> list[dict]:
    """Cases with a yellow or red card inside the jurisdiction (and unit), the longest past
    due first (so red before yellow), read in the order of the stage_due_at index."""
    s_sql, params = incident_clause(scope, "i")
    u_sql = "TRUE"
    if unit_scope is not None:
        u_sql, u_params = incident_clause(unit_scope, "iu")
        u_sql = u_sql.replace("iu.", "i.")
        params.update(u_params)
    return [dict(r) for r in conn.execute(text(f"""
        SELECT {ITEM} FROM incident i {JOINS}
        WHERE {s_sql} AND {u_sql} AND i.status IN ({STAGED}) AND i.stage_yellow_at < :now
          AND i.stage_due_at IS NOT NULL
        ORDER BY i.stage_due_at, i.id LIMIT :limit"""),
        {**params, "now": now, "limit": limit}).mappings()]

