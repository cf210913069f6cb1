"""`gridgis boundaries ...`: validate and import boundary sets, list generations."""
from __future__ import annotations

from pathlib import Path

import click

from gis.errors import GridgisError
from web.cli.common import CLI, fail, progress, ready_engine


@click.group()
def group():
    """Boundary sets (four levels and grids)."""


@group.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--commit", is_flag=True, help="Write the set (default: validate only, a dry run).")
@click.option("--name", help="Name of the new boundary generation (default: file name).")
@click.option("--crs", help="CRS the coordinates are in, e.g. EPSG:4490; overrides what the "
                            "file declares (needed for layers that declare none).")
@click.option("--tolerance", default=1.0, show_default=True,
              help="Area in m² below which overlaps and gaps are floating-point noise.")
@click.option("--repair", is_flag=True,
              help="Make invalid polygons valid (rings bound what they enclose; nested or "
                   "overlapping parts are merged, keeping the area) and keep the polygonal "
                   "parts of geometry collections; every repaired feature is listed with m².")
@click.option("--max-vertices", type=click.IntRange(min=1),
              help="Refuse a feature with more vertices than this (default 200,000).")
@click.option("--max-file-vertices", type=click.IntRange(min=1),
              help="Refuse a file (or folder) with more vertices in all (default 5,000,000).")
def boundaries_import(path, commit, name, crs, tolerance, repair, max_vertices,
                      max_file_vertices):
    """Validate a boundary set (GeoPackage, GeoJSON or Shapefile) and, with --commit, import it
    as the new active generation in one transaction."""
    from gis.boundaries.importing import import_boundaries
    from gis.incidents.importing import phased
    limits = {k: v for k, v in (("max_vertices_per_feature", max_vertices),
                                ("max_vertices_per_file", max_file_vertices)) if v}
    engine = ready_engine()
    bar = progress("boundaries", " units")
    try:
        report = import_boundaries(engine, path, commit=commit, name=name, crs=crs,
                                   tolerance_m2=tolerance, repair=repair,
                                   progress=phased(bar), **limits)
    except GridgisError as err:
        bar.close()
        fail(err)
    bar.close()
    for note in report.notes:
        click.echo(f"note: {note}")
    for r in report.repairs:
        where = f" at {r['lon']},{r['lat']}" if r["lon"] is not None else ""
        click.echo(f"repaired [{r['layer']} {r['code']}] {r['action']}{where}; area "
                   f"{r['area_before_m2']:,.1f} m² -> {r['area_after_m2']:,.1f} m²")
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    repaired = f" after {len(report.repairs)} repair(s)" if report.repairs else ""
    click.echo(f"{report.source}: {counts}; valid{repaired}")
    if report.already_imported:
        state = "the active one" if report.already_active else \
            f"not active: `gridgis boundaries activate {report.already_imported}` makes it so"
        click.echo(f"same content as generation {report.already_imported} ({state}): nothing "
                   "to write")
    elif report.committed:
        click.echo(f"imported as generation {report.generation_id} (active)")
    else:
        click.echo("dry run: nothing written (use --commit)")


@group.command("activate")
@click.argument("generation", type=int)
def boundaries_activate(generation):
    """Make a stored GENERATION (see `list`) the active one again, audited. New incidents are
    assigned under it; past incidents keep the generation they were assigned under."""
    from gis.boundaries.generations import activate
    engine = ready_engine()
    try:
        with engine.begin() as conn:
            out = activate(conn, generation, origin=CLI)
    except GridgisError as err:
        fail(err)
    g = out["generation"]
    if not out["changed"]:
        click.echo(f"generation {g['id']} ({g['name']}) is already active: nothing changed")
    else:
        before = f" (was {out['previous']})" if out["previous"] is not None else ""
        click.echo(f"generation {g['id']} ({g['name']}) is now active{before}")


@group.command("list")
def boundaries_list():
    """Boundary generations."""
    from gis.boundaries.generations import list_generations
    with ready_engine().connect() as conn:
        for g in list_generations(conn):
            flag = "*" if g["is_active"] else " "
            created = g["created_at"][:16].replace("T", " ")
            demo = "  [demo]" if g["demo"] else ""
            click.echo(f"{flag} {g['id']:>4}  {g['name']}  {g['source'] or ''}  {created}{demo}")
