"""Incident lifecycle API: transitions (optimistic locking), event log, deadlines, overdue
incidents, resolution figures (JSON or CSV). Rules in gis.lifecycle; figures in
gis.store.figures."""
from __future__ import annotations

import pandas as pd
from flask import Blueprint, Response, jsonify, request

from gis import lifecycle as lc
from gis.domain import STATUSES
from gis.errors import Forbidden, InputError, UnprocessableError
from gis.filters import parse_filter
from gis.store import boundaries as bstore
from gis.store import figures as fstore
from gis.store import lifecycle as lstore
from web import engine
from web.api import not_visible
from web.auth import audit_event, principal, requires
from web.exports import frame_csv
from web.openapi import NULLABLE_STR, NULLABLE_TIME, TIME, _json, _op, _param
from web.params import int_arg, unit_filter_scope

bp = Blueprint("incidents_api", __name__, url_prefix="/api/v1")
MAX_PAGE = 1000


def _iso(value):
    return value.isoformat() if value is not None else None


def _lifecycle_json(row: dict) -> dict:
    """The lifecycle of a loaded incident, with what the signed-in account may do now."""
    s: lc.State = row["state"]
    level = lc.acting_level(principal().scope, row["units"])
    may = lc.may_act(level, s) and principal().can("incident.manage")
    body = {"id": row["id"], "external_id": row["external_id"], "status": s.status,
            "status_label": lc.STATUS_LABELS[s.status], "handling_level": s.handling_level,
            "version": s.version, "resolved_level": s.resolved_level}
    for key in ("reported_at", "accepted_at", "mediated_at", "resolved_at", "closed_at",
                "escalated_at", "accept_due_at", "resolve_due_at"):
        body[key] = _iso(getattr(s, key))
    body["overdue"] = lc.overdue(s, row["now"])
    body["your_level"] = level
    body["allowed_actions"] = lc.allowed_actions(s.status, s.handling_level) if may else []
    return body


def _event_json(e: dict) -> dict:
    return {**e, "at": e["at"].isoformat()}


@bp.post("/incidents/<int:incident_id>/transitions")
@requires("incident.manage")
def transition(incident_id: int):
    """Move an incident through its lifecycle: {"action", "version", "note"}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError('send a JSON object {"action": ..., "version": ..., "note": ...} '
                         "(Content-Type: application/json)")
    action = body.get("action")
    if action not in lc.ACTIONS:
        raise UnprocessableError(f"action must be one of {', '.join(lc.ACTIONS)}",
                                 field="action")
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise UnprocessableError("version is required: the version of the incident you saw "
                                 "(an integer, from GET .../events)", field="version")
    note = lc.parse_note(body.get("note"))
    with engine().begin() as conn:
        out = lstore.transition(conn, incident_id, action, version=version, note=note,
                                actor=principal())
        if out is None:
            raise not_visible("incident", incident_id)
        old, new = out["previous"], out["state"]
        audit_event("incident_transition", f"incident/{incident_id}",
                    {"action": action, "from_status": old.status, "to_status": new.status,
                     "from_level": old.handling_level, "to_level": new.handling_level,
                     "version": new.version, "note": note}, conn=conn)
    return jsonify(incident=_lifecycle_json(out), event=_event_json(out["event"]))


@bp.get("/incidents/<int:incident_id>/events")
@requires("incident.read")
def events(incident_id: int):
    """The incident's lifecycle (status, level, version, due times, allowed actions) and its
    event log, oldest first."""
    with engine().connect() as conn:
        row = lstore.load(conn, incident_id, principal().scope)
        if row is None:
            raise not_visible("incident", incident_id)
        log = lstore.events(conn, incident_id)
    return jsonify(incident=_lifecycle_json(row), events=[_event_json(e) for e in log])


@bp.get("/incidents/overdue")
@requires("incident.read")
def overdue():
    """Open incidents past a due time, longest overdue first: ?kind=any|accept|resolve."""
    kind = request.args.get("kind") or "any"
    if kind not in ("any", "accept", "resolve"):
        raise InputError("kind must be any, accept or resolve", field="kind")
    limit = int_arg("limit", 100, 1, MAX_PAGE)
    offset = int_arg("offset", 0, 0, 10**9)
    with engine().connect() as conn:
        rows, total, now = lstore.overdue(conn, principal().scope, kind=kind, limit=limit,
                                          offset=offset)
    items = []
    for r in rows:
        r.pop("total")
        r.pop("now")
        items.append({k: _iso(v) if k.endswith("_at") else v for k, v in r.items()})
    return jsonify(incidents=items, total=total, limit=limit, offset=offset, now=now.isoformat())


def _rules_json(rules: dict) -> dict:
    return {"rules": [{"level": lv, "label": lc.LEVEL_LABELS[lv],
                       "accept_hours": rules[lv].accept_hours,
                       "resolve_hours": rules[lv].resolve_hours}
                      for lv in lc.HANDLING_LEVELS if lv in rules]}


@bp.get("/deadlines")
@requires("incident.read")
def get_deadlines():
    with engine().connect() as conn:
        return jsonify(_rules_json(lstore.rules(conn)))


@bp.put("/deadlines")
@requires("account.manage")  # administrators: system configuration
def put_deadlines():
    """Change the hours to accept and resolve per level (any subset of levels). Applies to
    incidents reported or escalated afterwards; due times already set stay."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError('send a JSON object {"rules": [...]} (Content-Type: application/json)')
    new = lc.parse_rules(body)
    with engine().begin() as conn:
        before = lstore.rules(conn)
        after = lstore.set_rules(conn, new)
        audit_event("deadline_update", "deadline_rule",
                    {r.level: {"accept_hours": [before[r.level].accept_hours, r.accept_hours],
                               "resolve_hours": [before[r.level].resolve_hours,
                                                 r.resolve_hours]}
                     for r in new}, conn=conn)
    return jsonify(_rules_json(after))


