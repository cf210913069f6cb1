"""Case handling API: the incident centre's list (tabs, counts, filters, search, sorting,
paging) and its CSV export, my tasks with the unread count, and supervision cards per unit.
Use cases: gis.incidents.cases."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from gis.incidents import cases
from gis.incidents import lifecycle as lc
from gis.domain import STATUSES
from web.api.incidents import FILTER_PARAMS
from web.auth import origin, principal, requires
from web.database import engine
from web.downloads import attachment
from web.heavy import heavy
from web.spec import NULLABLE_STR, NULLABLE_TIME, TIME, op, param, json_response

bp = Blueprint("cases_api", __name__, url_prefix="/api/v1")


@bp.get("/cases")
@requires("incident.read")
def list_cases():
    with engine().connect() as conn:
        return jsonify(cases.list_cases(conn, principal(), request.args))


@bp.get("/cases/export.csv")
@requires("incident.export")
@heavy
def export_cases():
    with engine().begin() as conn:
        download = cases.export_cases(conn, principal(), request.args,
                                      query=request.query_string.decode(), origin=origin())
    return attachment(download)


@bp.get("/tasks")
@requires("incident.read")
def my_tasks():
    with engine().connect() as conn:
        return jsonify(cases.my_tasks(conn, principal(), request.args))


@bp.post("/tasks/seen")
@requires("incident.read")
def tasks_seen():
    """The unread count starts again from now."""
    with engine().begin() as conn:
        return jsonify(cases.mark_seen(conn, principal()))


@bp.get("/tasks/unread")
@requires("signed_in")
def unread_tasks():
    with engine().connect() as conn:
        return jsonify({"unread": cases.unread_tasks(conn, principal())})


@bp.get("/supervision")
@requires("incident.read")
def supervision():
    with engine().connect() as conn:
        return jsonify(cases.supervision(conn, principal(), request.args))


_INT = {"type": "integer"}
_NINT = {"type": "integer", "nullable": True}
_NUM = {"type": "number"}
CASE = {"type": "object", "required": ["id", "public_id", "status", "handling_level"],
        "properties": {
    "id": _INT, "public_id": {"type": "string"}, "external_id": {"type": "string"},
    "source": {"type": "string"}, "category": {"type": "string"},
    "category_label": {"type": "string"}, "severity": {"type": "string"},
    "status": {"type": "string", "enum": list(STATUSES)}, "status_label": {"type": "string"},
    "stage": NULLABLE_STR, "stage_label": NULLABLE_STR,
    "handling_level": {"type": "string", "enum": list(lc.HANDLING_LEVELS)},
    "level_label": {"type": "string"},
    **{k: NULLABLE_TIME for k in ("occurred_at", "reported_at", "accept_due_at",
                                  "resolve_due_at", "stage_started_at", "stage_yellow_at",
                                  "stage_due_at")},
    "rework_count": _INT, "remind_count": _INT, "description": NULLABLE_STR,
    "lon": _NUM, "lat": _NUM,
    "card": {"type": "string", "enum": ["yellow", "red"], "nullable": True},
    "overdue": {"type": "boolean"},
    "grid_code": NULLABLE_STR, "grid_name": NULLABLE_STR, "village_name": NULLABLE_STR,
    "township_name": NULLABLE_STR, "assignee_account_id": _NINT,
    "assignee_username": NULLABLE_STR, "assignee_department_id": _NINT,
    "assignee_department": NULLABLE_STR}}
_LIST_PARAMS = [
    param("tab", schema={"type": "string", "enum": list(cases.TABS)}),
    param("q", schema={"type": "string", "maxLength": cases.MAX_Q},
          description="case number, external id or text"),
    param("sort", schema={"type": "string", "enum": list(cases.SORTS)}),
    param("order", schema={"type": "string", "enum": ["asc", "desc"]}),
    *FILTER_PARAMS]
_PAGING = [param("limit", schema={"type": "integer", "minimum": 1, "maximum": cases.MAX_PAGE}),
           param("offset", schema={"type": "integer", "minimum": 0, "maximum": 10**7})]
_UNIT_CARDS = {"type": "object", "properties": {
    "unit_code": {"type": "string"}, "unit_name": NULLABLE_STR, "open": _INT, "yellow": _INT,
    "red": _INT, "reminders": _INT}}

OPENAPI_PATHS = {
    "/cases": {"get": op(
        "The incident centre: one page of a tab (待受理, 待派遣, 处置中, 待核查, 已结案, 超期, "
        "全部) with the counts of every tab, the map filters and a search",
        {"200": json_response({"type": "object", "required": ["tabs", "cases", "total"],
                               "properties": {
            "tab": {"type": "string"}, "tabs": {"type": "array", "items": {
                "type": "object", "properties": {"tab": {"type": "string"},
                                                 "label": {"type": "string"},
                                                 "count": _INT}}},
            "total": _INT, "limit": _INT, "offset": _INT, "sort": {"type": "string"},
            "order": {"type": "string"}, "filter": {"type": "string"}, "now": TIME,
            "cases": {"type": "array", "items": CASE}}})},
        params=[*_LIST_PARAMS, *_PAGING], tag="cases")},
    "/cases/export.csv": {"get": op(
        "The current list as CSV (UTF-8 with BOM): stage, due times, card and handling level",
        {"200": {"description": "CSV", "content": {"text/csv": {"schema": {
            "type": "string"}}}}}, params=_LIST_PARAMS, tag="cases")},
    "/tasks": {"get": op(
        "My tasks: what waits for me or my departments, due soonest first, and what I did "
        "recently (已办)",
        {"200": json_response({"type": "object", "required": ["tasks", "total", "unread"],
                               "properties": {
            "tasks": {"type": "array", "items": CASE}, "total": _INT, "unread": _INT,
            "limit": _INT, "offset": _INT, "now": TIME,
            "done": {"type": "array", "items": {"type": "object"}}}})},
        params=_PAGING, tag="cases")},
    "/tasks/seen": {"post": op(
        "Mark my tasks as seen: the unread count starts again from now",
        {"200": json_response({"type": "object", "required": ["unread"],
                               "properties": {"unread": _INT}})}, tag="cases")},
    "/tasks/unread": {"get": op(
        "How many tasks arrived since I last opened my tasks",
        {"200": json_response({"type": "object", "required": ["unread"],
                               "properties": {"unread": _INT}})}, tag="cases")},
    "/supervision": {"get": op(
        "Supervision (督办): yellow and red cards per unit and the carded cases",
        {"200": json_response({"type": "object", "required": ["units", "cases"], "properties": {
            "level": {"type": "string"}, "level_label": {"type": "string"}, "now": TIME,
            "units": {"type": "array", "items": _UNIT_CARDS},
            "totals": {"type": "object"}, "cases": {"type": "array", "items": CASE}}})},
        params=[param("level", schema={"type": "string", "enum": [
            "province", "prefecture", "city", "township", "village", "hamlet", "grid"]}),
                param("unit"), param("root"),
                param("limit", schema={"type": "integer", "minimum": 1, "maximum": 500})],
        tag="cases")},
}
