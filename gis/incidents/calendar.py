"""The work calendar of the stage time limits (pure): which hours are working hours.

A calendar is working periods of a day (default 08:30-12:00 and 13:30-17:30), the working
weekdays (ISO numbers, default Monday-Friday), public holidays (dates off) and working
weekend days (调休 make-up days), in one time zone (default Asia/Shanghai), for a span of
years. An empty list of periods means natural hours (every hour counts). The periods it
spans are stored (gis.store.calendar) and the database adds working time with work_add.
Stage limits (hours per stage, per category or the default) are parsed here too.
"""
from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from gis.domain import STAGES
from gis.errors import UnprocessableError
from gis.incidents.lifecycle import listed_objects

HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_DATES = 2000
MAX_HOURS = 8760
DEFAULT = {"timezone": "Asia/Shanghai", "periods": [["08:30", "12:00"], ["13:30", "17:30"]],
           "weekdays": [1, 2, 3, 4, 5], "holidays": [], "workdays": [], "first_year": 2000,
           "last_year": 2060}


@dataclass(frozen=True)
class WorkCalendar:
    timezone: str = "Asia/Shanghai"
    periods: tuple[tuple[time, time], ...] = ()
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    first_year: int = 2000
    last_year: int = 2060

    def as_json(self) -> dict:
        return {"timezone": self.timezone,
                "periods": [[s.strftime("%H:%M"), e.strftime("%H:%M")] for s, e in self.periods],
                "weekdays": sorted(self.weekdays),
                "holidays": sorted(d.isoformat() for d in self.holidays),
                "workdays": sorted(d.isoformat() for d in self.workdays),
                "first_year": self.first_year, "last_year": self.last_year}

    def is_working_day(self, day: date) -> bool:
        return day in self.workdays or (day.isoweekday() in self.weekdays
                                        and day not in self.holidays)

    def hours_per_day(self) -> float:
        return sum((datetime.combine(date.min, e) - datetime.combine(date.min, s))
                   .total_seconds() for s, e in self.periods) / 3600


def _dates(value, key: str) -> frozenset[date]:
    if not isinstance(value, list) or len(value) > MAX_DATES:
        raise UnprocessableError(f"{key} must be a list of at most {MAX_DATES} dates "
                                 "(YYYY-MM-DD)", field=key)
    out = set()
    for item in value:
        try:
            out.add(date.fromisoformat(item))
        except (TypeError, ValueError):
            raise UnprocessableError(f"{key}: {item!r} is not a date (YYYY-MM-DD)", field=key)
    return frozenset(out)


def _clock(value, where: str) -> time:
    m = HHMM.match(value) if isinstance(value, str) else None
    if m is None:
        raise UnprocessableError(f"{where} must be a time HH:MM (00:00-23:59)", field="periods")
    return time(int(m.group(1)), int(m.group(2)))


def parse_calendar(body) -> WorkCalendar:
    """A calendar from its JSON form (DEFAULT shows every key; missing keys take the
    default's); UnprocessableError names the bad key."""
    if not isinstance(body, dict):
        raise UnprocessableError("send the calendar as a JSON object", field="calendar")
    unknown = set(body) - set(DEFAULT)
    if unknown:
        raise UnprocessableError(f"unknown key {sorted(unknown)[0]!r}; keys: "
                                 f"{', '.join(DEFAULT)}", field=sorted(unknown)[0])
    merged = {**DEFAULT, **body}
    tz = merged["timezone"]
    try:
        ZoneInfo(tz) if isinstance(tz, str) else None
    except (ZoneInfoNotFoundError, ValueError):
        tz = None
    if not isinstance(tz, str):
        raise UnprocessableError("timezone must be an IANA zone, e.g. Asia/Shanghai",
                                 field="timezone")
    raw = merged["periods"]
    if not isinstance(raw, list) or len(raw) > 6:
        raise UnprocessableError("periods must be a list of at most 6 [start, end] pairs",
                                 field="periods")
    periods = []
    for n, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2:
            raise UnprocessableError(f"periods[{n}] must be [start, end], e.g. "
                                     '["08:30", "12:00"]', field="periods")
        start, end = _clock(pair[0], f"periods[{n}][0]"), _clock(pair[1], f"periods[{n}][1]")
        if end <= start:
            raise UnprocessableError(f"periods[{n}] ends before it starts", field="periods")
        if periods and start < periods[-1][1]:
            raise UnprocessableError(f"periods[{n}] starts before periods[{n - 1}] ends "
                                     "(list them in order, without overlaps)", field="periods")
        periods.append((start, end))
    days = merged["weekdays"]
    if not isinstance(days, list) or any(isinstance(d, bool) or d not in range(1, 8)
                                         for d in days):
        raise UnprocessableError("weekdays must list ISO weekday numbers (1 Monday .. 7 "
                                 "Sunday)", field="weekdays")
    years = []
    for key in ("first_year", "last_year"):
        y = merged[key]
        if isinstance(y, bool) or not isinstance(y, int) or not 1900 <= y <= 2199:
            raise UnprocessableError(f"{key} must be a year 1900-2199", field=key)
        years.append(y)
    if years[0] > years[1] or years[1] - years[0] > 100:
        raise UnprocessableError("first_year .. last_year must be in order and span at most "
                                 "100 years", field="first_year")
    return WorkCalendar(timezone=tz, periods=tuple(periods), weekdays=frozenset(days),
                        holidays=_dates(merged["holidays"], "holidays"),
                        workdays=_dates(merged["workdays"], "workdays"),
                        first_year=years[0], last_year=years[1])


