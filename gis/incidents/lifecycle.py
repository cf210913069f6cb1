"""Incident lifecycle: the case-handling state machine, escalation and hand-down between
handling levels, deadlines, stage clocks and who may act (pure; no database).

The workflow (statuses in gis.domain.STATUSES) and the actions that move between them:

    reported --accept--> accepted --register--> registered --dispatch--> dispatched
    reported --return--> returned (退回, with a reason; final)
    accepted / registered / dispatched --mediate--> mediating (处置中)
    accepted / registered / dispatched / mediating --resolve--> resolved (处置反馈)
    registered / dispatched / mediating --dispatch--> dispatched (re-dispatch)
    resolved --verify--> verified (核查, by another account than the handler; on site or phone)
    resolved --reject--> mediating (核查不通过: rework, rework_count + 1)
    verified --close--> closed (结案) --evaluate--> evaluated (回访: satisfaction; final)
    reported / accepted / registered / dispatched / mediating / escalated --escalate-->
        escalated (上报, one level up, with a reason)
    accepted / registered / escalated --hand_down--> registered one or more levels down (交办)
    remind (催办): an event only, by an account acting above the handling level

Handling levels, bottom to top: grid -> village -> township -> city -> prefecture -> province
("small matters do not leave the village, big matters do not leave the township"), as far as
the incident's own ladder goes: the levels of the units that hold it (a county-level city's
incidents stop at the city; a prefecture's go on to the prefecture; a level the deployment
skips is skipped). Escalation moves one step up that ladder and needs a reason (note).

Deadlines of the case: when an incident is reported (from its reporting time) and on each
escalation or hand-down, accept_due_at and resolve_due_at = start + the deadline_rule hours of
the new level (natural hours; the on-time rate measures against resolve_due_at). Stage clocks:
every transition starts the clock of the stage the new status is in (gis.domain.STAGE_OF:
accept, dispatch, handle, verify); its limit is in working hours (stage_limit, the work
calendar), yellow at 80 % of it, red past it; the database fills stage_yellow_at and
stage_due_at (gis.store.lifecycle).

Who may act: an account acts at the highest handling level among its units that contain the
incident (province, prefecture and city units: their own level; township: township; village or
community: village; hamlet or grid: grid; administrators: the top of the incident's ladder). It
may act on incidents handled at or below that level. Besides, the account or department a case
is dispatched to may handle it (mediate, resolve) whatever its level; the handler may not
verify its own work; the reporter may evaluate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from gis.access.scope import Scope
from gis.domain import (AWAITING_ACCEPTANCE, HANDLING_LEVELS, LIFECYCLE_FIELDS, OPEN,
                        SATISFACTION, STAGE_OF, VERIFY_METHODS)
from gis.errors import Forbidden, UnprocessableError

LEVEL_RANK = {level: i for i, level in enumerate(HANDLING_LEVELS)}

LEVEL_LABELS = {"grid": "网格 grid", "village": "村/社区 village", "township": "乡镇/街道 township",
                "city": "县/区/市 city", "prefecture": "地级市 prefecture",
                "province": "省 province"}
STATUS_LABELS = {"reported": "待受理 reported", "accepted": "已受理 accepted",
                 "registered": "已立案 registered", "dispatched": "已派遣 dispatched",
                 "mediating": "处置中 in hand", "resolved": "已处置 handled",
                 "verified": "已核查 verified", "closed": "已结案 closed",
                 "evaluated": "已评价 evaluated", "escalated": "已上报上级 escalated",
                 "returned": "已退回 returned"}
STAGE_LABELS = {"accept": "受理 accept", "dispatch": "派遣 dispatch", "handle": "处置 handle",
                "verify": "核查 verify"}
VERIFY_METHOD_LABELS = {"on_site": "现场核查 on site", "phone": "电话核查 by phone"}
SATISFACTION_LABELS = {"satisfied": "满意 satisfied", "basic": "基本满意 fairly satisfied",
                       "unsatisfied": "不满意 unsatisfied"}
# the unit level of an account -> the handling level it acts at
UNIT_HANDLING_LEVEL = {"grid": "grid", "hamlet": "grid", "village": "village",
                       "township": "township", "city": "city", "prefecture": "prefecture",
                       "province": "province"}
# The ladder of an incident whose units say nothing more (the first deployments' four levels).
COUNTY_LADDER = ("grid", "village", "township", "city")


# action -> (statuses it may start from, status it leads to; None: stays)
TRANSITIONS = {
    "accept": (("reported", "escalated"), "accepted"),
    "return": (("reported",), "returned"),
    "register": (("accepted",), "registered"),
    "dispatch": (("registered", "dispatched", "mediating"), "dispatched"),
    "mediate": (("accepted", "registered", "dispatched"), "mediating"),
    "resolve": (("accepted", "registered", "dispatched", "mediating"), "resolved"),
    "verify": (("resolved",), "verified"),
    "reject": (("resolved",), "mediating"),
    "close": (("verified",), "closed"),
    "evaluate": (("closed",), "evaluated"),
    "escalate": (("reported", "accepted", "registered", "dispatched", "mediating",
                  "escalated"), "escalated"),
    "hand_down": (("accepted", "registered", "escalated"), "registered"),
    "remind": (("reported", "accepted", "registered", "dispatched", "mediating", "escalated",
                "resolved"), None),
}
ACTIONS = tuple(TRANSITIONS)
ACTION_LABELS = {"accept": ("受理", "Accept"), "return": ("退回", "Return"),
                 "register": ("立案", "Register"), "dispatch": ("派遣", "Dispatch"),
                 "mediate": ("开始处置", "Start handling"),
                 "resolve": ("处置反馈", "Report handled"), "verify": ("核查通过", "Verify"),
                 "reject": ("核查不通过", "Send back"), "close": ("结案", "Close"),
                 "evaluate": ("回访评价", "Record evaluation"),
                 "escalate": ("上报上级", "Escalate"), "hand_down": ("交办下级", "Hand down"),
                 "remind": ("催办", "Remind")}
# Actions that need a reason in note
NEEDS_NOTE = ("return", "escalate", "hand_down", "reject", "remind")
# Actions the dispatched account or department may take whatever its level
HANDLER_ACTIONS = ("mediate", "resolve")
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
    returned_at: datetime | None = None
    registered_at: datetime | None = None
    dispatched_at: datetime | None = None
    verified_at: datetime | None = None
    evaluated_at: datetime | None = None
    assignee_account_id: int | None = None
    assignee_department_id: int | None = None
    resolved_by: int | None = None
    verified_by: int | None = None
    verify_method: str | None = None
    satisfaction: str | None = None
    rework_count: int = 0
    stage_started_at: datetime | None = None
    stage_yellow_at: datetime | None = None
    stage_due_at: datetime | None = None

    FIELDS = LIFECYCLE_FIELDS

    @property
    def stage(self) -> str | None:
        return STAGE_OF.get(self.status)


@dataclass(frozen=True)
class Actor:
    """Who asks to act on one incident: the handling level it acts at there (acting_level),
    its account, whether the case is dispatched to it or its department, whether it reported
    the case, and whether its role may handle incidents at all."""
    level: str | None
    account_id: int | None = None
    assignee: bool = False
    reporter: bool = False
    manages: bool = True


def ladder_of(units_of_incident) -> tuple[str, ...]:
    """The handling levels an incident can climb: grid, then the levels of the area units that
    hold it, bottom up (COUNTY_LADDER when it names none above the village)."""
    present = {level for level, _ in units_of_incident}
    ladder = ("grid", *(lv for lv in HANDLING_LEVELS[1:] if lv in present))
    return ladder if LEVEL_RANK[ladder[-1]] > LEVEL_RANK["village"] else COUNTY_LADDER


def next_level(level: str, ladder: tuple[str, ...] = COUNTY_LADDER) -> str | None:
    """The level above `level` on the incident's ladder (None at its top)."""
    return next((lv for lv in ladder if LEVEL_RANK[lv] > LEVEL_RANK[level]), None)


