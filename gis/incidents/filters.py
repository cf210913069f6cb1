"""Incident filters shared by the officials' pages, the figures and the exports.

Parsed from a URL query (so every view can be shared as a link): category (codes separated by
commas; "dispute" stands for every dispute_* category), severity, status, start and end (dates,
China time, inclusive) or days (the last N days up to today), and unit (a unit or grid code that
narrows the selection inside the account's jurisdiction).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from gis.access.scope import check_code
from gis.domain import CATEGORIES, SEVERITIES, STATUSES
from gis.errors import InputError
from gis.times import CST

GROUPS = {"dispute": tuple(c for c in CATEGORIES if c.startswith("dispute_"))}
MAX_DAYS = 3660


@dataclass(frozen=True)
class IncidentFilter:
    categories: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: date | None = None
    end: date | None = None
    unit: str | None = None
    raw: dict = field(default_factory=dict, compare=False)

    def args(self, **override) -> dict:
        """The URL parameters of this filter, with overrides (None removes a key)."""
        args = {**self.raw, **override}
        return {k: v for k, v in args.items() if v not in (None, "")}

    def describe(self) -> str:
        parts = []
        if self.categories:
            parts.append("/".join(CATEGORIES[c][0] for c in self.categories))
        if self.severities:
            parts.append("severity " + ",".join(self.severities))
        if self.statuses:
            parts.append("status " + ",".join(self.statuses))
        if self.start or self.end:
            parts.append(f"{self.start or '…'} – {self.end or '…'}")
        if self.unit:
            parts.append(f"unit {self.unit}")
        return "; ".join(parts) or "全部 all incidents"


def _choices(raw: str | None, allowed, name: str, groups=None) -> tuple[str, ...]:
    if not raw:
        return ()
    out: list[str] = []
    for item in (p.strip() for p in raw.split(",")):
        if not item:
            continue
        if groups and item in groups:
            out += groups[item]
        elif item in allowed:
            out.append(item)
        else:
            extra = f", or {', '.join(groups)}" if groups else ""
            raise InputError(f"unknown {name} {item!r}; use {', '.join(allowed)}{extra}",
                             field=name)
    return tuple(dict.fromkeys(out))


def _date(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a date (YYYY-MM-DD)", field=name)


def _unit(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return check_code(raw)
    except InputError as err:
        raise InputError(err.message, field="unit")


def parse_filter(args, today: date | None = None) -> IncidentFilter:
    """An IncidentFilter from a mapping of query parameters; InputError names the bad one."""
    keys = ("category", "severity", "status", "start", "end", "days", "unit")
    raw = {k: args.get(k) for k in keys if args.get(k)}
    start, end = _date(raw.get("start"), "start"), _date(raw.get("end"), "end")
    if raw.get("days"):
        try:
            days = int(raw["days"])
        except ValueError:
            raise InputError(f"days={raw['days']!r} is not a whole number", field="days")
        if not 1 <= days <= MAX_DAYS:
            raise InputError(f"days must be between 1 and {MAX_DAYS}", field="days")
        today = today or datetime.now(CST).date()
        start, end = today - timedelta(days=days - 1), today
    if start and end and start > end:
        raise InputError("start is after end", field="start")
    return IncidentFilter(
        categories=_choices(raw.get("category"), CATEGORIES, "category", GROUPS),
        severities=_choices(raw.get("severity"), SEVERITIES, "severity"),
        statuses=_choices(raw.get("status"), STATUSES, "status"),
        start=start, end=end,
        unit=_unit(raw.get("unit")),
        raw=raw)
