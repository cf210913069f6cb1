"""Spatial weights between units (grids, villages, ...) for local statistics, via libpysal.

Kinds: "queen" (units sharing a border or a corner), "rook" (sharing a border), "distance"
(centroids within `distance_m` metres; default the smallest distance that gives every unit a
neighbour), "knn" (the `k` nearest centroids). Distances are metres in a transverse Mercator
centred on the units. Weights are binary; the W's ids are row positions 0..n-1.

Islands (units with no neighbour, e.g. an exclave under contiguity) are never given a neighbour
silently: islands="exclude" leaves them out of the test (the caller reports them as not
tested); islands="nearest" links each one both ways to the unit with the nearest centroid.
"""
from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
from libpysal.weights import KNN, DistanceBand, Queen, Rook, W, min_threshold_distance
from scipy.spatial import cKDTree

from gis.errors import InputError
from gis.geo.crs import STORAGE_CRS
from gis.geo.measure import local_metric_crs

KINDS = ("queen", "rook", "distance", "knn")
ISLAND_POLICIES = ("exclude", "nearest")


def metric_centroids(units: gpd.GeoDataFrame) -> np.ndarray:
    """Centroids of the units in metres, in a local transverse Mercator centred on their extent.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        The units; converted to EPSG:4326 first when they have a CRS, taken as EPSG:4326 lon/lat
        when they have none.

    Returns
    -------
    numpy.ndarray
        Float array of shape (n, 2): x (east) and y (north) in metres of each unit's centroid,
        in row order.
    """
    geoms = units.geometry if units.crs is None else units.geometry.to_crs(STORAGE_CRS)
    minx, miny, maxx, maxy = geoms.total_bounds
    projected = geoms.set_crs(STORAGE_CRS, allow_override=True).to_crs(
        local_metric_crs([minx, maxx], [miny, maxy]))
    c = projected.centroid
    return np.column_stack([c.x.to_numpy(), c.y.to_numpy()])


def _attach_islands(w: W, xy: np.ndarray) -> W:
    neighbours = {i: list(w.neighbors[i]) for i in w.id_order}
    _, nearest = cKDTree(xy).query(xy[w.islands], k=2)
    for island, j in zip(w.islands, nearest[:, 1]):
        j = int(j)
        if j not in neighbours[island]:
            neighbours[island].append(j)
            neighbours[j].append(island)
    return W(neighbours, id_order=w.id_order, silence_warnings=True)


def spatial_weights(units: gpd.GeoDataFrame, kind: str = "queen", *,
                    distance_m: float | None = None, k: int = 8,
                    islands: str = "exclude") -> tuple[W, dict]:
    """Binary spatial weights between the rows of `units`, and a JSON-ready description of them.

    Kinds: "queen" (units sharing a border or a corner), "rook" (sharing a border), "distance"
    (centroids within `distance_m` metres), "knn" (the `k` nearest centroids); centroid distances
    are metres in a local transverse Mercator (`metric_centroids`). The W's ids are the row
    positions 0..n-1 and its transform is "B" (binary).

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        At least two unit polygons, in EPSG:4326 (or without CRS, taken as lon/lat).
    kind : str, default "queen"
        "queen", "rook", "distance" or "knn" (case ignored).
    distance_m : float, optional
        Distance band in metres for "distance", > 0; default the smallest distance that gives
        every unit a neighbour.
    k : int, default 8
        Number of neighbours for "knn", from 1 to n - 1.
    islands : str, default "exclude"
        Units without neighbour: "exclude" leaves them islands (the caller reports them as not
        tested); "nearest" links each one both ways to the unit with the nearest centroid.

    Returns
    -------
    w : libpysal.weights.W
        The binary weights; ids are row positions.
    info : dict
        kind; distance_m (metres, rounded to 1 mm; "distance" only) or k ("knn" only); islands
        (the policy); island_rows (row positions still without neighbour); mean_neighbours.

    Raises
    ------
    InputError
        An unknown kind (field "weights") or islands policy ("islands"), fewer than two units
        ("units"), distance_m not a positive number of metres ("distance_m"), or k not an
        integer from 1 to n - 1 ("k").
    """
    kind = str(kind).lower()
    if kind not in KINDS:
        raise InputError(f"unknown weights {kind!r}; use one of {', '.join(KINDS)}",
                         field="weights")
    if islands not in ISLAND_POLICIES:
        raise InputError(f"islands must be one of {', '.join(ISLAND_POLICIES)}", field="islands")
    n = len(units)
    if n < 2:
        raise InputError("spatial weights need at least two units", field="units")
    info: dict = {"kind": kind}
    xy = metric_centroids(units)
    with warnings.catch_warnings():  # libpysal warns about islands/components; we report them
        warnings.simplefilter("ignore")
        if kind in ("queen", "rook"):
            frame = gpd.GeoDataFrame(geometry=units.geometry.reset_index(drop=True))
            builder = Queen if kind == "queen" else Rook
            w = builder.from_dataframe(frame, use_index=False, silence_warnings=True)
        elif kind == "distance":
            if distance_m is None:
                distance_m = float(min_threshold_distance(xy)) * (1 + 1e-9)
            elif not (math.isfinite(float(distance_m)) and float(distance_m) > 0):
                raise InputError("distance_m must be a positive number of metres",
                                 field="distance_m")
            w = DistanceBand.from_array(xy, threshold=float(distance_m), binary=True,
                                        silence_warnings=True)
            info["distance_m"] = round(float(distance_m), 3)
        else:
            if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k < n:
                raise InputError(f"k must be an integer from 1 to {n - 1}", field="k")
            w = KNN.from_array(xy, k=int(k), silence_warnings=True)
            info["k"] = int(k)
        if w.islands and islands == "nearest":
            w = _attach_islands(w, xy)
    w.transform = "B"
    info["islands"] = islands
    info["island_rows"] = [int(i) for i in w.islands]
    info["mean_neighbours"] = round(float(w.mean_neighbors), 3)
    return w, info
