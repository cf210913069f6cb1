"""Coverage API: grid staff (register, update, import), cameras, response posts and roads
(import, list), coverage figures per unit or grid (JSON or CSV) and coverage settings.

Reads are scoped like everything else: staff by their grids' codes, figures by the grids of the
jurisdiction; cameras and posts near it. Use cases: gis.coverage (imports, staff, assets,
report, settings)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from gis.boundaries.generations import view_scope
from gis.coverage import assets, imports, report, settings, staff, tabs
from gis.files import Download
from web.auth import origin, principal, requires
from web.database import engine
from web.heavy import heavy, heavy_section
from web.downloads import attachment
from web.params import int_arg, json_object
from web.spec import geojson_response, json_response, multipart, op, param
from web.uploads import received_file, upload, uploaded_name

bp = Blueprint("coverage_api", __name__, url_prefix="/api/v1")
POINT_SUFFIXES = (".csv", ".geojson", ".json")
ROAD_SUFFIXES = (".gpkg", ".geojson", ".json")


# ---- staff ----

@bp.get("/staff")
@requires("view")
def staff_list():
    """Staff with at least one grid in the jurisdiction; ?grid= and ?role= narrow it."""
    with engine().connect() as conn:
        rows = staff.list_staff(conn, principal().scope, grid=request.args.get("grid"),
                                role=request.args.get("role") or None,
                                limit=int_arg("limit", 1000, 1, 10000),
                                offset=int_arg("offset", 0, 0, 10**9))
    return jsonify(staff=rows)


@bp.post("/staff")
@requires("staff.manage")
def staff_create():
    """Register one grid head or worker; 409 when the external_id exists already."""
    body = json_object()
    with engine().begin() as conn:
        return jsonify(staff.register_staff(conn, principal(), body, origin=origin())), 201


@bp.get("/staff/<external_id>")
@requires("view")
def staff_get(external_id):
    with engine().connect() as conn:
        return jsonify(staff=staff.get_staff(conn, principal().scope, external_id))


@bp.put("/staff/<external_id>")
@requires("staff.manage")
def staff_put(external_id):
    """Replace one staff member's name, role, grids, phone and active flag (idempotent)."""
    body = json_object()
    with engine().begin() as conn:
        return jsonify(staff.replace_staff(conn, principal(), external_id, body,
                                           origin=origin()))


@bp.post("/staff/imports")
@requires("staff.manage")
@upload
@heavy
def staff_import():
    """Staff CSV (UTF-8 or GBK): all rows or none; upserts by external_id."""
    p = principal()
    with received_file((".csv",)) as path:
        result = imports.import_staff(engine(), path, scope=p.scope, actor=p, origin=origin(),
                                      filename=uploaded_name())
    return jsonify(result), 201 if result["inserted"] else 200


# ---- cameras, posts, roads ----

def _geojson(body: dict) -> Response:
    import json
    return Response(json.dumps(body, ensure_ascii=False), content_type="application/geo+json")


@bp.get("/cameras")
@requires("view")
def cameras_list():
    """Cameras in or near the jurisdiction (GeoJSON)."""
    with engine().connect() as conn:
        return _geojson(assets.cameras(conn, principal().scope))


@bp.get("/posts")
@requires("view")
def posts_list():
    """Police posts and patrol stations in or near the jurisdiction (GeoJSON), each with the
    method its response areas were computed with."""
    with engine().connect() as conn:
        return _geojson(assets.posts(conn, principal().scope))


def _points_import(fn):
    p = principal()
    with received_file(POINT_SUFFIXES) as path:
        result = fn(engine(), path, request.form.get("crs") or None, scope=p.scope, actor=p,
                    origin=origin(), filename=uploaded_name())
    return jsonify(result), 201 if result["inserted"] else 200


@bp.post("/cameras/imports")
@requires("coverage.manage")
@upload
@heavy
def cameras_import():
    """Cameras (CSV or GeoJSON points): all rows or none; upserts by external_id."""
    return _points_import(imports.import_cameras)


