"""The grid code renumbering rule, and allocation of codes for new grids.

A grid's code is its parent unit's code plus three digits (gis.domain.code_problem). Within each
parent, renumbering gives the grids 001, 002, ... in reading order, north to south in rows and
west to east within a row:

1. Each grid is placed by its centroid (planar lon/lat, as stored).
2. The northernmost grid not yet numbered (largest centroid latitude; ties: smaller longitude,
   then the old code in text order) opens a row. The row holds every grid not yet numbered whose
   centroid lies strictly north of the southern edge of the opening grid's bounding box.
3. Within a row grids are numbered west to east by centroid longitude (ties: the northern one
   first, then the old code). The next row opens as in step 2 until every grid has a number.

The rule depends on geometry only (the old code breaks exact ties), so it is deterministic and
renumbering an already renumbered plan changes nothing. Grids without a parent code are left
as they are.

New grids created by an edit get the next free suffixes after the largest one in use in their
parent (next_codes); renumbering is a separate, explicit step.
"""
from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.errors import UnprocessableError

_SUFFIX = re.compile(r"^\d{3}$")
MAX_SUFFIX = 999


def reading_order(geoms, codes) -> list[int]:
    """Positions of `geoms` in the rule's reading order (rows north to south, west to east)."""
    geoms = np.asarray(geoms, dtype=object)
    codes = [str(c) for c in codes]
    cent = shapely.get_coordinates(shapely.centroid(geoms))
    south = shapely.bounds(geoms)[:, 1]
    # Opening order: north first, then west, then old code.
    remaining = sorted(range(len(geoms)), key=lambda i: (-cent[i, 1], cent[i, 0], codes[i]))
    order: list[int] = []
    while remaining:
        opener = remaining[0]
        row = [i for i in remaining if i == opener or cent[i, 1] > south[opener]]
        row.sort(key=lambda i: (cent[i, 0], -cent[i, 1], codes[i]))
        order += row
        taken = set(row)
        remaining = [i for i in remaining if i not in taken]
    return order


def expected_codes(grids: gpd.GeoDataFrame, parent_code: str) -> dict[str, str]:
    """Old code -> code by the rule for the grids of one parent (all rows must belong to it)."""
    order = reading_order(grids.geometry.values, grids["code"])
    codes = grids["code"].astype(str).to_numpy()
    return {codes[i]: f"{parent_code}{n + 1:03d}" for n, i in enumerate(order)}


def renumber(plan: gpd.GeoDataFrame, parents=None) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """Renumber the grids of every parent (or only of `parents`) by the rule.

    Returns the new plan (sorted by code) and the mapping old code -> new code for every grid
    renumbered, including those whose code stays the same. Codes must be unique in the plan."""
    codes = plan["code"].astype(str)
    if codes.duplicated().any():
        dup = sorted(set(codes[codes.duplicated()]))
        raise UnprocessableError(f"codes {', '.join(dup)} are used more than once; "
                                 "renumbering needs unique codes", field="code",
                                 details={"codes": dup})
    wanted = set(plan["parent_code"].dropna().astype(str)) if parents is None else set(parents)
    mapping: dict[str, str] = {}
    for parent, rows in plan[plan["parent_code"].isin(wanted)].groupby("parent_code", sort=True):
        if len(rows) > MAX_SUFFIX:
            raise UnprocessableError(f"parent {parent} holds {len(rows)} grids; three digits "
                                     f"number at most {MAX_SUFFIX}", field="code",
                                     details={"code": parent})
        mapping.update(expected_codes(rows, str(parent)))
    out = plan.copy()
    out["code"] = [mapping.get(c, c) for c in codes]
    return out.sort_values("code", kind="stable").reset_index(drop=True), mapping


def next_codes(codes, parent_code: str, n: int) -> list[str]:
    """`n` new codes in `parent_code` after the largest three-digit suffix among `codes`."""
    used = [int(c[len(parent_code):]) for c in pd.Series(list(codes), dtype=object).astype(str)
            if c.startswith(parent_code) and _SUFFIX.match(c[len(parent_code):])]
    start = max(used, default=0) + 1
    if start + n - 1 > MAX_SUFFIX:
        raise UnprocessableError(f"parent {parent_code} has no free grid codes left "
                                 f"(suffixes up to {MAX_SUFFIX}); renumber its grids first",
                                 field="code", details={"code": parent_code})
    return [f"{parent_code}{s:03d}" for s in range(start, start + n)]