@bp.get("/figures")
@requires("incident.read")
def figures():
    """Resolution figures per unit at ?level= within the jurisdiction and the filters;
    ?format=csv for a spreadsheet (UTF-8 with BOM, an audited export)."""
    level = request.args.get("level") or "township"
    if level not in fstore.FIGURE_LEVELS:
        raise InputError(f"level must be one of {', '.join(fstore.FIGURE_LEVELS)}",
                         field="level")
    fmt = request.args.get("format") or "json"
    if fmt not in ("json", "csv"):
        raise InputError("format must be json or csv", field="format")
    if fmt == "csv" and not principal().can("incident.export"):
        raise Forbidden(f"role {principal().role} may not export (incident.export)")
    f = parse_filter(request.args)
    with engine().begin() as conn:
        gen = bstore.require_active_generation(conn)
        out = fstore.figures(conn, principal().scope, level, f, unit_filter_scope(conn, f),
                             gen["id"])
        if fmt == "csv":
            audit_event("export", "figures", {"format": "csv", "level": level,
                                              "filters": f.raw, "rows": len(out["units"])},
                        conn=conn)
    if fmt == "csv":
        return _csv(out, level)
    return jsonify(level=level, filters=f.raw, now=out["now"].isoformat(),
                   units=out["units"], total=out["total"])


def _csv(out: dict, level: str) -> Response:
    frame = pd.DataFrame([*out["units"], out["total"]],
                         columns=[c[0] for c in fstore.COLUMNS])
    frame.columns = [f"{zh} {en}" for _, zh, en in fstore.COLUMNS]
    return frame_csv(frame, f"figures-{level}-{out['now']:%Y%m%d}.csv")


# ---- OpenAPI (merged into /api/v1/openapi.json by web.openapi) ----

_INCIDENT_ID = _param("incident_id", "path", {"type": "integer"})
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
_FIGURE_ROW = {"type": "object", "required": ["kind", "found", "mediated", "resolved"],
               "properties": {
                   "unit_code": NULLABLE_STR, "unit_name": NULLABLE_STR,
                   "kind": {"type": "string", "enum": ["unit", "no_unit", "uncovered", "total"]},
                   "households": {"type": "integer", "nullable": True},
                   **{k: _INT for k in ("found", "mediated", "resolved", "overdue",
                                        "resolved_level_unknown",
                                        *(f"resolved_{lv}" for lv in lc.HANDLING_LEVELS))},
                   **{k: _NUM for k in ("resolution_rate", "median_hours_to_resolve",
                                        "per_1000_households",
                                        *(f"share_{lv}" for lv in lc.HANDLING_LEVELS))}}}
_OVERDUE_ITEM = {"type": "object", "required": ["id", "status", "handling_level"], "properties": {
    "id": _INT, "external_id": {"type": "string"}, "source": {"type": "string"},
    "category": {"type": "string"}, "severity": {"type": "string"},
    "status": {"type": "string"}, "handling_level": _LEVEL, "occurred_at": TIME,
    "reported_at": TIME, "accept_due_at": NULLABLE_TIME, "resolve_due_at": NULLABLE_TIME,
    "overdue_accept": {"type": "boolean"}, "overdue_resolve": {"type": "boolean"},
    "hours_overdue": {"type": "number"}, "grid_code": NULLABLE_STR,
    "village_code": NULLABLE_STR, "township_code": NULLABLE_STR}}
