"""Vector tiles: GET /tiles/{layer}/{z}/{x}/{y}.mvt (Mapbox Vector Tile) for the map pages:
grids, cities, townships, villages, hamlets, incidents, uncovered incidents and the coverage
layers (gis.tiles.layers.LAYERS), inside the account's jurisdiction; ?g= a generation
(default the active one), ?result= a stored analysis result to carry, and the incident
filters. An unchanged tile answers 304 to If-None-Match
before it is built. Use cases: gis.tiles.layers."""
from __future__ import annotations

from flask import Blueprint, Response, request

from gis.tiles import layers
from web.auth import principal, requires
from web.database import engine

bp = Blueprint("tiles_api", __name__, url_prefix="/tiles")
MVT = "application/vnd.mapbox-vector-tile"


@bp.get("/<layer>/<int:z>/<int:x>/<int:y>.mvt")
@requires("view")
def tile(layer: str, z: int, x: int, y: int):
    actor = principal()
    with engine().connect() as conn:
        req = layers.prepare(conn, actor, layer, z, x, y, request.args)
        headers = {"ETag": f'"{req.etag}"', "Vary": "Cookie, Authorization",
                   "Cache-Control": f"private, max-age={req.max_age}"}
        if req.etag in request.if_none_match:
            return Response(status=304, headers=headers)
        data = layers.build(conn, actor, req, request.args)
    if not data:
        return Response(status=204, headers=headers)
    return Response(data, mimetype=MVT, headers=headers)


# Tiles live outside /api/v1 and are documented in the README (binary, not JSON).
OPENAPI_PATHS: dict = {}
