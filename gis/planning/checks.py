"""Live checks and summary metrics of a draft grid plan.

A plan is a GeoDataFrame of grids (code, name, parent_code, households, population, geometry) in
EPSG:4326; `units` is a GeoDataFrame of the leaf units the grids must tile (hamlets, and villages
or communities without hamlets: code, name, geometry).

Rules, with their severity:
- invalid_geometry (error): a grid's geometry is missing, empty, not polygonal or not valid.
- duplicate_code, bad_code (error): codes are unique and are the parent's code plus 3 digits.
- unknown_parent (error): parent_code names a unit of `units`.
- outside_parent (error): a grid lies inside its parent (so inside exactly one leaf unit, the
  units themselves not overlapping).
- overlap (error): one problem for each grid and each grid it overlaps.
- gap (error): one problem per piece of a leaf unit that no grid of that unit covers; the
  problem's code is the unit's code.
- not_contiguous (error): a grid is one polygon.
- bad_count (error): households and population are whole numbers >= 0.
- households_range (warning): households within the targets' range.
- low_compactness (warning): Polsby-Popper compactness 4πA/P² below the targets' threshold.
- code_order (warning): the grids of a unit are not numbered by the rule of gis.planning.renumber;
  one problem per unit, with the unit's code.

Every problem carries the code it is about and a lon/lat to zoom to. Topology is planar in
EPSG:4326, as stored and as PostGIS sees it (gis.boundaries.validate). Compactness is measured
in metres and areas of overlay pieces in m², both by the conventions of gis.geo.measure; pieces
up to the tolerance (default 1 m²) are slivers and ignored.

check_plan checks everything. check_edit checks only what one edit can have changed: the grids
it touched, the grids meeting their old or new land (found with gis.planning.index), and coverage
and numbering of the units they sit in; it reports exactly the problems check_plan reports for
those codes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from gis.domain import code_problem
from gis.errors import Problem
from gis.geo.measure import area_m2, to_metric
from gis.geo.shapes import zoom_point
from gis.planning.index import PlanIndex
from gis.planning.renumber import expected_codes


@dataclass(frozen=True)
class Targets:
    households_min: int = 300
    households_max: int = 500
    compactness_min: float = 0.3
    tolerance_m2: float = 1.0


DEFAULT_TARGETS = Targets()


def compactness(geoms) -> np.ndarray:
    """Polsby-Popper 4πA/P² in metres: 1 for a disc, π/4 for a square, 0 for no area."""
    metric = to_metric(geoms)
    area, perimeter = shapely.area(metric), shapely.length(metric)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(perimeter > 0, 4 * math.pi * area / perimeter ** 2, 0.0)


# ---- problems ----

def _problem(rule: str, severity: str, code: str, message: str, lon=None, lat=None) -> Problem:
    return Problem(rule, code, message, lon, lat, severity=severity)


@dataclass(frozen=True)
class CheckReport:
    problems: tuple[Problem, ...]
    grids: frozenset[str]    # grid codes checked
    units: frozenset[str]    # unit codes whose coverage and numbering were checked

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def covers(self, problem: Problem) -> bool:
        """Whether `problem` is about a code within this report's scope."""
        return problem.code in self.grids or problem.code in self.units

    def to_dict(self) -> dict:
        return {"ok": self.ok, "errors": len(self.errors), "warnings": len(self.warnings),
                "problems": [p.to_dict() for p in self.problems]}


def check_plan(plan: gpd.GeoDataFrame, units: gpd.GeoDataFrame,
               targets: Targets = DEFAULT_TARGETS) -> CheckReport:
    """Check the whole plan: every grid, and coverage and numbering of every unit."""
    plan = plan.reset_index(drop=True)
    ok = _usable(plan.geometry.values)
    tree = STRtree(np.where(ok, plan.geometry.values, None))

    def partners(i, geom):
        return [j for j in tree.query(geom, predicate="intersects") if j != i]

    return _run(plan, units, targets, np.ones(len(plan), dtype=bool),
                set(units["code"].astype(str)), partners, ok)


