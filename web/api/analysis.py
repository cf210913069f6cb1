"""Analysis API: resolution figures per unit (JSON, or CSV for spreadsheets). Use case:
gis.analysis.figures."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from gis.analysis import figures, results
from gis.domain import HANDLING_LEVELS
from gis.files import Download
from web.auth import origin, principal, requires
from web.database import engine
from web.heavy import heavy, heavy_section
from web.downloads import attachment
from web.spec import NULLABLE_STR, TIME, op, param

bp = Blueprint("analysis_api", __name__, url_prefix="/api/v1")


@bp.get("/figures")
@requires("incident.read")
def get_figures():
    """Resolution figures per unit at ?level= (or per category or source: ?by=) within the
    jurisdiction and the filters; ?format=csv for a spreadsheet (UTF-8 with BOM, an audited
    export). JSON answers are stored (only computing is heavy work)."""
    with engine().connect() as conn:
        out = figures.figures(conn, principal(), request.args, origin=origin(),
                              guard=heavy_section)
        conn.commit()
    return attachment(out) if isinstance(out, Download) else jsonify(out)


@bp.get("/analysis/rates")
@requires("view")
def analysis_rates():
    """Incidents per unit at ?level= with the classes of ?measure= for the rates map; cached
    by generation, jurisdiction, filters and data version (only computing is heavy work)."""
    with engine().connect() as conn:
        return jsonify(results.rates(conn, principal().scope, request.args,
                                     guard=heavy_section))


@bp.get("/analysis/hotspots")
@requires("view")
def analysis_hotspots():
    """Hot spots for the hot-spot map: density bands, heat sample, Gi* per grid (analytic at
    once; ?inference=permutation starts the 9,999-permutation refinement in the background and
    answers 202 with its progress until it is stored)."""
    with engine().connect() as conn:
        out = results.hotspots(conn, principal().scope, request.args, guard=heavy_section)
    return jsonify(out), (202 if out.get("result") is None else 200)


INT = {"type": "integer"}
NUM = {"type": "number", "nullable": True}
DATE = {"type": "string", "format": "date"}
_FIGURE_ROW = {"type": "object", "required": ["kind", "found", "mediated", "resolved"],
               "properties": {
                   "unit_code": NULLABLE_STR, "unit_name": NULLABLE_STR,
                   "kind": {"type": "string", "enum": ["unit", "no_unit", "uncovered", "total",
                                                       "category", "source"]},
                   **{k: NULLABLE_STR for k in ("category", "source", "name_zh", "name_en",
                                                "parent_class")},
                   "households": {"type": "integer", "nullable": True},
                   **{k: INT for k in ("found", "mediated", "resolved", "overdue",
                                        "resolved_level_unknown",
                                        *(f"resolved_{lv}" for lv in HANDLING_LEVELS))},
                   **{k: NUM for k in ("resolution_rate", "median_hours_to_resolve",
                                        "per_1000_households",
                                        *(f"share_{lv}" for lv in HANDLING_LEVELS))}}}
ROOT = param("root", description="the root unit's code (a city, prefecture or province) whose "
             "active generation to read, where several are side by side; default: the "
             "account's own")
FILTER_PARAMS = [
    param("category", description="categories separated by commas (GET /categories lists "
           "them); 'dispute' for every dispute"),
    param("source", description="sources separated by commas, e.g. 12345,api"),
    param("severity", description="low, medium, high (commas for several)"),
    param("status", description="statuses separated by commas"),
    param("start", schema=DATE, description="YYYY-MM-DD, China time, inclusive"),
    param("end", schema=DATE, description="YYYY-MM-DD, China time, inclusive"),
    param("days", schema={"type": "integer", "minimum": 1, "maximum": 3660},
           description="the last N days up to today (instead of start/end)"),
    param("unit", schema={"type": "string", "pattern": r"^\d{12}(\d{3}){0,2}$"},
           description="a unit or grid code inside your jurisdiction"),
]
_LEGEND = {"type": "array", "items": {"type": "object", "properties": {
    "colour": {"type": "string"}, "label": {"type": "string"}}}}
_CACHED = {"result": {"type": "string", "nullable": True,
                      "description": "key of the stored result: /tiles/<layer>/{z}/{x}/{y}.mvt"
                                     "?result=<key> draws its values"},
           "cached": {"type": "boolean"}, "computed_s": {"type": "number"}}
OPENAPI_PATHS = {
    "/analysis/rates": {"get": op(
        "Incidents per unit at a level with the classes of a measure (the rates map); cached "
        "until incidents change",
        {"200": {"description": "OK", "content": {"application/json": {"schema": {
            "type": "object", "required": ["level", "measure", "rows", "legend", "result"],
            "properties": {
                "level": {"type": "string"}, "measure": {"type": "string"},
                "child": NULLABLE_STR, "up": {"type": "object", "nullable": True},
                "caption": {"type": "string"}, "legend": _LEGEND,
                "totals": {"type": "object"}, "units": INT, "incidents": INT,
                "rows": {"type": "array", "items": {"type": "object"}}, "rows_total": INT,
                "bounds": {"type": "array", "nullable": True, "items": {"type": "number"}},
                "as_of": {"type": "string"}, "filter": {"type": "string"}, **_CACHED}}}}}},
        params=[param("level", schema={"type": "string",
                                       "enum": ["township", "village", "hamlet", "grid"]}),
                param("measure", schema={"type": "string",
                                         "enum": ["rate", "count", "resolution", "overdue"]}),
                *FILTER_PARAMS, ROOT], tag="analysis")},
    "/analysis/hotspots": {"get": op(
        "Hot spots: kernel density bands, a heat-map sample, Getis-Ord Gi* per grid (analytic "
        "at once; inference=permutation runs 9,999 permutations in the background: 202 with "
        "its progress until done)",
        {"200": {"description": "OK", "content": {"application/json": {"schema": {
            "type": "object", "required": ["incidents", "method", "legend", "result"],
            "properties": {
                "incidents": INT, "grids": INT, "bandwidth_m": INT, "hot": INT,
                "method": {"type": "object", "nullable": True},
                "message": {"type": "object", "nullable": True}, "legend": _LEGEND,
                "hot_rows": {"type": "array", "items": {"type": "object"}},
                "density": {"type": "object"}, "heat": {"type": "object"},
                "refinement": {"type": "object"}, **_CACHED}}}}},
         "202": {"description": "The permutation refinement is being computed",
                 "content": {"application/json": {"schema": {
                     "type": "object", "required": ["state", "progress"], "properties": {
                         "state": {"type": "string",
                                   "enum": ["queued", "running", "done", "failed"]},
                         "progress": {"type": "number"}, "error": NULLABLE_STR,
                         "result": {"type": "string", "nullable": True},
                         "refinement": {"type": "object"}}}}}}},
        params=[param("bandwidth", schema={"type": "integer", "minimum": 50,
                                           "maximum": 20000}, description="metres"),
                param("inference", schema={"type": "string",
                                           "enum": ["analytic", "permutation"]}),
                *FILTER_PARAMS, ROOT], tag="analysis")},
    "/figures": {"get": op(
        "Resolution figures per unit: found, mediated, resolved, shares by level, median "
        "hours to resolve, overdue, per 1,000 households (format=csv: UTF-8 with BOM); "
        "by=category or by=source: the same per category or source (rows) instead of units",
        {"200": {"description": "OK", "content": {
            "application/json": {"schema": {
                "type": "object", "required": ["by", "total"], "properties": {
                    "level": {"type": "string"}, "by": {"type": "string", "enum": list(figures.BY)},
                    "filters": {"type": "object"}, "now": TIME,
                    "units": {"type": "array", "items": _FIGURE_ROW},
                    "rows": {"type": "array", "items": _FIGURE_ROW},
                    "total": _FIGURE_ROW}}},
            "text/csv": {"schema": {"type": "string"}}}}},
        params=[param("level", schema={"type": "string", "enum": list(figures.FIGURE_LEVELS)}),
                param("by", schema={"type": "string", "enum": list(figures.BY)},
                      description="unit (default), category or source"),
                *FILTER_PARAMS, ROOT,
                param("format", schema={"type": "string", "enum": ["json", "csv"]})],
        tag="analysis")},
}
