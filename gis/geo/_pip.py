"""Compiled kernels of gis.geo.assign: a uniform cell index over polygon edges and an exact
crossing-number point-in-polygon on it (numba; compiled code is cached on disk).

Rings. The polygons' coordinates (shapely.get_coordinates of the grids in a spatial order, so
that neighbouring edges sit near each other in memory) form one float64 array `xy` (V, 2);
split_rings finds the closed rings in it, each with its polygon's rank (position in code order);
edge k runs from xy[k] to xy[k + 1] within a ring.

Cells. The extent is cut into nx * ny cells of dx * dy. Each edge is entered in every cell of
every row it passes through, widened by `pad` in x and y (so float64 rounding never hides an edge
from a cell it touches). `cell[c]` >= -1 is the rank of the polygon covering a cell no edge
enters (-1: none); cell[c] <= -2 marks a cell edges enter, whose entries are the block
`blocks[b + 1 : b + 1 + blocks[b]]`, b = -2 - cell[c]; an entry packs
k << 32 | rank << 2 | centre << 1 | first: first = 1 in the leftmost cell of that row the edge is
entered in, centre = 1 there when the edge crosses the row's centre line (half-open rule).

Query (exact). A point in a cell edges enter casts a ray to the right and counts crossings per
polygon (half-open rule in y; the side by the sign of the orientation determinant) through the
cells of its row up to the first cell no edge enters, whose owner gives the state beyond. Every
sign is checked against Shewchuk's error bound for the float64 determinant: a point whose sign is
not certain, or that lies in the bounding box of an edge of its cell and on that edge's line
within that bound (on a border or a vertex, or within rounding of one), is answered FALLBACK and
left to GEOS by the caller. Everything else is decided exactly.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

BORDER = -2        # cell value of a cell edges enter, with an empty block (blocks[0] == 0)
FALLBACK = -4      # answer: not certain in float64, ask GEOS
_ERRBOUND = (3.0 + 16.0 * 2.0 ** -53) * 2.0 ** -53  # Shewchuk's ccwerrboundA
_MAXSET = 32       # polygons whose parity one ray tracks at once (overflow: FALLBACK)
_MASK30 = 0x3FFFFFFF


# ---- rings ----

@njit(cache=True, nogil=True)
def _copy(xy_in, off_in, order, geom_off, xy, i0, i1):
    for i in range(i0, i1):
        k = off_in[order[i]]
        for d in range(geom_off[i], geom_off[i + 1]):
            xy[d, 0] = xy_in[k, 0]
            xy[d, 1] = xy_in[k, 1]
            k += 1


def gather(xy_in, off_in, order):
    """The coordinates of the geometries `order` (xy_in[off_in[g]:off_in[g + 1]] are those of
    geometry g), one after the other: (xy, geom_off)."""
    geom_off = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(np.diff(off_in)[order], out=geom_off[1:])
    xy = np.empty((geom_off[-1], 2), dtype=np.float64)
    cuts = np.searchsorted(geom_off, geom_off[-1] * np.arange(_THREADS + 1) // _THREADS)
    cuts[-1] = len(order)
    _run(_copy, [(xy_in, off_in, order, geom_off, xy, cuts[t], cuts[t + 1])
                 for t in range(_THREADS) if cuts[t] < cuts[t + 1]])
    return xy, geom_off


@njit(cache=True, nogil=True)
def split_rings(xy, geom_off):
    """Where each ring starts in xy (the coordinates of geometry g are xy[geom_off[g]:
    geom_off[g + 1]], rings one after the other as shapely lists them): a ring ends at the
    first return to its first vertex. A ring that passes through its first vertex again is cut
    there into closed pieces with the same edges, which leaves every crossing count as it was.
    Returns (ring_off, ring_geom, ok); ok is False when a geometry does not end a ring or a
    coordinate is not finite."""
    for k in range(len(xy)):
        if not (np.isfinite(xy[k, 0]) and np.isfinite(xy[k, 1])):
            return np.empty(0, np.int64), np.empty(0, np.int64), False
    m = 0
    for g in range(len(geom_off) - 1):
        k = geom_off[g]
        end = geom_off[g + 1]
        while k < end:
            x, y = xy[k, 0], xy[k, 1]
            j = k + 1
            while j < end and not (xy[j, 0] == x and xy[j, 1] == y):
                j += 1
            if j == end:
                return np.empty(0, np.int64), np.empty(0, np.int64), False
            m += 1
            k = j + 1
    ring_off = np.empty(m + 1, dtype=np.int64)
    ring_geom = np.empty(m, dtype=np.int64)
    m = 0
    for g in range(len(geom_off) - 1):
        k = geom_off[g]
        end = geom_off[g + 1]
        while k < end:
            x, y = xy[k, 0], xy[k, 1]
            j = k + 1
            while not (xy[j, 0] == x and xy[j, 1] == y):
                j += 1
            ring_off[m] = k
            ring_geom[m] = g
            m += 1
            k = j + 1
    ring_off[m] = len(xy)
    return ring_off, ring_geom, True


# ---- the cell index ----

@njit(cache=True, inline="always")
def _rows(vi, vj, padv, ny):
    """Rows [ra, rb] the widened edge passes through (v: y in cell units)."""
    return (max(int(np.floor(min(vi, vj) - padv)), 0),
            min(int(np.floor(max(vi, vj) + padv)), ny - 1))


@njit(cache=True, inline="always")
def _cols(ui, vi, uj, vj, row, single, padu, padv, nx):
    """Columns [ca, cb] of `row` the widened edge passes through (u, v: x, y in cell units;
    single: the edge lies in this one row)."""
    a, b = min(ui, uj), max(ui, uj)
    if not single and vi != vj:
        lo = max(min(vi, vj), row - padv)
        hi = min(max(vi, vj), row + 1 + padv)
        s = (uj - ui) / (vj - vi)
        ua = ui + (lo - vi) * s
        ub = ui + (hi - vi) * s
        if min(ua, ub) > a:  # comparisons with NaN are false: the bounding box stays
            a = min(ua, ub)
        if max(ua, ub) < b:
            b = max(ua, ub)
    return max(int(np.floor(a - padu)), 0), min(int(np.floor(b + padu)), nx - 1)


@njit(cache=True, nogil=True)
def _enter(xy, ring_off, ring_rank, r0, r1, x0, y0, dx, dy, nx, ny, pad, pos, blocks, write):
    """Walk the edges of rings r0..r1-1 through the cells they are entered in: pos[cell] += 1
    for each (counting), and with `write`, blocks[pos[cell]] = the entry first. The centre
    line of a row is v = row + 0.5 in cell units: v is monotonic in y, so that is one
    horizontal line, on which the half-open rule holds ring by ring."""
    idx, idy = 1.0 / dx, 1.0 / dy
    padu, padv = pad * idx, pad * idy
    for r in range(r0, r1):
        rank = np.int64(ring_rank[r]) << 2
        k0, k1 = ring_off[r], ring_off[r + 1] - 1
        uj, vj = (xy[k0, 0] - x0) * idx, (xy[k0, 1] - y0) * idy
        for k in range(k0, k1):
            ui, vi = uj, vj
            uj, vj = (xy[k + 1, 0] - x0) * idx, (xy[k + 1, 1] - y0) * idy
            ra, rb = _rows(vi, vj, padv, ny)
            entry = (np.int64(k) << 32) | rank
            for row in range(ra, rb + 1):
                ca, cb = _cols(ui, vi, uj, vj, row, ra == rb, padu, padv, nx)
                first = 1 | (2 if (vi > row + 0.5) != (vj > row + 0.5) else 0)
                for i in range(row * nx + ca, row * nx + cb + 1):
                    if write:
                        blocks[pos[i]] = entry | first
                    pos[i] += 1
                    first = 0


@njit(cache=True, nogil=True)
def _offsets(pos, blocks):
    """Cell values and block layout (with the block sizes) from the per-run counts pos[t, c];
    pos[t, c] becomes where run t writes its first entry of cell c. Returns (cell, length of
    blocks used)."""
    runs, ncell = pos.shape
    cell = np.empty(ncell, dtype=np.int32)
    blocks[0] = 0
    total = 1  # blocks[0]: the empty block
    for c in range(ncell):
        m = 0
        for t in range(runs):
            m += pos[t, c]
        if m:
            cell[c] = -2 - total
            blocks[total] = m
            at = total + 1
            for t in range(runs):
                m_t = pos[t, c]
                pos[t, c] = at
                at += m_t
            total = at
        else:
            cell[c] = -1
    return cell, total


@njit(cache=True, inline="always")
def _toggle(polys, n, p):
    """Flip polygon p's parity in the set polys[:n]; returns the new n (-1 on overflow)."""
    for i in range(n):
        if polys[i] == p:
            polys[i] = polys[n - 1]
            return n - 1
    if n == len(polys):
        return -1
    polys[n] = p
    return n + 1


