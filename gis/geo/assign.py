"""Point-in-grid assignment in process, vectorised.

Border rule (the same in PostGIS, see gis.store.lookup): a point is in a grid when the grid's
closed polygon covers it (boundary included); when several grids cover it (it lies exactly on a
shared border or corner) it goes to the grid with the smallest code. A point no grid covers is
uncovered (-1).

Two engines give the same answers:

- "numba" (the default when numba imports): every ring is flattened into contiguous coordinate
  arrays and each edge is entered in the cells of a uniform cell index it crosses; a sweep along
  each row settles the cells no edge enters (inside one grid, or outside all). A point in such a
  cell is answered by array lookup; a point in a cell edges enter gets a compiled exact
  crossing-number test (gis.geo._pip). Points the compiled test cannot decide with certainty in
  float64 -- those on a border or vertex, or within rounding of one -- go to the exact GEOS
  test (STRtree, "intersects"), which applies the smallest-code rule among the grids sharing it.
- "shapely" (fallback without numba): the same cell index marks border cells in numpy, interior
  regions are labelled with scipy.ndimage and tested once each; points in border cells go
  through the STRtree test.
"""
from __future__ import annotations

import warnings

import numpy as np
import shapely
from scipy import ndimage
from shapely import STRtree

UNCOVERED = -1
_BORDER = -2   # cell crossed by a grid border: exact test
_OUTSIDE = -3  # cell outside every grid
_SERIAL_BELOW = 20_000  # points; fewer are located on the calling thread alone


_pip_module: list = []  # [gis.geo._pip or None], once imported


