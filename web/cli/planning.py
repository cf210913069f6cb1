"""`gridgis plans ...`: draft plans from the command line (as the system account): list, check,
import and export drafts, export generations, re-assign past incidents under a generation."""
from __future__ import annotations

from pathlib import Path

import click

from gis.domain import BOUNDARY_LAYERS, PLAN_FORMATS, PLAN_STATUSES
from web.cli.common import CLI, ready_engine, run



@click.group()
def group():
    """Draft grid plans and boundary generations."""


@group.command("list")
@click.option("--status", type=click.Choice(PLAN_STATUSES))
def list_plans(status):
    """Drafts, newest first."""
    from gis.access.roles import SYSTEM
    from gis.planning.drafts import list_drafts
    with ready_engine().connect() as conn:
        for d in list_drafts(conn, SYSTEM.scope, status):
            click.echo(f"{d.id:>4}  v{d.version:<4} {d.status:<9} {d.unit_code} "
                       f"{d.unit_name or ''}  {d.grid_count} grids  {d.name}")


@group.command("check")
@click.argument("plan_id", type=int)
@click.option("--min", "hh_min", default=300, show_default=True, type=click.IntRange(min=0))
@click.option("--max", "hh_max", default=500, show_default=True, type=click.IntRange(min=0))
def check(plan_id, hh_min, hh_max):
    """Check a draft; exits 1 when it has errors."""
    from gis.access.roles import SYSTEM
    from gis.planning.drafts import parse_targets
    from gis.planning.review import checks

    def go():
        with ready_engine().connect() as conn:
            return checks(conn, SYSTEM.scope, plan_id, parse_targets(hh_min, hh_max))
    result = run(go)
    for p in result.check.problems:
        where = f" at {p['lon']},{p['lat']}" if p["lon"] is not None else ""
        click.echo(f"{p['severity']:<8}[{p['code']}] {p['rule']}: {p['message']}{where}")
    m = result.metrics
    click.echo(f"{result.check.errors} error(s), {result.check.warnings} warning(s); "
               f"{m['grids']} grids, households {m['households_min']}-{m['households_max']} "
               f"(share in range {m['households_within_range_share']})")
    if result.check.errors:
        raise SystemExit(1)


@group.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="Name of the draft (default: file name).")
@click.option("--note")
@click.option("--unit", "unit_code", help="City, township or village code of the draft "
                                          "(default: the smallest holding every grid).")
@click.option("--crs", help="CRS of the coordinates when the file declares none or a wrong one.")
def import_plan(path, name, note, unit_code, crs):
    """Import a plan file (GeoPackage layer grid, GeoJSON, Shapefile) as a new draft."""
    from gis.access.roles import SYSTEM
    from gis.planning.drafts import import_draft

    def go():
        with ready_engine().begin() as conn:
            return import_draft(conn, SYSTEM, path, name=name or path.stem, note=note,
                                unit_code=unit_code, crs=crs, origin=CLI)
    result = run(go)
    draft, report = result.draft, result.check
    for note_text in result.notes:
        click.echo(f"note: {note_text}")
    click.echo(f"imported {draft.grid_count} grids as plan {draft.id} on unit "
               f"{draft.unit_code} (generation {draft.base_generation_id}); "
               f"{report.errors} check error(s), {report.warnings} warning(s)")
    for p in report.problems[:50]:
        click.echo(f"  {p['severity']} [{p['code']}] {p['rule']}: {p['message']}")


@group.command("export")
@click.option("--plan", "plan_id", type=int, help="A draft's id.")
@click.option("--generation", "generation_id", type=int, help="A generation's id.")
@click.option("--format", "fmt", type=click.Choice(PLAN_FORMATS), default="gpkg",
              show_default=True)
@click.option("--layer", type=click.Choice(BOUNDARY_LAYERS),
              help="GeoJSON of a generation: the layer (default grid).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
def export(plan_id, generation_id, fmt, layer, output):
    """Write a draft or a generation (active or not) as GeoPackage or GeoJSON."""
    from gis.access.roles import SYSTEM
    from gis.planning.drafts import export_draft, export_generation
    if (plan_id is None) == (generation_id is None):
        raise click.UsageError("give exactly one of --plan and --generation")

    def go():
        with ready_engine().begin() as conn:
            if plan_id is not None:
                return export_draft(conn, SYSTEM, plan_id, fmt, origin=CLI)
            return export_generation(conn, SYSTEM, generation_id, fmt, layer, origin=CLI)
    download = run(go)
    output.write_bytes(download.data)
    click.echo(f"wrote {output} ({len(download.data):,} bytes)")


@group.command("reassign-history")
@click.option("--generation", "generation_id", type=int, required=True)
def reassign_history(generation_id):
    """Assign past incidents (recorded under other generations) to their grid under a
    generation, in incident_assignment; incident rows are not changed. Idempotent."""
    from gis.access.roles import SYSTEM
    from gis.planning.publish import reassign_history as reassign

    def go():
        with ready_engine().begin() as conn:
            return reassign(conn, SYSTEM, generation_id, origin=CLI)
    result = run(go)
    click.echo(f"generation {generation_id} ({result.generation_name}): "
               f"{result.inserted} incident(s) assigned now, {result.assigned} in all "
               f"({result.uncovered} outside every grid)")
