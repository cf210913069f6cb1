"""In-process assignment: agrees with an exact brute force, border rule, uncovered points."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
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


# ---- the compiled engine (numba) and the shapely fallback, against geopandas.sjoin ----

ENGINES = ["numba", "shapely"]


def engine_index(geoms, codes, engine, **kw):
    if engine == "numba":
        pytest.importorskip("numba")
    index = GridIndex(geoms, codes, engine=engine, **kw)
    assert index.engine == engine
    return index


def sjoin_smallest_code(geoms, codes, x, y):
    """geopandas.sjoin (intersects: the closed polygon covers the point), then the smallest code
    among the grids a point matched."""
    codes = np.asarray(codes)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y))
    grids = gpd.GeoDataFrame({"code": codes}, geometry=list(geoms))
    joined = gpd.sjoin(points, grids, predicate="intersects", how="inner")
    rank = np.empty(len(codes), dtype=np.int64)
    rank[np.argsort(codes, kind="stable")] = np.arange(len(codes))
    best = np.full(len(x), len(codes))
    np.minimum.at(best, joined.index.to_numpy(), rank[joined["index_right"].to_numpy()])
    by_rank = np.argsort(codes, kind="stable")
    return np.where(best < len(codes), by_rank[np.minimum(best, len(codes) - 1)], UNCOVERED)


def edge_points(geoms, rng, n):
    """Midpoints and third points of polygon edges, and the vertices: on shared borders."""
    rings = shapely.get_rings(shapely.get_parts(geoms))
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    pick = rng.permutation(len(a))[:n]
    a, b = a[pick], b[pick]
    pts = np.concatenate([a, (a + b) / 2, a + (b - a) / 3])
    return pts[:, 0], pts[:, 1]


@pytest.mark.parametrize("engine", ENGINES)
def test_voronoi_agrees_with_sjoin_and_smallest_code(engine):
    geoms = voronoi_grids(400, seed=7)
    codes = np.array([f"G{c:05d}" for c in np.random.default_rng(8).permutation(400)])
    rng = np.random.default_rng(9)
    ex, ey = edge_points(geoms, rng, 3000)
    x = np.concatenate([rng.uniform(124.95, 125.55, 25000), ex, [np.nan, 125.2, np.nan]])
    y = np.concatenate([rng.uniform(45.95, 46.45, 25000), ey, [46.2, np.nan, np.nan]])
    index = engine_index(geoms, codes, engine)
    got = index.assign(x, y)   # > 20,000 points: the threaded path
    want = sjoin_smallest_code(geoms, codes, x, y)
    assert (got == want).all()
    assert (got[-3:] == UNCOVERED).all()
    small = np.concatenate([index.assign(x[i:i + 500], y[i:i + 500])
                            for i in range(0, len(x), 500)])  # the single-thread path
    assert (small == want).all()
    for i in rng.choice(len(x), 200, replace=False):
        assert index.assign_one(x[i], y[i]) == want[i]


def test_engines_agree():
    pytest.importorskip("numba")
    geoms = np.array([shapely.multipolygons([g]) for g in voronoi_grids(300, seed=3)])
    codes = np.array([f"{c:04d}" for c in np.random.default_rng(3).permutation(300)])
    rng = np.random.default_rng(4)
    ex, ey = edge_points(geoms, rng, 2000)
    x = np.concatenate([rng.uniform(124.9, 125.6, 20000), ex])
    y = np.concatenate([rng.uniform(45.9, 46.5, 20000), ey])
    fast = GridIndex(geoms, codes, engine="numba").assign(x, y)
    slow = GridIndex(geoms, codes, engine="shapely").assign(x, y)
    assert (fast == slow).all()
    assert GridIndex(geoms, codes).engine == "numba"   # the default when numba is there


@pytest.mark.parametrize("engine", ENGINES)
def test_corners_of_four_and_three_grids_and_diagonal_borders(engine):
    four = [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2), box(1, 1, 2, 2)]
    index = engine_index(four, ["C", "B", "D", "A"], engine)
    assert index.assign_one(1, 1) == 3                       # corner of four: smallest code
    assert index.assign_one(1, 0.5) == 1 and index.assign_one(0.5, 1) == 0   # B < C; C < D
    assert index.assign_one(1, 0) == 1 and index.assign_one(2, 2) == 3  # outer boundary
    assert index.assign_one(0, 0) == 0 and index.assign_one(2, 0) == 1
    assert index.assign_one(2 + 1e-12, 1) == UNCOVERED
    three = [box(0, 0, 2, 1), box(0, 1, 1, 2), box(1, 1, 2, 2)]
    index = engine_index(three, ["Z", "Y", "X"], engine)
    assert index.assign_one(1, 1) == 2                       # T-junction: X
    assert index.assign_one(0.5, 1) == 1 and index.assign_one(1.5, 1) == 2
    assert index.assign_one(1, 0.999) == 0
    # two triangles along a diagonal; points exactly on it in float64
    lower = shapely.Polygon([(0, 0), (1, 0), (1, 1)])
    upper = shapely.Polygon([(0, 0), (1, 1), (0, 1)])
    index = engine_index([lower, upper], ["L", "U"], engine)
    for t in (0.5, 0.25, 0.75, 0.125, 2 ** -30):
        assert index.assign_one(t, t) == 0
    assert index.assign_one(0.5, np.nextafter(0.5, 1)) == 1
    assert index.assign_one(0.5, np.nextafter(0.5, 0)) == 0
    index = engine_index([lower, upper], ["U", "L"], engine)
    assert index.assign_one(0.5, 0.5) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_holes_islands_and_multipolygons(engine):
    hole = box(1, 1, 3, 3)
    donut = box(0, 0, 4, 4).difference(hole)
    parts = shapely.multipolygons([box(5, 0, 6, 1), box(7, 0, 8, 1)])
    between = box(6, 0, 7, 1)
    index = engine_index([donut, hole, parts, between], ["B", "C", "M", "A"], engine)
    assert index.assign_one(2, 2) == 1                     # the island filling the hole
    assert index.assign_one(1, 2) == 0 and index.assign_one(3, 3) == 0   # ring: B < C
    assert index.assign_one(0.5, 0.5) == 0 and index.assign_one(4, 2) == 0
    assert index.assign_one(5.5, 0.5) == 2 and index.assign_one(7.5, 0.5) == 2
    assert index.assign_one(6.5, 0.5) == 3 and index.assign_one(6, 0.5) == 3  # A < M
    assert index.assign_one(4.5, 0.5) == UNCOVERED
    index = engine_index([donut, parts], ["B", "M"], engine)
    assert index.assign_one(2, 2) == UNCOVERED and index.assign_one(1.5, 1) == 0
    assert index.assign_one(6.5, 0.5) == UNCOVERED and index.assign_one(6, 0.5) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_nan_infinite_and_far_points_are_uncovered(engine):
    index = engine_index(voronoi_grids(50, seed=2), [f"{i:02d}" for i in range(50)], engine)
    x = np.array([np.nan, 125.2, np.inf, -np.inf, 125.2, 0.0, 1e300, 125.2])
    y = np.array([46.2, np.nan, 46.2, 46.2, np.inf, 0.0, 46.2, 46.2])
    got = index.assign(x, y)
    assert (got[:-1] == UNCOVERED).all() and got[-1] >= 0
    assert index.assign_one(np.nan, np.nan) == UNCOVERED


@pytest.mark.parametrize("engine", ENGINES)
def test_lattice_with_edges_on_cell_lines(engine):
    # unit squares whose edges fall exactly on the cell index's lines
    geoms = [box(i, j, i + 1, j + 1) for i in range(16) for j in range(16)]
    codes = [f"{c:03d}" for c in np.random.default_rng(5).permutation(256)]
    rng = np.random.default_rng(6)
    grid = np.arange(0, 16.5, 0.5)
    gx, gy = np.meshgrid(grid, grid)
    x = np.concatenate([gx.ravel(), rng.uniform(-1, 17, 5000), rng.integers(0, 17, 500) + 0.0])
    y = np.concatenate([gy.ravel(), rng.uniform(-1, 17, 5000), rng.uniform(0, 16, 500)])
    for per_grid in (1, 4, 64):
        index = engine_index(geoms, codes, engine, target_cells_per_grid=per_grid)
        assert (index.assign(x, y) == brute_force(np.array(geoms), np.array(codes), x, y)).all()


def test_other_geometry_types_use_the_shapely_engine():
    pytest.importorskip("numba")
    geoms = [shapely.GeometryCollection([box(0, 0, 1, 1)]), box(1, 0, 2, 1)]
    index = GridIndex(geoms, ["B", "A"])
    assert index.engine == "shapely"
    assert index.assign_one(0.5, 0.5) == 0 and index.assign_one(1, 0.5) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_and_empty_geometries(engine):
    geoms = [None, box(0, 0, 1, 1), shapely.Polygon(), box(1, 0, 2, 1)]
    index = engine_index(geoms, ["A", "C", "B", "D"], engine)
    assert index.assign_one(0.5, 0.5) == 1 and index.assign_one(1, 0.5) == 1
    assert index.assign_one(1.5, 0.5) == 3 and index.assign_one(3, 3) == UNCOVERED
    assert engine_index([None, shapely.Polygon()], ["A", "B"], engine).assign_one(0, 0) == UNCOVERED
