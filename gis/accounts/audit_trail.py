"""Reading the audit trail (administrators)."""
from __future__ import annotations

import json

import pandas as pd

from gis.errors import InputError
from gis.files import Download, frame_csv_bytes
from gis.store import audit
from gis.store.db import Connection
from gis.times import parse_time

ACTIONS = audit.ACTIONS


MAX_EXPORT = 100_000
COLUMNS = [("at", "时间 At"), ("username", "账号 Account"), ("action", "操作 Action"),
           ("target", "对象 Target"), ("ip", "IP"), ("details", "详情 Details")]


def _filters(action, username, since, until, target) -> dict:
    if action and action not in ACTIONS:
        raise InputError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}",
                         field="action")
    if target and len(target) > 200:
        raise InputError("target is longer than 200 characters", field="target")
    return {"action": action or None, "username": username or None,
            "since": parse_time(since, "since") if since else None,
            "until": parse_time(until, "until") if until else None, "target": target or None}


def events(conn: Connection, *, action: str | None = None, username: str | None = None,
           since: str | None = None, until: str | None = None, limit: int = 100,
           offset: int = 0, target: str | None = None) -> dict:
    """Audit events, newest first, filtered by action, username, target (a prefix, e.g.
    incident/12 or department/) and ISO 8601 times."""
    rows, total = audit.query(conn, **_filters(action, username, since, until, target),
                              limit=limit, offset=offset)
    return {"events": [{**r, "at": r["at"].isoformat()} for r in rows], "total": total,
            "limit": limit, "offset": offset}


def export_csv(conn: Connection, *, action=None, username=None, since=None, until=None,
               target=None) -> Download:
    """The filtered trail as CSV (UTF-8 with BOM), newest first, at most MAX_EXPORT rows."""
    rows, total = audit.query(conn, **_filters(action, username, since, until, target),
                              limit=MAX_EXPORT, offset=0)
    if total > MAX_EXPORT:
        raise InputError(f"more than {MAX_EXPORT:,} events match; narrow the filter")
    table = pd.DataFrame([[r["at"].isoformat(), r["username"] or "", r["action"],
                           r["target"] or "", r["ip"] or "",
                           json.dumps(r["details"], ensure_ascii=False) if r["details"] else ""]
                          for r in rows], columns=[label for _, label in COLUMNS])
    return Download(frame_csv_bytes(table), "text/csv", "audit.csv")
