"""A mutable spatial index of a draft plan's grids (rtree), kept in step with edits.

STRtree is immutable; while a planner edits, grids come and go one edit at a time, so the plan
keeps an rtree index and applies each edit's change record to it (insert and delete) instead of
rebuilding it. Grids are keyed by code; codes are unique within a plan.
"""
from __future__ import annotations

import itertools

import geopandas as gpd
import shapely
from rtree import index as rtree_index

from gis.errors import UnprocessableError


class PlanIndex:
    def __init__(self):
        self._tree = rtree_index.Index()
        self._ids = itertools.count()
        self._entries: dict[str, tuple[int, tuple, object]] = {}  # code -> (id, bounds, geom)
        self._codes: dict[int, str] = {}

    @classmethod
    def from_plan(cls, plan: gpd.GeoDataFrame) -> "PlanIndex":
        out = cls()
        for code, geom in zip(plan["code"].astype(str), plan.geometry.values):
            out.insert(code, geom)
        return out

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, code) -> bool:
        return code in self._entries

    def geometry(self, code: str):
        return self._entries[code][2]

    def insert(self, code: str, geom) -> None:
        if code in self._entries:
            raise UnprocessableError(f"grid {code} is already in the index", field="code",
                                     details={"code": code})
        if geom is None or geom.is_empty:
            raise UnprocessableError(f"grid {code} has no geometry", field="code",
                                     details={"code": code})
        ident = next(self._ids)
        bounds = tuple(shapely.bounds(geom))
        self._tree.insert(ident, bounds)
        self._entries[code] = (ident, bounds, geom)
        self._codes[ident] = code

    def delete(self, code: str) -> None:
        if code not in self._entries:
            raise UnprocessableError(f"grid {code} is not in the index", field="code",
                                     details={"code": code})
        ident, bounds, _ = self._entries.pop(code)
        self._tree.delete(ident, bounds)
        del self._codes[ident]

    def candidates(self, bounds) -> list[str]:
        """Codes of the grids whose bounding box meets `bounds` (minx, miny, maxx, maxy)."""
        return sorted(self._codes[i] for i in self._tree.intersection(tuple(bounds)))

    def intersecting(self, geom) -> list[str]:
        """Codes of the grids whose closed polygon meets `geom` (borders and corners count)."""
        if geom is None or geom.is_empty:
            return []
        return [c for c in self.candidates(geom.bounds)
                if shapely.intersects(self._entries[c][2], geom)]

    def apply(self, change) -> None:
        """Bring the index from the plan before `change` (gis.planning.edits.Change) to the plan
        after."""
        self._swap(change.before, change.after)

    def revert(self, change) -> None:
        self._swap(change.after, change.before)

    def _swap(self, out_rows, in_rows) -> None:
        for code in out_rows["code"].astype(str):
            self.delete(code)
        for code, geom in zip(in_rows["code"].astype(str), in_rows.geometry.values):
            self.insert(code, geom)
