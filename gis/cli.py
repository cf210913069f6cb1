"""Command-line data tasks (no web code here; `gridgis serve` lives in web.cli)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from tqdm import tqdm

from gis.config import database_url, uses_embedded_database
from gis.errors import GridgisError
from gis.store import db

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_BOUNDARIES = PROJECT_ROOT / "data" / "boundaries" / "anda" / "anda.gpkg"
DEMO_INCIDENTS = PROJECT_ROOT / "data" / "demo" / "incidents.csv"


def ready_engine():
    """Start the embedded cluster when it is the one in use, migrate, return an Engine."""
    if uses_embedded_database():
        from gis.store import local_cluster
        local_cluster.start()
    url = database_url()
    db.migrate(url)
    return db.engine(url)


def fail(err: GridgisError, limit: int = 50) -> None:
    click.secho(f"error: {err.message}", fg="red", err=True)
    details = err.details if isinstance(err.details, list) else []
    for item in details[:limit]:
        click.echo(f"  {_detail_line(item)}", err=True)
    if len(details) > limit:
        click.echo(f"  ... and {len(details) - limit} more", err=True)
    sys.exit(1)


def _detail_line(item) -> str:
    if isinstance(item, dict) and "rule" in item:
        where = f" at {item['lon']},{item['lat']}" if item.get("lon") is not None else ""
        return f"[{item['level']} {item['code']}] {item['rule']}: {item['message']}{where}"
    if isinstance(item, dict) and "row" in item:
        return f"row {item['row']} ({item.get('external_id', '')}): {item['error']}"
    return json.dumps(item, ensure_ascii=False)


class GridgisGroup(click.Group):
    """The command group: a lost or refused database connection ends any command with one
    readable line instead of a traceback (imports are all-or-nothing, so re-running is safe)."""

    def invoke(self, ctx):
        from sqlalchemy.exc import InterfaceError, OperationalError
        try:
            return super().invoke(ctx)
        except (OperationalError, InterfaceError) as err:
            reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
            for bar in list(getattr(tqdm, "_instances", ())):  # end progress lines first
                bar.close()
            click.secho(f"error: lost the database connection ({reason}); imports are "
                        "all-or-nothing, so run the same command again to complete it",
                        fg="red", err=True)
            sys.exit(1)


@click.group()
def db_group():
    """The database: embedded cluster or GRIDGIS_DATABASE_URL."""


@db_group.command("up")
def db_up():
    """Start the embedded PostGIS (if used) and migrate the schema."""
    ready_engine()
    click.echo(f"database ready: {database_url()}")


@db_group.command("down")
def db_down():
    """Stop the embedded PostGIS cluster."""
    from gis.store import local_cluster
    local_cluster.stop()
    click.echo("embedded database stopped")


@db_group.command("url")
def db_url():
    click.echo(database_url())


@click.group()
def boundaries_group():
    """Boundary sets (four levels and grids)."""


@boundaries_group.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--commit", is_flag=True, help="Write the set (default: validate only, a dry run).")
@click.option("--name", help="Name of the new boundary generation (default: file name).")
@click.option("--crs", help="CRS the coordinates are in, e.g. EPSG:4490; overrides what the "
                            "file declares (needed for layers that declare none).")
@click.option("--tolerance", default=1.0, show_default=True,
              help="Area in m² below which overlaps and gaps are floating-point noise.")
@click.option("--repair", is_flag=True,
              help="Make invalid polygons valid (shapely.make_valid) and keep the polygonal "
                   "parts of geometry collections; every repaired feature is listed.")
@click.option("--max-vertices", type=click.IntRange(min=1),
              help="Refuse a feature with more vertices than this (default 200,000).")
@click.option("--max-file-vertices", type=click.IntRange(min=1),
              help="Refuse a file (or folder) with more vertices in all (default 5,000,000).")
def boundaries_import(path, commit, name, crs, tolerance, repair, max_vertices,
                      max_file_vertices):
    """Validate a boundary set (GeoPackage, GeoJSON or Shapefile) and, with --commit, import it
    as the new active generation in one transaction."""
    from gis.service import import_boundaries
    limits = {k: v for k, v in (("max_vertices_per_feature", max_vertices),
                                ("max_vertices_per_file", max_file_vertices)) if v}
    engine = ready_engine()
    bar = tqdm(desc="writing units", unit=" units", disable=not commit)
    try:
        report = import_boundaries(engine, path, commit=commit, name=name, crs=crs,
                                   tolerance_m2=tolerance, repair=repair,
                                   progress=bar.update, **limits)
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
        click.echo(f"identical to generation {report.already_imported}: nothing to write")
    elif report.committed:
        click.echo(f"imported as generation {report.generation_id} (active)")
    else:
        click.echo("dry run: nothing written (use --commit)")


@boundaries_group.command("list")
def boundaries_list():
    """Boundary generations."""
    from gis.store.boundaries import list_generations
    engine = ready_engine()
    with engine.connect() as conn:
        for g in list_generations(conn):
            flag = "*" if g["is_active"] else " "
            click.echo(f"{flag} {g['id']:>4}  {g['name']}  {g['source'] or ''}  "
                       f"{g['created_at']:%Y-%m-%d %H:%M}")


@click.group()
def incidents_group():
    """Incidents."""


@incidents_group.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--crs", default="EPSG:4326", show_default=True,
              help="CRS of lon/lat: EPSG:4326, EPSG:4490, GCJ02, BD09 or any EPSG code.")
@click.option("--skip-bad", is_flag=True, help="Import the valid rows and list the bad ones.")
@click.option("--source", default="import", show_default=True,
              help="Source name for rows without a source column.")
@click.option("--batch-size", default=50_000, show_default=True)
def incidents_import(path, crs, skip_bad, source, batch_size):
    """Import incidents from CSV (lon, lat columns) or GeoJSON: all rows assigned to grids,
    idempotent on (source, external_id), in one transaction."""
    from gis.service import import_incidents
    engine = ready_engine()
    bar = tqdm(desc="importing", unit=" rows")
    try:
        report = import_incidents(engine, path, crs=crs, skip_bad=skip_bad, source=source,
                                  batch_size=batch_size, progress=bar.update)
    except GridgisError as err:
        bar.close()
        fail(err)
    bar.close()
    click.echo(f"{report.rows} rows: {report.inserted} imported, {report.duplicates} already "
               f"present, {len(report.bad_rows)} rejected, {report.uncovered} outside every grid")
    for item in report.bad_rows[:50]:
        click.echo(f"  {_detail_line(item)}")


@click.group()
def demo_group():
    """Demo data."""


@demo_group.command("load")
def demo_load():
    """Load the Anda demo boundary set, demo incidents and the synthetic coverage set (staff,
    cameras, posts, main-town roads) (idempotent)."""
    from gis.service import import_boundaries, import_incidents
    engine = ready_engine()
    try:
        report = import_boundaries(engine, DEMO_BOUNDARIES, commit=True, name="Anda demo")
        if report.already_imported:
            click.echo(f"demo boundaries already loaded (generation {report.already_imported})")
        else:
            click.echo(f"demo boundaries loaded as generation {report.generation_id}")
        with tqdm(desc="demo incidents", unit=" rows") as bar:
            inc = import_incidents(engine, DEMO_INCIDENTS, source="demo", progress=bar.update)
        click.echo(f"demo incidents: {inc.inserted} new, {inc.duplicates} already present, "
                   f"{inc.uncovered} outside every grid")
        from gis.store.demo import synthesize_history
        with engine.begin() as conn:
            filled = synthesize_history(conn)
        if filled:
            click.echo(f"demo incidents: synthetic lifecycle times for {filled}")
        from gis.coverage_cli import load_demo
        load_demo(engine)
    except GridgisError as err:
        fail(err)


def register(group: click.Group) -> None:
    group.add_command(db_group, "db")
    group.add_command(boundaries_group, "boundaries")
    group.add_command(incidents_group, "incidents")
    group.add_command(demo_group, "demo")
