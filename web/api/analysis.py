"""Analysis API: resolution figures per unit (JSON, or CSV for spreadsheets). Use case:
gis.analysis.figures."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from gis.analysis import figures
from gis.domain import HANDLING_LEVELS
from gis.files import Download
from web.auth import origin, principal, requires
from web.database import engine
from web.heavy import heavy
from web.downloads import attachment
from web.spec import NULLABLE_STR, TIME, op, param

bp = Blueprint("analysis_api", __name__, url_prefix="/api/v1")


@bp.get("/figures")
@requires("incident.read")
@heavy
def get_figures():
    """Resolution figures per unit at ?level= within the jurisdiction and the filters;
    ?format=csv for a spreadsheet (UTF-8 with BOM, an audited export)."""
    with engine().begin() as conn:
        out = figures.figures(conn, principal(), request.args, origin=origin())
    return attachment(out) if isinstance(out, Download) else jsonify(out)


INT = {"type": "integer"}
NUM = {"type": "number", "nullable": True}
DATE = {"type": "string", "format": "date"}
_FIGURE_ROW = {"type": "object", "required": ["kind", "found", "mediated", "resolved"],
               "properties": {
                   "unit_code": NULLABLE_STR, "unit_name": NULLABLE_STR,
                   "kind": {"type": "string", "enum": ["unit", "no_unit", "uncovered", "total"]},
                   "households": {"type": "integer", "nullable": True},
                   **{k: INT for k in ("found", "mediated", "resolved", "overdue",
                                        "resolved_level_unknown",
                                        *(f"resolved_{lv}" for lv in HANDLING_LEVELS))},
                   **{k: NUM for k in ("resolution_rate", "median_hours_to_resolve",
                                        "per_1000_households",
                                        *(f"share_{lv}" for lv in HANDLING_LEVELS))}}}
OPENAPI_PATHS = {
    "/figures": {"get": op(
        "Resolution figures per unit: found, mediated, resolved, shares by level, median "
        "hours to resolve, overdue, per 1,000 households (format=csv: UTF-8 with BOM)",
        {"200": {"description": "OK", "content": {
            "application/json": {"schema": {
                "type": "object", "required": ["level", "units", "total"], "properties": {
                    "level": {"type": "string"}, "filters": {"type": "object"}, "now": TIME,
                    "units": {"type": "array", "items": _FIGURE_ROW},
                    "total": _FIGURE_ROW}}},
            "text/csv": {"schema": {"type": "string"}}}}},
        params=[param("level", schema={"type": "string", "enum": list(figures.FIGURE_LEVELS)}),
                param("category", description="categories separated by commas; "
                       "'dispute' for every dispute"),
                param("severity", description="low, medium, high (commas for several)"),
                param("status", description="statuses separated by commas"),
                param("start", schema=DATE, description="YYYY-MM-DD, China time, inclusive"),
                param("end", schema=DATE, description="YYYY-MM-DD, China time, inclusive"),
                param("days", schema={"type": "integer", "minimum": 1, "maximum": 3660},
                       description="the last N days up to today (instead of start/end)"),
                param("unit", schema={"type": "string", "pattern": r"^\d{12}(\d{3}){0,2}$"},
                       description="a unit or grid code inside your jurisdiction"),
                param("format", schema={"type": "string", "enum": ["json", "csv"]})],
        tag="analysis")},
}
