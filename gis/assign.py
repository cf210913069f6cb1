"""Point-in-grid assignment in process, vectorised.

Border rule (the same in PostGIS, see gis.store.lookup): a point is in a grid when the grid's
closed polygon covers it (boundary included); when several grids cover it (it lies exactly on a
shared border or corner) it goes to the grid with the smallest code. A point no grid covers is
uncovered (-1).

Speed: a uniform cell index over the grids' extent marks every cell that lies strictly inside one
grid; points in such cells are assigned by array lookup alone. Only points in cells crossed by a
border (and points outside the extent) go through the exact STRtree test.
"""
from __future__ import annotations

import numpy as np
import shapely
from shapely import STRtree

UNCOVERED = -1


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
        eps = 1e-7 * min(self._dx, self._dy)
        ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))
        ix, iy = ix.ravel(), iy.ravel()
        boxes = shapely.box(x0 + ix * self._dx - eps, y0 + iy * self._dy - eps,
                            x0 + (ix + 1) * self._dx + eps, y0 + (iy + 1) * self._dy + eps)
        cell_tree = STRtree(boxes)
        poly_idx, cell_idx = cell_tree.query(self._geoms, predicate="contains_properly")
        owner = np.full(nx * ny, UNCOVERED, dtype=np.int64)
        owner[cell_idx] = poly_idx
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
        in_extent = ((x >= self._x0) & (x <= self._x1) & (y >= self._y0) & (y <= self._y1)
                     & (fx >= 0) & (fy >= 0))
        cell = np.where(in_extent, fy * self._nx + fx, 0).astype(np.int64)
        rank = np.where(in_extent, self._cell_owner[cell], UNCOVERED)
        exact = np.flatnonzero(in_extent & (rank == UNCOVERED))
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