@njit(cache=True, nogil=True)
def _fill_owners(cell, blocks, nx, row0, row1):
    """Owner of every cell no edge enters, by a sweep along each row's centre line from the
    right (outside everything) leftwards. An edge crossing that line does so somewhere in the
    cells of the row it is entered in, all of them cells edges enter: its parity flip is applied
    at the leftmost of them, which is right of every cell without edges to its left and left
    of every one to its right, so no crossing point need be computed or sorted. A cell whose
    state comes out inconsistent (overlapping input) becomes BORDER: exact test per point."""
    for row in range(row0, row1):
        base = row * nx
        polys = np.empty(_MAXSET, dtype=np.int32)
        n = 0
        for c in range(nx - 1, -1, -1):
            v = cell[base + c]
            if v > -2:
                cell[base + c] = -1 if n == 0 else (polys[0] if n == 1 else BORDER)
                continue
            b = -2 - v
            for q in range(b + 1, b + 1 + blocks[b]):
                e = blocks[q]
                if e & 3 == 3 and n >= 0:  # first in the row, crossing its centre line
                    n = _toggle(polys, n, (e >> 2) & _MASK30)


# ---- queries ----

@njit(cache=True, inline="always")
def _orient(xi, yi, xj, yj, qx, qy):
    """Orientation determinant of (pi, pj, q) and its float64 error bound."""
    left = (xj - xi) * (qy - yi)
    right = (yj - yi) * (qx - xi)
    return left - right, _ERRBOUND * (abs(left) + abs(right))


