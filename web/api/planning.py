"""Draft plans (planners and administrators): drafts of one unit's grids, edits with undo/redo and
optimistic locking, live checks, proposals, comparison with the active generation, publishing,
import and export; boundary generations and re-assignment of past incidents.

Every answer carries grids as GeoJSON (EPSG:4326) for the map page; every save is in one
transaction with its audit event. Use cases: gis.planning (drafts, saving, review, publish)."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, jsonify, request

from gis.boundaries.generations import activate
from gis.boundaries.generations import list_generations as generations
from gis.planning import drafts, publish, review, saving
from web.auth import origin, principal, requires
from web.database import engine
from web.heavy import heavy
from web.downloads import attachment
from web.params import MAX_HOUSEHOLDS, json_object
from web.params import household_targets as targets
from web.spec import geojson_response, json_response, multipart, op, param
from web.uploads import received_file, upload, uploaded_name

bp = Blueprint("planning_api", __name__, url_prefix="/api/v1")
PLAN_SUFFIXES = (".gpkg", ".geojson", ".json", ".zip")


def _geo(body: dict):
    response = jsonify(body)
    response.mimetype = "application/geo+json"
    return response


# ---- drafts ----

@bp.get("/plans")
@requires("plan.edit")
def list_plans():
    """Drafts whose unit lies in the jurisdiction, newest first; ?status=open|published|..."""
    with engine().connect() as conn:
        found = drafts.list_drafts(conn, principal().scope, request.args.get("status") or None)
    return jsonify(plans=[d.to_dict() for d in found])


@bp.post("/plans")
@requires("plan.edit")
def create_plan():
    """A new draft: a copy of the active generation's grids in unit_code."""
    body = json_object()
    with engine().begin() as conn:
        draft = drafts.create_draft(conn, principal(), body, origin=origin())
        detail = drafts.draft_detail(conn, principal().scope, draft.id)
    return jsonify(detail.to_dict()), 201


@bp.post("/plans/imports")
@requires("plan.edit")
@upload
@heavy
def import_plan():
    """A plan file (GeoPackage, GeoJSON, or a zip of a Shapefile) as a new draft."""
    filename = uploaded_name()
    with received_file(PLAN_SUFFIXES) as path, engine().begin() as conn:
        result = drafts.import_draft(conn, principal(), path,
                                     name=request.form.get("name") or Path(filename).stem,
                                     note=request.form.get("note") or None,
                                     unit_code=request.form.get("unit_code") or None,
                                     crs=request.form.get("crs") or None, source=filename,
                                     origin=origin())
    return jsonify(result.to_dict()), 201


@bp.get("/plans/<int:plan_id>")
@requires("plan.edit")
def get_plan(plan_id: int):
    """The draft with its grids and leaf units as GeoJSON."""
    with engine().connect() as conn:
        return jsonify(drafts.draft_detail(conn, principal().scope, plan_id).to_dict())


@bp.get("/plans/<int:plan_id>/grids")
@requires("plan.edit")
def plan_grids(plan_id: int):
    with engine().connect() as conn:
        return _geo(drafts.draft_grids(conn, principal().scope, plan_id))


@bp.get("/plans/<int:plan_id>/history")
@requires("plan.edit")
def plan_history(plan_id: int):
    with engine().connect() as conn:
        return jsonify(drafts.history(conn, principal().scope, plan_id).to_dict())


@bp.post("/plans/<int:plan_id>/edits")
@requires("plan.edit")
def edit_plan(plan_id: int):
    """One edit, undo or redo, saved on the draft version sent (409 when stale)."""
    body = json_object()
    wanted = targets()
    with engine().begin() as conn:
        result = saving.save_edit(conn, principal(), plan_id, body, wanted, origin=origin())
    return jsonify(result.to_dict())


@bp.get("/plans/<int:plan_id>/checks")
@requires("plan.edit")
@heavy
def plan_checks(plan_id: int):
    wanted = targets()
    with engine().connect() as conn:
        return jsonify(review.checks(conn, principal().scope, plan_id, wanted).to_dict())


@bp.post("/plans/<int:plan_id>/proposals")
@requires("plan.edit")
@heavy
def plan_proposal(plan_id: int):
    """A proposal for a grid or leaf unit; the draft is not changed."""
    body = json_object()
    wanted = targets()
    with engine().connect() as conn:
        return jsonify(review.proposal(conn, principal().scope, plan_id, body,
                                       wanted).to_dict())


@bp.get("/plans/<int:plan_id>/compare")
@requires("plan.edit")
@heavy
def plan_compare(plan_id: int):
    wanted = targets()
    with engine().connect() as conn:
        return jsonify(review.compare(conn, principal().scope, plan_id, wanted).to_dict())


