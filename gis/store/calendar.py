"""The work calendar and stage limits in PostgreSQL: the calendar's settings (work_calendar),
its working periods (work_period, with the working seconds before each, which work_add in
migration 0017 walks) and the stage limits (stage_limit)."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, text


def config(conn: Connection) -> dict:
    return conn.execute(text("SELECT config FROM work_calendar")).scalar_one()


def replace(conn: Connection, settings: dict,
            periods: list[tuple[datetime, datetime]]) -> None:
    """Store a calendar's settings and its periods (the old ones go)."""
    conn.execute(text("UPDATE work_calendar SET config = CAST(:c AS jsonb), updated_at = now()"),
                 {"c": json.dumps(settings)})
    conn.execute(text("DELETE FROM work_period"))
    conn.execute(text(
        "INSERT INTO work_period (starts, ends, cum) "
        "SELECT s, e, coalesce(sum(extract(epoch FROM e - s)) OVER (ORDER BY s ROWS BETWEEN "
        "UNBOUNDED PRECEDING AND 1 PRECEDING), 0) "
        "FROM unnest(CAST(:s AS timestamptz[]), CAST(:e AS timestamptz[])) AS p(s, e)"),
        {"s": [p[0] for p in periods], "e": [p[1] for p in periods]})


def period_arrays(conn: Connection):
    """(starts, ends, cum) of the stored periods as float64 arrays of epoch seconds."""
    import numpy as np
    rows = conn.execute(text(
        "SELECT extract(epoch FROM starts)::float8, extract(epoch FROM ends)::float8, cum "
        "FROM work_period ORDER BY starts")).all()
    if not rows:
        return np.empty(0), np.empty(0), np.empty(0)
    arr = np.asarray(rows, dtype="float64")
    return arr[:, 0], arr[:, 1], arr[:, 2]


def limits(conn: Connection) -> list[dict]:
    return [{"category": r.category, "stage": r.stage, "hours": float(r.hours)}
            for r in conn.execute(text(
                "SELECT category, stage, hours FROM stage_limit ORDER BY category, "
                "array_position(ARRAY['accept', 'dispatch', 'handle', 'verify'], stage)"))]


def set_limits(conn: Connection, new: list[dict], removed: list[tuple[str, str]]) -> None:
    """Upsert limits (category, stage, hours); delete the category limits in `removed`."""
    if new:
        conn.execute(text(
            "INSERT INTO stage_limit (category, stage, hours) "
            "SELECT * FROM unnest(CAST(:c AS text[]), CAST(:s AS text[]), "
            "CAST(:h AS numeric[])) "
            "ON CONFLICT (category, stage) DO UPDATE SET hours = EXCLUDED.hours"),
            {"c": [r["category"] for r in new], "s": [r["stage"] for r in new],
             "h": [r["hours"] for r in new]})
    for cat, stage in removed:
        conn.execute(text("DELETE FROM stage_limit WHERE category = :c AND stage = :s "
                          "AND category <> ''"), {"c": cat, "s": stage})
