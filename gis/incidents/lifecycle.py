"""Incident lifecycle: the state machine, escalation between handling levels, deadlines and
who may act (pure; no database).

Statuses (gis.domain.STATUSES) and the actions that move between them:

    reported  --accept-->  accepted  --mediate-->  mediating  --resolve-->  resolved
    escalated --accept-->  accepted  --resolve-->  resolved   --close-->    closed
    reported / accepted / mediating / escalated  --escalate-->  escalated (one level up)
    resolved  --reopen-->  accepted (same level; a closed incident is final)

Handling levels, bottom to top: grid -> village -> township -> city -> prefecture -> province
("small matters do not leave the village, big matters do not leave the township"), as far as
the incident's own ladder goes: the levels of the units that hold it (a county-level city's
incidents stop at the city; a prefecture's go on to the prefecture; a level the deployment
skips is skipped). Escalation moves one step up that ladder and needs a reason (note).

Deadlines: when an incident is reported (from its reporting time) and on each escalation (from
the escalation), accept_due_at and resolve_due_at = start + the deadline_rule hours of the new
level. Reopening gives a new resolve deadline at the same level. An incident is overdue to
accept when it still awaits acceptance (reported, escalated) past accept_due_at, and overdue to
resolve when it is still open (not resolved or closed) past resolve_due_at.

Who may act: an account acts at the highest handling level among its units that contain the
incident (province, prefecture and city units: their own level; township: township; village or
community: village; hamlet or grid: grid; administrators: the top of the incident's ladder). It may act on incidents handled at or below that level, so a grid
worker can accept, mediate, resolve or escalate a grid-level incident but nothing once it is
escalated to the village; a township official can act on grid, village and township incidents
(including escalating a township incident to the city) but not on city ones.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from gis.access.scope import Scope
from gis.domain import AWAITING_ACCEPTANCE, HANDLING_LEVELS, LIFECYCLE_FIELDS, OPEN
from gis.errors import Forbidden, UnprocessableError

LEVEL_RANK = {level: i for i, level in enumerate(HANDLING_LEVELS)}

LEVEL_LABELS = {"grid": "网格 grid", "village": "村/社区 village", "township": "乡镇/街道 township",
                "city": "县/区/市 city", "prefecture": "地级市 prefecture",
                "province": "省 province"}
STATUS_LABELS = {"reported": "已上报 reported", "accepted": "已受理 accepted",
                 "mediating": "调解中 mediating", "resolved": "已化解 resolved",
                 "escalated": "已上交 escalated", "closed": "已办结 closed"}
# the unit level of an account -> the handling level it acts at
UNIT_HANDLING_LEVEL = {"grid": "grid", "hamlet": "grid", "village": "village",
                       "township": "township", "city": "city", "prefecture": "prefecture",
                       "province": "province"}
# The ladder of an incident whose units say nothing more (the first deployments' four levels).
COUNTY_LADDER = ("grid", "village", "township", "city")


# action -> (statuses it may start from, status it leads to)
TRANSITIONS = {
    "accept": (("reported", "escalated"), "accepted"),
    "mediate": (("accepted",), "mediating"),
    "resolve": (("accepted", "mediating"), "resolved"),
    "escalate": (("reported", "accepted", "mediating", "escalated"), "escalated"),
    "close": (("resolved",), "closed"),
    "reopen": (("resolved",), "accepted"),
}
ACTIONS = tuple(TRANSITIONS)
ACTION_LABELS = {"accept": ("受理", "Accept"), "mediate": ("调解", "Mediate"),
                 "resolve": ("化解", "Resolve"), "escalate": ("上交上级", "Escalate"),
                 "close": ("办结", "Close"), "reopen": ("重新办理", "Reopen")}
MAX_NOTE = 2000
MAX_HOURS = 8760  # a deadline of at most one year


@dataclass(frozen=True)
class DeadlineRule:
    level: str
    accept_hours: float
    resolve_hours: float


@dataclass(frozen=True)
class State:
    """The lifecycle columns of one incident."""
    status: str
    handling_level: str
    version: int
    reported_at: datetime
    accepted_at: datetime | None = None
    mediated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    escalated_at: datetime | None = None
    accept_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    resolved_level: str | None = None

    FIELDS = LIFECYCLE_FIELDS


def ladder_of(units_of_incident) -> tuple[str, ...]:
    """The handling levels an incident can climb: grid, then the levels of the area units that
    hold it, bottom up (COUNTY_LADDER when it names none above the village)."""
    present = {level for level, _ in units_of_incident}
    ladder = ("grid", *(lv for lv in HANDLING_LEVELS[1:] if lv in present))
    return ladder if LEVEL_RANK[ladder[-1]] > LEVEL_RANK["village"] else COUNTY_LADDER


def next_level(level: str, ladder: tuple[str, ...] = COUNTY_LADDER) -> str | None:
    """The level above `level` on the incident's ladder (None at its top)."""
    return next((lv for lv in ladder if LEVEL_RANK[lv] > LEVEL_RANK[level]), None)


def allowed_actions(status: str, level: str,
                    ladder: tuple[str, ...] = COUNTY_LADDER) -> list[str]:
    """Actions the state machine allows from a status at a level (ignoring who acts)."""
    return [a for a, (sources, _) in TRANSITIONS.items()
            if status in sources and not (a == "escalate" and next_level(level, ladder) is None)]


def due_times(start: datetime, level: str,
              rules: dict[str, DeadlineRule]) -> tuple[datetime, datetime]:
    rule = rules[level]
    return (start + timedelta(hours=float(rule.accept_hours)),
            start + timedelta(hours=float(rule.resolve_hours)))