@bp.post("/plans/<int:plan_id>/publish")
@requires("plan.edit")
@heavy
def publish_plan(plan_id: int):
    body = json_object()
    with engine().begin() as conn:
        return jsonify(publish.publish(conn, principal(), plan_id, body,
                                       origin=origin()).to_dict())


@bp.get("/plans/<int:plan_id>/export")
@requires("plan.edit")
def export_plan(plan_id: int):
    """The draft's grids as GeoPackage (?format=gpkg) or GeoJSON (default)."""
    with engine().begin() as conn:
        download = drafts.export_draft(conn, principal(), plan_id, request.args.get("format"),
                                       origin=origin())
    return attachment(download)


# ---- generations ----

@bp.get("/generations")
@requires("view")
def list_generations():
    with engine().connect() as conn:
        return jsonify(generations=generations(conn))


@bp.post("/generations/<int:generation_id>/activate")
@requires("boundary.import")
def activate_generation(generation_id: int):
    """Make a stored generation the active one again (audited)."""
    with engine().begin() as conn:
        return jsonify(activate(conn, generation_id, actor=principal(), origin=origin()))


@bp.get("/generations/<int:generation_id>/export")
@requires("view")
@heavy
def export_generation(generation_id: int):
    """A generation (active or not) inside the jurisdiction: GeoPackage with every layer, or
    one layer (?layer=grid by default) as GeoJSON."""
    with engine().begin() as conn:
        download = drafts.export_generation(conn, principal(), generation_id,
                                            request.args.get("format"),
                                            request.args.get("layer"), origin=origin())
    return attachment(download)


@bp.post("/generations/<int:generation_id>/reassign-history")
@requires("boundary.import")
@heavy
def reassign_history(generation_id: int):
    """Assign past incidents under this generation (incident rows unchanged; idempotent)."""
    with engine().begin() as conn:
        return jsonify(publish.reassign_history(conn, principal(), generation_id,
                                                origin=origin()).to_dict())


# ---- OpenAPI ----

_INT = {"type": "integer"}
_STR = {"type": "string"}
_NSTR = {"type": "string", "nullable": True}
_NINT = {"type": "integer", "nullable": True}
_NUM = {"type": "number", "nullable": True}
_CODES = {"type": "array", "items": _STR}
GEOMETRY = {"type": "object", "required": ["type"], "properties": {"type": _STR}}
FEATURES = {"type": "object", "required": ["type", "features"], "properties": {
    "type": {"type": "string", "enum": ["FeatureCollection"]},
    "features": {"type": "array", "items": {
        "type": "object", "required": ["type", "geometry", "properties"], "properties": {
            "type": {"type": "string", "enum": ["Feature"]}, "id": _STR,
            "geometry": {"type": "object", "nullable": True}, "properties": {"type": "object"}}}}}}
DRAFT = {"type": "object", "required": ["id", "name", "unit_code", "status", "version"],
         "properties": {"id": _INT, "name": _STR, "note": _NSTR, "unit_code": _STR,
                        "unit_name": _NSTR, "unit_level": _NSTR,
                        "status": {"type": "string", "enum": list(drafts.STATUSES)},
                        "version": _INT, "base_generation_id": _INT,
                        "published_generation_id": _NINT, "author": _NSTR,
                        "grid_count": _INT, "undo_steps": _INT, "redo_steps": _INT,
                        "base_is_active": {"type": "boolean", "nullable": True},
                        "created_at": {"type": "string", "format": "date-time"},
                        "updated_at": {"type": "string", "format": "date-time"}}}
PROBLEM = {"type": "object", "required": ["rule", "severity", "code", "message"], "properties": {
    "rule": _STR, "severity": {"type": "string", "enum": ["error", "warning"]}, "code": _STR,
    "message": _STR, "lon": _NUM, "lat": _NUM}}
CHECK = {"type": "object", "required": ["ok", "errors", "warnings", "problems"], "properties": {
    "ok": {"type": "boolean"}, "errors": _INT, "warnings": _INT,
    "problems": {"type": "array", "items": PROBLEM}}}
METRICS = {"type": "object", "required": ["grids", "households_total"], "properties": {
    "grids": _INT, "households_total": _INT, "population_total": _INT,
    **{k: _NUM for k in ("households_min", "households_max", "households_mean",
                         "households_std", "households_within_range_share",
                         "compactness_mean", "compactness_min")}}}
TARGET_PARAMS = (
    param("min", schema={"type": "integer", "minimum": 0, "maximum": MAX_HOUSEHOLDS},
           description="smallest households per grid in the target range (default 300)"),
    param("max", schema={"type": "integer", "minimum": 0, "maximum": MAX_HOUSEHOLDS},
           description="largest households per grid in the target range (default 500)"))
PLAN_ID = param("plan_id", "path", _INT)
GENERATION_ID = param("generation_id", "path", _INT)
FORMAT = param("format", schema={"type": "string", "enum": list(drafts.FORMATS)},
                description="gpkg or geojson (default)")