def check_edit(plan: gpd.GeoDataFrame, units: gpd.GeoDataFrame, change,
               index: PlanIndex | None = None,
               targets: Targets = DEFAULT_TARGETS) -> CheckReport:
    """Check only what `change` (a gis.planning.edits.Change that produced `plan`) can have
    affected.

    `index` must hold the grids of `plan`, i.e. have had index.apply(change); without one it is
    built here (correct, but then the cost is no longer local to the edit)."""
    plan = plan.reset_index(drop=True)
    if index is None:
        index = PlanIndex.from_plan(plan[_usable(plan.geometry.values)])
    grids, units_in_scope = edit_scope(change, index)
    codes = plan["code"].astype(str)
    position = {c: i for i, c in enumerate(codes)}
    ok = _usable(plan.geometry.values)

    def partners(i, geom):
        return [position[c] for c in index.intersecting(geom) if c != codes[i] and c in position]

    return _run(plan, units, targets, codes.isin(grids).to_numpy(),
                units_in_scope & set(units["code"].astype(str)), partners, ok)


def edit_scope(change, index: PlanIndex) -> tuple[set[str], set[str]]:
    """(grid codes, unit codes) an edit can have affected: the grids it touched and every grid
    meeting their old or new land; the units those touched grids sat and sit in."""
    touched = set(change.after["code"].astype(str))
    grids = set(touched)
    for geom in list(change.before.geometry.values) + list(change.after.geometry.values):
        grids.update(index.intersecting(geom))
    units = set(pd.concat([change.before["parent_code"], change.after["parent_code"]])
                .dropna().astype(str))
    return grids, units


def _usable(geoms) -> np.ndarray:
    geoms = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(geoms)
    out = np.zeros(len(geoms), dtype=bool)
    if present.any():
        g = geoms[present]
        kind = shapely.get_type_id(g)
        out[present] = np.isin(kind, [3, 6]) & ~shapely.is_empty(g) & shapely.is_valid(g)
    return out


def _run(plan, units, targets, selected, unit_codes, partners, ok) -> CheckReport:
    problems: list[Problem] = []
    codes = plan["code"].astype(str).to_numpy()
    parents = plan["parent_code"].astype("string").fillna("").to_numpy()
    geoms = plan.geometry.values
    unit_geom = dict(zip(units["code"].astype(str), units.geometry.values))
    dup = set(pd.Series(codes)[pd.Series(codes).duplicated()])
    tol = targets.tolerance_m2
    sel = np.flatnonzero(selected)
    for i in sel:
        problems += _attribute_problems(plan, i, codes[i], parents[i], dup, unit_geom, targets)
        if not ok[i]:
            problems.append(_geometry_problem(codes[i], geoms[i]))
    good = sel[ok[sel]]
    problems += _shape_problems(codes[good], geoms[good], targets)
    inside = good[np.isin(parents[good], list(unit_geom))]
    if len(inside):
        outside = shapely.difference(geoms[inside], [unit_geom[p] for p in parents[inside]])
        for i, piece, a in zip(inside, outside, area_m2(outside)):
            if a > tol:
                problems.append(_problem("outside_parent", "error", codes[i],
                                        f"{a:.1f} m² lie outside parent {parents[i]}",
                                        *zoom_point(piece)))
    problems += _overlap_problems(good, codes, geoms, ok, partners, tol)
    for unit in sorted(unit_codes):
        own = plan[(parents == unit) & ok]
        problems += _gap_problems(unit, unit_geom[unit], own.geometry.values, tol)
        problems += _order_problems(unit, own, dup)
    problems.sort(key=Problem.sort_key)
    return CheckReport(tuple(problems), frozenset(codes[sel]), frozenset(unit_codes))


def _shape_problems(codes, geoms, targets) -> list[Problem]:
    out = []
    for code, geom, n in zip(codes, geoms, shapely.get_num_geometries(geoms)):
        if n > 1:
            second = sorted(shapely.get_parts(geom), key=lambda p: -p.area)[1]
            out.append(_problem("not_contiguous", "error", code,
                               f"grid is in {n} separate parts", *zoom_point(second)))
    for code, geom, pp in zip(codes, geoms, compactness(geoms)):
        if pp < targets.compactness_min:
            out.append(_problem("low_compactness", "warning", code,
                               f"compactness {pp:.2f} is below {targets.compactness_min:.2f}",
                               *zoom_point(geom)))
    return out