def lower_levels(level: str, ladder: tuple[str, ...] = COUNTY_LADDER) -> list[str]:
    """The levels below `level` on the incident's ladder, nearest first."""
    return [lv for lv in reversed(ladder) if LEVEL_RANK[lv] < LEVEL_RANK[level]]


def allowed_actions(status: str, level: str,
                    ladder: tuple[str, ...] = COUNTY_LADDER) -> list[str]:
    """Actions the state machine allows from a status at a level (ignoring who acts)."""
    return [a for a, (sources, _) in TRANSITIONS.items()
            if status in sources and not (a == "escalate" and next_level(level, ladder) is None)
            and not (a == "hand_down" and not lower_levels(level, ladder))]


def permits(actor: Actor, action: str, state: State) -> str | None:
    """None when the actor may take `action` on the incident; otherwise why not."""
    at_level = may_act(actor.level, state)
    if action == "evaluate":
        return None if actor.reporter or (at_level and actor.manages) else \
            "only the reporter, or an account acting at the handling level, records the evaluation"
    if not actor.manages:
        return "your role does not handle incidents"
    if action == "remind":
        return None if actor.level is not None and \
            LEVEL_RANK[actor.level] > LEVEL_RANK[state.handling_level] else \
            "reminders (催办) come from a level above the one handling the case"
    if action in HANDLER_ACTIONS and actor.assignee:
        return None
    if not at_level:
        mine = LEVEL_LABELS[actor.level] if actor.level else "no"
        return (f"the incident is handled at {LEVEL_LABELS[state.handling_level]} level; your "
                f"jurisdiction acts at {mine} level and may act only at or below it")
    if action in ("verify", "reject") and actor.account_id is not None \
            and actor.account_id == state.resolved_by:
        return "the case must be verified by another account than the one who handled it"
    return None


