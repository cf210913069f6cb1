"""Assignment API: locate a point, submit and read incidents (all within the jurisdiction)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from gis import service
from gis.errors import Forbidden, InputError, NotFound
from gis.incidents import convert_point
from gis.store import incidents as istore
from web import engine
from web.auth import audit_event, principal, requires
from web.params import float_arg

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def not_visible(kind: str, ident) -> Exception:
    """404 for accounts that see everything; for scoped accounts the same 403 whether or not the
    record exists elsewhere."""
    if principal().scope.everything:
        return NotFound(f"{kind} {ident} does not exist")
    return Forbidden(f"{kind} {ident} is not within your jurisdiction")


@bp.get("/locate")
@requires("locate")
def locate():
    """Grid and units at a point: ?lon=..&lat=..&crs=EPSG:4326|EPSG:4490|GCJ02|BD09."""
    x, y = float_arg("lon"), float_arg("lat")
    lon, lat, crs = convert_point(x, y, request.args.get("crs"))
    with engine().connect() as conn:
        return jsonify(service.locate(conn, lon, lat, crs, scope=principal().scope))


@bp.post("/incidents")
@requires("incident.create")
def post_incident():
    """Store a GeoJSON Feature as an incident; 201 with its assignment, 200 for a repeat."""
    body = request.get_json(silent=True)
    if body is None:
        raise InputError("request body is not valid JSON (send a GeoJSON Feature with "
                         "Content-Type: application/json)")
    with engine().begin() as conn:
        feature, created = service.submit_incident(conn, body, request.args.get("crs"),
                                                   scope=principal().scope)
        if created:
            audit_event("incident_create", f"incident/{feature['id']}",
                        {"external_id": feature["properties"]["external_id"],
                         "grid_code": feature["properties"]["grid_code"]}, conn=conn)
    response = jsonify(feature)
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("api.get_incident", incident_id=feature["id"])
    return response


@bp.get("/incidents/<int:incident_id>")
@requires("incident.read")
def get_incident(incident_id: int):
    with engine().connect() as conn:
        row = istore.get(conn, incident_id, scope=principal().scope)
        if row is None:
            raise not_visible("incident", incident_id)
        return jsonify(service.incident_body(conn, row))
