"""Bulk incident import use case: validate every row, assign all in process, COPY in one
transaction, audited."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gis.access.roles import SYSTEM, Principal
from gis.access.scope import Scope
from gis.boundaries.index import assign_points, grid_index
from gis.categories.manage import catalogue_of
from gis.errors import UnprocessableError, ValidationFailed
from gis.files import read_points
from gis.geo.crs import normalise_crs_name
from gis.incidents import timelimits
from gis.incidents.parse import TableOptions, generates_ids, validate_table
from gis.incidents.submit import account_source
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import incidents as istore
from gis.store.db import Connection, Engine
from gis.store.scope import reporter_unit

REPEATED = "external_id repeated within the file"  # parse.validate_table's problem


@dataclass
class IncidentImportReport:
    rows: int
    bad_rows: list
    inserted: int = 0
    duplicates: int = 0
    uncovered: int = 0
    # rows outside the importer's jurisdiction: stored where they lie, under its unit
    outside_jurisdiction: int = 0
    committed: bool = False
    # a dry run writes nothing: inserted and duplicates are what the import would find
    dry_run: bool = False
    generated_ids: bool = False      # ids made from each row's content (parse.generated_ids)
    input_crs: str | None = None     # the CRS the coordinates were read in
    layer: str | None = None         # the layer read (GeoPackage, Shapefile)


def import_incidents(engine: Engine, path: str | Path, *, crs: str | None = None,
                     skip_bad: bool = False, source: str | None = "import",
                     batch_size: int = 25_000,
                     progress=None, scope: Scope = Scope.all(), actor: Principal = SYSTEM,
                     origin: dict | None = None,
                     filename: str | None = None, options: TableOptions | None = None,
                     layer: str | None = None, dry_run: bool = False) -> IncidentImportReport:
    """Bulk import: validate every row, assign all in process, COPY in one transaction.

    The file is any that gis.files.read_points reads (layer: which layer of a GeoPackage or
    Shapefile); crs overrides the CRS the file declares (none declared: EPSG:4326); options
    say how to read a foreign table (gis.incidents.parse.TableOptions). A dry run does every
    check and the assignment but writes nothing (no rows, no audit event); its report counts
    the rows that would be inserted and those already stored.

    A file with bad rows is refused whole (ValidationFailed listing the rows) unless skip_bad,
    in which case the good rows are imported and the bad ones listed in the report. Rows
    outside the importer's jurisdiction are stored like one reported through the API
    (gis.incidents.submit): where they lie, under the importer's unit.

    progress(phase, rows, total) reports each step of a phase ("reading" the file, "checking"
    rows, "assigning" them to grids, "storing" them), so no phase stands still for long."""
    step = progress or (lambda phase, rows, total: None)
    fixed = account_source(actor)
    if fixed is not None and source not in (None, fixed):
        raise UnprocessableError(f"source is set by your account: {fixed!r} (leave it out)",
                                 field="source")
    source = fixed or source or f"upload:{actor.username}"
    step("reading", 0, None)
    table = read_points(path, layer=layer, progress=lambda n: step("reading", n, None))
    raw, crs = table.frame, crs or table.crs
    good, bad = validate_table(raw, crs=crs, default_source=source, fixed_source=fixed,
                               progress=lambda n: step("checking", n, len(raw)),
                               options=options, categories=catalogue_of(engine))
    report = IncidentImportReport(rows=len(raw), bad_rows=bad, dry_run=dry_run,
                                  generated_ids=generates_ids(raw, options),
                                  input_crs=normalise_crs_name(crs), layer=table.layer)
    if bad and not skip_bad:
        repeats = any(d["error"] == REPEATED for d in bad)
        raise ValidationFailed(
            f"{'dry run: ' if dry_run else ''}{len(bad)} of {len(raw)} rows are invalid; "
            "nothing was imported (use --skip-bad to import the valid rows"
            f"{'; or generate ids of their own with --generate-ids' if repeats else ''}"
            ")", details=bad)
    with engine.begin() as conn:
        gen = bstore.require_active_generation(conn, scope)
        step("assigning", 0, len(good))
        assigned = assign_points(conn, good["lon"].to_numpy(), good["lat"].to_numpy(),
                                 gen["id"])
        step("assigning", len(good), len(good))
        covered = assigned["grid_id"].notna().to_numpy()
        if not scope.everything:  # rows outside stay, kept under the importer's unit
            outside = ~_inside_scope(conn, scope, assigned, good)
            reporter = reporter_unit(scope)
            if outside.any() and reporter is None:
                raise ValidationFailed(f"{int(outside.sum())} of {len(raw)} rows lie outside "
                                       "your jurisdiction and your account has no unit to "
                                       "keep them under; nothing was imported")
            good["reporter_unit"] = np.where(outside, reporter, None)
            report.outside_jurisdiction = int(outside.sum())
        for col in assigned.columns:
            good[col] = assigned[col].array
        report.uncovered = int((~covered).sum())
        if dry_run:  # nothing written: look up which rows are stored already
            keys = good[["source", "external_id"]]
            for start in range(0, len(keys), batch_size):
                part = keys.iloc[start:start + batch_size]
                report.duplicates += int(istore.existing_keys(conn, part).sum())
                step("comparing", len(part), len(keys))
            report.inserted = len(good) - report.duplicates
            return report
        timelimits.start_clocks(conn, good)
        report.inserted = istore.bulk_insert(
            conn, good, batch_size=batch_size,
            progress=lambda n: step("storing", n, len(good)))
        report.duplicates = len(good) - report.inserted
        audit.record(conn, actor, "incident_import", filename or Path(path).name,
                     details={"rows": report.rows, "inserted": report.inserted,
                              "duplicates": report.duplicates, "uncovered": report.uncovered,
                              "outside_jurisdiction": report.outside_jurisdiction,
                              "bad_rows": len(report.bad_rows)}, **(origin or {}))
        report.committed = True
    return report


def _inside_scope(conn: Connection, scope: Scope, assigned: pd.DataFrame,
                  rows: pd.DataFrame) -> np.ndarray:
    """Per row: assigned to a grid of the scope, or (outside every grid) inside one of its area
    units under the row's generation. Vectorised over rows; the per-grid test runs once per
    grid of each generation."""
    gen = assigned["generation_id"].to_numpy()
    grid = assigned["grid_id"].to_numpy(dtype="float64", na_value=np.nan)
    inside = np.zeros(len(rows), dtype=bool)
    codes = [u.code for u in scope.units if u.level != "grid"]
    for gen_id in np.unique(gen):
        mine = gen == gen_id
        _, grids = grid_index(conn, int(gen_id))
        ok_ids = grids["id"].to_numpy()[[scope.contains_code(c) for c in grids["code"]]]
        inside[mine] = np.isin(grid[mine], ok_ids)
        loose = mine & np.isnan(grid)
        if loose.any() and codes:
            areas = bstore.area_geometries(conn, int(gen_id), codes)
            if areas is not None:
                inside[loose] = shapely.intersects_xy(areas, rows["lon"].to_numpy()[loose],
                                                      rows["lat"].to_numpy()[loose])
    return inside


def phased(bar):
    """Import progress (phase, rows, total) on one tqdm-like bar: each phase restarts the bar
    under its own name."""
    state = {"phase": None, "desc": getattr(bar, "desc", "") or ""}

    def report(phase: str, rows: int, total: int | None) -> None:
        if phase != state["phase"]:
            state["phase"] = phase
            if hasattr(bar, "reset"):
                bar.set_description(f"{state['desc']}: {phase}" if state["desc"] else phase,
                                    refresh=False)
                bar.reset(total=total)
        if rows:
            bar.update(rows)
    return report