@bp.post("/posts/imports")
@requires("coverage.manage")
@upload
@heavy
def posts_import():
    """Police posts and patrol stations (CSV or GeoJSON points); recomputes response areas."""
    return _points_import(imports.import_posts)


@bp.post("/roads/imports")
@requires("coverage.manage")
@upload
@heavy
def roads_import():
    """Replace the road network (GeoPackage or GeoJSON lines); recomputes response areas."""
    with received_file(ROAD_SUFFIXES) as path:
        result = imports.import_roads(engine(), path, request.form.get("crs") or None,
                                      actor=principal(), origin=origin(),
                                      filename=uploaded_name())
    return jsonify(result), 201


@bp.get("/roads")
@requires("view")
def roads_summary():
    with engine().connect() as conn:
        return jsonify(assets.roads(conn))


# ---- figures and settings ----

@bp.get("/coverage/<theme>")
@requires("view")
@heavy
def coverage_table(theme):
    """Figures of one theme per township, village or grid; ?format=csv for a spreadsheet.
    Township and village tables come from the theme's cached map answer."""
    with engine().connect() as conn:  # the cache commits its reads; the audit commits here
        out = tabs.theme_table(conn, principal(), theme, request.args.get("level"),
                               request.args.get("format"), origin=origin())
        conn.commit()
    return attachment(out) if isinstance(out, Download) else jsonify(out)


@bp.get("/coverage/<theme>/map")
@requires("view")
def coverage_map(theme):
    """One coverage tab for its map page: figures, legend, notes, the ?level= table and the
    keys of the results tiles draw; cached by generation, jurisdiction and data version (only
    computing is heavy work)."""
    with engine().connect() as conn:
        scope = view_scope(conn, principal().scope, request.args.get("root"))
        return jsonify(tabs.answer(conn, scope, theme, request.args.get("level"),
                                   guard=heavy_section))


@bp.get("/coverage/settings")
@requires("view")
def settings_get():
    with engine().connect() as conn:
        return jsonify(settings.describe(conn))


@bp.put("/coverage/settings")
@requires("coverage.manage")
@heavy
def settings_put():
    """Change settings; response areas are recomputed when a speed or distance changes."""
    return jsonify(settings.update_settings(engine(), json_object(), actor=principal(),
                                            origin=origin()))


# ---- OpenAPI (merged into /api/v1/openapi.json by web.spec) ----

_STR = {"type": "string"}
_NSTR = {"type": "string", "nullable": True}
_NUM = {"type": "number", "nullable": True}
_STAFF = {"type": "object", "required": ["external_id", "name", "role", "grids"], "properties": {
    "external_id": _STR, "name": _STR,
    "role": {"type": "string", "enum": ["grid_head", "full_time", "part_time"]},
    "phone": _NSTR, "active": {"type": "boolean"}, "synthetic": {"type": "boolean"},
    "grids": {"type": "array", "items": _STR}}}
_STAFF_IN = {"type": "object", "required": ["external_id", "name", "role", "grids"],
             "additionalProperties": False, "properties": {
                 k: v for k, v in _STAFF["properties"].items() if k != "synthetic"}}
_COUNTS = {"type": "object", "required": ["rows", "inserted", "updated", "unchanged"],
           "properties": {"rows": {"type": "integer"}, "inserted": {"type": "integer"},
                          "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
                          "response_areas": {"type": "object"}}}
_SAVED = {"type": "object", "required": ["staff", "inserted", "updated"],
          "properties": {**_COUNTS["properties"], "staff": _STAFF}}
_POINTS = {"type": "object", "required": ["type", "features"], "properties": {
    "type": {"type": "string", "enum": ["FeatureCollection"]},
    "features": {"type": "array", "items": {"type": "object"}}}}
_EXTERNAL_ID = param("external_id", "path")
_SETTINGS = {"type": "object", "properties": {k: {"type": "number", "minimum": lo,
                                                  "maximum": hi}
                                              for k, (_d, lo, hi, _w) in settings.SETTINGS.items()},
             "additionalProperties": False}


def _json_body(schema):
    return {"required": True, "content": {"application/json": {"schema": schema}}}