def actions_for(actor: Actor, state: State, ladder: tuple[str, ...] = COUNTY_LADDER) -> list[str]:
    """Exactly the actions this actor may take now."""
    return [a for a in allowed_actions(state.status, state.handling_level, ladder)
            if permits(actor, a, state) is None]


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


def card(state: State, now: datetime) -> str | None:
    """The card of the current stage: red past its limit, yellow past 80 % of it, else None."""
    if state.stage is None:
        return None
    if state.stage_due_at is not None and now > state.stage_due_at:
        return "red"
    if state.stage_yellow_at is not None and now > state.stage_yellow_at:
        return "yellow"
    return None


def _describe(state: State, ladder: tuple[str, ...] = COUNTY_LADDER) -> str:
    allowed = allowed_actions(state.status, state.handling_level, ladder)
    return (f"the incident is {STATUS_LABELS[state.status]} ({state.status}) at "
            f"{LEVEL_LABELS[state.handling_level]}"
            f" level; allowed now: {', '.join(allowed) or 'nothing (the case is final)'}")


def _choice(params: dict, key: str, values, labels: dict, action: str) -> str:
    value = params.get(key)
    if value not in values:
        raise UnprocessableError(f"{action} needs {key}: one of "
                                 + ", ".join(f"{v} ({labels[v]})" for v in values), field=key)
    return value


