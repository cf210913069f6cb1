"""Edit operations on a draft grid plan: pure functions from a plan to a new plan and a Change.

A plan is a GeoDataFrame of grids (code, name, parent_code, households, population, geometry)
in EPSG:4326; `units` is a GeoDataFrame of the leaf units grids tile (code, name, geometry).
Every operation returns (new plan sorted by code, Change). A Change holds the rows the edit
removed or modified as they were (`before`) and the rows it added or modified as they are
(`after`); Change.apply redoes it on the old plan and Change.revert undoes it on the new one, by
swapping those rows.

Operations: split_by_line, split_equal, merge, reshape, move_area, add_grid, retire, and redraw
(the general form the others end in: new geometries for some grids, land conserved).

Land is never lost: the land the edited grids held before is covered by them afterwards (checked
on every edit, tolerance 1 m²), so no edit opens a gap or creates an overlap among grids that
did not overlap. Geometry work is planar in EPSG:4326, like the stored data; areas and border
lengths are in metres (gis.planning.checks.to_metric).

Households and population move with land. Each edited grid's count is shared among the grids
that receive its land in proportion to the area (m²) each receives, assuming people are spread
evenly over a grid. Shares are made whole by the largest-remainder method (apportion): every
receiver gets the whole part of its share, and the units left over go one each to the largest
fractional parts (ties to the receiver listed first). Each grid's count, and so the plan total,
is preserved exactly. Land taken from no grid (a gap) brings no one.

New grids get the next free codes in their parent (gis.planning.renumber.next_codes); when a grid is cut
in pieces, the largest piece keeps its code and name. Invalid requests raise gis.errors.InputError
(malformed geometry or arguments, 400) or UnprocessableError (well-formed but impossible, 422),
naming the grid code in `details`.
"""
from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.affinity
import shapely.ops
from scipy.optimize import brentq
from shapely import STRtree
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from gis.errors import Conflict, InputError, UnprocessableError
from gis.geo.measure import area_m2, length_m
from gis.geo.shapes import zoom_point
from gis.planning.renumber import next_codes, reading_order

COUNT_COLUMNS = ("households", "population")
NOISE_M2 = 0.01      # polygon parts this small are overlay noise and dropped
SLIVER_M2 = 1.0      # detached parts this small left to a neighbour go to the edited grid
LAND_TOLERANCE_M2 = 1.0
SNAP_DEG = 1e-8      # ~1 mm: borders this close count as shared
MIN_BORDER_M = 0.1   # grids sharing less border than this are not adjacent
MAX_PARTS = 50


# ---- the change record ----