def _kernels():
    """gis.geo._pip, or None when numba is missing or unusable (imported on first use: numba
    takes ~0.5 s to import)."""
    if not _pip_module:
        try:
            from gis.geo import _pip
        except ImportError:
            _pip = None
        except Exception as exc:  # e.g. numba finds no writable cache directory
            warnings.warn(f"gis.geo.assign: numba kernels unusable ({exc}); using shapely",
                          RuntimeWarning, stacklevel=3)
            _pip = None
        _pip_module.append(_pip)
    return _pip_module[0]


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
    """Assign points to polygons. `geoms` must not overlap (validated boundary sets do not).

    engine: "auto" (numba when it imports, else shapely), "numba" or "shapely"; the answers are
    the same. target_cells_per_grid / max_cells size the uniform cell index (None: the engine's
    default)."""

    def __init__(self, geoms, codes, target_cells_per_grid: int | None = None,
                 max_cells: int | None = None, engine: str = "auto"):
        if engine not in ("auto", "numba", "shapely"):
            raise ValueError(f"engine must be auto, numba or shapely, not {engine!r}")
        geoms = np.asarray(geoms, dtype=object)
        codes = np.asarray(codes, dtype=str)
        self.size = len(geoms)
        # Rank order: tree position == rank of the code, so "smallest code" is a minimum.
        self._order = np.argsort(codes, kind="stable")
        self._geoms = geoms[self._order]
        self._tree_ = None
        self._pip = _kernels() if engine != "shapely" else None
        if engine == "numba" and self._pip is None:
            raise ImportError("engine='numba' needs numba")
        self.engine = "numba" if self._pip is not None else "shapely"
        self._nx = self._ny = 0
        if not self.size:
            return
        if self._pip is not None and not self._build_edges(geoms, target_cells_per_grid or 64,
                                                           max_cells or 16_000_000):
            self._pip, self.engine = None, "shapely"  # a geometry the kernels do not read
            self._nx = self._ny = 0
        if self._pip is None:
            self._build_cells(target_cells_per_grid or 64, max_cells or 4_000_000)

    @property
    def _tree(self) -> STRtree:
        if self._tree_ is None:
            self._tree_ = STRtree(self._geoms)
        return self._tree_

    def _grid_shape(self, x0, y0, x1, y1, cells):
        width, height = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
        step = np.sqrt(width * height / cells)
        nx = int(min(max(np.ceil(width / step), 1), cells))  # a sliver of an extent still
        ny = int(min(max(np.ceil(height / step), 1), cells))  # gets at most `cells` cells
        self._x0, self._y0, self._x1, self._y1 = float(x0), float(y0), float(x1), float(y1)
        self._dx, self._dy = width / nx, height / ny
        self._nx, self._ny = nx, ny

    # ---- numba engine ----

    def _build_edges(self, geoms, per_grid: int, max_cells: int) -> bool:
        """Build the numba engine's index (geoms in the caller's order); False when a geometry
        is not a (Multi)Polygon."""
        kinds = shapely.get_type_id(geoms)
        if not np.isin(kinds, (-1, 3, 6)).all() or self.size >= 2 ** 30:
            return False  # only missing, Polygon, MultiPolygon; ranks take 30 bits
        bounds = shapely.bounds(geoms)
        present = np.flatnonzero(~np.isnan(bounds[:, 0]))  # neither missing nor empty
        if not len(present):
            return True  # every point uncovered
        x0, y0 = np.nanmin(bounds[:, 0]), np.nanmin(bounds[:, 1])
        x1, y1 = np.nanmax(bounds[:, 2]), np.nanmax(bounds[:, 3])  # exact: of the coordinates
        self._grid_shape(x0, y0, x1, y1, min(max_cells, max(1024, self.size * per_grid)))
        # Grids in a spatial order (rows of cells, then x) so that the build sweeps memory
        # instead of jumping about. Coordinates are read in the caller's order (that of the
        # geometries in memory), then laid out in the spatial one.
        b = bounds[present]
        col = ((b[:, 0] - x0) / self._dx).astype(np.int64)
        row = (((b[:, 1] + b[:, 3]) / 2 - y0) / self._dy).astype(np.int64)
        spatial = present[np.argsort(row * self._nx + col, kind="stable")]
        xy_in = shapely.get_coordinates(geoms)
        if len(xy_in) >= 2 ** 31 - 1:
            return False  # coordinate numbers take 31 bits
        off_in = np.zeros(len(geoms) + 1, dtype=np.int64)
        np.cumsum(shapely.get_num_coordinates(geoms), out=off_in[1:])
        xy, geom_off = self._pip.gather(xy_in, off_in, spatial)
        del xy_in
        ring_off, ring_geom, ok = self._pip.split_rings(xy, geom_off)
        if not ok:
            return False
        rank_of = np.empty(self.size, dtype=np.int32)
        rank_of[self._order] = np.arange(self.size, dtype=np.int32)
        ring_rank = rank_of[spatial[ring_geom]]
        # Edges are entered in every cell within `pad` of them: far above float64 rounding of
        # the cell arithmetic, far below a cell.
        scale = max(abs(x0), abs(x1), abs(y0), abs(y1), 1.0)
        pad = max(1e-6 * min(self._dx, self._dy), 256 * np.finfo(float).eps * scale)
        self._xy = xy
        self._cell, self._blocks = self._pip.build(xy, ring_off, ring_rank, self._x0, self._y0,
                                                   self._dx, self._dy, self._nx, self._ny, pad)
        return True

    def _index_args(self) -> tuple:
        return (self._xy, self._cell, self._blocks, self._x0, self._y0, self._x1, self._y1,
                self._dx, self._dy, self._nx, self._ny)

    def _locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        rank = self._pip.locate(x, y, self._index_args(), _SERIAL_BELOW)
        rank = rank.astype(np.int64)
        unsure = np.flatnonzero(rank == self._pip.FALLBACK)
        if len(unsure):
            rank[unsure] = self._exact(x[unsure], y[unsure])
        return rank

    # ---- shapely engine ----

    def _build_cells(self, per_grid: int, max_cells: int) -> None:
        x0, y0, x1, y1 = shapely.total_bounds(self._geoms)
        if not np.isfinite(x0):
            return
        self._grid_shape(x0, y0, x1, y1, min(max_cells, max(1024, self.size * per_grid)))
        nx, ny = self._nx, self._ny
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

    def _lookup(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        # Points on the extent's max edges belong to the last cell (a border cell: exact test).
        with np.errstate(invalid="ignore"):
            fx = np.minimum(np.floor((x - self._x0) / self._dx), self._nx - 1)
            fy = np.minimum(np.floor((y - self._y0) / self._dy), self._ny - 1)
            in_extent = (x >= self._x0) & (x <= self._x1) & (y >= self._y0) & (y <= self._y1)
            cell = np.where(in_extent, fy * self._nx + fx, 0).astype(np.int64)
        rank = np.where(in_extent, self._cell_owner[cell], _OUTSIDE)
        exact = np.flatnonzero(rank == _BORDER)
        if len(exact):
            rank[exact] = self._exact(x[exact], y[exact])
        return rank

    # ---- both ----

    def assign(self, x, y) -> np.ndarray:
        """Index (into the constructor's arrays) of the grid holding each point, or -1."""
        x = np.ascontiguousarray(x, dtype=np.float64).ravel()
        y = np.ascontiguousarray(y, dtype=np.float64).ravel()
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length ({len(x)} != {len(y)})")
        if not self._nx or not len(x):
            return np.full(len(x), UNCOVERED, dtype=np.int64)
        rank = self._locate(x, y) if self._pip is not None else self._lookup(x, y)
        return np.where(rank >= 0, self._order[np.maximum(rank, 0)], UNCOVERED)

    def _exact(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Exact GEOS test: smallest rank among the grids whose closed polygon covers each
        point, or -1."""
        points = shapely.points(x, y)
        pt_idx, poly_rank = self._tree.query(points, predicate="intersects")
        best = np.full(len(x), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, pt_idx, poly_rank)
        best[best == np.iinfo(np.int64).max] = UNCOVERED
        return best

    def assign_one(self, x: float, y: float) -> int:
        """assign() of one point, with less overhead (a few microseconds)."""
        px, py = np.array([x], dtype=np.float64), np.array([y], dtype=np.float64)
        if self._pip is None or not self._nx:
            return int(self.assign(px, py)[0])
        rank = int(self._pip.locate(px, py, self._index_args())[0])
        if rank == self._pip.FALLBACK:
            rank = int(self._exact(px, py)[0])
        return int(self._order[rank]) if rank >= 0 else UNCOVERED
