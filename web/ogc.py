"""OGC API - Features (Part 1: Core, GeoJSON) over the active boundary generation and incidents,
so that QGIS and other GIS clients can add the layers directly."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, jsonify, request, url_for

from gis.errors import InputError, NotFound
from gis.incidents import parse_time
from gis.store import boundaries as bstore
from gis.store import features
from web import engine
from web.api import not_visible
from web.auth import audit_event, principal, requires
from web.params import int_arg

bp = Blueprint("ogc", __name__, url_prefix="/api/v1")

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
            _link(url_for("ogc.landing", _external=True), "self"),
            _link(url_for("ogc.conformance", _external=True), "conformance"),
            _link(url_for("ogc.collections", _external=True), "data"),
        ],
    })


@bp.get("/conformance")
@requires("view")
def conformance():
    return jsonify({"conformsTo": CONFORMANCE})


def _collection_doc(conn, coll: features.Collection, gen_id):
    items_url = url_for("ogc.collection_items", collection_id=coll.id, _external=True)
    doc = {
        "id": coll.id,
        "title": f"{coll.title_zh} {coll.title_en}",
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link(url_for("ogc.collection", collection_id=coll.id, _external=True), "self"),
            _link(items_url, "items", "application/geo+json"),
        ],
    }
    bbox = features.extent(conn, coll, gen_id, principal().scope)
    if bbox:
        doc["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84}}
    return doc


def _get_collection(collection_id: str) -> features.Collection:
    coll = features.COLLECTIONS.get(collection_id)
    if coll is None:
        raise NotFound(f"collection {collection_id!r} does not exist; collections: "
                       f"{', '.join(features.COLLECTIONS)}")
    return coll


@bp.get("/collections")
@requires("view")
def collections():
    with engine().connect() as conn:
        gen = bstore.active_generation(conn)
        gen_id = gen["id"] if gen else None
        docs = [_collection_doc(conn, c, gen_id) for c in features.COLLECTIONS.values()]
    return jsonify({"links": [_link(url_for("ogc.collections", _external=True), "self")],
                    "collections": docs})


@bp.get("/collections/<collection_id>")
@requires("view")
def collection(collection_id):
    coll = _get_collection(collection_id)
    with engine().connect() as conn:
        gen = bstore.active_generation(conn)
        return jsonify(_collection_doc(conn, coll, gen["id"] if gen else None))


def parse_bbox(raw: str | None):
    if not raw:
        return None
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"bbox={raw!r}: expected minLon,minLat,maxLon,maxLat", field="bbox")
    if len(values) != 4:
        raise InputError("bbox takes 4 numbers: minLon,minLat,maxLon,maxLat", field="bbox")
    minx, miny, maxx, maxy = values
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InputError("bbox is outside lon -180..180, lat -90..90 or min > max", field="bbox")
    return minx, miny, maxx, maxy


def parse_datetime(raw: str | None) -> tuple[datetime | None, datetime | None]:
    """RFC 3339 instant or interval 'a/b', with '..' or '' for an open end."""
    if not raw:
        return None, None
    try:
        if "/" in raw:
            a, b = raw.split("/", 1)
            start = None if a in ("", "..") else parse_time(a, "datetime")
            end = None if b in ("", "..") else parse_time(b, "datetime")
            if start and end and start > end:
                raise InputError("datetime interval ends before it starts", field="datetime")
            return start, end
        t = parse_time(raw, "datetime")
        return t, t
    except InputError:
        raise
    except Exception as err:
        raise InputError(f"datetime={raw!r}: {err}", field="datetime")


@bp.get("/collections/<collection_id>/items")
@requires("view")
def collection_items(collection_id):
    coll = _get_collection(collection_id)
    limit = int_arg("limit", 100, 1, MAX_LIMIT)
    offset = int_arg("offset", 0, 0, 10**9)
    start, end = parse_datetime(request.args.get("datetime")) if coll.is_incidents else (None, None)
    with engine().connect() as conn:
        gen = bstore.active_generation(conn)
        query = features.ItemQuery(
            generation_id=gen["id"] if gen else None, scope=principal().scope, limit=limit,
            offset=offset,
            bbox=parse_bbox(request.args.get("bbox")), start=start, end=end,
            category=request.args.get("category") if coll.is_incidents else None)
        feats, matched = features.items(conn, coll, query)
    args = {k: v for k, v in request.args.items() if k not in ("offset",)}
    self_url = url_for("ogc.collection_items", collection_id=coll.id, _external=True,
                       **{**args, "offset": offset})
    links = [_link(self_url, "self", "application/geo+json"),
             _link(url_for("ogc.collection", collection_id=coll.id, _external=True),
                   "collection")]
    if offset + len(feats) < matched:
        links.append(_link(url_for("ogc.collection_items", collection_id=coll.id,
                                   _external=True, **{**args, "offset": offset + limit}),
                           "next", "application/geo+json"))
    if offset > 0:
        links.append(_link(url_for("ogc.collection_items", collection_id=coll.id,
                                   _external=True, **{**args, "offset": max(0, offset - limit)}),
                           "prev", "application/geo+json"))
    if coll.is_incidents and feats:  # incident records name people and places
        audit_event("export", f"collections/{coll.id}/items",
                    {"query": request.query_string.decode()[:500], "returned": len(feats)})
    body = {"type": "FeatureCollection", "features": feats, "numberMatched": matched,
            "numberReturned": len(feats), "timeStamp": datetime.now(timezone.utc).isoformat(),
            "links": links}
    response = jsonify(body)
    response.mimetype = "application/geo+json"
    return response


@bp.get("/collections/<collection_id>/items/<int:fid>")
@requires("view")
def collection_item(collection_id, fid):
    coll = _get_collection(collection_id)
    with engine().connect() as conn:
        gen = bstore.active_generation(conn)
        feat = features.item(conn, coll, fid, gen["id"] if gen else None, principal().scope)
    if feat is None:
        raise not_visible(f"{collection_id} item", fid)
    feat["links"] = [_link(request.base_url, "self", "application/geo+json")]
    response = jsonify(feat)
    response.mimetype = "application/geo+json"
    return response
