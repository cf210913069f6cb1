"""Synthetic plans for tests and the benchmark: a village of Voronoi grids tiling a square, and
the timing of one planner edit plus its incremental check."""
from __future__ import annotations

import math
import statistics
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.planning.checks import check_edit, check_plan
from gis.planning.edits import split_by_line
from gis.planning.index import PlanIndex
from gis.planning.renumber import renumber


def synthetic_village(n_grids: int = 50, seed: int = 0, origin=(125.30, 46.40),
                      size_deg: float = 0.04, code: str = "231281101001"):
    """(plan, units): one village of about `n_grids` Voronoi grids over a square, exact tiling."""
    rng = np.random.default_rng(seed)
    x0, y0 = origin
    square = shapely.box(x0, y0, x0 + size_deg, y0 + size_deg)
    points = shapely.multipoints(rng.uniform([x0, y0], [x0 + size_deg, y0 + size_deg],
                                             size=(n_grids, 2)))
    cells = shapely.get_parts(shapely.voronoi_polygons(points, extend_to=square))
    cells = shapely.intersection(cells, square)
    hh = rng.integers(250, 550, size=len(cells))
    plan = gpd.GeoDataFrame({"code": [f"{code}{i + 1:03d}" for i in range(len(cells))],
                             "name": [f"网格{i + 1:03d}" for i in range(len(cells))],
                             "parent_code": code, "households": hh, "population": hh * 3},
                            geometry=cells, crs="EPSG:4326")
    units = gpd.GeoDataFrame({"code": [code], "name": ["村"]}, geometry=[square], crs="EPSG:4326")
    return renumber(plan)[0], units


def benchmark_edit_check(n_grids: int = 50, repeats: int = 30, seed: int = 0,
                         villages: int = 1) -> dict:
    """Time one edit plus its incremental check in a plan of `villages` villages of `n_grids`
    grids each (side by side).

    Each repeat splits a random grid by a random line through its centroid, updates the rtree
    index, runs check_edit, then undoes the edit. Full check_plan is timed for comparison.
    Times in milliseconds."""
    parts = [synthetic_village(n_grids, seed + v, origin=(125.0 + 0.04 * v, 46.40),
                               code=f"231281101{v + 1:03d}") for v in range(villages)]
    plan = gpd.GeoDataFrame(pd.concat([p for p, _ in parts], ignore_index=True), crs="EPSG:4326")
    units = gpd.GeoDataFrame(pd.concat([u for _, u in parts], ignore_index=True),
                             crs="EPSG:4326")
    index = PlanIndex.from_plan(plan)
    rng = np.random.default_rng(seed)
    edit_ms, check_ms, full_ms, scope = [], [], [], []
    check_plan(plan, units)  # warm caches (pyproj transformers)
    for _ in range(repeats):
        code = plan["code"].iat[int(rng.integers(len(plan)))]
        c = plan.loc[plan["code"] == code].geometry.values[0].centroid
        angle = rng.uniform(0, math.pi)
        d = 0.05
        line = shapely.LineString([(c.x - d * math.cos(angle), c.y - d * math.sin(angle)),
                                   (c.x + d * math.cos(angle), c.y + d * math.sin(angle))])
        t0 = time.perf_counter()
        edited, change = split_by_line(plan, code, line)
        t1 = time.perf_counter()
        index.apply(change)
        report = check_edit(edited, units, change, index)
        t2 = time.perf_counter()
        check_plan(edited, units)
        t3 = time.perf_counter()
        index.revert(change)
        edit_ms.append((t1 - t0) * 1000)
        check_ms.append((t2 - t1) * 1000)
        full_ms.append((t3 - t2) * 1000)
        scope.append(len(report.grids))

    def summary(values):
        values = sorted(values)
        return {"median": round(statistics.median(values), 2),
                "p95": round(values[min(len(values) - 1, int(0.95 * len(values)))], 2),
                "max": round(values[-1], 2)}

    return {"grids": len(plan), "villages": villages, "repeats": repeats,
            "edit_ms": summary(edit_ms), "incremental_check_ms": summary(check_ms),
            "full_check_ms": summary(full_ms),
            "grids_checked_median": statistics.median(scope)}
