"""Road network: noding into edges and nodes, travel times, reachable roads and service areas.

Edges are undirected. `source` is the node at an edge geometry's first coordinate and `target`
the node at its last; cost_s is the travel time at the edge's speed. Node ids are 1..N.
node_costs is the in-process equivalent of pgRouting's pgr_drivingDistance on the same edges.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree
from shapely.ops import substring

from gis.coverage.shares import LINEAR_TYPES, geometry_array
from gis.errors import InputError

MIN_PIECE_M = 0.01


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    return frame[name].astype(object).where(frame[name].notna(), None).to_numpy()


def _cluster(points: np.ndarray, snap_m: float) -> np.ndarray:
    """Cluster label per point: points within snap_m of each other (chained) share a label."""
    if snap_m > 0:
        pairs = cKDTree(points).query_pairs(snap_m, output_type="ndarray")
        n = len(points)
        link = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        return csgraph.connected_components(link, directed=False)[1]
    return np.unique(points, axis=0, return_inverse=True)[1].ravel()


def build_network(lines: gpd.GeoDataFrame, speed_kmh,
                  snap_m: float = 0.5) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Node the roads at every crossing and shared vertex; return the (edges, nodes) of the network.

    The lines are unioned into pieces that meet only at their ends; each piece takes name, kind and
    speed from the original line nearest its midpoint. Piece ends closer than snap_m (chained)
    become one node, and the piece ends are moved onto that node, so the edges meet exactly.
    Pieces shorter than 0.01 m (MIN_PIECE_M) are dropped. Node ids are 1..N in order of first
    appearance.

    Parameters
    ----------
    lines : geopandas.GeoDataFrame
        Roads in a metric CRS (metres), with optional columns name and kind; rows that are not a
        LineString/MultiLineString of length > 0 are ignored.
    speed_kmh : array_like of float
        Speed of each row of `lines` in km/h; > 0 for every usable line.
    snap_m : float, default 0.5
        Distance in metres under which piece ends share a node, finite and >= 0 (0: only equal
        coordinates).

    Returns
    -------
    edges : geopandas.GeoDataFrame
        In the CRS of `lines`, one LineString per edge; columns geometry, source and target (ids
        of the nodes at its first and last coordinate), length_m (metres), speed_kmh (km/h),
        cost_s (seconds to travel it at its speed), name and kind (None when absent).
    nodes : geopandas.GeoDataFrame
        In the CRS of `lines`, columns id (int64, 1..N) and geometry (Point).

    Raises
    ------
    InputError
        Speeds that are not numbers or not one per line ("speed_kmh"), a usable line without a
        speed > 0 ("speed_kmh"; details list the row positions), a bad snap_m ("snap_m"), or no
        usable road line.
    """
    geoms = geometry_array(lines.geometry)
    try:
        speed = np.asarray(speed_kmh, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InputError("road speeds must be numbers (km/h)", field="speed_kmh") from None
    if len(speed) != len(geoms):
        raise InputError(f"{len(speed)} speeds for {len(geoms)} lines", field="speed_kmh")
    if not (np.isfinite(snap_m) and snap_m >= 0):
        raise InputError("snap_m must be >= 0", field="snap_m")
    usable = (np.isin(shapely.get_type_id(geoms), LINEAR_TYPES) & ~shapely.is_empty(geoms)
              & (np.nan_to_num(shapely.length(geoms)) > 0))
    bad_speed = np.flatnonzero(usable & ~(np.isfinite(speed) & (speed > 0))).tolist()
    if bad_speed:
        raise InputError("road speed must be a number of km/h > 0", field="speed_kmh",
                         details={"rows": bad_speed})
    if not usable.any():
        raise InputError("no usable road lines (LineString/MultiLineString with length > 0)")

    parts, owner = shapely.get_parts(geoms[usable], return_index=True)
    owner = np.flatnonzero(usable)[owner]
    keep = shapely.length(parts) > 0
    parts, owner = parts[keep], owner[keep]

    pieces = shapely.get_parts(shapely.union_all(parts))
    pieces = pieces[shapely.length(pieces) >= MIN_PIECE_M]
    if len(pieces) == 0:
        raise InputError("no usable road lines (all shorter than 0.01 m)")
    mid = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    _, nearest = shapely.STRtree(parts).query_nearest(mid, all_matches=False)
    src_line = owner[nearest]

    # Node the piece ends: ends within snap_m of each other (chained) share a node.
    first = shapely.get_coordinates(shapely.get_point(pieces, 0))
    last = shapely.get_coordinates(shapely.get_point(pieces, -1))
    ends = np.vstack([first, last])
    label = _cluster(ends, snap_m)
    _, first_member = np.unique(label, return_index=True)
    node_xy = ends[first_member]  # a node sits on the first end point of its cluster

    # Move each piece's end points onto its node, then drop pieces that collapsed.
    coords, ring = shapely.get_coordinates(pieces, return_index=True)
    n_coords = np.bincount(ring, minlength=len(pieces))
    start = np.concatenate([[0], np.cumsum(n_coords)[:-1]])
    m = len(pieces)
    coords[start] = node_xy[label[:m]]
    coords[start + n_coords - 1] = node_xy[label[m:]]
    snapped = shapely.linestrings(coords, indices=ring)
    length = shapely.length(snapped)
    keep = length >= MIN_PIECE_M
    source, target = label[:m][keep], label[m:][keep]

    # Renumber the nodes still in use 1..N, in order of first appearance.
    used, first_seen, inverse = np.unique(np.concatenate([source, target]), return_index=True,
                                          return_inverse=True)
    order = np.argsort(first_seen, kind="stable")
    rank = np.empty(len(used), dtype=np.int64)
    rank[order] = np.arange(1, len(used) + 1)
    ids = rank[inverse.ravel()]
    k = int(keep.sum())
    edge_speed = speed[src_line[keep]]
    edges = gpd.GeoDataFrame({
        "geometry": snapped[keep],
        "source": ids[:k],
        "target": ids[k:],
        "length_m": length[keep],
        "speed_kmh": edge_speed,
        "cost_s": length[keep] / (edge_speed / 3.6),
        "name": _column(lines, "name")[src_line[keep]],
        "kind": _column(lines, "kind")[src_line[keep]],
    }, geometry="geometry", crs=lines.crs)
    node_points = shapely.points(node_xy[used[order]])
    nodes = gpd.GeoDataFrame({"id": np.arange(1, len(used) + 1, dtype=np.int64)},
                             geometry=node_points, crs=lines.crs)
    return edges, nodes


def node_costs(edges: pd.DataFrame, start_nodes, limit_s: float) -> dict[int, dict[int, float]]:
    """Shortest travel times from start nodes over the undirected network (Dijkstra).

    The in-process equivalent of pgRouting's pgr_drivingDistance on the same edges: of parallel
    edges the cheapest counts, and loops are ignored.

    Parameters
    ----------
    edges : pandas.DataFrame
        Edges with columns source and target (node ids) and cost_s (seconds), as from
        `build_network`.
    start_nodes : int or array_like of int
        Ids of the nodes to start from.
    limit_s : float
        Longest travel time in seconds to report; a negative or NaN limit reaches nothing.

    Returns
    -------
    dict
        {start: {node: seconds}} for every node reached within limit_s, the start itself at 0.0;
        empty inner dicts for a negative or NaN limit, {} without start nodes.
    """
    starts = np.atleast_1d(np.asarray(start_nodes, dtype=np.int64))
    src = edges["source"].to_numpy(dtype=np.int64)
    dst = edges["target"].to_numpy(dtype=np.int64)
    cost = edges["cost_s"].to_numpy(dtype=float)
    size = int(max(src.max(initial=0), dst.max(initial=0), starts.max(initial=0))) + 1
    # Parallel edges: keep the cheapest (a sparse matrix would add them up).
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    keep = lo != hi
    pairs = pd.DataFrame({"lo": lo[keep], "hi": hi[keep], "cost": cost[keep]})
    pairs = pairs.groupby(["lo", "hi"], sort=False)["cost"].min().reset_index()
    graph = sparse.csr_matrix((pairs["cost"], (pairs["lo"], pairs["hi"])), shape=(size, size))
    if len(starts) == 0:
        return {}
    if not limit_s >= 0:
        return {s: {} for s in starts.tolist()}
    dist = csgraph.dijkstra(graph, directed=False, indices=starts, limit=limit_s)
    result = {}
    for s, row in zip(starts.tolist(), np.atleast_2d(dist)):
        reached = np.flatnonzero(row <= limit_s)
        result[s] = dict(zip(reached.tolist(), row[reached].tolist()))
    return result


def reachable_lines(edges: pd.DataFrame, cost_of_node, budget_s: float) -> np.ndarray:
    """LineStrings of every part of the network reachable within a travel-time budget.

    From each reached end u an edge is travelled (budget_s - cost[u]) / cost_s of its length; if
    both ends together cover it, or one end alone does, the whole edge is returned, otherwise the
    stretch reached from each end.

    Parameters
    ----------
    edges : geopandas.GeoDataFrame
        Edges with LineString geometry in metres and columns source, target, length_m (metres)
        and cost_s (seconds), as from `build_network`.
    cost_of_node : dict or callable
        Maps node id -> travel time in seconds to reach it (absent: unreachable), e.g. one inner
        dict of `node_costs`.
    budget_s : float
        Travel-time budget in seconds.

    Returns
    -------
    numpy.ndarray
        Object array of non-empty LineStrings in the CRS of `edges`: whole edges first, then the
        partly reached stretches.
    """
    geoms = geometry_array(edges.geometry)
    cost = edges["cost_s"].to_numpy(dtype=float)
    length = edges["length_m"].to_numpy(dtype=float)

    def remaining(col):
        at = edges[col].map(cost_of_node).to_numpy(dtype=float, na_value=np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = (budget_s - at) / cost
        return np.clip(np.nan_to_num(frac, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)

    from_source, from_target = remaining("source"), remaining("target")
    whole = from_source + from_target >= 1.0
    out = list(geoms[whole])
    for i in np.flatnonzero(~whole):
        if from_source[i] > 0:
            out.append(substring(geoms[i], 0.0, from_source[i] * length[i]))
        if from_target[i] > 0:
            out.append(substring(geoms[i], (1.0 - from_target[i]) * length[i], length[i]))
    out = np.array(out, dtype=object)
    if len(out) == 0:
        return out
    return out[(shapely.get_type_id(out) == 1) & (shapely.length(out) > 0)]


def service_area(lines, access_m: float, start=None):
    """Union of the lines buffered by access_m, plus a disc of access_m around start if given.

    Parameters
    ----------
    lines : geometry, array_like of geometries or None
        Reachable lines in metres; only their non-empty LineString parts count. None for none.
    access_m : float
        Buffer distance in metres either side of the lines and around start.
    start : shapely.Point, optional
        The post's position, in the same CRS.

    Returns
    -------
    shapely.Geometry
        The union of the buffers (Polygon or MultiPolygon, in the CRS of the input); an empty
        Polygon when there is nothing to buffer.
    """
    parts = shapely.get_parts(geometry_array([] if lines is None else lines))
    parts = parts[(shapely.get_type_id(parts) == 1) & ~shapely.is_empty(parts)]
    shapes = []
    if len(parts):
        shapes.append(shapely.buffer(shapely.multilinestrings(parts), access_m, quad_segs=16))
    if start is not None and not shapely.is_empty(start):
        shapes.append(shapely.buffer(start, access_m, quad_segs=16))
    if not shapes:
        return shapely.Polygon()
    return shapely.union_all(shapes)


def snap_to_node(nodes: gpd.GeoDataFrame, point, max_m: float) -> tuple[int | None, float]:
    """The node nearest a point, if it lies within max_m.

    Parameters
    ----------
    nodes : geopandas.GeoDataFrame
        Nodes with column id and Point geometries in metres.
    point : shapely.Point
        The point, in the same CRS.
    max_m : float
        Farthest distance in metres to snap to.

    Returns
    -------
    tuple of (int or None, float)
        (id of the nearest node, its distance in metres); (None, distance) when that node is
        farther than max_m, (None, inf) when there are no nodes.
    """
    if len(nodes) == 0:
        return None, float("inf")
    d = shapely.distance(geometry_array(nodes.geometry), point)
    i = int(np.nanargmin(d))
    dist = float(d[i])
    if dist > max_m:
        return None, dist
    return int(nodes["id"].iloc[i]), dist