def _attribute_problems(plan, i, code, parent, dup, unit_geom, targets) -> list[Problem]:
    out = []
    geom = plan.geometry.values[i]
    where = zoom_point(geom) if geom is not None and not geom.is_empty and geom.is_valid else ()
    if code in dup:
        out.append(_problem("duplicate_code", "error", code,
                           f"code {code} is used by more than one grid", *where))
    if parent not in unit_geom:
        out.append(_problem("unknown_parent", "error", code,
                           f"parent {parent or '(none)'} is not a leaf unit of the plan", *where))
    elif (msg := code_problem("grid", code, parent)):
        out.append(_problem("bad_code", "error", code, msg, *where))
    counts_ok = True
    for col in ("households", "population"):
        v = plan[col].iat[i]
        if pd.isna(v) or v < 0 or v != int(v):
            counts_ok = False
            out.append(_problem("bad_count", "error", code,
                               f"{col} must be a whole number >= 0, got {v}", *where))
    if counts_ok:
        h = int(plan["households"].iat[i])
        if not targets.households_min <= h <= targets.households_max:
            out.append(_problem("households_range", "warning", code,
                               f"{h} households, outside the target "
                               f"{targets.households_min}-{targets.households_max}", *where))
    return out


def _geometry_problem(code, geom) -> Problem:
    if geom is None or geom.is_empty:
        return _problem("invalid_geometry", "error", code, "geometry is missing or empty")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return _problem("invalid_geometry", "error", code,
                       f"geometry is a {geom.geom_type}, expected a polygon")
    return _problem("invalid_geometry", "error", code, shapely.is_valid_reason(geom),
                   *zoom_point(shapely.make_valid(geom)))


def _overlap_problems(good, codes, geoms, ok, partners, tol) -> list[Problem]:
    pairs = [(i, j) for i in good for j in partners(i, geoms[i]) if ok[j]]
    if not pairs:
        return []
    a, b = np.array(pairs).T
    inter = shapely.intersection(geoms[a], geoms[b])
    return [_problem("overlap", "error", codes[i], f"overlaps {codes[j]} by {area:.1f} m²",
                    *zoom_point(g))
            for i, j, g, area in zip(a, b, inter, area_m2(inter)) if area > tol]


def _gap_problems(unit, unit_geom, grid_geoms, tol) -> list[Problem]:
    covered = shapely.union_all(grid_geoms) if len(grid_geoms) else None
    gap = unit_geom if covered is None else shapely.difference(unit_geom, covered)
    parts = shapely.get_parts(gap)
    parts = parts[np.isin(shapely.get_type_id(parts), [3])] if len(parts) else parts
    if not len(parts):
        return []
    areas = area_m2(parts)
    return [_problem("gap", "error", unit, f"{a:.1f} m² of unit {unit} are not in any grid",
                    *zoom_point(p))
            for p, a in sorted(zip(parts, areas), key=lambda t: -t[1]) if a > tol]


def _order_problems(unit, own, dup) -> list[Problem]:
    codes = own["code"].astype(str)
    if not len(own) or codes.isin(dup).any() or \
            any(code_problem("grid", c, unit) for c in codes):
        return []  # numbering only makes sense once codes are well-formed
    expected = expected_codes(own, unit)
    wrong = [(c, e) for c, e in expected.items() if c != e]
    if not wrong:
        return []
    first = own.geometry.values[list(codes).index(min(wrong)[0])]
    examples = ", ".join(f"{c} -> {e}" for c, e in sorted(wrong)[:3])
    return [_problem("code_order", "warning", unit,
                    f"{len(wrong)} of {len(own)} grids are not numbered north to south, west to "
                    f"east ({examples}); renumber the unit", *zoom_point(first))]


# ---- metrics ----

def plan_metrics(plan: gpd.GeoDataFrame, targets: Targets = DEFAULT_TARGETS) -> dict:
    """Summary of a plan: grid count, households spread and share in range, compactness."""
    hh = pd.to_numeric(plan["households"], errors="coerce").dropna().to_numpy(dtype=float)
    pop = pd.to_numeric(plan["population"], errors="coerce").dropna()
    ok = _usable(plan.geometry.values)
    pp = compactness(plan.geometry.values[ok]) if ok.any() else np.array([])
    within = (hh >= targets.households_min) & (hh <= targets.households_max)

    def stat(fn, values):
        return round(float(fn(values)), 3) if len(values) else None

    return {
        "grids": int(len(plan)),
        "households_total": int(hh.sum()),
        "population_total": int(pop.sum()),
        "households_min": stat(np.min, hh),
        "households_max": stat(np.max, hh),
        "households_mean": stat(np.mean, hh),
        "households_std": stat(np.std, hh),
        "households_within_range_share": stat(np.mean, within),
        "compactness_mean": stat(np.mean, pp),
        "compactness_min": stat(np.min, pp),
    }
