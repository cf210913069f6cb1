"""Boundaries API: locate a point (grid and units, within the jurisdiction) and boundary-set
uploads (administrators)."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from flask import Blueprint, jsonify, request

from gis.boundaries.importing import import_boundaries as import_boundary_set
from gis.boundaries.locate import MAX_UNIT_QUERY, find_units
from gis.boundaries.locate import locate as locate_point
from gis.incidents.parse import convert_point
from web.auth import origin, principal, requires
from web.database import engine
from web.heavy import heavy
from web.params import float_arg, int_arg
from web.spec import FLAG, NUMBER, json_response, multipart, op, param, ref
from web.uploads import flag, received_file, upload, uploaded_name

bp = Blueprint("boundaries_api", __name__, url_prefix="/api/v1")
BOUNDARY_SUFFIXES = (".gpkg", ".geojson", ".json", ".zip")


@bp.get("/locate")
@requires("locate")
def locate():
    """Grid and units at a point: ?lon=..&lat=..&crs=EPSG:4326|EPSG:4490|GCJ02|BD09."""
    x, y = float_arg("lon"), float_arg("lat")
    lon, lat, crs = convert_point(x, y, request.args.get("crs"))
    with engine().connect() as conn:
        return jsonify(locate_point(conn, lon, lat, crs, scope=principal().scope))


@bp.get("/units")
@requires("view")
def units():
    """The unit picker: ?q= part of a name or the start of a code; units of the jurisdiction."""
    with engine().connect() as conn:
        return jsonify(find_units(conn, principal().scope, request.args.get("q"),
                                  limit=int_arg("limit", 20, 1, 100)))


@bp.post("/imports/boundaries")
@requires("boundary.import")
@upload
@heavy
def import_boundaries():
    """Boundary set (GeoPackage, or a zip of GeoJSON/Shapefile layers); validated, and written as
    the new active generation when commit=true."""
    commit = flag("commit")
    filename = uploaded_name()
    with received_file(BOUNDARY_SUFFIXES) as path:
        report = import_boundary_set(engine(), path, commit=commit,
                                     name=request.form.get("name") or Path(filename).stem,
                                     crs=request.form.get("crs") or None, repair=flag("repair"),
                                     actor=principal(), origin=origin(), filename=filename)
    body = asdict(report)
    return jsonify(body), 201 if report.committed else 200


OPENAPI_PATHS = {
    "/units": {"get": op(
        "Find units of your jurisdiction by name or code (the unit picker)",
        {"200": json_response({"type": "object", "required": ["units"], "properties": {
            "units": {"type": "array", "items": {"type": "object", "properties": {
                "code": {"type": "string"}, "name": {"type": "string"},
                "level": {"type": "string"}, "level_label": {"type": "string"},
                "parent_name": {"type": "string", "nullable": True}}}}}})},
        params=[param("q", schema={"type": "string", "minLength": 1,
                                   "maxLength": MAX_UNIT_QUERY}, required=True),
                param("limit", schema={"type": "integer", "minimum": 1, "maximum": 100})],
        tag="boundaries")},
    "/locate": {"get": op("Grid and units at a point", {"200": json_response(ref("Location"))},
                          params=[param("lon", schema=NUMBER, required=True),
                                  param("lat", schema=NUMBER, required=True),
                                  param("crs", description="EPSG:4326 (default), EPSG:4490, "
                                        "GCJ02, BD09 or EPSG:<code>")])},
    "/imports/boundaries": {"post": op(
        "Validate (and with commit=true publish) a boundary set (GeoPackage or zip)",
        {"200": json_response(ref("ImportReport")),
         "201": json_response(ref("ImportReport"), "Created")},
        body=multipart({"commit": FLAG, "repair": FLAG, "name": {"type": "string"},
                        "crs": {"type": "string"}}), tag="imports")},
}
