"""Use cases shared by the CLI and the web API: locate, submit, import.

Each takes a SQLAlchemy Engine or Connection and returns plain dicts; errors are gis.errors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine

from gis.assign import GridIndex
from gis.boundaries import MAX_VERTICES_PER_FEATURE, MAX_VERTICES_PER_FILE, read_boundary_set
from gis.access import SYSTEM, Principal, Scope
from gis.errors import Conflict, Forbidden, ValidationFailed
from gis.incidents import parse_feature, read_table, validate_table
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import incidents as istore
from gis.store.scope import point_in_scope
from gis.validation import repair_geometries, validate_boundary_set

UNIT_KEYS = ("hamlet", "village", "township", "city")
OUTSIDE_JURISDICTION = ("不在您的管辖范围内 This place is outside your jurisdiction "
                        "(or not covered by any of your units)")

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


def _assignment(gen_id: int, grid: dict | None) -> dict:
    out = {"generation_id": gen_id, "grid_id": None}
    out.update({f"{k}_id": None for k in UNIT_KEYS})
    if grid:
        out["grid_id"] = grid["id"]
        out.update({f"{k}_id": grid[f"{k}_id"] for k in UNIT_KEYS})
    return out


def describe_assignment(conn: Connection, gen_id: int, grid: dict | None) -> dict:
    """JSON-ready description: the grid and its units with codes and names."""
    body = {"generation": gen_id, "covered": grid is not None, "grid": None}
    body.update({k: None for k in UNIT_KEYS})
    if grid:
        body["grid"] = {"code": grid["code"], "name": grid["name"],
                        "households": grid["households"], "population": grid["population"]}
        units = bstore.units_by_id(conn, [grid[f"{k}_id"] for k in UNIT_KEYS])
        for k in UNIT_KEYS:
            unit = units.get(grid[f"{k}_id"])
            body[k] = {"code": unit["code"], "name": unit["name"], "kind": unit["kind"]} \
                if unit else None
    return body


def locate(conn: Connection, lon: float, lat: float, input_crs: str, *, scope: Scope) -> dict:
    gen = bstore.require_active_generation(conn)
    grid = bstore.locate(conn, lon, lat, gen["id"])
    if not point_in_scope(conn, scope, lon, lat, gen["id"], grid["code"] if grid else None):
        raise Forbidden(OUTSIDE_JURISDICTION)
    body = describe_assignment(conn, gen["id"], grid)
    body["point"] = {"lon": round(lon, 7), "lat": round(lat, 7), "input_crs": input_crs}
    return body


def incident_body(conn: Connection, row: dict) -> dict:
    """An incident as a GeoJSON Feature with its assignment."""
    props = {k: row[k] for k in ("source", "external_id", "category", "severity", "status",
                                 "description", "input_crs", "generation_id")}
    props["occurred_at"] = row["occurred_at"].isoformat()
    props["reported_at"] = row["reported_at"].isoformat()
    props["covered"] = row["grid_code"] is not None
    for k in ("grid", *UNIT_KEYS):
        props[f"{k}_code"] = row[f"{k}_code"]
        props[f"{k}_name"] = row[f"{k}_name"]
    return {"type": "Feature", "id": row["id"], "properties": props,
            "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]}}


def submit_incident(conn: Connection, feature, crs: str | None = None, *,
                    scope: Scope) -> tuple[dict, bool]:
    """Store one incident. Returns (feature, created). The same (source, external_id) sent again
    with the same content answers the stored incident (created False); with different content
    it is a Conflict and nothing changes. A point outside the scope is Forbidden."""
    inc = parse_feature(feature, crs)
    gen = bstore.require_active_generation(conn)
    grid = bstore.locate(conn, inc.lon, inc.lat, gen["id"])
    if not point_in_scope(conn, scope, inc.lon, inc.lat, gen["id"],
                          grid["code"] if grid else None):
        raise Forbidden(OUTSIDE_JURISDICTION)
    new_id = istore.insert_one(conn, inc, _assignment(gen["id"], grid))
    if new_id is not None:
        return incident_body(conn, istore.get(conn, new_id, scope=scope)), True
    existing = istore.get_by_key(conn, inc.source, inc.external_id, scope=scope)
    if existing is None:  # stored under the same key, but outside this account's jurisdiction
        raise Conflict(f"incident {inc.source}/{inc.external_id} exists already")
    same = (existing["category"] == inc.category and existing["occurred_at"] == inc.occurred_at
            and abs(existing["input_x"] - inc.input_x) < 1e-9
            and abs(existing["input_y"] - inc.input_y) < 1e-9)
    if not same:
        raise Conflict(f"incident {inc.source}/{inc.external_id} exists with different content",
                       details={"existing_id": existing["id"]})
    return incident_body(conn, existing), False


# ---- imports ----

@dataclass
class BoundaryImportReport:
    source: str
    counts: dict
    problems: list = field(default_factory=list)
    generation_id: int | None = None
    committed: bool = False
    already_imported: int | None = None
    # one dict per repaired feature: layer, code, action, area_before_m2, area_after_m2, lon, lat
    repairs: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # e.g. a declared CRS overridden by crs=


def import_boundaries(engine: Engine, path: str | Path, *, commit: bool = False,
                      name: str | None = None, crs: str | None = None,
                      tolerance_m2: float = 1.0, repair: bool = False,
                      max_vertices_per_feature: int = MAX_VERTICES_PER_FEATURE,
                      max_vertices_per_file: int = MAX_VERTICES_PER_FILE,
                      progress=None, actor: Principal = SYSTEM,
                      origin: dict | None = None) -> BoundaryImportReport:
    """Read, validate and (with commit) write a boundary set as a new active generation, all in
    one transaction. Problems make it fail with ValidationFailed; nothing is written then.

    crs: the CRS of the coordinates, overriding what the file declares. repair: make invalid
    polygons valid and keep the polygonal parts of geometry collections before validation,
    listing each repaired feature in the report. Files that cannot be read, lack layers or
    columns, have no or an implausible CRS, or exceed the vertex limits are refused while
    reading (InputError, ValidationFailed)."""
    bset = read_boundary_set(path, assume_crs=crs,
                             max_vertices_per_feature=max_vertices_per_feature,
                             max_vertices_per_file=max_vertices_per_file)
    report = BoundaryImportReport(source=bset.source, counts=bset.counts(),
                                  notes=list(bset.notes))
    if repair:
        report.repairs = [r.to_dict() for r in repair_geometries(bset)]
    with engine.connect() as conn:
        existing = bstore.generation_by_sha(conn, bset.sha256)
    if existing:
        report.already_imported = existing["id"]
    report.problems = validate_boundary_set(bset, tolerance_m2=tolerance_m2)
    if report.problems:
        repaired = f" after repairing {len(report.repairs)} feature(s)" if repair else ""
        raise ValidationFailed(f"{len(report.problems)} problem(s) in {bset.source}{repaired}; "
                               "nothing was written",
                               details=[p.to_dict() for p in report.problems])
    if commit and not existing:
        with engine.begin() as conn:
            report.generation_id = bstore.write_boundary_set(
                conn, bset, name=name or Path(path).stem, progress=progress)
            audit.record(conn, actor, "boundary_import", f"generation/{report.generation_id}",
                         details={"source": bset.source, "sha256": bset.sha256,
                                  "counts": report.counts, "repairs": len(report.repairs)},
                         **(origin or {}))
        report.committed = True
    return report


@dataclass
class IncidentImportReport:
    rows: int
    bad_rows: list
    inserted: int = 0
    duplicates: int = 0
    uncovered: int = 0
    committed: bool = False


def import_incidents(engine: Engine, path: str | Path, *, crs: str | None = None,
                     skip_bad: bool = False, source: str = "import", batch_size: int = 50_000,
                     progress=None, scope: Scope = Scope.all(), actor: Principal = SYSTEM,
                     origin: dict | None = None) -> IncidentImportReport:
    """Bulk import: validate every row, assign all in process, COPY in one transaction.

    A file with bad rows is refused whole (ValidationFailed listing the rows) unless skip_bad,
    in which case the good rows are imported and the bad ones listed in the report. Rows
    outside the importer's scope count as bad rows."""
    raw = read_table(path)
    good, bad = validate_table(raw, crs=crs, default_source=source)
    report = IncidentImportReport(rows=len(raw), bad_rows=bad)
    if bad and not skip_bad:
        raise ValidationFailed(f"{len(bad)} of {len(raw)} rows are invalid; nothing was imported "
                               "(use --skip-bad to import the valid rows)", details=bad)
    with engine.begin() as conn:
        gen = bstore.require_active_generation(conn)
        index, grids = grid_index(conn, gen["id"])
        pos = index.assign(good["lon"].to_numpy(), good["lat"].to_numpy())
        covered = pos >= 0
        if not scope.everything:
            outside = ~_inside_scope(conn, scope, gen["id"], grids, pos, good)
            if outside.any():
                rows = [{"row": None, "external_id": e, "error": OUTSIDE_JURISDICTION}
                        for e in good["external_id"][outside]]
                report.bad_rows = bad + rows
                if not skip_bad:
                    raise ValidationFailed(
                        f"{len(rows)} of {len(raw)} rows lie outside your jurisdiction; nothing "
                        "was imported", details=report.bad_rows)
                good = good[~outside].reset_index(drop=True)
                pos, covered = pos[~outside], covered[~outside]
        good["generation_id"] = gen["id"]
        for col in ("grid_id", *(f"{k}_id" for k in UNIT_KEYS)):
            src = "id" if col == "grid_id" else col
            values = grids[src].to_numpy(dtype="float64", na_value=np.nan)[np.maximum(pos, 0)]
            good[col] = pd.array(np.where(covered, values, np.nan)).astype("Int64")
        report.uncovered = int((~covered).sum())
        report.inserted = istore.bulk_insert(conn, good, batch_size=batch_size,
                                             progress=progress)
        report.duplicates = len(good) - report.inserted
        audit.record(conn, actor, "incident_import", str(Path(path).name),
                     details={"rows": report.rows, "inserted": report.inserted,
                              "duplicates": report.duplicates, "uncovered": report.uncovered,
                              "bad_rows": len(report.bad_rows)}, **(origin or {}))
        report.committed = True
    return report


def _inside_scope(conn: Connection, scope: Scope, gen_id: int, grids: pd.DataFrame,
                  pos: np.ndarray, rows: pd.DataFrame) -> np.ndarray:
    """Per row: assigned to a grid of the scope, or (outside every grid) inside one of its area
    units. Vectorised over rows; the per-grid test runs once per grid."""
    grid_ok = np.array([scope.contains_code(c) for c in grids["code"]], dtype=bool)
    inside = (pos >= 0) & grid_ok[np.maximum(pos, 0)]
    loose = pos < 0
    if loose.any():
        areas = bstore.area_geometries(conn, gen_id, [u.code for u in scope.units
                                                      if u.level != "grid"])
        if areas is not None:
            inside[loose] = shapely.intersects_xy(areas, rows["lon"].to_numpy()[loose],
                                              rows["lat"].to_numpy()[loose])
    return inside
