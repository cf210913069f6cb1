"""Coverage API: grid staff (register, update, import), cameras, response posts and roads
(import, list), coverage figures per unit or grid (JSON or CSV) and coverage settings.

Reads are scoped like everything else: staff by their grids' codes, figures by the grids of the
jurisdiction; cameras and posts near it."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from flask import Blueprint, Response, jsonify, request

from gis import coverage_report as report
from gis import coverage_service as service
from gis.coverage import inputs
from gis.errors import InputError, NotFound, ValidationFailed
from gis.store import coverage as cstore
from web import UPLOAD_ENDPOINTS, engine
from web.auth import audit_event, principal, requires
from web.exports import frame_csv
from web.imports_api import _origin, _saved_upload
from web.openapi import _geojson, _json, _multipart, _op, _param
from web.params import int_arg, json_object

bp = Blueprint("coverage_api", __name__, url_prefix="/api/v1")
POINT_SUFFIXES = (".csv", ".geojson", ".json")
ROAD_SUFFIXES = (".gpkg", ".geojson", ".json")
STAFF_KEYS = {"external_id", "name", "role", "grids", "phone", "active"}


# ---- staff ----

@bp.get("/staff")
@requires("view")
def staff_list():
    """Staff with at least one grid in the jurisdiction; ?grid= and ?role= narrow it."""
    role = request.args.get("role") or None
    if role is not None and role not in inputs.STAFF_ROLES.values():
        raise InputError("role must be grid_head, full_time or part_time", field="role")
    with engine().connect() as conn:
        rows = cstore.list_staff(conn, principal().scope, grid_code=request.args.get("grid"),
                                 role=role, limit=int_arg("limit", 1000, 1, 10000),
                                 offset=int_arg("offset", 0, 0, 10**9))
    return jsonify(staff=[_staff_body(r) for r in rows])


def _staff_body(r: dict) -> dict:
    return {"external_id": r["external_id"], "name": r["name"], "role": r["role"],
            "phone": r["phone"], "active": r["active"], "synthetic": r["synthetic"],
            "grids": list(r["grids"])}


def _staff_frame(body: dict, external_id: str | None = None) -> pd.DataFrame:
    unknown = set(body) - STAFF_KEYS
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(sorted(unknown))}",
                         field=sorted(unknown)[0])
    if external_id is not None:
        if body.get("external_id", external_id) != external_id:
            raise InputError("external_id in the body differs from the URL", field="external_id")
        body = {**body, "external_id": external_id}
    for key in ("external_id", "name", "role"):
        if not isinstance(body.get(key), str):
            raise InputError(f"{key} is required (a string)", field=key)
    grids = body.get("grids")
    if not isinstance(grids, list) or not all(isinstance(g, str) for g in grids):
        raise InputError("grids must be a list of grid codes", field="grids")
    phone = body.get("phone")
    if phone is not None and not isinstance(phone, str):
        raise InputError("phone must be a string", field="phone")
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise InputError("active must be true or false", field="active")
    raw = pd.DataFrame([{"external_id": body["external_id"], "name": body["name"],
                         "role": body["role"], "grids": ";".join(grids), "phone": phone or "",
                         "active": "true" if active else "false"}])
    good, problems = inputs.check_staff(raw)
    if problems:
        p = problems[0]
        raise InputError(p["error"], details=[{k: v for k, v in q.items() if k != "row"}
                                               for q in problems])
    good["row"] = None
    return good


def _save_one(frame: pd.DataFrame) -> dict:
    p = principal()
    with engine().begin() as conn:
        counts = service.save_staff(conn, frame, scope=p.scope, actor=p, origin=_origin(),
                                    source=f"api:{frame['external_id'][0]}")
        body = cstore.staff_by_external_id(conn, [frame["external_id"][0]])
    return {**counts, "staff": _staff_body(body[frame["external_id"][0]])}


@bp.post("/staff")
@requires("staff.manage")
def staff_create():
    """Register one grid head or worker; 409 when the external_id exists already."""
    frame = _staff_frame(json_object())
    with engine().connect() as conn:
        existing = cstore.staff_in_scope(conn, principal().scope, frame["external_id"][0])
        if existing is None and cstore.staff_by_external_id(conn, [frame["external_id"][0]]):
            raise ValidationFailed("external_id is taken by a staff member outside your "
                                   "jurisdiction", field="external_id")
    if existing is not None:
        from gis.errors import Conflict
        raise Conflict(f"staff {frame['external_id'][0]!r} exists already; PUT "
                       f"/api/v1/staff/{frame['external_id'][0]} to change it",
                       details={"staff": _staff_body(existing)})
    return jsonify(_save_one(frame)), 201


def _visible_staff(external_id: str) -> dict:
    with engine().connect() as conn:
        found = cstore.staff_in_scope(conn, principal().scope, external_id)
    if found is None:
        raise NotFound(f"no staff member {external_id!r}")
    return found


@bp.get("/staff/<external_id>")
@requires("view")
def staff_get(external_id):
    return jsonify(staff=_staff_body(_visible_staff(external_id)))


@bp.put("/staff/<external_id>")
@requires("staff.manage")
def staff_put(external_id):
    """Replace one staff member's name, role, grids, phone and active flag (idempotent)."""
    frame = _staff_frame(json_object(), external_id)
    _visible_staff(external_id)
    return jsonify(_save_one(frame))


