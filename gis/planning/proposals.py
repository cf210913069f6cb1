"""Partition proposals: divide an overloaded grid, or a whole leaf unit, into grids of balanced
households within the target range, inside the unit's borders.

Method
1. Area. A grid code: that grid's land, replaced by the proposal. A leaf unit code: the unit's
   whole outline; all its grids are replaced and the new ones numbered by gis.planning.renumber.
2. Building blocks. Leaf units are the smallest units grids may not cross (a hamlet is itself a
   leaf unit), so the blocks are a square tessellation clipped to the area, each block one
   polygon, about `blocks_per_grid` blocks per proposed grid (at most `max_blocks`). Each block
   gets households apportioned by area from the current grids it overlaps.
3. Grid count k: given, or grid_count(): among the counts whose mean load lies in the target
   range, the one whose mean is nearest the middle of the range (when none is, the count
   whose mean is nearest the middle).
4. Regions, with spopt over rook contiguity of the blocks (libpysal): RegionKMeansHeuristic on
   block centres gives a compact contiguous start; AZP then moves blocks between neighbouring
   regions, keeping each region contiguous, to minimise BalanceObjective: the squared relative
   deviation of each region's households from total/k, plus a small term for the length of
   border between regions (short borders: compact grids with smooth outlines). `restarts`
   seeds are tried and the lowest objective kept.
5. Grids. Blocks are dissolved per region; households and population are re-apportioned from
   the current grids by area share (gis.planning.edits.redraw), so totals are preserved exactly.

The result is a plan and a gis.planning.edits.Change like any edit. Same input and seed, same
proposal: spopt's random draws are seeded (AZP seeds Python's global `random`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from libpysal.graph import Graph
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from spopt.region import AZP, RegionKMeansHeuristic
from spopt.region.objective_function import ObjectiveFunction

from gis.errors import InputError, UnprocessableError
from gis.geo.measure import area_m2, length_m
from gis.planning.checks import DEFAULT_TARGETS, Targets
from gis.planning.edits import Change, polygonal, redraw, split_into
from gis.planning.renumber import reading_order

M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0


@dataclass(frozen=True)
class Proposal:
    plan: gpd.GeoDataFrame
    change: Change
    k: int
    blocks: int
    objective: float


def grid_count(households: int, targets: Targets = DEFAULT_TARGETS) -> int:
    """How many grids to divide `households` into (see module docstring, step 3)."""
    lo, hi = targets.households_min, targets.households_max
    if households <= hi:
        return 1
    mid = (lo + hi) / 2
    feasible = range(math.ceil(households / hi), math.floor(households / lo) + 1)
    if len(feasible):
        return min(feasible, key=lambda k: (abs(households / k - mid), k))
    return max(1, round(households / mid))


class BalanceObjective(ObjectiveFunction):
    """Objective for spopt AZP over blocks (attribute column 0: households): the sum over regions
    of ((H - target) / target)², plus border_weight * (length of border between regions) /
    scale_m, with `borders` the sparse matrix of border lengths (m) between neighbouring blocks.
    The border term keeps grids compact and their outlines short."""

    def __init__(self, target: float, borders, scale_m: float, border_weight: float = 0.03):
        super().__init__()
        self.target = target
        self.borders = borders.tocsr()
        self.border_weight = border_weight / scale_m

    def _balance(self, households: float) -> float:
        return ((households - self.target) / self.target) ** 2

    def __call__(self, labels, attr):
        labels = np.asarray(labels)
        balance = sum(self._balance(attr[labels == r, 0].sum()) for r in np.unique(labels))
        coo = self.borders.tocoo()
        cut = coo.data[labels[coo.row] != labels[coo.col]].sum() / 2
        return float(balance + self.border_weight * cut)

    def update(self, moving_area, recipient_region, labels, attr):
        donor = labels[moving_area]
        h = attr[moving_area, 0]
        h_donor = attr[labels == donor, 0].sum()
        h_recipient = attr[labels == recipient_region, 0].sum()
        balance = (self._balance(h_donor - h) + self._balance(h_recipient + h)
                   - self._balance(h_donor) - self._balance(h_recipient))
        row = self.borders.getrow(moving_area)
        near = labels[row.indices]
        # Border with the donor becomes cut, border with the recipient stops being cut.
        cut = row.data[near == donor].sum() - row.data[near == recipient_region].sum()
        return float(balance + self.border_weight * cut)


def propose(plan: gpd.GeoDataFrame, units: gpd.GeoDataFrame, code: str,
            targets: Targets = DEFAULT_TARGETS, k: int | None = None, seed: int = 0,
            blocks_per_grid: int = 20, max_blocks: int = 400, restarts: int = 2) -> Proposal:
    """Propose grids for grid `code` or leaf unit `code` (see module docstring)."""
    unit_codes = set(units["code"].astype(str))
    if code in unit_codes:
        replaced = plan[plan["parent_code"] == code]
        area = units.loc[units["code"] == code].geometry.values[0]
    else:
        replaced = plan[plan["code"] == code]
        if len(replaced) != 1:
            raise UnprocessableError(f"{code} is neither a grid of the plan nor a leaf unit",
                                     field="code", details={"code": code})
        area = replaced.geometry.values[0]
    households = int(replaced["households"].sum())
    if k is None:
        k = grid_count(households, targets)
    elif isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError("k must be a whole number >= 1", field="k")
    n_cells = min(max_blocks, max(k * blocks_per_grid, 1))
    blocks = tessellate(area, n_cells)
    if k > len(blocks):
        raise UnprocessableError(f"{code} is too small for {k} grids", field="k",
                                 details={"code": code})
    weights = _block_households(blocks, replaced)
    labels, objective = _regions(blocks, weights, k, seed, restarts)
    pieces = [polygonal(shapely.union_all(blocks[labels == r])) for r in range(k)]
    pieces = [pieces[i] for i in reading_order(pieces, [""] * k)]
    if code in unit_codes:
        geoms = {c: None for c in replaced["code"]}
        new = {}
        for n, piece in enumerate(pieces):
            new_code = f"{code}{n + 1:03d}"
            geoms[new_code] = piece
            new[new_code] = {"name": f"网格{n + 1:03d}", "parent_code": code}
        new_plan, change = redraw(plan, geoms, op="propose", new_grids=new)
    else:
        new_plan, change = split_into(plan, code, pieces, op="propose")
    return Proposal(new_plan, change, k, len(blocks), objective)


def tessellate(area, n_cells: int) -> np.ndarray:
    """Square cells of equal size in metres (about `n_cells` of them) clipped to `area`, split
    into single polygons. Cells are built on one lattice in lon/lat so neighbours share edges."""
    minx, miny, maxx, maxy = area.bounds
    lat = (miny + maxy) / 2
    side_m = math.sqrt(float(area_m2(area)[0]) / n_cells)
    dx = side_m / (M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat)))
    dy = side_m / M_PER_DEG_LAT
    xs = minx + dx * np.arange(math.ceil((maxx - minx) / dx) + 1)
    ys = miny + dy * np.arange(math.ceil((maxy - miny) / dy) + 1)
    gx, gy = np.meshgrid(xs[:-1], ys[:-1])
    gx2, gy2 = np.meshgrid(xs[1:], ys[1:])
    cells = shapely.box(gx.ravel(), gy.ravel(), gx2.ravel(), gy2.ravel())
    cells = cells[shapely.intersects(cells, area)]
    parts = shapely.get_parts(shapely.intersection(cells, area))
    parts = parts[shapely.get_type_id(parts) == 3]
    return parts[area_m2(parts) > 1e-6 * side_m * side_m]


def _block_households(blocks, grids) -> np.ndarray:
    out = np.zeros(len(blocks))
    tree = shapely.STRtree(blocks)
    for geom, hh in zip(grids.geometry.values, grids["households"].astype(float)):
        hit = tree.query(geom, predicate="intersects")
        if len(hit) and hh:
            share = area_m2(shapely.intersection(blocks[hit], geom))
            if share.sum() > 0:
                out[hit] += hh * share / float(area_m2(geom)[0])
    return out


def _regions(blocks, households, k, seed, restarts) -> tuple[np.ndarray, float]:
    if k == 1:
        return np.zeros(len(blocks), dtype=int), 0.0
    graph = Graph.build_contiguity(gpd.GeoSeries(blocks), rook=True, strict=True)
    n_parts, _ = connected_components(graph.sparse)
    if n_parts > 1:
        raise UnprocessableError("the area falls in separate pieces; propose for each grid "
                                 "or make it one polygon", field="code")
    w = graph.to_W()
    centres = shapely.get_coordinates(shapely.centroid(blocks))
    lat = float(np.mean(centres[:, 1]))
    xy = np.column_stack([centres[:, 0] * M_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat)),
                          centres[:, 1] * M_PER_DEG_LAT])
    xy -= xy.mean(axis=0)
    attr = households.reshape(-1, 1)
    frame = gpd.GeoDataFrame({"h": households}, geometry=blocks)
    adj = graph.sparse.tocoo()
    shared = length_m(shapely.intersection(shapely.boundary(blocks[adj.row]),
                                           shapely.boundary(blocks[adj.col])))
    borders = coo_matrix((shared, (adj.row, adj.col)), shape=adj.shape)
    scale = math.sqrt(float(area_m2(blocks).sum()) / k)
    objective = BalanceObjective(max(households.sum(), 1.0) / k, borders, scale)
    best, best_value = None, math.inf
    for s in range(seed, seed + max(1, restarts)):
        start = RegionKMeansHeuristic(xy, k, w, seed=s)
        start.solve()
        model = AZP(frame, w, ["h"], n_clusters=k, random_state=s,
                    initial_labels=np.asarray(start.labels_), objective_func=objective)
        model.solve()
        labels = np.asarray(model.labels_, dtype=int)
        value = objective(labels, attr)
        if value < best_value - 1e-12:
            best, best_value = labels, value
    _, best = np.unique(best, return_inverse=True)
    return best, best_value
