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
    """Cameras in or within camera range of the jurisdiction (GeoJSON).

    Parameters
    ----------
    conn : Connection
        Database connection.
    scope : Scope
        The jurisdiction; all cameras for a jurisdiction over everything.

    Returns
    -------
    dict
        GeoJSON FeatureCollection of Points (EPSG:4326 lon/lat) within MAX_RANGE_M (5 km) of the
        jurisdiction's bounding box; id the external_id, properties name, range_m (metres),
        direction_deg (compass degrees; None for all-round), fov_deg (degrees; None for
        all-round) and synthetic.

    Raises
    ------
    NotFound
        No active boundary generation (for a jurisdiction short of everything).
    InputError
        The active generation has no city outline (idem).
    """
    cams = cstore.points_frame(conn, "camera", near=_near(conn, scope),
                               margin_m=inputs.MAX_RANGE_M)
    return _points_geojson(cams, ("name", "range_m", "direction_deg", "fov_deg", "synthetic"))


def posts(conn: Connection, scope: Scope) -> dict:
    """Police posts and patrol stations in or near the jurisdiction (GeoJSON).

    Each with the method its response areas were computed with.

    Parameters
    ----------
    conn : Connection
        Database connection.
    scope : Scope
        The jurisdiction; all posts for a jurisdiction over everything.

    Returns
    -------
    dict
        GeoJSON FeatureCollection of Points (EPSG:4326 lon/lat) within POST_MARGIN_M (5,000 m)
        of the jurisdiction's bounding box; id the external_id, properties name, kind
        (police_post or patrol_station), method ("network", "buffer", or None before any
        computation) and synthetic.

    Raises
    ------
    NotFound
        No active boundary generation (for a jurisdiction short of everything).
    InputError
        The active generation has no city outline (idem).
    """
    frame = cstore.points_frame(conn, "response_post", near=_near(conn, scope),
                                margin_m=POST_MARGIN_M)
    areas = cstore.response_areas_frame(conn)
    method = dict(zip(areas["post_id"], areas["method"]))
    frame["method"] = [method.get(i) for i in frame["id"]]
    return _points_geojson(frame, ("name", "kind", "method", "synthetic"))


def roads(conn: Connection) -> dict:
    """The road network in use and the routing engine.

    Parameters
    ----------
    conn : Connection
        Database connection.

    Returns
    -------
    dict
        network: None without a road network, else source (file name), source_sha256,
        imported_at (ISO 8601), synthetic, edges, nodes and length_m (metres); routing:
        "pgRouting" when the extension is installed, else "SciPy".
    """
    network = cstore.road_network(conn)
    return {"network": network and {**network,
                                     "imported_at": network["imported_at"].isoformat()},
            "routing": "pgRouting" if cstore.has_pgrouting(conn) else "SciPy"}