def periods(cal: WorkCalendar) -> list[tuple[datetime, datetime]]:
    """The working periods the calendar spans, in order, as aware datetimes."""
    tz = ZoneInfo(cal.timezone)
    out = []
    day, last = date(cal.first_year, 1, 1), date(cal.last_year, 12, 31)
    while day <= last:
        if cal.is_working_day(day):
            for s, e in cal.periods:
                out.append((datetime.combine(day, s, tz), datetime.combine(day, e, tz)))
        day += timedelta(days=1)
    return out


def add_working_hours(cal_periods: list[tuple[datetime, datetime]], start: datetime,
                      hours: float) -> datetime:
    """start + `hours` of working time over the given periods, in order (natural time from
    start when they run out or there are none): the reference the database's work_add is
    tested against."""
    left = timedelta(hours=hours)
    if left <= timedelta(0):
        return start
    first = bisect.bisect_right([e for _, e in cal_periods], start)
    for s, e in cal_periods[first:]:
        begin = max(s, start)
        if left <= e - begin:
            return begin + left
        left -= e - begin
    return start + timedelta(hours=hours)


@dataclass(frozen=True)
class PeriodTable:
    """The stored working periods as arrays of epoch seconds (starts, ends, and the working
    seconds before each), for adding working time to many start times at once (the bulk
    import); the same rule as the database's work_add."""
    starts: np.ndarray
    ends: np.ndarray
    cum: np.ndarray

    def add(self, t: np.ndarray, secs: np.ndarray) -> np.ndarray:
        """t + secs of working time (epoch seconds); natural time without periods or past
        their end."""
        t = np.asarray(t, dtype="float64")
        secs = np.asarray(secs, dtype="float64")
        natural = t + secs
        if not len(self.starts):
            return natural
        i = np.searchsorted(self.starts, t, side="right") - 1
        ic = np.clip(i, 0, None)
        done = self.cum[ic] + np.maximum(np.minimum(t, self.ends[ic]) - self.starts[ic], 0)
        target = np.where(i >= 0, done, 0.0) + secs
        j = np.searchsorted(self.cum, target, side="left") - 1
        jc = np.clip(j, 0, None)
        at = self.starts[jc] + (target - self.cum[jc])
        ok = (j >= 0) & (at <= self.ends[jc])
        return np.where(ok, np.maximum(at, t), natural)


@dataclass(frozen=True)
class StageLimit:
    category: str  # '' = the default of every category
    stage: str
    hours: float


def parse_limits(body, categories: set[str]) -> list[StageLimit]:
    """{"limits": [{"category": "" or a code, "stage", "hours"}, ...]}: hours > 0, at most a
    year; each (category, stage) once."""
    out, seen = [], set()
    for where, item in listed_objects(body, "limits",
                                      '{"category": "", "stage": "accept", "hours": 4}'):
        cat = item.get("category") or ""
        if not isinstance(cat, str) or (cat and cat not in categories):
            raise UnprocessableError(f"{where}.category must be '' (every category) or a "
                                     "category code", field="limits")
        stage = item.get("stage")
        if stage not in STAGES:
            raise UnprocessableError(f"{where}.stage must be one of {', '.join(STAGES)}",
                                     field="limits")
        hours = item.get("hours")
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) \
                or not math.isfinite(hours) or not 0 < hours <= MAX_HOURS:
            raise UnprocessableError(f"{where}.hours must be a number of working hours above 0 "
                                     f"and at most {MAX_HOURS}", field="limits")
        if (cat, stage) in seen:
            raise UnprocessableError(f"{where}: {cat or 'default'} / {stage} is listed twice",
                                     field="limits")
        seen.add((cat, stage))
        out.append(StageLimit(cat, stage, float(hours)))
    return out
