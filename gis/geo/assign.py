"""Point-in-grid assignment in process, vectorised.

Border rule (the same in PostGIS, see gis.store.lookup): a point is in a grid when the grid's
closed polygon covers it (boundary included); when several grids cover it (it lies exactly on a
shared border or corner) it goes to the grid with the smallest code. A point no grid covers is
uncovered (-1).

Speed: a uniform cell index over the grids' extent marks the cells any grid border crosses; every
other cell lies wholly inside one grid or outside all, known from one exact test per connected
region of such cells. Points in those cells are assigned by array lookup alone; only points in
border cells go through the exact STRtree test.
"""
from __future__ import annotations

import numpy as np
import shapely
from scipy import ndimage
from shapely import STRtree

UNCOVERED = -1
_BORDER = -2   # cell crossed by a grid border: exact test
_OUTSIDE = -3  # cell outside every grid


def _border_cells(geoms, x0, y0, dx, dy, nx, ny, margin=1e-6) -> np.ndarray:
    """Boolean mask of the cells (row-major) that any ring of `geoms` passes through or touches.

    Each ring segment is cut where it crosses cell lines; the crossing points (nudged by a small
    margin in every direction, so corners and lines mark all their neighbours) and the midpoints
    of the pieces between crossings mark their cells. Pure numpy, no geometry per cell."""
    rings = shapely.get_rings(shapely.get_parts(geoms))  # get_rings takes Polygons only
    xy, ring_id = shapely.get_coordinates(rings, return_index=True)
    u = (xy[:, 0] - x0) / dx
    v = (xy[:, 1] - y0) / dy
    same = ring_id[1:] == ring_id[:-1]
    u0, v0, u1, v1 = u[:-1][same], v[:-1][same], u[1:][same], v[1:][same]
    seg = np.arange(len(u0))
    ts, ids = [np.zeros(len(u0)), np.ones(len(u0))], [seg, seg]
    for a0, a1 in ((u0, u1), (v0, v1)):
        lo = np.floor(np.minimum(a0, a1)) + 1
        hi = np.ceil(np.maximum(a0, a1)) - 1
        k = np.maximum(hi - lo + 1, 0).astype(np.int64)
        rep = np.repeat(seg, k)
        offset = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
        line = np.repeat(lo, k) + offset
        ts.append((line - a0[rep]) / (a1[rep] - a0[rep]))
        ids.append(rep)
    t = np.concatenate(ts)
    sid = np.concatenate(ids)
    order = np.lexsort((t, sid))
    t, sid = t[order], sid[order]
    follows = sid[1:] == sid[:-1]
    tm = np.r_[t, ((t[:-1] + t[1:]) / 2)[follows]]
    sm = np.r_[sid, sid[:-1][follows]]
    pu = u0[sm] + tm * (u1[sm] - u0[sm])
    pv = v0[sm] + tm * (v1[sm] - v0[sm])
    mark = np.zeros(nx * ny, dtype=bool)
    for su in (-margin, margin):
        for sv in (-margin, margin):
            cu = np.clip(np.floor(pu + su).astype(np.int64), 0, nx - 1)
            cv = np.clip(np.floor(pv + sv).astype(np.int64), 0, ny - 1)
            mark[cv * nx + cu] = True
    return mark


class GridIndex:
    """Assign points to polygons. `geoms` must not overlap (validated boundary sets do not)."""

    def __init__(self, geoms, codes, target_cells_per_grid: int = 64, max_cells: int = 4_000_000):
        geoms = np.asarray(geoms, dtype=object)
        codes = np.asarray(codes, dtype=str)
        self.size = len(geoms)
        # Rank order: tree position == rank of the code, so "smallest code" is a minimum.
        self._order = np.argsort(codes, kind="stable")
        self._geoms = geoms[self._order]
        self._tree = STRtree(self._geoms)
        self._cell_owner = np.empty(0, dtype=np.int64)
        self._nx = self._ny = 0
        if self.size:
            self._build_cells(target_cells_per_grid, max_cells)

    def _build_cells(self, per_grid: int, max_cells: int) -> None:
        x0, y0, x1, y1 = shapely.total_bounds(self._geoms)
        width, height = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
        cells = min(max_cells, max(1024, self.size * per_grid))
        step = np.sqrt(width * height / cells)
        nx, ny = int(np.ceil(width / step)), int(np.ceil(height / step))
        self._x0, self._y0, self._x1, self._y1 = x0, y0, x1, y1
        self._dx, self._dy = width / nx, height / ny
        self._nx, self._ny = nx, ny
        border = _border_cells(self._geoms, x0, y0, self._dx, self._dy, nx, ny)
        # Cells no border crosses form regions lying wholly inside one grid or outside all of
        # them: one exact test at a cell centre per region settles every cell in it.
        labels, count = ndimage.label(~border.reshape(ny, nx))
        flat = labels.ravel()
        free = np.flatnonzero(flat)
        first = np.zeros(count + 1, dtype=np.int64)
        first[flat[free][::-1]] = free[::-1]
        rep = first[1:]
        owner_of_region = self._exact(x0 + (rep % nx + 0.5) * self._dx,
                                      y0 + (rep // nx + 0.5) * self._dy)
        owner_of_region[owner_of_region == UNCOVERED] = _OUTSIDE
        owner = np.full(nx * ny, _BORDER, dtype=np.int64)
        owner[free] = owner_of_region[flat[free] - 1]
        self._cell_owner = owner

    def assign(self, x, y) -> np.ndarray:
        """Index (into the constructor's arrays) of the grid holding each point, or -1."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        rank = np.full(len(x), UNCOVERED, dtype=np.int64)
        if not self.size or not len(x):
            return rank
        # Points on the extent's max edges belong to the last cell (a border cell: exact test).
        fx = np.minimum(np.floor((x - self._x0) / self._dx), self._nx - 1)
        fy = np.minimum(np.floor((y - self._y0) / self._dy), self._ny - 1)
        in_extent = (x >= self._x0) & (x <= self._x1) & (y >= self._y0) & (y <= self._y1)
        cell = np.where(in_extent, fy * self._nx + fx, 0).astype(np.int64)
        rank = np.where(in_extent, self._cell_owner[cell], _OUTSIDE)
        exact = np.flatnonzero(rank == _BORDER)
        if len(exact):
            rank[exact] = self._exact(x[exact], y[exact])
        return np.where(rank >= 0, self._order[np.maximum(rank, 0)], UNCOVERED)

    def _exact(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        points = shapely.points(x, y)
        pt_idx, poly_rank = self._tree.query(points, predicate="intersects")
        best = np.full(len(x), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, pt_idx, poly_rank)
        best[best == np.iinfo(np.int64).max] = UNCOVERED
        return best

    def assign_one(self, x: float, y: float) -> int:
        return int(self.assign(np.array([x]), np.array([y]))[0])
