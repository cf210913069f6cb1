"""`gridgis plans ...`: draft plans from the command line (as the system account): list, check,
import and export drafts, export generations, re-assign past incidents under a generation."""
from __future__ import annotations

from pathlib import Path

import click

from gis import plans
from gis.access import SYSTEM
from gis.cli import fail, ready_engine
from gis.errors import GridgisError
from gis.store import audit


@click.group()
def plans_group():
    """Draft grid plans and boundary generations."""


@plans_group.command("list")
@click.option("--status", type=click.Choice(plans.STATUSES))
def list_plans(status):
    """Drafts, newest first."""
    with ready_engine().connect() as conn:
        for d in plans.list_drafts(conn, SYSTEM.scope, status):
            click.echo(f"{d['id']:>4}  v{d['version']:<4} {d['status']:<9} {d['unit_code']} "
                       f"{d['unit_name'] or ''}  {d['grid_count']} grids  {d['name']}")


@plans_group.command("check")
@click.argument("plan_id", type=int)
@click.option("--min", "hh_min", default=300, show_default=True, type=click.IntRange(min=0))
@click.option("--max", "hh_max", default=500, show_default=True, type=click.IntRange(min=0))
def check(plan_id, hh_min, hh_max):
    """Check a draft; exits 1 when it has errors."""
    try:
        with ready_engine().connect() as conn:
            body = plans.checks(conn, SYSTEM.scope, plan_id, plans.parse_targets(hh_min, hh_max))
    except GridgisError as err:
        fail(err)
    for p in body["problems"]:
        where = f" at {p['lon']},{p['lat']}" if p["lon"] is not None else ""
        click.echo(f"{p['severity']:<8}[{p['code']}] {p['rule']}: {p['message']}{where}")
    m = body["metrics"]
    click.echo(f"{body['errors']} error(s), {body['warnings']} warning(s); {m['grids']} grids, "
               f"households {m['households_min']}-{m['households_max']} "
               f"(share in range {m['households_within_range_share']})")
    if body["errors"]:
        raise SystemExit(1)


@plans_group.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="Name of the draft (default: file name).")
@click.option("--note")
@click.option("--unit", "unit_code", help="City, township or village code of the draft "
                                          "(default: the smallest holding every grid).")
@click.option("--crs", help="CRS of the coordinates when the file declares none or a wrong one.")
def import_plan(path, name, note, unit_code, crs):
    """Import a plan file (GeoPackage layer grid, GeoJSON, Shapefile) as a new draft."""
    try:
        with ready_engine().begin() as conn:
            result = plans.import_draft(conn, SYSTEM, path, name=name or path.stem, note=note,
                                        unit_code=unit_code, crs=crs)
            draft = result["draft"]
            audit.record(conn, SYSTEM, "plan_edit", f"plan/{draft['id']}",
                         details={"op": "import", "source": path.name, "via": "cli",
                                  "grids": draft["grid_count"]})
    except GridgisError as err:
        fail(err)
    for note_text in result["notes"]:
        click.echo(f"note: {note_text}")
    click.echo(f"imported {draft['grid_count']} grids as plan {draft['id']} on unit "
               f"{draft['unit_code']} (generation {draft['base_generation_id']}); "
               f"{result['errors']} check error(s), {result['warnings']} warning(s)")
    for p in result["problems"][:50]:
        click.echo(f"  {p['severity']} [{p['code']}] {p['rule']}: {p['message']}")


@plans_group.command("export")
@click.option("--plan", "plan_id", type=int, help="A draft's id.")
@click.option("--generation", "generation_id", type=int, help="A generation's id.")
@click.option("--format", "fmt", type=click.Choice(list(plans.FORMATS)), default="gpkg",
              show_default=True)
@click.option("--layer", type=click.Choice(["city", "township", "village", "hamlet", "grid"]),
              help="GeoJSON of a generation: the layer (default grid).")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
def export(plan_id, generation_id, fmt, layer, output):
    """Write a draft or a generation (active or not) as GeoPackage or GeoJSON."""
    if (plan_id is None) == (generation_id is None):
        raise click.UsageError("give exactly one of --plan and --generation")
    try:
        with ready_engine().begin() as conn:
            if plan_id is not None:
                data, _, _ = plans.export_draft(conn, SYSTEM.scope, plan_id, fmt)
                target = f"plan/{plan_id}"
            else:
                data, _, _ = plans.export_generation(conn, SYSTEM.scope, generation_id, fmt,
                                                     layer)
                target = f"generation/{generation_id}"
            audit.record(conn, SYSTEM, "export", target,
                         details={"format": fmt, "file": output.name, "via": "cli"})
    except GridgisError as err:
        fail(err)
    output.write_bytes(data)
    click.echo(f"wrote {output} ({len(data):,} bytes)")


@plans_group.command("reassign-history")
@click.option("--generation", "generation_id", type=int, required=True)
def reassign_history(generation_id):
    """Assign past incidents (recorded under other generations) to their grid under a
    generation, in incident_assignment; incident rows are not changed. Idempotent."""
    try:
        with ready_engine().begin() as conn:
            result = plans.reassign_history(conn, generation_id)
            audit.record(conn, SYSTEM, "history_reassign", f"generation/{generation_id}",
                         details={"considered": result["considered"],
                                  "inserted": result["inserted"], "via": "cli"})
    except GridgisError as err:
        fail(err)
    click.echo(f"generation {generation_id} ({result['generation_name']}): "
               f"{result['inserted']} incident(s) assigned now, {result['assigned']} in all "
               f"({result['uncovered']} outside every grid)")


def register(group: click.Group) -> None:
    group.add_command(plans_group, "plans")

