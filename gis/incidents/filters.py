"""Incident filters shared by the officials' pages, the figures and the exports.

Parsed from a URL query (so every view can be shared as a link): category (codes of the
deployment's categories separated by commas, deactivated ones included; "dispute" stands for
every category of the parent class 矛盾纠纷 and every dispute_* code), source (sources separated
by commas, e.g. 12345,api), severity, status, start and end (dates, China time, inclusive) or
days (the last N days up to today), and unit (a unit or grid code that narrows the selection
inside the account's jurisdiction).

The categories are passed in (gis.categories.manage.catalogue, loaded by the use case;
gis.incidents.selection.read_filter does both); without them, the default set.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from gis.access.scope import check_code
from gis.categories.rules import Catalogue
from gis.categories.sets import DEFAULT
from gis.domain import SEVERITIES, STATUSES
from gis.errors import InputError
from gis.times import CST

DEFAULT_CATALOGUE = Catalogue(DEFAULT)
GROUPS = DEFAULT_CATALOGUE.groups()  # the default set's: {"dispute": the five dispute_*}
MAX_DAYS = 3660
MAX_SOURCES = 50
MAX_SOURCE = 128  # characters of a source (gis.incidents.parse.MAX_ID_LENGTH)
# the URL parameters a filter keeps; root is not a filter but the view's city (gis.store
# .boundaries.choose_generation), kept so that links and drill-downs stay in it
KEYS = ("category", "source", "severity", "status", "start", "end", "days", "unit", "root")


@dataclass(frozen=True)
class IncidentFilter:
    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: date | None = None
    end: date | None = None
    unit: str | None = None
    raw: dict = field(default_factory=dict, compare=False)
    category_names: tuple[str, ...] = field(default=(), compare=False)  # Chinese, for describe

    def args(self, **override) -> dict:
        """The URL parameters of this filter, with overrides (None removes a key)."""
        args = {**self.raw, **override}
        return {k: v for k, v in args.items() if v not in (None, "")}

    def describe(self) -> str:
        parts = []
        if self.categories:
            parts.append("/".join(self.category_names or self.categories))
        if self.sources:
            parts.append("来源 source " + ",".join(self.sources))
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
            if not groups[item]:  # nothing in the group: it must not select everything
                raise InputError(f"no {name} belongs to {item!r}", field=name)
            out += groups[item]
        elif item in allowed:
            out.append(item)
        else:
            extra = f", or {', '.join(groups)}" if groups else ""
            raise InputError(f"unknown {name} {item!r}; use {', '.join(allowed)}{extra}",
                             field=name)
    return tuple(dict.fromkeys(out))


def _sources(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    out = tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
    if len(out) > MAX_SOURCES:
        raise InputError(f"at most {MAX_SOURCES} sources", field="source")
    for s in out:
        if len(s) > MAX_SOURCE:
            raise InputError(f"source {s[:40]!r}... is longer than {MAX_SOURCE} characters",
                             field="source")
    return out


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


def parse_filter(args, today: date | None = None,
                 categories: Catalogue | None = None) -> IncidentFilter:
    """An IncidentFilter from a mapping of query parameters; InputError names the bad one.
    categories: the deployment's (default: the default set)."""
    catalogue = categories or DEFAULT_CATALOGUE
    raw = {k: args.get(k) for k in KEYS if args.get(k)}
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
    chosen = _choices(raw.get("category"), catalogue.codes, "category", catalogue.groups())
    return IncidentFilter(
        categories=chosen,
        sources=_sources(raw.get("source")),
        category_names=tuple(catalogue.name_zh(c) or c for c in chosen),
        severities=_choices(raw.get("severity"), SEVERITIES, "severity"),
        statuses=_choices(raw.get("status"), STATUSES, "status"),
        start=start, end=end,
        unit=_unit(raw.get("unit")),
        raw=raw)
