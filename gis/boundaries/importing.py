"""Boundary import use case: read, validate and (with commit) write a boundary set as a new
active generation, in one transaction, audited."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gis.access.roles import SYSTEM, Principal
from gis.boundaries.identity import content_digest
from gis.boundaries.read import MAX_VERTICES_PER_FEATURE, MAX_VERTICES_PER_FILE, read_boundary_set
from gis.boundaries.validate import repair_geometries, validate_boundary_set
from gis.errors import ValidationFailed
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store.db import Engine


@dataclass
class BoundaryImportReport:
    source: str
    counts: dict
    problems: list = field(default_factory=list)
    generation_id: int | None = None
    committed: bool = False
    already_imported: int | None = None   # the generation holding the same content
    already_active: bool | None = None     # whether that one is the active generation
    # one dict per repaired feature: layer, code, action, area_before_m2, area_after_m2, lon, lat
    repairs: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # e.g. a declared CRS overridden by crs=


def import_boundaries(engine: Engine, path: str | Path, *, commit: bool = False,
                      name: str | None = None, crs: str | None = None,
                      tolerance_m2: float = 1.0, repair: bool = False,
                      max_vertices_per_feature: int = MAX_VERTICES_PER_FEATURE,
                      max_vertices_per_file: int = MAX_VERTICES_PER_FILE,
                      progress=None, actor: Principal = SYSTEM,
                      origin: dict | None = None, filename: str | None = None,
                      demo: bool = False) -> BoundaryImportReport:
    """Read, validate and (with commit) write a boundary set as a new active generation, all in
    one transaction. Problems make it fail with ValidationFailed; nothing is written then.

    crs: the CRS of the coordinates, overriding what the file declares. repair: make invalid
    polygons valid and keep the polygonal parts of geometry collections before validation,
    listing each repaired feature in the report. Files that cannot be read, lack layers or
    columns, have no or an implausible CRS, or exceed the vertex limits are refused while
    reading (InputError, ValidationFailed).

    progress(phase, done, total) hears each step: "reading", the checks, then "writing" the
    units (done of total).

    A set whose content equals a stored generation's (gis.boundaries.identity) is not written
    again: the report names that generation (already_imported), which
    gis.boundaries.generations.activate makes active again if it is not. demo marks the
    generation as the demo's (removed by gis.demo.remove)."""
    step = progress or (lambda phase, done, total: None)
    step("reading", 0, None)
    bset = read_boundary_set(path, assume_crs=crs,
                             max_vertices_per_feature=max_vertices_per_feature,
                             max_vertices_per_file=max_vertices_per_file)
    if filename:  # an upload: its own name, not the temporary file's
        bset.source = filename
    report = BoundaryImportReport(source=bset.source, counts=bset.counts(),
                                  notes=list(bset.notes))
    if repair:
        report.repairs = [r.to_dict() for r in repair_geometries(bset)]
    report.problems = validate_boundary_set(bset, tolerance_m2=tolerance_m2,
                                            step=lambda phase: step(phase, 0, None))
    if report.problems:
        repaired = f" after repairing {len(report.repairs)} feature(s)" if repair else ""
        raise ValidationFailed(f"{len(report.problems)} problem(s) in {bset.source}{repaired}; "
                               "nothing was written",
                               details=[p.to_dict() for p in report.problems])
    digest = content_digest(bset.layers)
    with engine.connect() as conn:
        existing = bstore.generation_by_identity(conn, digest, bset.sha256)
    if existing:
        report.already_imported = existing["id"]
        report.already_active = bool(existing["is_active"])
    if commit and not existing:
        with engine.begin() as conn:
            total = sum(report.counts.values())
            step("writing", 0, total)
            report.generation_id = bstore.write_boundary_set(
                conn, bset, name=name or Path(path).stem,
                progress=lambda n: step("writing", n, total), content_sha256=digest, demo=demo)
            audit.record(conn, actor, "boundary_import", f"generation/{report.generation_id}",
                         details={"source": bset.source, "content_sha256": digest,
                                  "counts": report.counts, "repairs": len(report.repairs)},
                         **(origin or {}))
        report.committed = True
    return report