DOWNLOAD = {"description": "The file", "content": {
    "application/geopackage+sqlite3": {"schema": {"type": "string", "format": "binary"}},
    "application/geo+json": {"schema": FEATURES}}}
DETAIL = {"type": "object", "required": ["draft", "grids", "units"], "properties": {
    "draft": DRAFT, "grids": FEATURES, "units": FEATURES}}
EDIT_BODY = {"type": "object", "required": ["op", "version"], "properties": {
    "op": {"type": "string", "enum": list(drafts.OPS)},
    "version": {**_INT, "description": "the draft version the edit is based on"},
    "code": {**_STR, "description": "the grid edited (split, reshape, move_area source, "
                                    "retire; accept_proposal: grid or leaf unit)"},
    "codes": {**_CODES, "description": "merge: the grids to merge"},
    "line": {**GEOMETRY, "description": "split_by_line: GeoJSON LineString"},
    "k": {**_INT, "minimum": 1, "maximum": drafts.MAX_K, "description": "split_equal, "
          "accept_proposal: number of parts"},
    "angle": {"type": "number", "description": "split_equal: direction of the cuts' normal"},
    "outline": {**GEOMETRY, "description": "reshape, add_grid: GeoJSON Polygon"},
    "area": {**GEOMETRY, "description": "move_area: GeoJSON Polygon of land to move"},
    "to": {**_STR, "description": "move_area: receiving grid; retire: optional receiver"},
    "parent_code": {**_STR, "description": "add_grid: leaf unit (default: by overlap)"},
    "name": {**_STR, "description": "add_grid: name of the new grid"},
    "unit": {**_STR, "description": "renumber: leaf unit (default all); accept_proposal: "
                                    "leaf unit instead of code"},
    "seed": {**_INT, "minimum": 0},
    "steps": {**_INT, "minimum": 1, "maximum": drafts.MAX_UNDO_STEPS,
              "description": "undo, redo: how many edits (default 1)"}}}
EDIT_RESULT = {"type": "object", "required": ["draft", "version", "op", "grids", "check",
                                              "metrics"], "properties": {
    "draft": DRAFT, "version": _INT, "op": _STR, "steps": _CODES, "added": _CODES,
    "removed": _CODES, "changed": _CODES, "grids": FEATURES, "check": CHECK,
    "metrics": METRICS, "targets": {"type": "object"}}}


def _body_schema(schema):
    return {"required": True, "content": {"application/json": {"schema": schema}}}