@njit(cache=True, inline="always")  # a call per point would cost reference counting
def _locate(qx, qy, xy, cell, blocks, x0, y0, x1, y1, dx, dy, nx, ny, polys):
    if not (qx >= x0 and qx <= x1 and qy >= y0 and qy <= y1):  # NaN too
        return -1
    col = min(int((qx - x0) / dx), nx - 1)
    base = min(int((qy - y0) / dy), ny - 1) * nx
    v = cell[base + col]
    if v >= -1:
        return v
    n = 0
    beyond = -1
    for c in range(col, nx):
        v = cell[base + c]
        if v >= -1:
            beyond = v
            break
        b = -2 - v
        for q in range(b + 1, b + 1 + blocks[b]):
            e = blocks[q]
            k = e >> 32
            if c != col:
                # Entered first here, right of q's cell: it crosses the ray right of q (by
                # more than pad) if it crosses the ray's line at all. Not first here: entered,
                # and so counted, in a cell further left.
                if e & 1 and (xy[k, 1] > qy) != (xy[k + 1, 1] > qy):
                    n = _toggle(polys, n, (e >> 2) & _MASK30)
                    if n < 0:
                        return FALLBACK
                continue
            xi, yi, xj, yj = xy[k, 0], xy[k, 1], xy[k + 1, 0], xy[k + 1, 1]
            straddle = (yi > qy) != (yj > qy)
            near = min(xi, xj) <= qx <= max(xi, xj) and min(yi, yj) <= qy <= max(yi, yj)
            if not (straddle or near):
                continue
            det, err = _orient(xi, yi, xj, yj, qx, qy)
            if abs(det) <= err:
                return FALLBACK  # on this edge or its line, or within rounding of it
            if straddle and (det > 0) == (yj > yi):  # q left of an upward edge / right of a
                n = _toggle(polys, n, (e >> 2) & _MASK30)  # downward one: crosses right of q
                if n < 0:
                    return FALLBACK
    if beyond >= 0:
        n = _toggle(polys, n, beyond)
        if n < 0:
            return FALLBACK
    if n == 0:
        return -1
    if n == 1:
        return polys[0]
    return FALLBACK  # inconsistent parities (overlapping input): let GEOS decide


@njit(cache=True, nogil=True)
def _lookup(out, px, py, cell, x0, y0, x1, y1, dx, dy, nx, ny, key):
    """out[i] = the owner of point i's cell; returns how many points fell in cells edges enter,
    whose keys cell * n + i are in key[:m]."""
    n = len(px)
    m = 0
    for i in range(n):
        qx, qy = px[i], py[i]
        if not (qx >= x0 and qx <= x1 and qy >= y0 and qy <= y1):  # NaN too
            out[i] = -1
            continue
        c = min(int((qy - y0) / dy), ny - 1) * nx + min(int((qx - x0) / dx), nx - 1)
        v = cell[c]
        out[i] = v
        if v <= -2:
            key[m] = c * n + i
            m += 1
    return m


