"""Coverage assets for readers: cameras and police posts in or near the jurisdiction as GeoJSON,
and the road network in use."""
from __future__ import annotations

from gis.access.scope import Scope
from gis.coverage import inputs, report
from gis.store import coverage as cstore
from gis.store.db import Connection

POST_MARGIN_M = 5000


def _points_geojson(frame, props) -> dict:
    feats = []
    for r in frame.itertuples():
        feats.append({"type": "Feature", "id": r.external_id,
                      "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                      "properties": {k: report.plain(getattr(r, k)) for k in props}})
    return {"type": "FeatureCollection", "features": feats}


def _near(conn: Connection, scope: Scope):
    return None if scope.everything else report.context(conn, scope).extent


def cameras(conn: Connection, scope: Scope) -> dict:
    """Cameras in or within camera range of the jurisdiction (GeoJSON)."""
    cams = cstore.points_frame(conn, "camera", near=_near(conn, scope),
                               margin_m=inputs.MAX_RANGE_M)
    return _points_geojson(cams, ("name", "range_m", "direction_deg", "fov_deg", "synthetic"))


def posts(conn: Connection, scope: Scope) -> dict:
    """Police posts and patrol stations in or near the jurisdiction (GeoJSON), each with the
    method its response areas were computed with."""
    frame = cstore.points_frame(conn, "response_post", near=_near(conn, scope),
                                margin_m=POST_MARGIN_M)
    areas = cstore.response_areas_frame(conn)
    method = dict(zip(areas["post_id"], areas["method"]))
    frame["method"] = [method.get(i) for i in frame["id"]]
    return _points_geojson(frame, ("name", "kind", "method", "synthetic"))


def roads(conn: Connection) -> dict:
    network = cstore.road_network(conn)
    return {"network": network and {**network,
                                     "imported_at": network["imported_at"].isoformat()},
            "routing": "pgRouting" if cstore.has_pgrouting(conn) else "SciPy"}
