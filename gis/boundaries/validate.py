"""Validation of a boundary set before anything is written.

Rules: valid polygonal non-empty geometry; unique codes consistent with parents (gis.domain);
every parent exists one level up; every unit inside its parent; no overlap between units of one
level; children cover their parent with no gap ("no blind spots"); grids sit in leaf units (a
hamlet, or a village/community without hamlets) and cover each leaf completely. Areas are measured
on the storage coordinates (EPSG:4326, planar, exactly as assignment sees them) and converted to
m² with the local scale at each piece, with a tolerance (default 1 m²) for slivers.
Each problem names the unit's code and a lon/lat to zoom to.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree
from shapely.errors import GEOSException

from gis.boundaries.read import BoundarySet
from gis.domain import AREA_KINDS, code_problem
from gis.errors import Problem
from gis.geo.measure import area_m2
from gis.geo.shapes import zoom_point

PARENT_LEVEL = {"township": "city", "village": "township", "hamlet": "village"}


def _problem(level: str, code: str, rule: str, message: str, lon=None, lat=None) -> Problem:
    return Problem(rule, code, message, lon, lat, level=level)


def validate_boundary_set(bset: BoundarySet, tolerance_m2: float = 1.0,
                          step=lambda phase: None) -> list[Problem]:
    """Every problem of the set; `step(phase)` hears each check as it starts (a long import
    shows where it is)."""
    layers = {k: v for k, v in bset.layers.items() if len(v)}
    problems: list[Problem] = []
    if "city" not in layers or "grid" not in layers:
        return [_problem("set", "", "missing_layer", "a boundary set needs a city and grids")]
    ok = {}  # level -> boolean mask of geometrically usable rows
    for level, frame in layers.items():
        step(f"checking {level} codes and shapes")
        problems += _attribute_problems(level, frame, layers)
        geom_problems, ok[level] = _geometry_problems(level, frame)
        problems += geom_problems
    area_levels = [lv for lv in ("city", "township", "village", "hamlet") if lv in layers]
    for level in area_levels[1:] + ["grid"]:
        step(f"checking {level} overlaps")
        problems += _overlaps(level, layers[level], ok[level], tolerance_m2)
    leaf_of = _leaf_parents(layers)
    for level in area_levels[1:]:
        parent_level = PARENT_LEVEL[level]
        step(f"checking {level} inside {parent_level}")
        problems += _containment(level, layers[level], ok[level], parent_level,
                                 layers[parent_level], ok[parent_level], tolerance_m2)
    step("checking grids inside their units")
    problems += _grid_containment(layers, ok, leaf_of, tolerance_m2)
    return problems


def _attribute_problems(level, frame, layers) -> list[Problem]:
    out = []
    codes = frame["code"]
    for i in np.flatnonzero(codes.isna() | (codes == "")):
        out.append(_problem(level, f"row {frame['source_row'].iat[i]}", "missing_code",
                           "unit has no code"))
    dup = codes[codes.duplicated(keep=False) & codes.notna()]
    for code in sorted(set(dup)):
        out.append(_problem(level, code, "duplicate_code", f"code {code} is used more than once"))
    if level != "grid":
        allowed = AREA_KINDS[level]
        for code, kind in zip(codes, frame["kind"]):
            if kind not in allowed:
                out.append(_problem(level, str(code), "bad_kind",
                                   f"kind {kind!r} is not one of {sorted(allowed)}"))
    if level == "city":
        if len(frame) != 1:
            out.append(_problem(level, ",".join(map(str, codes)), "one_city",
                               f"a boundary set holds exactly one city, found {len(frame)}"))
        for code in codes.dropna():
            if (msg := code_problem("city", code, None)):
                out.append(_problem(level, code, "bad_code", msg))
        return out
    if level == "grid":
        parents = pd.concat([layers[lv]["code"] for lv in ("village", "hamlet") if lv in layers])
    else:
        parents = layers[PARENT_LEVEL[level]]["code"]
    parent_set = set(parents.dropna())
    for code, parent in zip(codes, frame["parent_code"]):
        if pd.isna(code) or code == "":
            continue
        if pd.isna(parent) or parent not in parent_set:
            out.append(_problem(level, code, "unknown_parent",
                               f"parent {parent if not pd.isna(parent) else '(none)'} "
                               "is not in the set"))
            continue
        if (msg := code_problem(level, code, parent)):
            out.append(_problem(level, code, "bad_code", msg))
    if level == "grid":
        for col in ("households", "population"):
            values = frame[col]
            for code, v in zip(codes, values):
                if pd.isna(v) or v < 0 or v != int(v):
                    out.append(_problem(level, str(code), "bad_count",
                                       f"{col} must be a whole number >= 0, got {v}"))
    return out


def _geometry_problems(level, frame) -> tuple[list[Problem], np.ndarray]:
    geoms = frame.geometry.values
    out = []
    missing = shapely.is_missing(np.asarray(geoms))
    empty = np.array([g is None or g.is_empty for g in geoms])
    types = np.array([g.geom_type if g is not None else None for g in geoms], dtype=object)
    polygonal = np.isin(types, ["Polygon", "MultiPolygon"])
    valid = np.array([bool(g is not None and g.is_valid) for g in geoms])
    for i, code in enumerate(frame["code"]):
        code = str(code)
        if missing[i] or empty[i]:
            out.append(_problem(level, code, "empty_geometry", "geometry is missing or empty"))
        elif not polygonal[i]:
            hint = " (--repair keeps its polygonal parts)" \
                if (shapely.get_type_id(_flatten(geoms[i])) == 3).any() else ""
            out.append(_problem(level, code, "not_polygonal",
                               f"geometry is a {types[i]}, expected a polygon{hint}",
                               *_safe_locate(geoms[i])))
        elif not valid[i]:
            reason, lon, lat = invalidity(geoms[i])
            out.append(_problem(level, code, "invalid_geometry",
                               f"{reason} (--repair applies shapely.make_valid)", lon, lat))
    return out, ~(missing | empty) & polygonal & valid


_REASON_AT = re.compile(r"^(.*?)\s*\[\s*(\S+)\s+(\S+)\s*\]\s*$")


def invalidity(geom) -> tuple[str, float | None, float | None]:
    """Why a geometry is invalid and where: GEOS names the offending point in its reason,
    e.g. 'Self-intersection[125.05 46.1]'."""
    reason = shapely.is_valid_reason(geom)
    if (m := _REASON_AT.match(reason)):
        try:
            return m.group(1), round(float(m.group(2)), 6), round(float(m.group(3)), 6)
        except ValueError:
            pass
    return reason, *_safe_locate(geom)


def _safe_locate(geom) -> tuple[float | None, float | None]:
    try:
        return zoom_point(geom)
    except GEOSException:  # some invalid geometries have no representative point
        return None, None


def _flatten(geom) -> np.ndarray:
    """The non-empty single-part geometries (points, lines, polygons) inside a geometry."""
    parts = np.array([geom], dtype=object)
    while np.isin(shapely.get_type_id(parts), (4, 5, 6, 7)).any():
        parts = shapely.get_parts(parts)
    return parts[~shapely.is_empty(parts)]


def polygonal_part(geom) -> tuple[object | None, int]:
    """The union of a geometry's polygons (None if it has none) and how many other parts
    (points, lines) it held."""
    parts = _flatten(geom)
    is_poly = shapely.get_type_id(parts) == 3
    dropped = int((~is_poly).sum())
    if not is_poly.any():
        return None, dropped
    return shapely.union_all(parts[is_poly]), dropped


@dataclass(frozen=True)
class Repair:
    layer: str
    code: str
    action: str
    area_before_m2: float
    area_after_m2: float
    lon: float | None = None
    lat: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        where = f" at {self.lon:.6f},{self.lat:.6f}" if self.lon is not None else ""
        return (f"[{self.layer} {self.code}] {self.action}{where}: area "
                f"{self.area_before_m2:,.1f} m² -> {self.area_after_m2:,.1f} m²")


def repair_geometries(bset: BoundarySet) -> list[Repair]:
    """Repair geometries in place: invalid polygons through shapely.make_valid, and geometry
    collections, keeping only the polygonal parts. Features with no polygonal part (empty,
    points, lines) are left unchanged for validation to report. Returns one Repair per
    changed feature; areas are m² on the storage coordinates (an invalid polygon's area is
    what GEOS computes from its rings, e.g. 0 for a symmetric bow-tie whose lobes cancel)."""
    repairs = []
    for level, frame in bset.layers.items():
        geoms = np.array(frame.geometry.values, dtype=object)
        present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        types = shapely.get_type_id(geoms)
        valid = shapely.is_valid(geoms)
        todo = np.flatnonzero(present & ((types == 7) | (np.isin(types, (3, 6)) & ~valid)))
        for i in todo:
            before = geoms[i]
            if valid[i]:
                action, lon, lat = "kept the polygonal parts of a GeometryCollection", None, None
                made = before
            else:
                reason, lon, lat = invalidity(before)
                action = f"{reason}: made valid"
                try:
                    made = shapely.make_valid(before)
                except GEOSException:
                    continue
            after, dropped = polygonal_part(made)
            if after is None:
                continue
            if dropped:
                action += f", dropped {dropped} non-polygonal part(s)"
            if lon is None:
                lon, lat = _safe_locate(after)
            geoms[i] = after
            repairs.append(Repair(level, str(frame["code"].iat[i]), action,
                                  round(float(area_m2(before)[0]), 1),
                                  round(float(area_m2(after)[0]), 1), lon, lat))
        if len(todo):
            frame = frame.copy()
            frame["geometry"] = gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs)
            bset.layers[level] = frame
    return repairs


def _overlaps(level, frame, ok, tol) -> list[Problem]:
    geoms = frame.geometry.values[ok]
    codes = frame["code"].to_numpy()[ok]
    if len(geoms) < 2:
        return []
    tree = STRtree(np.asarray(geoms))
    a, b = tree.query(np.asarray(geoms), predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if not len(a):
        return []
    inter = shapely.intersection(np.asarray(geoms)[a], np.asarray(geoms)[b])
    areas = area_m2(inter)
    out = []
    for i in np.flatnonzero(areas > tol):
        lon, lat = zoom_point(inter[i])
        out.append(_problem(level, str(codes[a[i]]), "overlap",
                           f"overlaps {codes[b[i]]} by {areas[i]:.1f} m²", lon, lat))
    return out


def _containment(level, children, child_ok, parent_level, parents, parent_ok,
                 tol) -> list[Problem]:
    """Each child inside its parent; the children of each parent cover it without gaps."""
    out = []
    parent_geom = dict(zip(parents["code"][parent_ok], parents.geometry.values[parent_ok]))
    good = children[child_ok & children["parent_code"].isin(parent_geom).to_numpy()]
    for code, parent, geom in zip(good["code"], good["parent_code"], good.geometry.values):
        outside = shapely.difference(geom, parent_geom[parent])
        if (outside_m2 := float(area_m2(outside)[0])) > tol:
            lon, lat = zoom_point(outside)
            out.append(_problem(level, code, "outside_parent",
                               f"{outside_m2:.1f} m² lie outside parent {parent}", lon, lat))
    grouped = good.groupby("parent_code").geometry.apply(lambda s: shapely.union_all(s.values))
    for parent, pgeom in parent_geom.items():
        if level == "hamlet" and parent not in set(children["parent_code"]):
            continue  # a village without hamlets is itself a leaf
        if parent in grouped.index:
            gap = shapely.difference(pgeom, grouped[parent])
        else:
            gap = pgeom
        if (gap_m2 := float(area_m2(gap)[0])) > tol:
            lon, lat = zoom_point(gap)
            out.append(_problem(parent_level, parent, "gap",
                               f"{gap_m2:.1f} m² are not covered by any {level}", lon, lat))
    return out


def _leaf_parents(layers) -> set[str]:
    """Codes of the units grids may sit in: hamlets, and villages/communities with no hamlet."""
    villages = set(layers["village"]["code"].dropna())
    if "hamlet" not in layers:
        return villages
    hamlets = layers["hamlet"]
    return (villages - set(hamlets["parent_code"].dropna())) | set(hamlets["code"].dropna())


def _grid_containment(layers, ok, leaf_codes, tol) -> list[Problem]:
    units = [layers[lv].assign(_ok=ok[lv]) for lv in ("village", "hamlet") if lv in layers]
    leaves = pd.concat(units)
    leaves = gpd.GeoDataFrame(leaves[leaves["code"].isin(leaf_codes)], crs=layers["grid"].crs)
    grids = layers["grid"]
    out = []
    non_leaf = grids["parent_code"].notna() & ~grids["parent_code"].isin(leaf_codes) & \
        grids["parent_code"].isin(set(layers["village"]["code"]))
    for code, parent in zip(grids["code"][non_leaf], grids["parent_code"][non_leaf]):
        out.append(_problem("grid", str(code), "parent_not_leaf",
                           f"village {parent} is divided into hamlets: the grid must sit in one"))
    out += _containment("grid", grids, ok["grid"], "leaf unit", leaves,
                        leaves["_ok"].to_numpy(), tol)
    return out
