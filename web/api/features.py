"""OGC API - Features (Part 1: Core, GeoJSON) over the active boundary generation and incidents,
so that QGIS and other GIS clients can add the layers directly (use cases:
gis.features.collections)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, jsonify, request, url_for

from gis.features import collections as fc
from web.auth import origin, principal, requires
from web.database import engine
from web.params import int_arg
from web.spec import PAGING, geojson_response, json_response, op, param, ref

bp = Blueprint("features_api", __name__, url_prefix="/api/v1")

MAX_LIMIT = 10_000
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _link(href, rel, type_="application/json", title=None):
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


@bp.get("/")
@requires("view")
def landing():
    return jsonify({
        "title": "gridgis 网格化服务管理 API",
        "description": "Grids, four-level boundaries and incidents (OGC API - Features)",
        "links": [
            _link(url_for("features_api.landing", _external=True), "self"),
            _link(url_for("features_api.conformance", _external=True), "conformance"),
            _link(url_for("features_api.collections", _external=True), "data"),
        ],
    })


@bp.get("/conformance")
@requires("view")
def conformance():
    return jsonify({"conformsTo": CONFORMANCE})


def _collection_doc(coll: fc.Collection, bbox) -> dict:
    items_url = url_for("features_api.collection_items", collection_id=coll.id, _external=True)
    doc = {
        "id": coll.id,
        "title": f"{coll.title_zh} {coll.title_en}",
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link(url_for("features_api.collection", collection_id=coll.id, _external=True),
                  "self"),
            _link(items_url, "items", "application/geo+json"),
        ],
    }
    if bbox:
        doc["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84}}
    return doc


@bp.get("/collections")
@requires("view")
def collections():
    with engine().connect() as conn:
        boxes = fc.extents(conn, principal().scope, fc.COLLECTIONS)
    docs = [_collection_doc(fc.COLLECTIONS[c], box) for c, box in boxes.items()]
    return jsonify({"links": [_link(url_for("features_api.collections", _external=True),
                                    "self")],
                    "collections": docs})


@bp.get("/collections/<collection_id>")
@requires("view")
def collection(collection_id):
    coll = fc.get_collection(collection_id)
    with engine().connect() as conn:
        box = fc.collection_extent(conn, principal().scope, coll.id)
    return jsonify(_collection_doc(coll, box))


@bp.get("/collections/<collection_id>/items")
@requires("view")
def collection_items(collection_id):
    coll = fc.get_collection(collection_id)
    limit = int_arg("limit", 100, 1, MAX_LIMIT)
    offset = int_arg("offset", 0, 0, 10**9)
    with engine().begin() as conn:
        feats, matched = fc.items(conn, principal(), coll.id, limit=limit, offset=offset,
                                  bbox=request.args.get("bbox"),
                                  datetime_range=request.args.get("datetime"),
                                  category=request.args.get("category"),
                                  source=request.args.get("source"),
                                  query=request.query_string.decode(), origin=origin())
    args = {k: v for k, v in request.args.items() if k not in ("offset",)}
    self_url = url_for("features_api.collection_items", collection_id=coll.id, _external=True,
                       **{**args, "offset": offset})
    links = [_link(self_url, "self", "application/geo+json"),
             _link(url_for("features_api.collection", collection_id=coll.id, _external=True),
                   "collection")]
    if offset + len(feats) < matched:
        links.append(_link(url_for("features_api.collection_items", collection_id=coll.id,
                                   _external=True, **{**args, "offset": offset + limit}),
                           "next", "application/geo+json"))
    if offset > 0:
        links.append(_link(url_for("features_api.collection_items", collection_id=coll.id,
                                   _external=True, **{**args, "offset": max(0, offset - limit)}),
                           "prev", "application/geo+json"))
    body = {"type": "FeatureCollection", "features": feats, "numberMatched": matched,
            "numberReturned": len(feats), "timeStamp": datetime.now(timezone.utc).isoformat(),
            "links": links}
    response = jsonify(body)
    response.mimetype = "application/geo+json"
    return response


@bp.get("/collections/<collection_id>/items/<int:fid>")
@requires("view")
def collection_item(collection_id, fid):
    with engine().connect() as conn:
        feat = fc.item(conn, principal().scope, collection_id, fid)
    feat["links"] = [_link(request.base_url, "self", "application/geo+json")]
    response = jsonify(feat)
    response.mimetype = "application/geo+json"
    return response


COLLECTION_ID = param("collection_id", "path", {"type": "string", "enum": list(fc.COLLECTIONS)})
OPENAPI_PATHS = {
    "/": {"get": op("Landing page (OGC API - Features)", {"200": json_response({"type": "object"})},
                     tag="features")},
    "/conformance": {"get": op("Conformance classes", {"200": json_response({
        "type": "object", "required": ["conformsTo"],
        "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}}})},
        tag="features")},
    "/collections": {"get": op("Feature collections", {"200": json_response({
        "type": "object", "required": ["collections"],
        "properties": {"collections": {"type": "array", "items": {"type": "object"}}}})},
        tag="features")},
    "/collections/{collection_id}": {"get": op(
        "One collection", {"200": json_response({"type": "object", "required": ["id"]})},
        params=[COLLECTION_ID], tag="features")},
    "/collections/{collection_id}/items": {"get": op(
        "Features inside the jurisdiction", {"200": geojson_response(ref("FeatureCollection"))},
        params=[COLLECTION_ID, *PAGING,
                param("bbox", description="minLon,minLat,maxLon,maxLat"),
                param("datetime", description="RFC 3339 instant or interval a/b"),
                param("category", description="incidents: a category code (GET /categories "
                      "lists them)"),
                param("source", description="incidents: sources separated by commas")],
        tag="features")},
    "/collections/{collection_id}/items/{fid}": {"get": op(
        "One feature", {"200": geojson_response(ref("Feature"))},
        params=[COLLECTION_ID, param("fid", "path", {"type": "integer"})],
        tag="features")},
}
