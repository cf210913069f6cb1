"""Validation of a boundary set before anything is written.

Rules: valid polygonal non-empty geometry; unique codes consistent with parents (gis.domain);
every parent exists one level up; every unit inside its parent; no overlap between units of one
level; children cover their parent with no gap ("no blind spots"); grids sit in leaf units (a
hamlet, or a village/community without hamlets) and cover each leaf completely. Areas are measured
on the storage coordinates (EPSG:4326, planar, exactly as assignment sees them) and converted to
m² with the local scale at each piece, with a tolerance (default 1 m²) for slivers.
Each problem names the unit's code and a lon/lat to zoom to. A unit whose geometry --repair
can fix (`fix_geometry`) is reported as invalid, and its parent's gap counts it as repaired.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree
from shapely.errors import GEOSException

from gis.boundaries.read import BoundarySet
from gis.domain import AREA_KINDS, LEVELS, code_problem
from gis.errors import Problem
from gis.geo.measure import area_m2, metres_per_degree
from gis.geo.shapes import zoom_point



def _problem(level: str, code: str, rule: str, message: str, lon=None, lat=None) -> Problem:
    return Problem(rule, code, message, lon, lat, level=level)


def validate_boundary_set(bset: BoundarySet, tolerance_m2: float = 1.0,
                          step=lambda phase: None) -> list[Problem]:
    """Every problem of the set; `step(phase)` hears each check as it starts (a long import
    shows where it is)."""
    layers = {k: v for k, v in bset.layers.items() if len(v)}
    problems: list[Problem] = []
    area_levels = [lv for lv in LEVELS if lv in layers]
    if not area_levels or "grid" not in layers:
        return [_problem("set", "", "missing_layer",
                         "a boundary set needs an area layer (its top unit) and grids")]
    parent_level = dict(zip(area_levels[1:], area_levels))  # the nearest level above
    ok = {}  # level -> boolean mask of geometrically usable rows
    cover = {}  # level -> what each row covers once repaired (None: nothing), for gaps
    for level, frame in layers.items():
        step(f"checking {level} codes and shapes")
        problems += _attribute_problems(level, frame, layers, parent_level, area_levels)
        geom_problems, ok[level], cover[level] = _geometry_problems(level, frame)
        problems += geom_problems
    for level in area_levels[1:] + ["grid"]:
        step(f"checking {level} overlaps")
        problems += _overlaps(level, layers[level], ok[level], tolerance_m2)
    base = _base_level(area_levels)
    leaf_of = _leaf_parents(layers, base)
    for level in area_levels[1:]:
        above = parent_level[level]
        step(f"checking {level} inside {above}")
        problems += _containment(level, layers[level], ok[level], cover[level], above,
                                 layers[above], ok[above], tolerance_m2)
    step("checking grids inside their units")
    problems += _grid_containment(layers, ok, cover["grid"], leaf_of, base, tolerance_m2)
    return problems


def _base_level(area_levels: list[str]) -> str:
    """The lowest level grids sit in (hamlets divide some of its units)."""
    below = [lv for lv in area_levels if lv != "hamlet"]
    return below[-1] if below else "hamlet"


def _attribute_problems(level, frame, layers, parent_level, area_levels) -> list[Problem]:
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
    if level == area_levels[0]:  # the set's top unit: one, at any level of the ladder
        if len(frame) != 1:
            out.append(_problem(level, ",".join(map(str, codes)), "one_city",
                               f"a boundary set holds exactly one top unit (its {level}), "
                               f"found {len(frame)}"))
        for code in codes.dropna():
            if (msg := code_problem(level, code, None)):
                out.append(_problem(level, code, "bad_code", msg))
        return out
    if level == "grid":
        base = _base_level(area_levels)
        parents = pd.concat([layers[lv]["code"] for lv in dict.fromkeys((base, "hamlet"))
                             if lv in layers])
    else:
        parents = layers[parent_level[level]]["code"]
    parent_set = set(parents.dropna())
    for code, parent in zip(codes, frame["parent_code"]):
        if pd.isna(code) or code == "":
            continue
        if pd.isna(parent) or parent not in parent_set:
            out.append(_problem(level, code, "unknown_parent",
                               f"parent {parent if not pd.isna(parent) else '(none)'} "
                               "is not in the set"))
            continue
        if (msg := code_problem(level, code, parent, parent_level.get(level))):
            out.append(_problem(level, code, "bad_code", msg))
    if level == "grid":
        for col in ("households", "population"):
            values = frame[col]
            for code, v in zip(codes, values):
                if pd.isna(v) or v < 0 or v != int(v):
                    out.append(_problem(level, str(code), "bad_count",
                                       f"{col} must be a whole number >= 0, got {v}"))
    return out


def _geometry_problems(level, frame) -> tuple[list[Problem], np.ndarray, np.ndarray]:
    """The problems of each row's geometry; which rows are usable as they are; and what each
    row covers: its geometry, or for one --repair can fix what the repair makes of it (so an
    invalid unit is not also reported as a gap in its parent), or None."""
    geoms = frame.geometry.values
    cover = np.array(geoms, dtype=object)
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
            fix = _safe_fix(geoms[i]) if types[i] == "GeometryCollection" else None
            cover[i] = fix.geom if fix else None
            hint = " (--repair keeps its polygonal parts)" if fix else ""
            out.append(_problem(level, code, "not_polygonal",
                               f"geometry is a {types[i]}, expected a polygon{hint}",
                               *_safe_locate(geoms[i])))
        elif not valid[i]:
            fix = _safe_fix(geoms[i])
            cover[i] = fix.geom if fix else None
            lon, lat = (fix.lon, fix.lat) if fix else invalidity(geoms[i])[1:]
            out.append(_problem(level, code, "invalid_geometry", _invalid_message(geoms[i], fix),
                               lon, lat))
    usable = ~(missing | empty) & polygonal & valid
    cover[missing | empty] = None
    return out, usable, cover


def _safe_fix(geom) -> Fix | None:
    try:
        return fix_geometry(geom)
    except GEOSException:
        return None


def _invalid_message(geom, fix: Fix | None) -> str:
    """Why a geometry is invalid and what --repair would make of it."""
    if fix is None:
        return f"{invalidity(geom)[0]} (--repair cannot make a polygon of it)"
    loss = f"; {fix.loss_note()}" if fix.loses_area else ""
    if fix.merged:
        how = {"nested": "nest", "overlapping": "overlap"}.get(fix.kind, "nest or overlap")
        kept = f"{fix.after_m2:,.1f} m²{loss}" if loss else f"area kept: {fix.after_m2:,.1f} m²"
        return (f"{fix.reason}: {fix.merged} parts {how} ({fix.shared_m2:,.1f} m² lie in more "
                f"than one part); --repair merges them ({kept})")
    return f"{fix.reason} (--repair applies shapely.make_valid{loss})"


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


# A repair losing more than this share of the area its rings enclose (and at least
# LOSS_FLOOR_M2) says so in its action.
LOSS_SHARE = 0.01
LOSS_FLOOR_M2 = 1.0


@dataclass(frozen=True)
class Fix:
    """What repairing one geometry does. `geom` is the valid polygonal result (None when no
    polygon is left); `reason` says what is wrong, `action` what the repair does; `merged`
    counts the parts merged because they overlap (`kind`: nested, overlapping or both) and
    `shared_m2` the area lying in more than one of them; `lost_m2` is how
    much less the result covers than its rings enclose (GEOS's area of each part), beyond the
    area shared by parts."""
    geom: object | None
    reason: str
    action: str
    lon: float | None
    lat: float | None
    merged: int = 0
    kind: str = ""
    shared_m2: float = 0.0
    lost_m2: float = 0.0
    before_m2: float = 0.0
    after_m2: float = 0.0

    @property
    def loses_area(self) -> bool:
        return self.lost_m2 > max(LOSS_FLOOR_M2, LOSS_SHARE * abs(self.before_m2))

    def loss_note(self) -> str:
        share = f" ({100 * self.lost_m2 / abs(self.before_m2):.1f} %)" if self.before_m2 else ""
        return (f"{self.lost_m2:,.1f} m²{share} less than its rings enclose: check the source"
                if self.loses_area else "")


def _fix_polygon(poly) -> tuple[object | None, bool]:
    """A valid reading of one polygon: each ring filled on its own (a self-crossing ring keeps
    every lobe, a ring over itself covers its area once), holes cut out of the shell
    (shapely.make_valid's 'structure' method). Where the holes leave nothing (rings in
    swapped order, a hole repeating its shell) the even-odd reading ('linework') is taken
    instead, and the second value is True."""
    if poly.is_valid:
        return poly, False
    made, _ = polygonal_part(shapely.make_valid(poly, method="structure", keep_collapsed=False))
    if made is not None and not made.is_empty:
        return made, False
    made, _ = polygonal_part(shapely.make_valid(poly))
    return made, True


def _scale(geom) -> float:
    """m² per square degree at a geometry's middle latitude (gis.geo.measure.area_m2)."""
    miny, maxy = geom.bounds[1], geom.bounds[3]
    per_lon, per_lat = metres_per_degree((miny + maxy) / 2)
    return float(per_lon * per_lat)


def fix_geometry(geom) -> Fix | None:
    """How --repair makes a geometry valid and polygonal (None when it has no polygon).

    Every polygon in it is made valid on its own (`_fix_polygon`), then the parts are merged
    (their union): parts that nest or overlap, as published files sometimes draw an enclave or
    a second copy over a unit, keep the area they cover instead of the even-odd hole
    shapely.make_valid cuts where two shells overlap. Points and lines are dropped."""
    parts = _flatten(geom)
    is_poly = shapely.get_type_id(parts) == 3
    dropped = int((~is_poly).sum())
    parts = parts[is_poly]
    if not len(parts):
        return None
    collection = shapely.get_type_id(geom) == 7
    if collection and shapely.is_valid(geom):
        reason, lon, lat = "GeometryCollection", None, None
    else:
        reason, lon, lat = invalidity(geom)
    fixed, even_odd = [], 0
    for part in parts:
        made, by_even_odd = _fix_polygon(part)
        even_odd += by_even_odd
        if made is not None and not made.is_empty:
            fixed.append(made)
    if not fixed:
        return None
    fixed = np.array(fixed, dtype=object)
    after = shapely.union_all(fixed) if len(fixed) > 1 else fixed[0]
    if after.is_empty:
        return None
    scale = _scale(after)
    merged, kind = _overlapping(fixed)
    shared = (float(shapely.area(fixed).sum()) - after.area) * scale if merged else 0.0
    lost = float(shapely.area(parts).sum() - shapely.area(fixed).sum()) * scale
    if merged:
        reason = MERGE_REASON[kind]
        action = (f"{reason}: merged {merged} {kind} parts ({shared:,.1f} m² lay in more than "
                  "one part, counted once)")
        if (invalid := int((~shapely.is_valid(parts)).sum())):
            action += f", made {invalid} invalid part(s) valid first"
    elif collection and reason == "GeometryCollection":
        action = "kept the polygonal parts of a GeometryCollection"
    else:
        action = f"{reason}: made valid"
        pieces = int(shapely.get_num_geometries(fixed).sum())
        if pieces > 1 and shapely.get_num_geometries(after) < pieces:
            action += ", merged parts that share edges"
    if even_odd:
        action += f", read {even_odd} polygon(s) by the even-odd rule (holes cover the shell)"
    if dropped:
        action += f", dropped {dropped} non-polygonal part(s)"
    if lon is None:
        lon, lat = _safe_locate(after)
    fix = Fix(after, reason, action, lon, lat, merged, kind, shared, lost,
              float(area_m2(geom)[0]), float(area_m2(after)[0]))
    if fix.loses_area:
        fix = replace(fix, action=f"{action}; {fix.loss_note()}")
    return fix


MERGE_REASON = {"nested": "Nested shells", "overlapping": "Overlapping parts",
                "nested/overlapping": "Nested and overlapping parts"}


def _overlapping(polys: np.ndarray) -> tuple[int, str]:
    """How many of these valid polygons overlap another (their interiors meet), and how:
    "nested" when each such pair is one inside the other, "overlapping" when none is,
    "nested/overlapping" for both kinds ("" when none overlaps)."""
    if len(polys) < 2:
        return 0, ""
    a, b = STRtree(polys).query(polys, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    meet = shapely.relate_pattern(polys[a], polys[b], "T********")
    a, b = a[meet], b[meet]
    if not len(a):
        return 0, ""
    inside = shapely.covers(polys[a], polys[b]) | shapely.covers(polys[b], polys[a])
    kind = "nested" if inside.all() else "overlapping" if not inside.any() else \
        "nested/overlapping"
    return len(np.union1d(a, b)), kind


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
    """Repair geometries in place (`fix_geometry`): invalid polygons and multipolygons, and
    geometry collections, keeping only the polygonal parts. Features with no polygonal part
    (empty, points, lines) are left unchanged for validation to report. Returns one Repair per
    changed feature; areas are m² on the storage coordinates (an invalid polygon's area is
    what GEOS computes from its rings: parts that overlap count twice, and a symmetric bow-tie
    whose lobes cancel counts 0)."""
    repairs = []
    for level, frame in bset.layers.items():
        geoms = np.array(frame.geometry.values, dtype=object)
        present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        types = shapely.get_type_id(geoms)
        valid = shapely.is_valid(geoms)
        todo = np.flatnonzero(present & ((types == 7) | (np.isin(types, (3, 6)) & ~valid)))
        changed = False
        for i in todo:
            try:
                fix = fix_geometry(geoms[i])
            except GEOSException:
                continue
            if fix is None:
                continue
            geoms[i], changed = fix.geom, True
            repairs.append(Repair(level, str(frame["code"].iat[i]), fix.action,
                                  round(fix.before_m2, 1), round(fix.after_m2, 1),
                                  fix.lon, fix.lat))
        if changed:
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


def _containment(level, children, child_ok, child_cover, parent_level, parents, parent_ok,
                 tol) -> list[Problem]:
    """Each child inside its parent; the children of each parent cover it without gaps. A gap
    counts what the children cover once repaired (`child_cover`): a child --repair can fix is
    reported as invalid, not also as a gap; one with nothing usable is named in the gap."""
    out = []
    parent_geom = dict(zip(parents["code"][parent_ok], parents.geometry.values[parent_ok]))
    good = children[child_ok & children["parent_code"].isin(parent_geom).to_numpy()]
    for code, parent, geom in zip(good["code"], good["parent_code"], good.geometry.values):
        outside = shapely.difference(geom, parent_geom[parent])
        if (outside_m2 := float(area_m2(outside)[0])) > tol:
            lon, lat = zoom_point(outside)
            out.append(_problem(level, code, "outside_parent",
                               f"{outside_m2:.1f} m² lie outside parent {parent}", lon, lat))
    covering, unusable = {}, {}
    for code, parent, geom in zip(children["code"], children["parent_code"], child_cover):
        if parent in parent_geom:
            if geom is None:
                unusable.setdefault(parent, []).append(str(code))
            else:
                covering.setdefault(parent, []).append(geom)
    divided = set(children["parent_code"])
    for parent, pgeom in parent_geom.items():
        if level == "hamlet" and parent not in divided:
            continue  # a village without hamlets is itself a leaf
        if parent in covering:
            gap = shapely.difference(pgeom, shapely.union_all(covering[parent]))
        else:
            gap = pgeom
        if (gap_m2 := float(area_m2(gap)[0])) > tol:
            lon, lat = zoom_point(gap)
            codes = unusable.get(parent, [])
            unused = f" (not counting {', '.join(codes[:3])}{', ...' if len(codes) > 3 else ''}" \
                f", whose geometry is unusable)" if codes else ""
            out.append(_problem(parent_level, parent, "gap",
                               f"{gap_m2:.1f} m² are not covered by any {level}{unused}",
                               lon, lat))
    return out


def _leaf_parents(layers, base: str) -> set[str]:
    """Codes of the units grids may sit in: hamlets, and units of the base level (villages and
    communities, usually) with no hamlet."""
    units = set(layers[base]["code"].dropna()) if base in layers else set()
    if "hamlet" not in layers or base == "hamlet":
        return units
    hamlets = layers["hamlet"]
    return (units - set(hamlets["parent_code"].dropna())) | set(hamlets["code"].dropna())


def _grid_containment(layers, ok, grid_cover, leaf_codes, base, tol) -> list[Problem]:
    units = [layers[lv].assign(_ok=ok[lv]) for lv in dict.fromkeys((base, "hamlet"))
             if lv in layers]
    leaves = pd.concat(units)
    leaves = gpd.GeoDataFrame(leaves[leaves["code"].isin(leaf_codes)], crs=layers["grid"].crs)
    grids = layers["grid"]
    out = []
    non_leaf = grids["parent_code"].notna() & ~grids["parent_code"].isin(leaf_codes) & \
        grids["parent_code"].isin(set(layers[base]["code"]))
    for code, parent in zip(grids["code"][non_leaf], grids["parent_code"][non_leaf]):
        out.append(_problem("grid", str(code), "parent_not_leaf",
                           f"{base} {parent} is divided into hamlets: the grid must sit in one"))
    out += _containment("grid", grids, ok["grid"], grid_cover, "leaf unit", leaves,
                        leaves["_ok"].to_numpy(), tol)
    return out