def apply(state: State, action: str, now: datetime, rules: dict[str, DeadlineRule],
          note: str | None = None, ladder: tuple[str, ...] = COUNTY_LADDER,
          params: dict | None = None, account_id: int | None = None) -> State:
    """The state after `action` at `now`, or UnprocessableError saying why it is refused.
    ladder: the incident's handling levels (ladder_of); params: what the action carries
    (dispatch: account_id or department_id, checked by the caller; verify / reject: method;
    evaluate: satisfaction; hand_down: level); account_id: who acts. The new stage's clock
    starts at `now` (stage_yellow_at and stage_due_at are left for the caller to fill)."""
    if action not in TRANSITIONS:
        raise UnprocessableError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}",
                                 field="action")
    params = params or {}
    sources, target = TRANSITIONS[action]
    details = {"status": state.status, "handling_level": state.handling_level,
               "allowed": allowed_actions(state.status, state.handling_level, ladder)}
    if state.status not in sources:
        raise UnprocessableError(f"cannot {action}: {_describe(state, ladder)}", field="action",
                                 details=details)
    if action in NEEDS_NOTE and not (note or "").strip():
        raise UnprocessableError(f"{ACTION_LABELS[action][0]} {action} needs a reason: say "
                                 "why in note", field="note")
    if action == "remind":
        return state
    new = replace(state, status=target, version=state.version + 1, stage_started_at=now,
                  stage_yellow_at=None, stage_due_at=None)
    if action == "accept":
        return replace(new, accepted_at=now)
    if action == "return":
        return replace(new, returned_at=now)
    if action == "register":
        return replace(new, registered_at=now)
    if action == "dispatch":
        acc, dept = params.get("account_id"), params.get("department_id")
        if (acc is None) == (dept is None):
            raise UnprocessableError("dispatch needs exactly one of account_id (a person) or "
                                     "department_id (a department)", field="account_id")
        return replace(new, dispatched_at=now, assignee_account_id=acc,
                       assignee_department_id=dept)
    if action == "mediate":
        return replace(new, mediated_at=state.mediated_at or now)
    if action == "resolve":
        return replace(new, resolved_at=now, resolved_level=state.handling_level,
                       resolved_by=account_id, mediated_at=state.mediated_at or now)
    if action in ("verify", "reject"):
        method = _choice(params, "method", VERIFY_METHODS, VERIFY_METHOD_LABELS, action)
        if action == "verify":
            return replace(new, verified_at=now, verified_by=account_id, verify_method=method)
        return replace(new, resolved_at=None, resolved_level=None, resolved_by=None,
                       verify_method=method, rework_count=state.rework_count + 1)
    if action == "close":
        return replace(new, closed_at=now)
    if action == "evaluate":
        return replace(new, evaluated_at=now, satisfaction=_choice(
            params, "satisfaction", SATISFACTION, SATISFACTION_LABELS, action))
    if action == "hand_down":
        below = lower_levels(state.handling_level, ladder)
        if not below:
            raise UnprocessableError(
                f"cannot hand_down: {_describe(state, ladder)} (the lowest level of its "
                "ladder)",
                field="action", details=details)
        level = params.get("level") or below[0]
        if level not in below:
            raise UnprocessableError(
                f"hand_down needs level: one of the levels below "
                f"{LEVEL_LABELS[state.handling_level]} ({', '.join(below) or 'none'})",
                field="level", details=details)
        accept_due, resolve_due = due_times(now, level, rules)
        return replace(new, handling_level=level, registered_at=now,
                       accepted_at=state.accepted_at or now, accept_due_at=accept_due,
                       resolve_due_at=resolve_due, assignee_account_id=None,
                       assignee_department_id=None)
    # escalate
    up = next_level(state.handling_level, ladder)
    if up is None:
        raise UnprocessableError(
            f"cannot escalate: the incident is handled at {LEVEL_LABELS[state.handling_level]} "
            "level, the top level of its ladder; resolve it there", field="action",
            details=details)
    accept_due, resolve_due = due_times(now, up, rules)
    return replace(new, handling_level=up, escalated_at=now, accept_due_at=accept_due,
                   resolve_due_at=resolve_due, assignee_account_id=None,
                   assignee_department_id=None)


def acting_level(scope: Scope, units_of_incident: set[tuple[str, str]]) -> str | None:
    """The handling level an account acts at for one incident: the highest among its units that
    contain the incident. units_of_incident: the (level, code) pairs of the incident's grid and
    areas. None when no unit contains it."""
    if scope.everything:
        return ladder_of(units_of_incident)[-1]
    levels = [UNIT_HANDLING_LEVEL[u.level] for u in scope.units
              if (u.level, u.code) in units_of_incident]
    return max(levels, key=LEVEL_RANK.__getitem__) if levels else None


def check_permits(actor: Actor, action: str, state: State) -> None:
    """Forbidden unless the actor may take the action (permits)."""
    why = permits(actor, action, state)
    if why is not None:
        raise Forbidden(why, details={"handling_level": state.handling_level,
                                      "your_level": actor.level, "action": action})


def whistle(department_level: str, acting: str | None) -> bool:
    """吹哨报到: a department whose unit is above the dispatcher's acting level is called in."""
    return acting is not None and \
        LEVEL_RANK[UNIT_HANDLING_LEVEL[department_level]] > LEVEL_RANK[acting]


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


def listed_objects(body, key: str, example: str):
    """(where, item) for each object of the non-empty list body[key]; UnprocessableError
    (field `key`) otherwise, showing `example`."""
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise UnprocessableError(f'send {{"{key}": [{example}, ...]}}', field=key)
    for n, item in enumerate(items):
        where = f"{key}[{n}]"
        if not isinstance(item, dict):
            raise UnprocessableError(f"{where} must be an object", field=key)
        yield where, item


def parse_rules(body) -> list[DeadlineRule]:
    """Deadline rules from {"rules": [{"level", "accept_hours", "resolve_hours"}, ...]}: any
    subset of the levels, each once; hours > 0, at most a year, accept <= resolve."""
    out, seen = [], set()
    for where, item in listed_objects(body, "rules", '{"level": "grid", "accept_hours": 24, '
                                                     '"resolve_hours": 72}'):
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
