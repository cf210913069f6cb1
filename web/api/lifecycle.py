"""Incident lifecycle API: transitions (optimistic locking), event log, deadlines, overdue
incidents. Use cases: gis.incidents.handling."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from gis.domain import STATUSES
from gis.incidents import handling
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
    **{k: NULLABLE_TIME for k in ("reported_at", "accepted_at", "mediated_at", "resolved_at",
                                  "closed_at", "escalated_at", "accept_due_at",
                                  "resolve_due_at")},
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
                         "username": NULLABLE_STR, "note": NULLABLE_STR}}
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
_PAGING = (param("limit", schema={"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
           param("offset", schema={"type": "integer", "minimum": 0}))

OPENAPI_PATHS = {
    "/incidents/{incident_id}/transitions": {"post": op(
        "Move an incident through its lifecycle (accept, mediate, resolve, escalate, close, "
        "reopen); 409 when version is stale, 422 when the state machine refuses, 403 above "
        "your level or outside your jurisdiction",
        {"200": json_response({"type": "object", "required": ["incident", "event"],
                       "properties": {"incident": _LIFECYCLE, "event": _EVENT}})},
        params=[_INCIDENT_ID],
        body={"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["action", "version"], "properties": {
                "action": {"type": "string", "enum": list(lc.ACTIONS)},
                "version": {"type": "integer"},
                "note": {"type": "string", "maxLength": lc.MAX_NOTE}}}}}},
        tag="lifecycle")},
    "/incidents/{incident_id}/events": {"get": op(
        "An incident's lifecycle and its event log (who, when, what)",
        {"200": json_response({"type": "object", "required": ["incident", "events"], "properties": {
            "incident": _LIFECYCLE, "events": {"type": "array", "items": _EVENT}}})},
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
}