@bp.post("/staff/imports")
@requires("staff.manage")
def staff_import():
    """Staff CSV (UTF-8 or GBK): all rows or none; upserts by external_id."""
    p = principal()
    with tempfile.TemporaryDirectory(prefix="gridgis-upload-") as tmp:
        path = _saved_upload(Path(tmp), (".csv",))
        result = service.import_staff(engine(), path, scope=p.scope, actor=p,
                                      origin=_origin())
    return jsonify(result), 201 if result["inserted"] else 200


# ---- cameras, posts, roads ----

def _points_geojson(frame, props) -> dict:
    feats = []
    for r in frame.itertuples():
        feats.append({"type": "Feature", "id": r.external_id,
                      "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                      "properties": {k: report.plain(getattr(r, k)) for k in props}})
    return {"type": "FeatureCollection", "features": feats}



def _near():
    with engine().connect() as conn:
        if principal().scope.everything:
            return None
        return report.context(conn, principal().scope).extent


@bp.get("/cameras")
@requires("view")
def cameras_list():
    """Cameras in or near the jurisdiction (GeoJSON)."""
    near = _near()
    with engine().connect() as conn:
        cams = cstore.points_frame(conn, "camera", near=near, margin_m=inputs.MAX_RANGE_M)
    body = _points_geojson(cams, ("name", "range_m", "direction_deg", "fov_deg", "synthetic"))
    return Response(_dumps(body), content_type="application/geo+json")


@bp.get("/posts")
@requires("view")
def posts_list():
    """Police posts and patrol stations in or near the jurisdiction (GeoJSON), each with the
    method its response areas were computed with."""
    near = _near()
    with engine().connect() as conn:
        posts = cstore.points_frame(conn, "response_post", near=near, margin_m=5000)
        areas = cstore.response_areas_frame(conn)
    method = dict(zip(areas["post_id"], areas["method"]))
    posts["method"] = [method.get(i) for i in posts["id"]]
    body = _points_geojson(posts, ("name", "kind", "method", "synthetic"))
    return Response(_dumps(body), content_type="application/geo+json")


def _dumps(body) -> str:
    import json
    return json.dumps(body, ensure_ascii=False)


def _upload(fn, suffixes, **kwargs):
    p = principal()
    with tempfile.TemporaryDirectory(prefix="gridgis-upload-") as tmp:
        path = _saved_upload(Path(tmp), suffixes)
        return fn(engine(), path, request.form.get("crs") or None, actor=p, origin=_origin(),
                  **kwargs)


@bp.post("/cameras/imports")
@requires("coverage.manage")
def cameras_import():
    """Cameras (CSV or GeoJSON points): all rows or none; upserts by external_id."""
    result = _upload(service.import_cameras, POINT_SUFFIXES, scope=principal().scope)
    return jsonify(result), 201 if result["inserted"] else 200


@bp.post("/posts/imports")
@requires("coverage.manage")
def posts_import():
    """Police posts and patrol stations (CSV or GeoJSON points); recomputes response areas."""
    result = _upload(service.import_posts, POINT_SUFFIXES, scope=principal().scope)
    return jsonify(result), 201 if result["inserted"] else 200


@bp.post("/roads/imports")
@requires("coverage.manage")
def roads_import():
    """Replace the road network (GeoPackage or GeoJSON lines); recomputes response areas."""
    if not principal().scope.everything:
        raise InputError("the road network is city-wide: only an account for the whole city "
                         "may replace it")
    result = _upload(service.import_roads, ROAD_SUFFIXES)
    return jsonify(result), 201


@bp.get("/roads")
@requires("view")
def roads_summary():
    with engine().connect() as conn:
        network = cstore.road_network(conn)
        pgr = cstore.has_pgrouting(conn)
    return jsonify(network=network and {**network, "imported_at": network["imported_at"]
                                        .isoformat()}, routing="pgRouting" if pgr else "SciPy")


# ---- figures and settings ----

@bp.get("/coverage/<theme>")
@requires("view")
def coverage_table(theme):
    """Figures of one theme per township, village or grid; ?format=csv for a spreadsheet."""
    if theme not in report.THEMES:
        raise NotFound(f"no coverage theme {theme!r}; themes: {', '.join(report.THEMES)}")
    level = request.args.get("level", "township")
    if level not in report.LEVELS or (theme == "blind-spots" and level != "township"):
        allowed = "township" if theme == "blind-spots" else ", ".join(report.LEVELS)
        raise InputError(f"level must be {allowed}", field="level")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InputError("format must be json or csv", field="format")
    with engine().connect() as conn:
        ctx = report.context(conn, principal().scope)
        frame = report.table(conn, ctx, theme, level)
        settings = ctx.settings
    if fmt == "csv":
        audit_event("export", f"coverage/{theme}", {"format": "csv", "level": level})
        return frame_csv(frame, f"coverage-{theme}-{level}.csv")
    return jsonify(theme=theme, level=level, settings=settings, rows=report.records(frame))


@bp.get("/coverage/settings")
@requires("view")
def settings_get():
    with engine().connect() as conn:
        return jsonify(settings=cstore.settings(conn), described={
            k: {"default": d, "min": lo, "max": hi, "meaning": what}
            for k, (d, lo, hi, what) in cstore.SETTINGS.items()})


@bp.put("/coverage/settings")
@requires("coverage.manage")
def settings_put():
    """Change settings; response areas are recomputed when a speed or distance changes."""
    result = service.update_settings(engine(), json_object(), actor=principal(),
                                     origin=_origin())
    return jsonify(result)


UPLOAD_ENDPOINTS.update({"coverage_api.staff_import", "coverage_api.cameras_import",
                         "coverage_api.posts_import", "coverage_api.roads_import"})

# ---- OpenAPI (merged into /api/v1/openapi.json by web.openapi) ----

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
_EXTERNAL_ID = _param("external_id", "path")
_SETTINGS = {"type": "object", "properties": {k: {"type": "number", "minimum": lo,
                                                  "maximum": hi}
                                              for k, (_d, lo, hi, _w) in cstore.SETTINGS.items()},
             "additionalProperties": False}


def _json_body(schema):
    return {"required": True, "content": {"application/json": {"schema": schema}}}


OPENAPI_PATHS = {
    "/staff": {
        "get": _op("Grid heads and workers with a grid in the jurisdiction", {"200": _json({
            "type": "object", "required": ["staff"],
            "properties": {"staff": {"type": "array", "items": _STAFF}}})},
            params=[_param("grid"), _param("role", schema={"type": "string", "enum": [
                "grid_head", "full_time", "part_time"]}),
                _param("limit", schema={"type": "integer", "minimum": 1, "maximum": 10000}),
                _param("offset", schema={"type": "integer", "minimum": 0})], tag="coverage"),
        "post": _op("Register a grid head or worker", {"201": _json(_SAVED, "Created")},
                    body=_json_body(_STAFF_IN), tag="coverage")},
    "/staff/{external_id}": {
        "get": _op("One staff member", {"200": _json({"type": "object", "required": ["staff"],
                                                      "properties": {"staff": _STAFF}})},
                   params=[_EXTERNAL_ID], tag="coverage"),
        "put": _op("Replace one staff member's fields and grids", {"200": _json(_SAVED)},
                   params=[_EXTERNAL_ID], body=_json_body(_STAFF_IN), tag="coverage")},
    "/staff/imports": {"post": _op("Import staff CSV (all rows or none)", {
        "200": _json(_COUNTS), "201": _json(_COUNTS, "Created")}, body=_multipart({}),
        tag="coverage")},
    "/cameras": {"get": _op("Cameras (GeoJSON)", {"200": _geojson(_POINTS)}, tag="coverage")},
    "/cameras/imports": {"post": _op("Import cameras, CSV or GeoJSON (all rows or none)", {
        "200": _json(_COUNTS), "201": _json(_COUNTS, "Created")},
        body=_multipart({"crs": _STR}), tag="coverage")},
    "/posts": {"get": _op("Police posts and patrol stations (GeoJSON)",
                          {"200": _geojson(_POINTS)}, tag="coverage")},
    "/posts/imports": {"post": _op("Import posts, CSV or GeoJSON; recomputes response areas", {
        "200": _json(_COUNTS), "201": _json(_COUNTS, "Created")},
        body=_multipart({"crs": _STR}), tag="coverage")},
    "/roads": {"get": _op("The loaded road network and routing engine", {"200": _json({
        "type": "object", "required": ["routing"],
        "properties": {"network": {"type": "object", "nullable": True}, "routing": _STR}})},
        tag="coverage")},
    "/roads/imports": {"post": _op("Replace the road network; recomputes response areas", {
        "201": _json({"type": "object", "required": ["edges", "nodes"]}, "Created")},
        body=_multipart({"crs": _STR}), tag="coverage")},
    "/coverage/{theme}": {"get": _op(
        "Coverage figures per township, village or grid (JSON or CSV)", {"200": {
            "description": "OK", "content": {
                "application/json": {"schema": {"type": "object",
                                                "required": ["theme", "level", "rows"]}},
                "text/csv": {"schema": {"type": "string"}}}}},
        params=[_param("theme", "path", {"type": "string", "enum": list(report.THEMES)}),
                _param("level", schema={"type": "string", "enum": list(report.LEVELS)}),
                _param("format", schema={"type": "string", "enum": ["json", "csv"]})],
        tag="coverage")},
    "/coverage/settings": {
        "get": _op("Coverage settings", {"200": _json({"type": "object",
                                                       "required": ["settings"]})},
                   tag="coverage"),
        "put": _op("Change coverage settings", {"200": _json({"type": "object",
                                                              "required": ["settings"]})},
                   body=_json_body(_SETTINGS), tag="coverage")},
}