_PAGING = (_param("limit", schema={"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
           _param("offset", schema={"type": "integer", "minimum": 0}))
_DATE = {"type": "string", "format": "date"}

OPENAPI_PATHS = {
    "/incidents/{incident_id}/transitions": {"post": _op(
        "Move an incident through its lifecycle (accept, mediate, resolve, escalate, close, "
        "reopen); 409 when version is stale, 422 when the state machine refuses, 403 above "
        "your level or outside your jurisdiction",
        {"200": _json({"type": "object", "required": ["incident", "event"],
                       "properties": {"incident": _LIFECYCLE, "event": _EVENT}})},
        params=[_INCIDENT_ID],
        body={"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["action", "version"], "properties": {
                "action": {"type": "string", "enum": list(lc.ACTIONS)},
                "version": {"type": "integer"},
                "note": {"type": "string", "maxLength": lc.MAX_NOTE}}}}}},
        tag="lifecycle")},
    "/incidents/{incident_id}/events": {"get": _op(
        "An incident's lifecycle and its event log (who, when, what)",
        {"200": _json({"type": "object", "required": ["incident", "events"], "properties": {
            "incident": _LIFECYCLE, "events": {"type": "array", "items": _EVENT}}})},
        params=[_INCIDENT_ID], tag="lifecycle")},
    "/incidents/overdue": {"get": _op(
        "Open incidents past their due time to accept or resolve, longest overdue first",
        {"200": _json({"type": "object", "required": ["incidents", "total"], "properties": {
            "incidents": {"type": "array", "items": _OVERDUE_ITEM}, "total": _INT,
            "limit": _INT, "offset": _INT, "now": TIME}})},
        params=[_param("kind", schema={"type": "string", "enum": ["any", "accept", "resolve"]}),
                *_PAGING], tag="lifecycle")},
    "/deadlines": {
        "get": _op("Hours to accept and to resolve at each handling level",
                   {"200": _json(_RULES)}, tag="lifecycle"),
        "put": _op("Change deadlines (administrators); applies to incidents reported or "
                   "escalated afterwards", {"200": _json(_RULES)},
                   body={"required": True, "content": {"application/json": {"schema": {
                       "type": "object", "required": ["rules"], "properties": {"rules": {
                           "type": "array", "minItems": 1, "maxItems": 4, "items": {
                               "type": "object",
                               "required": ["level", "accept_hours", "resolve_hours"],
                               "properties": {"level": _LEVEL, "accept_hours": _HOURS,
                                              "resolve_hours": _HOURS}}}}}}}},
                   tag="lifecycle")},
    "/figures": {"get": _op(
        "Resolution figures per unit: found, mediated, resolved, shares by level, median "
        "hours to resolve, overdue, per 1,000 households (format=csv: UTF-8 with BOM)",
        {"200": {"description": "OK", "content": {
            "application/json": {"schema": {
                "type": "object", "required": ["level", "units", "total"], "properties": {
                    "level": {"type": "string"}, "filters": {"type": "object"}, "now": TIME,
                    "units": {"type": "array", "items": _FIGURE_ROW},
                    "total": _FIGURE_ROW}}},
            "text/csv": {"schema": {"type": "string"}}}}},
        params=[_param("level", schema={"type": "string", "enum": list(fstore.FIGURE_LEVELS)}),
                _param("category", description="categories separated by commas; "
                       "'dispute' for every dispute"),
                _param("severity", description="low, medium, high (commas for several)"),
                _param("status", description="statuses separated by commas"),
                _param("start", schema=_DATE, description="YYYY-MM-DD, China time, inclusive"),
                _param("end", schema=_DATE, description="YYYY-MM-DD, China time, inclusive"),
                _param("days", schema={"type": "integer", "minimum": 1, "maximum": 3660},
                       description="the last N days up to today (instead of start/end)"),
                _param("unit", schema={"type": "string", "pattern": r"^\d{12}(\d{3}){0,2}$"},
                       description="a unit or grid code inside your jurisdiction"),
                _param("format", schema={"type": "string", "enum": ["json", "csv"]})],
        tag="lifecycle")},
}