@njit(cache=True, nogil=True)
def _exact_into(out, px, py, key, xy, cell, blocks, x0, y0, x1, y1, dx, dy, nx, ny):
    n = len(px)
    polys = np.empty(_MAXSET, dtype=np.int32)
    for j in range(len(key)):
        i = key[j] % n
        out[i] = _locate(px[i], py[i], xy, cell, blocks, x0, y0, x1, y1, dx, dy, nx, ny, polys)


def _locate_into(out, px, py, xy, cell, blocks, x0, y0, x1, y1, dx, dy, nx, ny):
    """out[i] = the answer for point i: points in cells without edges by array lookup, then
    the others in cell order (numpy's sort), so that the index is read in one sweep rather
    than at random."""
    key = np.empty(len(px), dtype=np.int64)
    m = _lookup(out, px, py, cell, x0, y0, x1, y1, dx, dy, nx, ny, key)
    if m:
        _exact_into(out, px, py, np.sort(key[:m]), xy, cell, blocks, x0, y0, x1, y1, dx, dy,
                    nx, ny)


# ---- driving them on threads (the kernels release the GIL) ----

_THREADS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))
_pool: dict[int, ThreadPoolExecutor] = {}  # by process id: a forked child makes its own
_pool_lock = threading.Lock()


def _run(fn, jobs):
    """fn(*job) for every job, on the pool's threads when there are several."""
    if len(jobs) == 1 or _THREADS == 1:
        for job in jobs:
            fn(*job)
        return
    pid = os.getpid()
    with _pool_lock:
        if pid not in _pool:
            _pool.clear()
            _pool[pid] = ThreadPoolExecutor(_THREADS, thread_name_prefix="gis-pip")
        pool = _pool[pid]
    for future in [pool.submit(fn, *job) for job in jobs]:
        future.result()


def build(xy, ring_off, ring_rank, x0, y0, dx, dy, nx, ny, pad):
    """(cell, blocks) as described in the module docstring. The rings are split into one run
    of about equal size per thread; each counts, then fills, its own entries of every cell."""
    nrings = len(ring_rank)
    runs = max(1, min(_THREADS, nrings // 256))
    cuts = np.searchsorted(ring_off[:-1], ring_off[-1] * np.arange(runs + 1) // runs)
    cuts[-1] = nrings
    pos = np.zeros((runs, nx * ny), dtype=np.int32)
    none = np.empty(0, dtype=np.int64)
    args = (x0, y0, dx, dy, nx, ny, pad)
    _run(_enter, [(xy, ring_off, ring_rank, cuts[t], cuts[t + 1], *args, pos[t], none, False)
                  for t in range(runs)])
    # One header per cell with entries: at most as many as cells, or as entries. np.empty
    # only reserves the pages; those never written are never touched.
    entries = int(pos.sum(dtype=np.int64))
    size = entries + min(entries, nx * ny) + 1
    if size > 2 ** 31 - 8:
        raise ValueError("cell index too large")
    blocks = np.empty(size, dtype=np.int64)
    cell, used = _offsets(pos, blocks)
    blocks = blocks[:used]
    _run(_enter, [(xy, ring_off, ring_rank, cuts[t], cuts[t + 1], *args, pos[t], blocks, True)
                  for t in range(runs)])
    del pos
    bands = np.linspace(0, ny, min(ny, 4 * _THREADS) + 1).astype(np.int64)
    _run(_fill_owners, [(cell, blocks, nx, bands[i], bands[i + 1])
                        for i in range(len(bands) - 1)])
    return cell, blocks


def locate(px, py, index, serial_below=20_000):
    """Rank of the polygon holding each point, -1, or FALLBACK. index: (xy, cell, blocks, x0,
    y0, x1, y1, dx, dy, nx, ny)."""
    out = np.empty(len(px), dtype=np.int32)
    if len(px) < serial_below:
        _locate_into(out, px, py, *index)
        return out
    cuts = np.linspace(0, len(px), _THREADS + 1).astype(np.int64)
    _run(_locate_into, [(out[a:b], px[a:b], py[a:b], *index)
                        for a, b in zip(cuts[:-1], cuts[1:])])
    return out
