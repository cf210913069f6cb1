"""Assignment API: locate a point, submit incidents."""
from __future__ import annotations

import math

from flask import Blueprint, jsonify, request, url_for

from gis import service
from gis.errors import InputError, NotFound
from gis.incidents import convert_point
from gis.store import incidents as istore
from web import engine

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def float_arg(name: str) -> float:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        raise InputError(f"query parameter {name} is required", field=name)
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a number", field=name)
    if not math.isfinite(value):
        raise InputError(f"{name} must be finite", field=name)
    return value


@bp.get("/locate")
def locate():
    """Grid and units at a point: ?lon=..&lat=..&crs=EPSG:4326|EPSG:4490|GCJ02|BD09."""
    x, y = float_arg("lon"), float_arg("lat")
    lon, lat, crs = convert_point(x, y, request.args.get("crs"))
    with engine().connect() as conn:
        return jsonify(service.locate(conn, lon, lat, crs))


@bp.post("/incidents")
def post_incident():
    """Store a GeoJSON Feature as an incident; 201 with its assignment, 200 for a repeat."""
    body = request.get_json(silent=True)
    if body is None:
        raise InputError("request body is not valid JSON (send a GeoJSON Feature with "
                         "Content-Type: application/json)")
    with engine().begin() as conn:
        feature, created = service.submit_incident(conn, body, request.args.get("crs"))
    response = jsonify(feature)
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("api.get_incident", incident_id=feature["id"])
    return response


@bp.get("/incidents/<int:incident_id>")
def get_incident(incident_id: int):
    with engine().connect() as conn:
        row = istore.get(conn, incident_id)
        if row is None:
            raise NotFound(f"incident {incident_id} does not exist")
        return jsonify(service.incident_body(conn, row))