@dataclass(frozen=True, eq=False)
class Change:
    op: str
    before: gpd.GeoDataFrame   # rows removed or modified, as they were
    after: gpd.GeoDataFrame    # rows added or modified, as they are now

    @property
    def removed(self) -> list[str]:
        return sorted(set(self.before["code"]) - set(self.after["code"]))

    @property
    def added(self) -> list[str]:
        return sorted(set(self.after["code"]) - set(self.before["code"]))

    @property
    def changed(self) -> list[str]:
        return sorted(set(self.before["code"]) & set(self.after["code"]))

    def apply(self, plan: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Redo: the plan after the edit, from the plan before it."""
        return _swap(plan, self.before, self.after)

    def revert(self, plan: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Undo: the plan before the edit, from the plan after it."""
        return _swap(plan, self.after, self.before)

    def to_dict(self) -> dict:
        return {"op": self.op, "removed": self.removed, "added": self.added,
                "changed": self.changed, "before": _features(self.before),
                "after": _features(self.after)}

    @classmethod
    def from_dict(cls, body: dict) -> "Change":
        return cls(body["op"], _frame(body["before"]), _frame(body["after"]))


def _features(frame: gpd.GeoDataFrame) -> dict:
    return frame.to_geo_dict(drop_id=True)


def _frame(collection: dict) -> gpd.GeoDataFrame:
    feats = collection.get("features", [])
    if not feats:
        return gpd.GeoDataFrame({"code": pd.Series(dtype=object)}, geometry=[], crs="EPSG:4326")
    frame = gpd.GeoDataFrame.from_features(feats, crs="EPSG:4326")
    return frame[[c for c in frame.columns if c != "geometry"] + ["geometry"]]


def _swap(plan, out_rows, in_rows) -> gpd.GeoDataFrame:
    codes = set(plan["code"])
    missing = sorted(set(out_rows["code"]) - codes)
    clash = sorted(set(in_rows["code"]) - set(out_rows["code"]) & codes)
    if missing or clash:
        raise Conflict("the plan is not in the state this change applies to"
                       + (f": missing {', '.join(missing)}" if missing else "")
                       + (f": already holds {', '.join(clash)}" if clash else ""),
                       details={"missing": missing, "present": clash})
    kept = plan[~plan["code"].isin(set(out_rows["code"]))]
    rows = in_rows.reindex(columns=plan.columns) if len(in_rows) else in_rows
    out = pd.concat([kept, rows], ignore_index=True) if len(rows) else kept
    return _sorted(gpd.GeoDataFrame(out, geometry="geometry", crs=plan.crs))


def _sorted(plan: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return plan.sort_values("code", kind="stable").reset_index(drop=True)


# ---- counts ----

def apportion(total: int, weights) -> np.ndarray:
    """Split the whole number `total` in proportion to `weights` into whole numbers summing to it
    (largest remainder; ties go to the earlier weight)."""
    w = np.asarray(weights, dtype=float)
    total = int(total)
    if total == 0 or not len(w):
        return np.zeros(len(w), dtype=np.int64)
    if not (w >= 0).all() or w.sum() <= 0:
        raise ValueError("weights must be >= 0 with a positive sum")
    quota = total * w / w.sum()
    base = np.floor(quota).astype(np.int64)
    left = total - int(base.sum())
    order = np.argsort(-(quota - base), kind="stable")
    base[order[:left]] += 1
    return base


# ---- geometry helpers ----

def _as_geometry(value, field: str, kinds: tuple[str, ...]) -> BaseGeometry:
    try:
        geom = value if isinstance(value, BaseGeometry) else shape(value)
    except Exception as exc:
        raise InputError(f"{field} is not a geometry", field=field) from exc
    if geom.is_empty:
        raise InputError(f"{field} is empty", field=field)
    if geom.geom_type not in kinds:
        raise InputError(f"{field} is a {geom.geom_type}; expected {' or '.join(kinds)}",
                         field=field)
    if not geom.is_valid:
        raise InputError(f"{field} is not valid: {shapely.is_valid_reason(geom)}", field=field)
    return geom


def polygonal(geom) -> BaseGeometry:
    """The polygonal part of an overlay result, without noise-sized pieces or pinholes."""
    if geom is None or geom.is_empty:
        return Polygon()
    parts = shapely.get_parts(shapely.get_parts(geom))
    parts = parts[shapely.get_type_id(parts) == 3]
    if len(parts):
        parts = parts[area_m2(parts) > NOISE_M2]
    if not len(parts):
        return Polygon()
    parts = [_fill_pinholes(p) for p in parts]
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _fill_pinholes(poly: Polygon) -> Polygon:
    holes = [r for r in poly.interiors if area_m2(Polygon(r))[0] > NOISE_M2]
    return poly if len(holes) == len(poly.interiors) else Polygon(poly.exterior, holes)


def _parts(geom) -> list[BaseGeometry]:
    """Polygon parts, largest first."""
    parts = list(shapely.get_parts(geom))
    return sorted(parts, key=lambda p: -p.area)


def shared_border_m(geom, others) -> np.ndarray:
    """Length in metres of the border `geom` shares with each of `others`."""
    others = np.atleast_1d(np.asarray(others, dtype=object))
    if not len(others):
        return np.zeros(0)
    lines = shapely.intersection(shapely.boundary(geom),
                                 shapely.buffer(others, SNAP_DEG, join_style="mitre"))
    return length_m(lines)


def _grid(plan, code: str) -> pd.Series:
    rows = plan[plan["code"] == code]
    if len(rows) != 1:
        problem = "is not in the plan" if not len(rows) else "is used by more than one grid"
        raise UnprocessableError(f"grid {code} {problem}", field="code", details={"code": code})
    return rows.iloc[0]


def _unit(units, code: str):
    rows = units[units["code"] == code]
    if not len(rows):
        raise UnprocessableError(f"unit {code} is not a leaf unit of the plan",
                                 field="parent_code", details={"code": code})
    return rows.geometry.values[0]


def _siblings(plan, parent: str, exclude=()) -> gpd.GeoDataFrame:
    return plan[(plan["parent_code"] == parent) & ~plan["code"].isin(set(exclude))]


def _best_neighbour(piece, candidates: dict[str, BaseGeometry]) -> str | None:
    """The candidate sharing the longest border with `piece` (ties: smaller code), if any."""
    if not candidates:
        return None
    codes = sorted(candidates)
    borders = shared_border_m(piece, [candidates[c] for c in codes])
    best = int(np.argmax(borders))
    return codes[best] if borders[best] >= MIN_BORDER_M else None


def _carve(new: BaseGeometry, code: str, siblings: gpd.GeoDataFrame, geoms: dict) -> BaseGeometry:
    """Take `new` out of every sibling; siblings' detached slivers go to `new`. Updates `geoms`
    (None for a sibling left with nothing) and returns `new` grown by those slivers."""
    hit = siblings[shapely.intersects(siblings.geometry.values, new)]
    for other, geom in zip(hit["code"], hit.geometry.values):
        rest = polygonal(shapely.difference(geom, new))
        parts = _parts(rest)
        for part in parts[1:]:
            if area_m2(part)[0] <= SLIVER_M2:
                new = polygonal(shapely.union(new, part))
                rest = polygonal(shapely.difference(rest, part))
        if rest.is_empty or not shapely.equals(rest, geom):
            geoms[other] = None if rest.is_empty else rest
    return new


# ---- the general edit ----

def redraw(plan: gpd.GeoDataFrame, geometries: dict, *, op: str = "redraw",
           new_grids: dict | None = None) -> tuple[gpd.GeoDataFrame, "Change"]:
    """Give grids new land. `geometries` maps code -> new geometry (None or empty removes the
    grid); codes not in the plan are added with name and parent_code from `new_grids[code]`.
    The land the listed grids held must still be covered by them afterwards; households and
    population are re-apportioned among them by area share (see module docstring)."""
    new_grids = new_grids or {}
    old = plan[plan["code"].isin(set(geometries))]
    if old["code"].duplicated().any():
        dup = sorted(set(old["code"][old["code"].duplicated()]))
        raise UnprocessableError("the plan holds duplicate codes", field="code",
                                 details={"codes": dup})
    targets = {c: g for c, g in geometries.items() if g is not None and not g.is_empty}
    for code, geom in targets.items():
        if geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid:
            raise UnprocessableError(f"the new geometry of grid {code} is not a valid polygon",
                                     field="geometry", details={"code": code})
        if code not in set(old["code"]) and code not in new_grids:
            raise UnprocessableError(f"grid {code} is not in the plan", field="code",
                                     details={"code": code})
    if not targets:
        raise UnprocessableError("an edit cannot remove land from the plan", field="geometry")
    codes = list(targets)
    new_geoms = np.array([targets[c] for c in codes], dtype=object)
    lost = shapely.difference(shapely.union_all(old.geometry.values), shapely.union_all(new_geoms))
    if (lost_m2 := float(area_m2(lost)[0])) > LAND_TOLERANCE_M2:
        lon, lat = zoom_point(lost)
        raise UnprocessableError(f"the edit would leave {lost_m2:.1f} m² without a grid",
                                 field="geometry", details={"lon": lon, "lat": lat})
    counts = {col: np.zeros(len(codes), dtype=np.int64) for col in COUNT_COLUMNS}
    tree = STRtree(new_geoms)
    for _, row in old.iterrows():
        hit = tree.query(row.geometry, predicate="intersects")
        weights = area_m2(shapely.intersection(row.geometry, new_geoms[hit])) if len(hit) else []
        for col in COUNT_COLUMNS:
            value = int(row[col])
            if value and (not len(hit) or np.sum(weights) <= 0):
                raise UnprocessableError(f"grid {row['code']} has no land left for its {col}",
                                         field="geometry", details={"code": row["code"]})
            if value:
                counts[col][hit] += apportion(value, weights)
    before_by_code = {r["code"]: r for _, r in old.iterrows()}
    after_rows = []
    for n, code in enumerate(codes):
        base = before_by_code.get(code)
        row = dict(base) if base is not None else {
            "code": code, "name": new_grids[code].get("name", ""),
            "parent_code": new_grids[code]["parent_code"]}
        if base is not None and "name" in new_grids.get(code, {}):
            row["name"] = new_grids[code]["name"]
        row.update({col: int(counts[col][n]) for col in COUNT_COLUMNS})
        row["geometry"] = targets[code]
        if base is not None and shapely.equals_exact(base.geometry, targets[code], 0) and \
                all(int(base[c]) == row[c] for c in COUNT_COLUMNS):
            continue
        after_rows.append(row)
    changed = {r["code"] for r in after_rows} | (set(old["code"]) - set(targets))
    before = old[old["code"].isin(changed)]
    after = gpd.GeoDataFrame(pd.DataFrame(after_rows, columns=list(plan.columns)),
                             geometry="geometry", crs=plan.crs)
    for col in COUNT_COLUMNS:
        after[col] = after[col].astype(np.int64)
    change = Change(op, _sorted(before), _sorted(after))
    return change.apply(plan), change


# ---- operations ----

def split_by_line(plan: gpd.GeoDataFrame, code: str, line) -> tuple[gpd.GeoDataFrame, Change]:
    """Cut grid `code` along `line` (which may run beyond the grid) into two or more grids."""
    row = _grid(plan, code)
    line = _as_geometry(line, "line", ("LineString", "MultiLineString"))
    pieces = _parts(polygonal(shapely.ops.split(row.geometry, line)))
    if len(pieces) < 2:
        raise UnprocessableError(f"the line does not cut grid {code} in two; draw it across "
                                 "the whole grid", field="line", details={"code": code})
    return _pieces_to_grids(plan, row, pieces, "split_by_line")


def split_equal(plan: gpd.GeoDataFrame, code: str, k: int,
                angle: float | None = None) -> tuple[gpd.GeoDataFrame, Change]:
    """Cut grid `code` into `k` parts of about equal area by parallel cuts.

    The cuts are perpendicular to the grid's long axis (the longer side of its minimum rotated
    rectangle in metres), or to the direction `angle` (degrees counter-clockwise from east).
    A strip that falls in several pieces (a concave grid) keeps its largest one; the others join
    the neighbouring part they share most border with."""
    row = _grid(plan, code)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= MAX_PARTS:
        raise InputError(f"k must be a whole number from 2 to {MAX_PARTS}", field="k")
    geom = row.geometry
    # Affine local frame in metres: straight lines and area ratios are the same in both.
    lat0 = (geom.bounds[1] + geom.bounds[3]) / 2
    kx, ky = 111_320.0 * np.cos(np.radians(lat0)), 110_574.0
    if angle is None:
        local = shapely.affinity.scale(geom, kx, ky, origin=(0, 0))
        ring = np.asarray(local.minimum_rotated_rectangle.exterior.coords)
        sides = np.diff(ring[:3], axis=0)
        u = sides[int(np.argmax(np.hypot(*sides.T)))]
    else:
        u = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    # s = u . (x*kx, y*ky): constant along each cut; a = gradient of s in lon/lat.
    a = np.array([u[0] * kx, u[1] * ky])
    a /= np.hypot(*a)
    w = np.array([-a[1], a[0]])
    xy = shapely.get_coordinates(geom)
    s = xy @ a
    smin, smax = float(s.min()), float(s.max())
    span = float(np.ptp(xy @ w)) + (smax - smin) + 1.0
    c_w = xy.mean(axis=0) @ w

    def band(s0, s1):
        pts = [s0 * a + (c_w - span) * w, s1 * a + (c_w - span) * w,
               s1 * a + (c_w + span) * w, s0 * a + (c_w + span) * w]
        return Polygon(pts)

    total = geom.area
    cuts = [smin - 1.0]
    for i in range(1, k):
        cuts.append(brentq(lambda t, share=i / k: shapely.intersection(
            geom, band(smin - 1.0, t)).area / total - share, smin, smax, xtol=1e-12))
    cuts.append(smax + 1.0)
    strips = [polygonal(shapely.intersection(geom, band(s0, s1)))
              for s0, s1 in zip(cuts, cuts[1:])]
    pieces = _contiguous([p for p in strips if not p.is_empty])
    if len(pieces) < 2:
        raise UnprocessableError(f"grid {code} cannot be cut into {k} parts", field="k",
                                 details={"code": code})
    return _pieces_to_grids(plan, row, pieces, "split_equal")


def _contiguous(pieces: list[BaseGeometry]) -> list[BaseGeometry]:
    """Give the detached parts of each piece to the piece sharing most border with them."""
    pieces = list(pieces)
    for i in range(len(pieces)):
        parts = _parts(pieces[i])
        if len(parts) < 2:
            continue
        pieces[i] = parts[0]
        for part in parts[1:]:
            others = {str(j): pieces[j] for j in range(len(pieces)) if j != i}
            best = _best_neighbour(part, others)
            j = int(best) if best is not None else i
            pieces[j] = polygonal(shapely.union(pieces[j], part))
    return [p for p in pieces if not p.is_empty]


def split_into(plan: gpd.GeoDataFrame, code: str, pieces, op: str = "split_into"
               ) -> tuple[gpd.GeoDataFrame, Change]:
    """Replace grid `code` by `pieces` (polygons covering its land): the largest keeps the code
    and name, the others get the next free codes of the unit in reading order."""
    return _pieces_to_grids(plan, _grid(plan, code), [polygonal(p) for p in pieces], op)


def _pieces_to_grids(plan, row, pieces, op):
    pieces = sorted(pieces, key=lambda p: -area_m2(p)[0])
    keep, rest = pieces[0], pieces[1:]
    rest = [rest[i] for i in reading_order(rest, [""] * len(rest))]
    parent = row["parent_code"]
    codes = next_codes(plan.loc[plan["parent_code"] == parent, "code"], parent, len(rest))
    geoms = {row["code"]: keep, **dict(zip(codes, rest))}
    new = {c: {"name": f"{row['name']}-{n + 2}", "parent_code": parent}
           for n, c in enumerate(codes)}
    return redraw(plan, geoms, op=op, new_grids=new)


def merge(plan: gpd.GeoDataFrame, codes) -> tuple[gpd.GeoDataFrame, Change]:
    """Merge adjacent grids of one parent into the one with the smallest code."""
    codes = sorted(set(codes)) if not isinstance(codes, str) else [codes]
    if len(codes) < 2:
        raise InputError("merge needs two or more grid codes", field="codes")
    rows = [_grid(plan, c) for c in codes]
    parents = sorted({str(r["parent_code"]) for r in rows})
    if len(parents) > 1:
        raise UnprocessableError(f"grids {', '.join(codes)} lie in different units "
                                 f"({', '.join(parents)}); only grids of one unit merge",
                                 field="codes", details={"codes": codes})
    geoms = {r["code"]: r.geometry for r in rows}
    reached, frontier = {codes[0]}, [codes[0]]
    while frontier:
        here = frontier.pop()
        rest = [c for c in codes if c not in reached]
        borders = shared_border_m(geoms[here], [geoms[c] for c in rest])
        for c, b in zip(rest, borders):
            if b >= MIN_BORDER_M:
                reached.add(c)
                frontier.append(c)
    apart = [c for c in codes if c not in reached]
    if apart:
        raise UnprocessableError(f"grid {apart[0]} shares no border with grid "
                                 f"{', '.join(sorted(reached))}", field="codes",
                                 details={"code": apart[0]})
    union = polygonal(shapely.union_all(list(geoms.values())))
    return redraw(plan, {codes[0]: union, **{c: None for c in codes[1:]}}, op="merge")


def retire(plan: gpd.GeoDataFrame, code: str, to: str | None = None
           ) -> tuple[gpd.GeoDataFrame, Change]:
    """Remove grid `code`; its land and people go to grid `to`, or by default to the grid of the
    same unit sharing the longest border with it."""
    row = _grid(plan, code)
    parent = row["parent_code"]
    if to is not None:
        target = _grid(plan, to)
        if target["parent_code"] != parent or to == code:
            raise UnprocessableError(f"grid {to} is not another grid of unit {parent}",
                                     field="to", details={"code": code, "to": to})
        if shared_border_m(row.geometry, [target.geometry])[0] < MIN_BORDER_M:
            raise UnprocessableError(f"grid {to} shares no border with grid {code}", field="to",
                                     details={"code": code, "to": to})
    else:
        sib = _siblings(plan, parent, exclude=[code])
        to = _best_neighbour(row.geometry, dict(zip(sib["code"], sib.geometry.values)))
        if to is None:
            raise UnprocessableError(f"grid {code} has no neighbour in unit {parent} to take "
                                     "its land", field="code", details={"code": code})
        target = _grid(plan, to)
    union = polygonal(shapely.union(target.geometry, row.geometry))
    return redraw(plan, {to: union, code: None}, op="retire")


def reshape(plan: gpd.GeoDataFrame, units: gpd.GeoDataFrame, code: str, outline
            ) -> tuple[gpd.GeoDataFrame, Change]:
    """Give grid `code` a new outline, clipped to its unit.

    Grids of the unit lose what the grid gains (a grid left with nothing is removed). Each piece
    of land the grid gives up goes to the grid of the unit sharing the longest border with that
    piece, so no gap opens; a piece no other grid borders stays with the grid."""
    row = _grid(plan, code)
    parent = row["parent_code"]
    outline = _as_geometry(outline, "outline", ("Polygon", "MultiPolygon"))
    new = polygonal(shapely.intersection(outline, _unit(units, parent)))
    _single_part(new, code, f"the outline clipped to unit {parent}")
    geoms: dict = {}
    siblings = _siblings(plan, parent, exclude=[code])
    new = _carve(new, code, siblings, geoms)
    current = dict(zip(siblings["code"], siblings.geometry.values))
    current.update(geoms)
    for piece in _parts(polygonal(shapely.difference(row.geometry, new))):
        live = {c: g for c, g in current.items() if g is not None}
        to = _best_neighbour(piece, live)
        if to is None:
            new = polygonal(shapely.union(new, piece))
        else:
            current[to] = geoms[to] = polygonal(shapely.union(live[to], piece))
    geoms[code] = new
    return redraw(plan, geoms, op="reshape")


def _single_part(geom, code, what):
    if geom.is_empty:
        raise UnprocessableError(f"{what} is empty", field="outline", details={"code": code})
    if len(shapely.get_parts(geom)) > 1:
        lon, lat = zoom_point(_parts(geom)[1])
        raise UnprocessableError(f"{what} falls in {len(shapely.get_parts(geom))} separate "
                                 "parts; a grid is one polygon", field="outline",
                                 details={"code": code, "lon": lon, "lat": lat})


def move_area(plan: gpd.GeoDataFrame, source: str, target: str, area
              ) -> tuple[gpd.GeoDataFrame, Change]:
    """Move the part of grid `source` inside `area` (drawn, or a unit's outline) to the adjacent
    grid `target` of the same unit."""
    src, dst = _grid(plan, source), _grid(plan, target)
    details = {"code": source, "to": target}
    if source == target or src["parent_code"] != dst["parent_code"]:
        raise UnprocessableError(f"grid {target} is not another grid of unit "
                                 f"{src['parent_code']}", field="to", details=details)
    area = _as_geometry(area, "area", ("Polygon", "MultiPolygon"))
    piece = polygonal(shapely.intersection(src.geometry, area))
    if piece.is_empty or area_m2(piece)[0] <= LAND_TOLERANCE_M2:
        raise UnprocessableError(f"the area does not overlap grid {source}", field="area",
                                 details=details)
    rest = polygonal(shapely.difference(src.geometry, piece))
    if rest.is_empty:
        raise UnprocessableError(f"the area covers all of grid {source}; merge or retire it "
                                 "instead", field="area", details=details)
    for part in _parts(piece):
        if shared_border_m(part, [dst.geometry])[0] < MIN_BORDER_M:
            lon, lat = zoom_point(part)
            raise UnprocessableError(f"the part of the area at {lon},{lat} does not border "
                                     f"grid {target}", field="area",
                                     details={**details, "lon": lon, "lat": lat})
    grown = polygonal(shapely.union(dst.geometry, piece))
    return redraw(plan, {source: rest, target: grown}, op="move_area")


def add_grid(plan: gpd.GeoDataFrame, units: gpd.GeoDataFrame, outline,
             parent_code: str | None = None, name: str | None = None
             ) -> tuple[gpd.GeoDataFrame, Change]:
    """Add a grid drawn as `outline`, clipped to its unit (by default the unit it overlaps most)
    and carved out of that unit's grids (a grid left with nothing is removed)."""
    outline = _as_geometry(outline, "outline", ("Polygon", "MultiPolygon"))
    if parent_code is None:
        hit = units[shapely.intersects(units.geometry.values, outline)]
        overlap = area_m2(shapely.intersection(hit.geometry.values, outline)) if len(hit) else []
        if not len(hit) or max(overlap) <= LAND_TOLERANCE_M2:
            raise UnprocessableError("the outline lies outside every unit", field="outline")
        parent_code = str(hit["code"].iat[int(np.argmax(overlap))])
    new = polygonal(shapely.intersection(outline, _unit(units, parent_code)))
    code = next_codes(plan.loc[plan["parent_code"] == parent_code, "code"], parent_code, 1)[0]
    _single_part(new, code, f"the outline clipped to unit {parent_code}")
    geoms: dict = {}
    geoms[code] = _carve(new, code, _siblings(plan, parent_code), geoms)
    meta = {code: {"name": name or f"网格{code[-3:]}", "parent_code": parent_code}}
    return redraw(plan, geoms, op="add_grid", new_grids=meta)
