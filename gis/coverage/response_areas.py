"""Recomputing the 1/3/5-minute response areas of every police post and patrol station: along
the road network (pgRouting when installed, else SciPy's Dijkstra on the same graph) when a post
is within reach of it, otherwise a speed buffer."""
from __future__ import annotations

import geopandas as gpd

from gis.coverage import network, response
from gis.coverage.city import metric_crs
from gis.store import boundaries as bstore
from gis.store import coverage as cstore
from gis.store.db import Connection


def recompute_response_areas(conn: Connection, progress=None) -> dict:
    """Recompute 1/3/5-minute areas for every post and replace the stored ones.

    Along the road network when the post is within reach of it (a node within SNAP_M = 300 m;
    pgRouting when installed, else SciPy's Dijkstra on the same graph), otherwise a speed buffer;
    speed (km/h) and access distance (metres) come from the coverage settings. Computed in the
    active city's metric CRS, stored in EPSG:4326, in the caller's transaction.

    Parameters
    ----------
    conn : Connection
        Database connection.
    progress : callable, optional
        Called with 1 after each post.

    Returns
    -------
    dict
        posts (number of posts), areas (number of areas stored), network and buffer (number of
        posts per method).

    Raises
    ------
    NotFound
        No active boundary generation.
    InputError
        The active generation has no city outline.
    """
    gen = bstore.require_active_generation(conn)
    crs_m = metric_crs(conn, gen["id"])
    settings = cstore.settings(conn)
    speed, access = settings["buffer_speed_kmh"], settings["access_m"]
    posts = cstore.points_frame(conn, "response_post")
    edges = cstore.roads_frame(conn)
    engine_name = None
    if len(edges):
        edges = edges.to_crs(crs_m)
        nodes = cstore.nodes_frame(conn).to_crs(crs_m)
        use_pgr = cstore.has_pgrouting(conn)
        engine_name = "pgRouting pgr_drivingDistance" if use_pgr else "SciPy Dijkstra"
    posts_m = posts.to_crs(crs_m)
    budget_max = max(response.MINUTES) * 60
    areas, methods = [], {"network": 0, "buffer": 0}
    for i, post in enumerate(posts_m.itertuples()):
        x, y = post.geometry.x, post.geometry.y
        cache: dict = {}

        def costs(start, limit, _cache=cache):
            if start not in _cache:
                _cache[start] = (cstore.pgr_costs(conn, start, budget_max) if use_pgr else
                                 network.node_costs(edges, [start], budget_max)[start])
            return {n: c for n, c in _cache[start].items() if c <= limit}

        for minutes in response.MINUTES:
            geom, note, method = None, None, "buffer"
            if len(edges):
                geom, info = response.network_area(edges, nodes, x, y, minutes, costs,
                                                   speed_kmh=speed, access_m=access)
                if geom is not None:
                    method = "network"
                    note = (f"{engine_name}; start node {info.get('start_node')}, "
                            f"{info.get('approach_m', 0):.0f} m to the road")
                else:
                    note = (f"more than {response.SNAP_M:.0f} m from the road network: "
                            f"speed buffer at {speed:g} km/h")
            if geom is None:
                geom = response.speed_buffer(x, y, minutes, speed_kmh=speed)
                note = note or f"no road network loaded: speed buffer at {speed:g} km/h"
            areas.append({"post_id": int(post.id), "minutes": minutes, "method": method,
                          "note": note, "geom": geom})
        methods[method] += 1  # the same for each minute mark of a post
        if progress:
            progress(1)
    if areas:
        geoms = gpd.GeoSeries([a["geom"] for a in areas], crs=crs_m).to_crs("EPSG:4326")
        for a, g in zip(areas, geoms):
            a["geom"] = g
    cstore.replace_response_areas(conn, areas)
    return {"posts": len(posts), "areas": len(areas), **methods}


def post_count(engine) -> int:
    """How many posts a recomputation goes through (for a progress bar).

    Parameters
    ----------
    engine : Engine
        Database engine.

    Returns
    -------
    int
        Number of police posts and patrol stations.
    """
    with engine.connect() as conn:
        return len(cstore.points_frame(conn, "response_post"))
