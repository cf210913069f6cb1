"""In-process assignment: agrees with an exact brute force, border rule, uncovered points."""
from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import box

from gis.geo.assign import UNCOVERED, GridIndex


def voronoi_grids(n, seed=0):
    rng = np.random.default_rng(seed)
    frame = box(125.0, 46.0, 125.5, 46.4)
    seeds = shapely.multipoints(np.column_stack([rng.uniform(125, 125.5, n),
                                                 rng.uniform(46, 46.4, n)]))
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame))
    return shapely.intersection(cells, frame)


def brute_force(geoms, codes, x, y):
    out = np.full(len(x), UNCOVERED)
    pts = shapely.points(x, y)
    order = np.argsort(codes)
    for i in order[::-1]:  # smallest code last, so it wins ties
        out[shapely.covers(geoms[i], pts)] = i
    return out


def test_matches_brute_force_on_random_and_vertex_points():
    geoms = voronoi_grids(300)
    codes = np.array([f"{c:06d}" for c in np.random.default_rng(1).permutation(300)])
    rng = np.random.default_rng(2)
    x = rng.uniform(124.95, 125.55, 20000)
    y = rng.uniform(45.95, 46.45, 20000)
    # every polygon vertex lies on a shared border or corner
    verts = shapely.get_coordinates(geoms)[:2000]
    x, y = np.concatenate([x, verts[:, 0]]), np.concatenate([y, verts[:, 1]])
    index = GridIndex(geoms, codes)
    got = index.assign(x, y)
    want = brute_force(geoms, codes, x, y)
    assert (got == want).all()
    assert (got == UNCOVERED).sum() > 0  # the margin outside the frame


def test_multipolygons_and_holes_match_brute_force():
    geoms = voronoi_grids(60, seed=5)
    multi = np.array([shapely.multipolygons([g]) for g in geoms[:-1]] +
                     [shapely.multipolygons([box(126.0, 46.0, 126.1, 46.1),
                                             box(126.2, 46.0, 126.3, 46.1)])])
    multi[0] = shapely.multipolygons([shapely.difference(geoms[0],
                                                         shapely.buffer(geoms[0].centroid, 0.005))])
    codes = np.array([f"{i:03d}" for i in range(len(multi))])
    rng = np.random.default_rng(4)
    x, y = rng.uniform(124.9, 126.4, 30000), rng.uniform(45.9, 46.5, 30000)
    assert (GridIndex(multi, codes).assign(x, y) == brute_force(multi, codes, x, y)).all()


def test_shared_border_goes_to_smallest_code():
    left, right = box(0, 0, 1, 1), box(1, 0, 2, 1)
    index = GridIndex([left, right], ["B2", "A1"])
    assert index.assign_one(1.0, 0.5) == 1
    index = GridIndex([left, right], ["A1", "B2"])
    assert index.assign_one(1.0, 0.5) == 0
    assert index.assign_one(0.5, 0.5) == 0 and index.assign_one(1.5, 0.5) == 1
    assert index.assign_one(3.0, 0.5) == UNCOVERED


def test_hole_is_uncovered():
    donut = box(0, 0, 4, 4).difference(box(1, 1, 3, 3))
    index = GridIndex([donut], ["A"])
    assert index.assign_one(2, 2) == UNCOVERED and index.assign_one(0.5, 0.5) == 0
    assert index.assign_one(1, 2) == 0  # on the hole's edge: covered


def test_empty_inputs():
    assert len(GridIndex([], []).assign([1.0], [2.0])) == 1
    assert GridIndex([box(0, 0, 1, 1)], ["A"]).assign([], []).shape == (0,)
