"""What makes two boundary sets the same: their content, not their files. The digest covers each
layer's units in code order (code, name, kind, parent, households, population, synthetic) and
their shapes normalised (ring start and orientation, part order), so the same set saved under
another name, uploaded over HTTP, or written again by other software is recognised."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import shapely

from gis.domain import BOUNDARY_LAYERS
from gis.geo.shapes import to_multipolygons

ATTRIBUTES = ("code", "name", "kind", "parent_code", "households", "population", "synthetic")


def content_digest(layers: dict) -> str:
    """SHA-256 of a boundary set's content (layer name -> GeoDataFrame in EPSG:4326)."""
    h = hashlib.sha256()
    for name in BOUNDARY_LAYERS:
        frame = layers.get(name)
        if frame is None or not len(frame):
            continue
        order = np.argsort(np.array([str(c) for c in frame["code"].tolist()]), kind="stable")
        h.update(f"\x1e{name}:{len(frame)}".encode())
        for col in ATTRIBUTES:
            if col in frame.columns:
                cells = ["" if pd.isna(v) else str(v) for v in frame[col].tolist()]
                h.update(f"\x1d{col}=".encode() + "\x1f".join(cells[i] for i in order).encode())
        shapes = np.empty(len(frame), dtype=object)
        shapes[:] = to_multipolygons(frame.geometry.values)
        shapes = shapely.normalize(shapes[order])
        for wkb in shapely.to_wkb(shapes, byte_order=1):
            h.update(wkb)
    return h.hexdigest()