OPENAPI_PATHS = {
    "/plans": {
        "get": op("Draft plans in the jurisdiction", {"200": json_response({
            "type": "object", "required": ["plans"],
            "properties": {"plans": {"type": "array", "items": DRAFT}}})},
            params=[param("status", schema={"type": "string", "enum": list(drafts.STATUSES)})],
            tag="plans"),
        "post": op("Open a draft: a copy of the active generation's grids in a city, township "
                    "or village", {"201": json_response(DETAIL, "Created")},
                    body=_body_schema({"type": "object", "required": ["name", "unit_code"],
                                       "properties": {"name": _STR, "note": _STR,
                                                      "unit_code": {"type": "string",
                                                                    "pattern": r"^\d{12}$"}}}),
                    tag="plans")},
    "/plans/imports": {"post": op(
        "Import a plan file (GeoPackage, GeoJSON, zipped Shapefile) as a new draft",
        {"201": json_response({"type": "object", "required": ["draft", "ok", "problems"],
                       "properties": {"draft": DRAFT, "notes": _CODES, **CHECK["properties"]}},
                      "Created")},
        body=multipart({"name": _STR, "note": _STR, "unit_code": _STR, "crs": _STR}),
        tag="plans")},
    "/plans/{plan_id}": {"get": op("A draft with its grids and leaf units (GeoJSON)",
                                    {"200": json_response(DETAIL)}, params=[PLAN_ID], tag="plans")},
    "/plans/{plan_id}/grids": {"get": op("A draft's grids", {"200": geojson_response(FEATURES)},
                                          params=[PLAN_ID], tag="plans")},
    "/plans/{plan_id}/history": {"get": op("Saved versions of a draft", {"200": json_response({
        "type": "object", "required": ["draft", "saves"], "properties": {
            "draft": DRAFT, "saves": {"type": "array", "items": {
                "type": "object", "required": ["version", "action"], "properties": {
                    "version": _INT, "action": _STR, "op": _NSTR, "author": _NSTR,
                    "at": _STR, "summary": {"type": "object", "nullable": True}}}}}})},
        params=[PLAN_ID], tag="plans")},
    "/plans/{plan_id}/edits": {"post": op(
        "Edit a draft (or undo/redo) on the version sent; 409 with the changes since when "
        "stale", {"200": json_response(EDIT_RESULT)}, params=[PLAN_ID, *TARGET_PARAMS],
        body=_body_schema(EDIT_BODY), tag="plans")},
    "/plans/{plan_id}/checks": {"get": op("Full check of a draft, with metrics", {"200": json_response({
        "type": "object", "required": ["draft", "ok", "problems", "metrics"], "properties": {
            "draft": DRAFT, **CHECK["properties"], "problem_points": FEATURES,
            "metrics": METRICS, "targets": {"type": "object"}}})},
        params=[PLAN_ID, *TARGET_PARAMS], tag="plans")},
    "/plans/{plan_id}/proposals": {"post": op(
        "Propose balanced grids for a grid or leaf unit (the draft is not changed)",
        {"200": json_response({"type": "object", "required": ["grids", "k", "metrics", "check"],
                       "properties": {"draft": DRAFT, "code": _STR, "k": _INT, "blocks": _INT,
                                      "objective": {"type": "number"}, "added": _CODES,
                                      "removed": _CODES, "changed": _CODES, "grids": FEATURES,
                                      "replaced": FEATURES, "check": CHECK,
                                      "metrics": {"type": "object"},
                                      "targets": {"type": "object"}}})},
        params=[PLAN_ID, *TARGET_PARAMS],
        body=_body_schema({"type": "object", "properties": {
            "code": _STR, "unit": _STR, "k": {**_INT, "minimum": 1, "maximum": drafts.MAX_K},
            "seed": {**_INT, "minimum": 0}}}), tag="plans")},
    "/plans/{plan_id}/compare": {"get": op(
        "A draft against the active generation: changed grids, metrics, re-aggregation of "
        "past incidents", {"200": json_response({
            "type": "object", "required": ["changes", "before", "metrics", "incidents"],
            "properties": {"draft": DRAFT, "generation_id": _INT,
                           "counts": {"type": "object"}, "changes": FEATURES,
                           "before": FEATURES, "metrics": {"type": "object", "properties": {
                               "draft": METRICS, "active": METRICS,
                               "difference": {"type": "object"}}},
                           "incidents": {"type": "object", "required": ["total", "change_grid"],
                                         "properties": {"total": _INT, "change_grid": _INT,
                                                        "per_grid": {"type": "array"}}},
                           "targets": {"type": "object"}}})},
        params=[PLAN_ID, *TARGET_PARAMS], tag="plans")},
    "/plans/{plan_id}/publish": {"post": op(
        "Publish a draft as the new active generation (422 with the problems when it has "
        "check errors, 409 when stale)", {"200": json_response({
            "type": "object", "required": ["draft", "generation_id"], "properties": {
                "draft": DRAFT, "version": _INT, "generation_id": _INT,
                "previous_generation_id": _INT, "warnings": _INT}})},
        params=[PLAN_ID], body=_body_schema({"type": "object", "required": ["version"],
                                             "properties": {"version": _INT}}), tag="plans")},
    "/plans/{plan_id}/export": {"get": op("Download a draft", {"200": DOWNLOAD},
                                           params=[PLAN_ID, FORMAT], tag="plans")},
    "/generations": {"get": op("Boundary generations", {"200": json_response({
        "type": "object", "required": ["generations"], "properties": {
            "generations": {"type": "array", "items": {
                "type": "object", "required": ["id", "name", "is_active"], "properties": {
                    "id": _INT, "name": _STR, "note": _NSTR, "source": _NSTR,
                    "is_active": {"type": "boolean"}, "demo": {"type": "boolean"},
                    "created_at": _NSTR, "activated_at": _NSTR}}}}})}, tag="plans")},
    "/generations/{generation_id}/activate": {"post": op(
        "Make a stored generation the active one again (administrators; audited)",
        {"200": json_response({"type": "object", "required": ["generation", "changed"],
                               "properties": {"generation": {"type": "object"},
                                              "previous": _NINT,
                                              "changed": {"type": "boolean"}}})},
        params=[GENERATION_ID], tag="plans")},
    "/generations/{generation_id}/export": {"get": op(
        "Download a generation (active or not) inside the jurisdiction", {"200": DOWNLOAD},
        params=[GENERATION_ID, FORMAT, param("layer", schema={
            "type": "string", "enum": ["city", "township", "village", "hamlet", "grid"]})],
        tag="plans")},
    "/generations/{generation_id}/reassign-history": {"post": op(
        "Assign past incidents under a generation (administrators; idempotent)",
        {"200": json_response({"type": "object", "required": ["generation_id", "inserted", "assigned"],
                       "properties": {"generation_id": _INT, "generation_name": _STR,
                                      "considered": _INT, "inserted": _INT, "assigned": _INT,
                                      "uncovered": _INT}})},
        params=[GENERATION_ID], tag="plans")},
}