OPENAPI_PATHS = {
    "/staff": {
        "get": op("Grid heads and workers with a grid in the jurisdiction", {"200": json_response({
            "type": "object", "required": ["staff"],
            "properties": {"staff": {"type": "array", "items": _STAFF}}})},
            params=[param("grid"), param("role", schema={"type": "string", "enum": [
                "grid_head", "full_time", "part_time"]}),
                param("limit", schema={"type": "integer", "minimum": 1, "maximum": 10000}),
                param("offset", schema={"type": "integer", "minimum": 0})], tag="coverage"),
        "post": op("Register a grid head or worker", {"201": json_response(_SAVED, "Created")},
                    body=_json_body(_STAFF_IN), tag="coverage")},
    "/staff/{external_id}": {
        "get": op("One staff member", {"200": json_response({"type": "object", "required": ["staff"],
                                                      "properties": {"staff": _STAFF}})},
                   params=[_EXTERNAL_ID], tag="coverage"),
        "put": op("Replace one staff member's fields and grids", {"200": json_response(_SAVED)},
                   params=[_EXTERNAL_ID], body=_json_body(_STAFF_IN), tag="coverage")},
    "/staff/imports": {"post": op("Import staff CSV (all rows or none)", {
        "200": json_response(_COUNTS), "201": json_response(_COUNTS, "Created")}, body=multipart({}),
        tag="coverage")},
    "/cameras": {"get": op("Cameras (GeoJSON)", {"200": geojson_response(_POINTS)}, tag="coverage")},
    "/cameras/imports": {"post": op("Import cameras, CSV or GeoJSON (all rows or none)", {
        "200": json_response(_COUNTS), "201": json_response(_COUNTS, "Created")},
        body=multipart({"crs": _STR}), tag="coverage")},
    "/posts": {"get": op("Police posts and patrol stations (GeoJSON)",
                          {"200": geojson_response(_POINTS)}, tag="coverage")},
    "/posts/imports": {"post": op("Import posts, CSV or GeoJSON; recomputes response areas", {
        "200": json_response(_COUNTS), "201": json_response(_COUNTS, "Created")},
        body=multipart({"crs": _STR}), tag="coverage")},
    "/roads": {"get": op("The loaded road network and routing engine", {"200": json_response({
        "type": "object", "required": ["routing"],
        "properties": {"network": {"type": "object", "nullable": True}, "routing": _STR}})},
        tag="coverage")},
    "/roads/imports": {"post": op("Replace the road network; recomputes response areas", {
        "201": json_response({"type": "object", "required": ["edges", "nodes"]}, "Created")},
        body=multipart({"crs": _STR}), tag="coverage")},
    "/coverage/{theme}": {"get": op(
        "Coverage figures per township, village or grid (JSON or CSV)", {"200": {
            "description": "OK", "content": {
                "application/json": {"schema": {"type": "object",
                                                "required": ["theme", "level", "rows"]}},
                "text/csv": {"schema": {"type": "string"}}}}},
        params=[param("theme", "path", {"type": "string", "enum": list(report.THEMES)}),
                param("level", schema={"type": "string", "enum": list(report.LEVELS)}),
                param("format", schema={"type": "string", "enum": ["json", "csv"]})],
        tag="coverage")},
    "/coverage/{theme}/map": {"get": op(
        "One coverage tab for its map page (figures, legend, table, result keys for tiles)",
        {"200": json_response({"type": "object", "required": [
            "theme", "level", "stats", "legend", "columns", "rows", "result", "villages"]})},
        params=[param("theme", "path", {"type": "string", "enum": list(report.THEMES)}),
                param("level", schema={"type": "string", "enum": list(tabs.UNIT_LEVELS)}),
                param("root", description="administrators: the root unit's code of the city "
                      "to show, where several are side by side")],
        tag="coverage")},
    "/coverage/settings": {
        "get": op("Coverage settings", {"200": json_response({"type": "object",
                                                       "required": ["settings"]})},
                   tag="coverage"),
        "put": op("Change coverage settings", {"200": json_response({"type": "object",
                                                              "required": ["settings"]})},
                   body=_json_body(_SETTINGS), tag="coverage")},
}
