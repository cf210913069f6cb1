"""Response areas of posts: plain speed buffers, or the roads reachable within a few minutes.

The database layer supplies node costs from pgRouting when it can; node_costs (gis.coverage.network)
computes the same in process.
"""
from __future__ import annotations

import shapely

from gis.coverage.network import reachable_lines, service_area, snap_to_node
from gis.errors import InputError

MINUTES = (1, 3, 5)
DEFAULT_SPEED_KMH = 30.0  # speed buffers and the off-network approach to the first node
ACCESS_M = 100.0  # the last stretch on foot, or across a street, from a reachable road
SNAP_M = 300.0  # farthest a post may be from the road network


def _check(minutes: float, speed_kmh: float) -> None:
    if not minutes > 0:
        raise InputError("minutes must be > 0", field="minutes")
    if not speed_kmh > 0:
        raise InputError("speed must be > 0 km/h", field="speed_kmh")


def speed_buffer(x: float, y: float, minutes: float,
                 speed_kmh: float = DEFAULT_SPEED_KMH) -> shapely.Polygon:
    """Disc of the distance covered in `minutes` at speed_kmh, centred on (x, y).

    Parameters
    ----------
    x, y : float
        Centre in metres of a projected CRS.
    minutes : float
        Travel time in minutes, > 0.
    speed_kmh : float, default DEFAULT_SPEED_KMH (30 km/h)
        Speed in km/h, > 0.

    Returns
    -------
    shapely.Polygon
        Disc (a 128-gon) of radius speed_kmh / 3.6 * 60 * minutes metres, in the CRS of (x, y).

    Raises
    ------
    InputError
        minutes not > 0 (field "minutes") or speed not > 0 ("speed_kmh").
    """
    _check(minutes, speed_kmh)
    return shapely.Point(x, y).buffer(speed_kmh / 3.6 * 60.0 * minutes, quad_segs=32)


def network_area(edges, nodes, x: float, y: float, minutes: float, cost_of_node_fn,
                 speed_kmh: float = DEFAULT_SPEED_KMH, access_m: float = ACCESS_M,
                 snap_m: float = SNAP_M) -> tuple[shapely.Geometry | None, dict]:
    """Area reachable from the post at (x, y) within `minutes` over the road network.

    The post goes to its nearest node at speed_kmh (that time comes off the budget), then along
    the roads. The area is the roads reached, buffered by access_m, plus a disc of access_m around
    the post (only that disc when the approach uses up the budget).

    Parameters
    ----------
    edges : geopandas.GeoDataFrame
        Road edges in a metric CRS, as for gis.coverage.network.reachable_lines.
    nodes : geopandas.GeoDataFrame
        Road nodes (id, Point geometry) in the same CRS.
    x, y : float
        The post's position in metres of that CRS.
    minutes : float
        Travel-time budget in minutes, > 0.
    cost_of_node_fn : callable
        cost_of_node_fn(start_node, limit_s) returns {node: seconds} for the nodes reached
        within limit_s seconds.
    speed_kmh : float, default DEFAULT_SPEED_KMH (30 km/h)
        Speed in km/h of the approach from the post to its nearest node, > 0.
    access_m : float, default ACCESS_M (100 m)
        Distance in metres either side of a reached road, and around the post, counted as reached.
    snap_m : float, default SNAP_M (300 m)
        Farthest distance in metres from the post to its start node.

    Returns
    -------
    area : shapely.Geometry or None
        The reachable area (Polygon or MultiPolygon in the metric CRS); None when no node lies
        within snap_m, so the caller can fall back to a speed buffer.
    info : dict
        start_node, approach_m (metres), approach_s and budget_s (seconds left for the roads);
        when area is None, reason and nearest_m (metres to the nearest node, inf without nodes).

    Raises
    ------
    InputError
        minutes not > 0 (field "minutes") or speed not > 0 ("speed_kmh").
    """
    _check(minutes, speed_kmh)
    post = shapely.Point(x, y)
    start, approach_m = snap_to_node(nodes, post, snap_m)
    if start is None:
        return None, {"reason": f"no road node within {snap_m:g} m", "nearest_m": approach_m}
    approach_s = approach_m / (speed_kmh / 3.6)
    budget_s = minutes * 60.0 - approach_s
    info = {"start_node": start, "approach_m": approach_m, "approach_s": approach_s,
            "budget_s": budget_s}
    if budget_s <= 0:
        return service_area([], access_m, start=post), info
    costs = cost_of_node_fn(start, budget_s)
    return service_area(reachable_lines(edges, costs, budget_s), access_m, start=post), info