def overdue(state: State, now: datetime) -> dict[str, bool]:
    """Whether the incident is overdue to accept and to resolve at `now`."""
    return {
        "accept": state.status in AWAITING_ACCEPTANCE and state.accept_due_at is not None
        and state.accept_due_at < now,
        "resolve": state.status in OPEN and state.resolve_due_at is not None
        and state.resolve_due_at < now,
    }


def _describe(state: State, ladder: tuple[str, ...] = COUNTY_LADDER) -> str:
    allowed = allowed_actions(state.status, state.handling_level, ladder)
    return (f"the incident is {STATUS_LABELS[state.status]} at {LEVEL_LABELS[state.handling_level]}"
            f" level; allowed now: {', '.join(allowed) or 'nothing (closed is final)'}")


def apply(state: State, action: str, now: datetime, rules: dict[str, DeadlineRule],
          note: str | None = None, ladder: tuple[str, ...] = COUNTY_LADDER) -> State:
    """The state after `action` at `now`, or UnprocessableError saying why it is refused.
    ladder: the incident's handling levels (ladder_of)."""
    if action not in TRANSITIONS:
        raise UnprocessableError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}",
                                 field="action")
    sources, target = TRANSITIONS[action]
    details = {"status": state.status, "handling_level": state.handling_level,
               "allowed": allowed_actions(state.status, state.handling_level, ladder)}
    if state.status not in sources:
        raise UnprocessableError(f"cannot {action}: {_describe(state, ladder)}", field="action",
                                 details=details)
    new = replace(state, status=target, version=state.version + 1)
    if action == "accept":
        return replace(new, accepted_at=now)
    if action == "mediate":
        return replace(new, mediated_at=state.mediated_at or now)
    if action == "resolve":
        return replace(new, resolved_at=now, resolved_level=state.handling_level)
    if action == "close":
        return replace(new, closed_at=now)
    if action == "reopen":
        return replace(new, resolved_at=None, resolved_level=None,
                       resolve_due_at=due_times(now, state.handling_level, rules)[1])
    # escalate
    up = next_level(state.handling_level, ladder)
    if up is None:
        raise UnprocessableError(
            f"cannot escalate: the incident is handled at {LEVEL_LABELS[state.handling_level]} "
            "level, the top level of its ladder; resolve it there", field="action",
            details=details)
    if not (note or "").strip():
        raise UnprocessableError("escalating needs a reason: say in note why this cannot be "
                                 "settled at this level", field="note")
    accept_due, resolve_due = due_times(now, up, rules)
    return replace(new, handling_level=up, escalated_at=now, accept_due_at=accept_due,
                   resolve_due_at=resolve_due)


def acting_level(scope: Scope, units_of_incident: set[tuple[str, str]]) -> str | None:
    """The handling level an account acts at for one incident: the highest among its units that
    contain the incident. units_of_incident: the (level, code) pairs of the incident's grid and
    areas. None when no unit contains it."""
    if scope.everything:
        return ladder_of(units_of_incident)[-1]
    levels = [UNIT_HANDLING_LEVEL[u.level] for u in scope.units
              if (u.level, u.code) in units_of_incident]
    return max(levels, key=LEVEL_RANK.__getitem__) if levels else None


def check_may_act(level: str | None, state: State) -> None:
    """Forbidden unless an account acting at `level` may act on the incident's level."""
    if level is None or LEVEL_RANK[level] < LEVEL_RANK[state.handling_level]:
        mine = LEVEL_LABELS[level] if level else "no"
        raise Forbidden(
            f"the incident is handled at {LEVEL_LABELS[state.handling_level]} level; your "
            f"jurisdiction acts at {mine} level and may act only at or below it",
            details={"handling_level": state.handling_level, "your_level": level})


def may_act(level: str | None, state: State) -> bool:
    return level is not None and LEVEL_RANK[level] >= LEVEL_RANK[state.handling_level]


def parse_note(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnprocessableError("note must be a string", field="note")
    value = value.strip()
    if len(value) > MAX_NOTE:
        raise UnprocessableError(f"note is longer than {MAX_NOTE} characters", field="note")
    return value or None


def parse_rules(body) -> list[DeadlineRule]:
    """Deadline rules from {"rules": [{"level", "accept_hours", "resolve_hours"}, ...]}: any
    subset of the levels, each once; hours > 0, at most a year, accept <= resolve."""
    rules = body.get("rules") if isinstance(body, dict) else None
    if not isinstance(rules, list) or not rules:
        raise UnprocessableError('send {"rules": [{"level": "grid", "accept_hours": 24, '
                                 '"resolve_hours": 72}, ...]}', field="rules")
    out, seen = [], set()
    for n, item in enumerate(rules):
        where = f"rules[{n}]"
        if not isinstance(item, dict):
            raise UnprocessableError(f"{where} must be an object", field="rules")
        level = item.get("level")
        if not isinstance(level, str) or level not in LEVEL_RANK:
            raise UnprocessableError(f"{where}.level must be one of "
                                     f"{', '.join(HANDLING_LEVELS)}", field="rules")
        if level in seen:
            raise UnprocessableError(f"{where}: level {level} is listed twice", field="rules")
        seen.add(level)
        hours = {}
        for key in ("accept_hours", "resolve_hours"):
            value = item.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or not 0 < value <= MAX_HOURS:
                raise UnprocessableError(f"{where}.{key} must be a number of hours above 0 and "
                                         f"at most {MAX_HOURS}", field="rules")
            hours[key] = float(value)
        if hours["accept_hours"] > hours["resolve_hours"]:
            raise UnprocessableError(f"{where}: accept_hours ({hours['accept_hours']:g}) is more "
                                     f"than resolve_hours ({hours['resolve_hours']:g})",
                                     field="rules")
        out.append(DeadlineRule(level, hours["accept_hours"], hours["resolve_hours"]))
    return out
