"""The in-process assignment index of a boundary generation, built once per process: generations
never change once written, so the index of one stays valid until the process ends."""
from __future__ import annotations

from threading import Lock

import pandas as pd

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
