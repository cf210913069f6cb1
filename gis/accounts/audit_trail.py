"""Reading the audit trail (administrators)."""
from __future__ import annotations

from gis.errors import InputError
from gis.store import audit
from gis.store.db import Connection
from gis.times import parse_time

ACTIONS = audit.ACTIONS


def events(conn: Connection, *, action: str | None = None, username: str | None = None,
           since: str | None = None, until: str | None = None, limit: int = 100,
           offset: int = 0) -> dict:
    """Audit events, newest first, filtered by action, username and ISO 8601 times."""
    since_t = parse_time(since, "since") if since else None
    until_t = parse_time(until, "until") if until else None
    if action and action not in ACTIONS:
        raise InputError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}",
                         field="action")
    rows, total = audit.query(conn, action=action or None, username=username, since=since_t,
                              until=until_t, limit=limit, offset=offset)
    return {"events": [{**r, "at": r["at"].isoformat()} for r in rows], "total": total,
            "limit": limit, "offset": offset}
