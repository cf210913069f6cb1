"""Stage time limits and the work calendar (use cases): read them (any account that reads
incidents), change them (administrators of the whole deployment). Changes apply to stages
started afterwards; clocks already running keep their due times. Audited."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from gis.access.roles import Principal
from gis.access.scope import require_city_wide
from gis.categories.manage import catalogue
from gis.domain import STAGE_OF
from gis.errors import InputError
from gis.incidents import calendar as cal
from gis.incidents import lifecycle as lc
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import calendar as calstore
from gis.store.db import Connection


def _city_wide(conn: Connection, actor: Principal, what: str) -> None:
    gen = bstore.require_active_generation(conn, actor.scope)
    require_city_wide(actor.scope, bstore.city_code(conn, gen["id"]) or "", what)


def get_calendar(conn: Connection) -> dict:
    settings = cal.parse_calendar(calstore.config(conn))
    return {**settings.as_json(), "hours_per_day": settings.hours_per_day(),
            "natural_hours": not settings.periods}


def set_calendar(conn: Connection, actor: Principal, body, *,
                 origin: dict | None = None) -> dict:
    """Replace the calendar (keys of gis.incidents.calendar.DEFAULT; missing keys keep the
    default)."""
    if not isinstance(body, dict):
        raise InputError("send the calendar as a JSON object (Content-Type: application/json)")
    new = cal.parse_calendar(body)
    _city_wide(conn, actor, "工作日历 Work calendar")
    before = calstore.config(conn)
    periods = cal.periods(new)
    calstore.replace(conn, new.as_json(), periods)
    audit.record(conn, actor, "calendar_update", "work_calendar",
                 details={"before": before, "after": new.as_json(), "periods": len(periods)},
                 **(origin or {}))
    return get_calendar(conn)


CLOCKS = ("stage_started_at", "stage_yellow_at", "stage_due_at")


def start_clocks(conn: Connection, frame: pd.DataFrame) -> None:
    """Set the stage clock columns (CLOCKS) of incidents about to be imported, as the insert
    trigger of migration 0017 would one row at a time: from reported_at, the stage of each
    status, the category's limit (else the default) in working hours."""
    stage = frame["status"].map(STAGE_OF)
    limits = calstore.limits(conn)
    own = {(r["category"], r["stage"]): r["hours"] for r in limits if r["category"]}
    default = {r["stage"]: r["hours"] for r in limits if not r["category"]}
    key = pd.Series(list(zip(frame["category"], stage)), index=frame.index)
    hours = key.map(own).fillna(stage.map(default)).to_numpy("float64")
    has = stage.notna().to_numpy() & ~np.isnan(hours)
    reported = pd.to_datetime(frame["reported_at"], utc=True)
    t = reported.to_numpy("datetime64[us]").astype("int64") / 1e6
    table = cal.PeriodTable(*calstore.period_arrays(conn))
    hours = np.where(has, hours, 0.0)
    out = {"stage_started_at": t, "stage_yellow_at": table.add(t, hours * 2880),
           "stage_due_at": table.add(t, hours * 3600)}
    for col, values in out.items():
        when = pd.to_datetime(np.round(values * 1e6).astype("int64"), unit="us", utc=True)
        frame[col] = pd.Series(when, index=frame.index).where(has)


def limits_json(conn: Connection) -> dict:
    names = catalogue(conn).labels()
    return {"limits": [{**r, "stage_label": lc.STAGE_LABELS[r["stage"]],
                        "category_label": names.get(r["category"], "默认 default")
                        if r["category"] else "默认 default"}
                       for r in calstore.limits(conn)]}


def set_limits(conn: Connection, actor: Principal, body, *,
               origin: dict | None = None) -> dict:
    """Set working hours per stage, for every category ('') or one; {"remove": [{"category",
    "stage"}]} drops a category's own limit (the default applies again)."""
    if not isinstance(body, dict):
        raise InputError('send a JSON object {"limits": [...]} (Content-Type: application/json)')
    codes = set(catalogue(conn).codes)
    new = cal.parse_limits(body, codes) if body.get("limits") is not None else []
    removed = []
    for item in body.get("remove") or []:
        if not isinstance(item, dict) or item.get("category") not in codes \
                or item.get("stage") not in cal.STAGES:
            raise InputError("remove lists {category: a category code, stage} pairs",
                             field="remove")
        removed.append((item["category"], item["stage"]))
    if not new and not removed:
        raise InputError('send {"limits": [...]} and/or {"remove": [...]}', field="limits")
    _city_wide(conn, actor, "环节时限 Stage limits")
    before = calstore.limits(conn)
    calstore.set_limits(conn, [asdict(r) for r in new], removed)
    audit.record(conn, actor, "stage_limit_update", "stage_limit",
                 details={"before": before, "set": [asdict(r) for r in new],
                          "removed": removed}, **(origin or {}))
    return limits_json(conn)
