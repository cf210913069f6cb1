"""The in-process assignment index of a boundary generation, built once per process: generations
never change once written, so the index of one stays valid until the process ends."""
from __future__ import annotations

from threading import Lock

import numpy as np
import pandas as pd
import shapely

from gis.geo.assign import GridIndex
from gis.store import boundaries as bstore
from gis.store.db import Connection

_index_cache: dict[tuple[str, int], tuple[GridIndex, pd.DataFrame]] = {}
_index_lock = Lock()


def grid_index(conn: Connection, generation_id: int) -> tuple[GridIndex, pd.DataFrame]:
    """In-process index of a generation's grids (generations never change once written)."""
    key = (conn.engine.url.render_as_string(hide_password=True), generation_id)
    with _index_lock:
        if key not in _index_cache:
            grids = bstore.load_grids(conn, generation_id)
            _index_cache[key] = (GridIndex(grids.geometry.values, grids["code"]),
                                 pd.DataFrame(grids.drop(columns="geometry")))
        return _index_cache[key]


ASSIGNED = ("grid_id", *bstore.UNIT_COLUMNS)


def assign_points(conn: Connection, lon: np.ndarray, lat: np.ndarray,
                  default_generation: int | None,
                  generations: list[dict] | None = None) -> pd.DataFrame:
    """Assign points among the active generations of every root, as one lookup would
    (bstore.locate_active): the grid covering a point under any root's generation (roots in
    code order, so the smallest grid code wins on a border between roots too); points in no
    grid belong to the generation whose root outline covers them, else to
    `default_generation`. One row per point: generation_id and ASSIGNED (nullable Int64;
    missing for uncovered points). `generations`: the ones to consider instead of the active
    ones (in root-code order)."""
    n = len(lon)
    gen = np.full(n, -1, dtype=np.int64)
    values = {c: np.full(n, np.nan) for c in ASSIGNED}
    todo = np.arange(n)
    gens = bstore.active_generations(conn) if generations is None else generations
    for g in gens:
        if not len(todo):
            break
        index, grids = grid_index(conn, g["id"])
        pos = index.assign(lon[todo], lat[todo])
        hit = pos >= 0
        rows = todo[hit]
        gen[rows] = g["id"]
        for col in ASSIGNED:
            src = grids["id" if col == "grid_id" else col].to_numpy(dtype="float64",
                                                                   na_value=np.nan)
            values[col][rows] = src[pos[hit]]
        todo = todo[~hit]
    for g in gens:  # uncovered: the root whose outline holds the point
        if not len(todo):
            break
        outline = root_outline(conn, g["id"])
        if outline is None:
            continue
        inside = shapely.intersects_xy(outline, lon[todo], lat[todo])
        gen[todo[inside]] = g["id"]
        todo = todo[~inside]
    if len(todo):
        if default_generation is None:
            raise ValueError("points outside every root and no default generation")
        gen[todo] = default_generation
    out = pd.DataFrame({"generation_id": gen})
    for col in ASSIGNED:
        out[col] = pd.array(values[col]).astype("Int64")
    return out


_outline_cache: dict[tuple[str, int], object] = {}


def root_outline(conn: Connection, generation_id: int):
    """The outline of a generation's set (kept per process: generations never change)."""
    key = (conn.engine.url.render_as_string(hide_password=True), generation_id)
    with _index_lock:
        if key not in _outline_cache:
            outline = bstore.city_outline(conn, generation_id)
            if outline is not None:
                shapely.prepare(outline)
            _outline_cache[key] = outline
        return _outline_cache[key]
