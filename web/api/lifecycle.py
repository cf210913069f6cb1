"""Incident lifecycle API: transitions (optimistic locking), event log, deadlines, overdue
incidents. Use cases: gis.incidents.handling."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from gis.domain import SATISFACTION, STAGES, STATUSES, VERIFY_METHODS
from gis.incidents import handling, timelimits
from gis.incidents.calendar import MAX_HOURS as STAGE_MAX_HOURS
from gis.incidents import lifecycle as lc
from web.auth import origin, principal, requires
from web.database import engine
from web.params import int_arg
from web.spec import NULLABLE_STR, NULLABLE_TIME, TIME, json_response, op, param

bp = Blueprint("lifecycle_api", __name__, url_prefix="/api/v1")
MAX_PAGE = 1000


@bp.post("/incidents/<int:incident_id>/transitions")
@requires("incident.manage")
def transition(incident_id: int):
    """Move an incident through its lifecycle: {"action", "version", "note"}."""
    body = request.get_json(silent=True)
    with engine().begin() as conn:
        return jsonify(handling.transition(conn, principal(), incident_id, body,
                                           origin=origin()))


@bp.get("/incidents/<int:incident_id>/events")
@requires("incident.read")
def events(incident_id: int):
    """The incident's lifecycle (status, level, version, due times, allowed actions) and its
    event log, oldest first."""
    with engine().connect() as conn:
        return jsonify(handling.events(conn, principal(), incident_id))


@bp.get("/incidents/<int:incident_id>/dispatch-targets")
@requires("incident.manage")
def dispatch_targets(incident_id: int):
    """Departments and people a case may be dispatched to."""
    with engine().connect() as conn:
        return jsonify(handling.dispatch_targets(conn, principal(), incident_id))


@bp.get("/incidents/overdue")
@requires("incident.read")
def overdue():
    """Open incidents past a due time, longest overdue first: ?kind=any|accept|resolve."""
    kind = request.args.get("kind")
    limit = int_arg("limit", 100, 1, MAX_PAGE)
    offset = int_arg("offset", 0, 0, 10**9)
    with engine().connect() as conn:
        return jsonify(handling.overdue(conn, principal().scope, kind, limit=limit,
                                        offset=offset))


@bp.get("/deadlines")
@requires("incident.read")
def get_deadlines():
    with engine().connect() as conn:
        return jsonify(handling.rules_json(handling.deadline_rules(conn)))


@bp.put("/deadlines")
@requires("account.manage")  # administrators: system configuration
def put_deadlines():
    """Change the hours to accept and resolve per level (any subset of levels)."""
    body = request.get_json(silent=True)
    with engine().begin() as conn:
        return jsonify(handling.set_deadlines(conn, principal(), body, origin=origin()))


@bp.get("/calendar")
@requires("incident.read")
def get_calendar():
    with engine().connect() as conn:
        return jsonify(timelimits.get_calendar(conn))


@bp.put("/calendar")
@requires("account.manage")
def put_calendar():
    """Working periods, weekdays, holidays and make-up working days of the stage limits."""
    body = request.get_json(silent=True)
    with engine().begin() as conn:
        return jsonify(timelimits.set_calendar(conn, principal(), body, origin=origin()))


@bp.get("/stage-limits")
@requires("incident.read")
def get_stage_limits():
    with engine().connect() as conn:
        return jsonify(timelimits.limits_json(conn))


@bp.put("/stage-limits")
@requires("account.manage")
def put_stage_limits():
    body = request.get_json(silent=True)
    with engine().begin() as conn:
        return jsonify(timelimits.set_limits(conn, principal(), body, origin=origin()))


# ---- OpenAPI (merged into /api/v1/openapi.json by web.spec) ----

_INCIDENT_ID = param("incident_id", "path", {"type": "integer"})
_NUM = {"type": "number", "nullable": True}
_INT = {"type": "integer"}
_LEVEL = {"type": "string", "enum": list(lc.HANDLING_LEVELS)}
_LIFECYCLE = {"type": "object", "required": ["id", "status", "handling_level", "version",
                                             "allowed_actions", "overdue"], "properties": {
    "id": _INT, "external_id": {"type": "string"},
    "status": {"type": "string", "enum": list(STATUSES)}, "status_label": {"type": "string"},
    "handling_level": _LEVEL, "version": _INT,
    "resolved_level": {**_LEVEL, "nullable": True},
    "public_id": {"type": "string"},
    **{k: NULLABLE_TIME for k in handling.STATE_TIMES},
    **{k: {"type": "integer", "nullable": True}
       for k in ("assignee_account_id", "assignee_department_id", "resolved_by", "verified_by")},
    "verify_method": {"type": "string", "enum": list(VERIFY_METHODS), "nullable": True},
    "satisfaction": {"type": "string", "enum": list(SATISFACTION), "nullable": True},
    "rework_count": _INT, "remind_count": _INT,
    "stage": {"type": "string", "enum": list(STAGES), "nullable": True},
    "stage_label": NULLABLE_STR, "assignee_account_name": NULLABLE_STR,
    "assignee_department_name": NULLABLE_STR,
    "card": {"type": "string", "enum": ["yellow", "red"], "nullable": True},
    "assigned_to_you": {"type": "boolean"},
    "overdue": {"type": "object", "properties": {"accept": {"type": "boolean"},
                                                 "resolve": {"type": "boolean"}}},
    "your_level": {**_LEVEL, "nullable": True},
    "allowed_actions": {"type": "array", "items": {"type": "string",
                                                   "enum": list(lc.ACTIONS)}}}}
_EVENT = {"type": "object", "required": ["id", "at", "action", "to_status", "to_level"],
          "properties": {"id": _INT, "at": TIME, "action": {"type": "string"},
                         "from_status": NULLABLE_STR, "to_status": {"type": "string"},
                         "from_level": NULLABLE_STR, "to_level": {"type": "string"},
                         "account_id": {"type": "integer", "nullable": True},
                         "username": NULLABLE_STR, "note": NULLABLE_STR,
                         "details": {"type": "object", "nullable": True}}}
_RULES = {"type": "object", "required": ["rules"], "properties": {"rules": {
    "type": "array", "items": {"type": "object", "required": ["level", "accept_hours",
                                                               "resolve_hours"],
                               "properties": {"level": _LEVEL, "label": {"type": "string"},
                                              "accept_hours": {"type": "number"},
                                              "resolve_hours": {"type": "number"}}}}}}
_HOURS = {"type": "number", "exclusiveMinimum": True, "minimum": 0, "maximum": lc.MAX_HOURS}
_OVERDUE_ITEM = {"type": "object", "required": ["id", "status", "handling_level"], "properties": {
    "id": _INT, "external_id": {"type": "string"}, "source": {"type": "string"},
    "category": {"type": "string"}, "severity": {"type": "string"},
    "status": {"type": "string"}, "handling_level": _LEVEL, "occurred_at": TIME,
    "reported_at": TIME, "accept_due_at": NULLABLE_TIME, "resolve_due_at": NULLABLE_TIME,
    "overdue_accept": {"type": "boolean"}, "overdue_resolve": {"type": "boolean"},
    "hours_overdue": {"type": "number"}, "grid_code": NULLABLE_STR,
    "village_code": NULLABLE_STR, "township_code": NULLABLE_STR}}
_DATES = {"type": "array", "items": {"type": "string", "format": "date"}}
_CALENDAR_FIELDS = {
    "timezone": {"type": "string"},
    "periods": {"type": "array", "items": {"type": "array", "items": {
        "type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}}},
    "weekdays": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 7}},
    "holidays": _DATES, "workdays": _DATES,
    "first_year": {"type": "integer", "minimum": 1900, "maximum": 2199},
    "last_year": {"type": "integer", "minimum": 1900, "maximum": 2199}}
_CALENDAR = {"type": "object", "required": ["periods", "weekdays"], "properties": {
    **_CALENDAR_FIELDS, "hours_per_day": {"type": "number"},
    "natural_hours": {"type": "boolean"}}}
_LIMITS = {"type": "object", "required": ["limits"], "properties": {"limits": {
    "type": "array", "items": {"type": "object", "properties": {
        "category": {"type": "string"}, "stage": {"type": "string"},
        "hours": {"type": "number"}, "stage_label": {"type": "string"},
        "category_label": {"type": "string"}}}}}}
_PAGING = (param("limit", schema={"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
           param("offset", schema={"type": "integer", "minimum": 0}))

OPENAPI_PATHS = {
    "/incidents/{incident_id}/transitions": {"post": op(
        "Move a case through its workflow (accept, return, register, dispatch, mediate, "
        "resolve, verify, reject, close, evaluate, escalate, hand_down, remind); 409 when "
        "version is stale, 422 when the state machine refuses or a parameter is missing, 403 "
        "when this account may not take the action or the case is outside its jurisdiction",
        {"200": json_response({"type": "object", "required": ["incident", "event"],
                       "properties": {"incident": _LIFECYCLE, "event": _EVENT}})},
        params=[_INCIDENT_ID],
        body={"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["action", "version"], "properties": {
                "action": {"type": "string", "enum": list(lc.ACTIONS)},
                "version": {"type": "integer"},
                "note": {"type": "string", "maxLength": lc.MAX_NOTE},
                "account_id": {"type": "integer"}, "department_id": {"type": "integer"},
                "method": {"type": "string", "enum": list(VERIFY_METHODS)},
                "satisfaction": {"type": "string", "enum": list(SATISFACTION)},
                "level": _LEVEL}}}}},
        tag="lifecycle")},
    "/incidents/{incident_id}/events": {"get": op(
        "An incident's lifecycle and its event log (who, when, what)",
        {"200": json_response({"type": "object", "required": ["incident", "events"], "properties": {
            "incident": _LIFECYCLE, "events": {"type": "array", "items": _EVENT}}})},
        params=[_INCIDENT_ID], tag="lifecycle")},
    "/incidents/{incident_id}/dispatch-targets": {"get": op(
        "Departments (吹哨报到 when above your level) and people a case may be dispatched to",
        {"200": json_response({"type": "object", "required": ["departments", "accounts"],
                               "properties": {
            "departments": {"type": "array", "items": {"type": "object", "properties": {
                "id": _INT, "name": {"type": "string"}, "unit_code": {"type": "string"},
                "unit_name": NULLABLE_STR, "unit_level": {"type": "string"},
                "whistle": {"type": "boolean"}}}},
            "accounts": {"type": "array", "items": {"type": "object", "properties": {
                "id": _INT, "username": {"type": "string"}, "display_name": {"type": "string"},
                "role": {"type": "string"}, "unit_level": {"type": "string"},
                "unit_code": {"type": "string"}}}}}})},
        params=[_INCIDENT_ID], tag="lifecycle")},
    "/incidents/overdue": {"get": op(
        "Open incidents past their due time to accept or resolve, longest overdue first",
        {"200": json_response({"type": "object", "required": ["incidents", "total"], "properties": {
            "incidents": {"type": "array", "items": _OVERDUE_ITEM}, "total": _INT,
            "limit": _INT, "offset": _INT, "now": TIME}})},
        params=[param("kind", schema={"type": "string", "enum": ["any", "accept", "resolve"]}),
                *_PAGING], tag="lifecycle")},
    "/deadlines": {
        "get": op("Hours to accept and to resolve at each handling level",
                   {"200": json_response(_RULES)}, tag="lifecycle"),
        "put": op("Change deadlines (administrators); applies to incidents reported or "
                   "escalated afterwards", {"200": json_response(_RULES)},
                   body={"required": True, "content": {"application/json": {"schema": {
                       "type": "object", "required": ["rules"], "properties": {"rules": {
                           "type": "array", "minItems": 1, "maxItems": 4, "items": {
                               "type": "object",
                               "required": ["level", "accept_hours", "resolve_hours"],
                               "properties": {"level": _LEVEL, "accept_hours": _HOURS,
                                              "resolve_hours": _HOURS}}}}}}}},
                   tag="lifecycle")},
    "/calendar": {
        "get": op("The work calendar of the stage limits: working periods, weekdays, "
                  "holidays, make-up working days", {"200": json_response(_CALENDAR)},
                  tag="lifecycle"),
        "put": op("Replace the work calendar (administrators of the whole deployment); "
                  "applies to stages started afterwards", {"200": json_response(_CALENDAR)},
                  body={"required": True, "content": {"application/json": {"schema": {
                      "type": "object", "properties": _CALENDAR_FIELDS}}}}, tag="lifecycle")},
    "/stage-limits": {
        "get": op("Working hours allowed per stage (accept, dispatch, handle, verify), per "
                  "category or by default", {"200": json_response(_LIMITS)}, tag="lifecycle"),
        "put": op("Set or remove stage limits (administrators of the whole deployment)",
                  {"200": json_response(_LIMITS)},
                  body={"required": True, "content": {"application/json": {"schema": {
                      "type": "object", "properties": {
                          "limits": {"type": "array", "items": {
                              "type": "object", "required": ["stage", "hours"],
                              "properties": {"category": {"type": "string"},
                                             "stage": {"type": "string",
                                                       "enum": list(STAGES)},
                                             "hours": {"type": "number",
                                                       "exclusiveMinimum": True,
                                                       "minimum": 0,
                                                       "maximum": STAGE_MAX_HOURS}}}},
                          "remove": {"type": "array", "items": {"type": "object"}}}}}}},
                  tag="lifecycle")},
}
