"""Camera footprints: full discs for all-round cameras, sectors for directional ones.

Coordinates are metres in a projected CRS (x east, y north). A direction is a compass bearing of
the view axis (0 = north, 90 = east, clockwise); a field of view is the full opening angle.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gis.errors import InputError

DISC_QUAD_SEGS = 32  # 128-gon: area within 0.05 % of the true disc


def _rows_text(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:20])
    return shown + (f" … ({len(rows)} rows)" if len(rows) > 20 else "")


def _floats(value, name: str) -> np.ndarray:
    """1-D float array; None/NA become NaN; anything else not a number is an InputError."""
    if value is None:
        return np.array([np.nan])
    try:
        return np.atleast_1d(np.asarray(value, dtype=float)).ravel()
    except (TypeError, ValueError):
        pass
    items = np.atleast_1d(np.asarray(value, dtype=object)).ravel()
    out, bad = np.full(len(items), np.nan), []
    for i, v in enumerate(items):
        if v is None or v is pd.NA:
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            bad.append(i)
    if bad:
        raise InputError(f"{name} must be numbers (rows {_rows_text(bad)})", field=name,
                         details={"rows": bad})
    return out


def footprints(x, y, range_m, direction_deg=None, fov_deg=None, arc_step_deg=5.0) -> np.ndarray:
    """Footprints of cameras in a projected CRS: a disc or a sector per camera.

    A camera with its direction or field of view missing (None/NaN), or a field of view >= 360,
    sees a disc of radius range_m (a 128-gon). Otherwise a sector with its apex at the camera and
    an arc from direction - fov/2 to direction + fov/2 whose vertices are at most arc_step_deg
    apart. Scalars broadcast against arrays.

    Parameters
    ----------
    x, y : float or array_like of float
        Camera positions in metres of a projected CRS (x east, y north), finite.
    range_m : float or array_like of float
        Viewing range in metres, > 0.
    direction_deg : float or array_like of float, optional
        Compass bearing of the view axis in degrees, in [0, 360): 0 = north, 90 = east, clockwise.
    fov_deg : float or array_like of float, optional
        Field of view (the full opening angle) in degrees, in (0, 360].
    arc_step_deg : float, default 5.0
        Largest angle in degrees between two vertices of a sector's arc, > 0.

    Returns
    -------
    numpy.ndarray
        Object array of shapely Polygons, one per camera, in the CRS of x/y.

    Raises
    ------
    InputError
        arc_step_deg not > 0; values that are not numbers; columns whose lengths do not
        broadcast; or rows with non-finite coordinates, a range not > 0, a field of view outside
        (0, 360] or a direction outside [0, 360) (details list the rows, counted from 0).
    """
    if not (np.isfinite(arc_step_deg) and arc_step_deg > 0):
        raise InputError("arc_step_deg must be > 0", field="arc_step_deg")
    cols = [_floats(x, "x"), _floats(y, "y"), _floats(range_m, "range_m"),
            _floats(direction_deg, "direction_deg"), _floats(fov_deg, "fov_deg")]
    try:
        x, y, r, direction, fov = np.broadcast_arrays(*cols)
    except ValueError as exc:
        raise InputError(f"camera columns differ in length: {exc}") from None
    n = len(x)

    problems, bad = [], set()
    for label, field, mask in (
        ("coordinates must be finite", "x", ~(np.isfinite(x) & np.isfinite(y))),
        ("range must be a finite number of metres > 0", "range_m", ~(np.isfinite(r) & (r > 0))),
        ("field of view must be in (0, 360] degrees", "fov_deg",
         ~np.isnan(fov) & ~((fov > 0) & (fov <= 360))),
        ("direction must be in [0, 360) degrees", "direction_deg",
         ~np.isnan(direction) & ~((direction >= 0) & (direction < 360))),
    ):
        rows = np.flatnonzero(mask).tolist()
        if rows:
            problems.append((label, field, rows))
            bad.update(rows)
    if problems:
        message = "; ".join(f"{label} (rows {_rows_text(rows)})" for label, _, rows in problems)
        raise InputError(f"bad camera rows: {message}",
                         field=problems[0][1] if len(problems) == 1 else None,
                         details={"rows": sorted(bad)})

    out = np.empty(n, dtype=object)
    disc = np.isnan(direction) | np.isnan(fov) | (fov >= 360)
    if disc.any():
        out[disc] = shapely.buffer(shapely.points(x[disc], y[disc]), r[disc],
                                   quad_segs=DISC_QUAD_SEGS)

    sector = np.flatnonzero(~disc)
    steps = np.ceil(fov[sector] / arc_step_deg - 1e-9).astype(int).clip(min=1)
    for k in np.unique(steps):
        idx = sector[steps == k]
        # Bearings of the k+1 arc vertices; compass bearing b gives (sin b, cos b).
        t = np.radians(direction[idx, None] + fov[idx, None] * (np.arange(k + 1) / k - 0.5))
        ring = np.empty((len(idx), k + 3, 2))
        ring[:, 0, 0], ring[:, 0, 1] = x[idx], y[idx]
        ring[:, 1:-1, 0] = x[idx, None] + r[idx, None] * np.sin(t)
        ring[:, 1:-1, 1] = y[idx, None] + r[idx, None] * np.cos(t)
        ring[:, -1] = ring[:, 0]
        out[idx] = shapely.polygons(ring)
    return out
