"""`gridgis incidents ...`: import incident tables."""
from __future__ import annotations

from pathlib import Path

import click

from gis.errors import GridgisError
from web.cli.common import detail_line, fail, progress, ready_engine


@click.group()
def group():
    """Incidents."""


@group.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--crs", default=None,
              help="CRS of the coordinates: EPSG:4326, EPSG:4490, GCJ02, BD09 or any EPSG code "
                   "[default: the CRS the file declares, else EPSG:4326].")
@click.option("--skip-bad", is_flag=True, help="Import the valid rows and list the bad ones.")
@click.option("--source", default="import", show_default=True,
              help="Source name for rows without a source column.")
@click.option("--map", "maps", multiple=True, metavar="FIELD=COLUMN",
              help="Read FIELD (external_id, category, occurred_at, lon, lat, reported_at, "
                   "severity, status, description, source) from the file's COLUMN; "
                   "repeatable.")
@click.option("--category", default=None, metavar="CODE",
              help="Category of rows without one (no category column, or an empty cell).")
@click.option("--category-map", "category_maps", multiple=True, metavar="VALUE=CODE",
              help="Read the file's category VALUE as the category CODE; repeatable.")
@click.option("--date-format", default=None, metavar="FORMAT",
              help='strptime format of occurred_at/reported_at, e.g. "%m/%d/%Y %I:%M %p" '
                   "[default: ISO 8601].")
@click.option("--tz", default=None, metavar="ZONE",
              help="IANA time zone of times without an offset, e.g. America/Chicago "
                   "[default: China Standard Time, +08:00].")
@click.option("--generate-ids", is_flag=True,
              help="Give each row an id made from its content (and its original id), for "
                   "files whose ids repeat; files without an id column get them anyway.")
@click.option("--layer", default=None,
              help="Layer to read from a GeoPackage or zipped Shapefile [default: the first "
                   "point layer].")
@click.option("--dry-run", is_flag=True,
              help="Check, assign and count everything, but write nothing.")
@click.option("--batch-size", default=25_000, show_default=True,
              help="Rows stored per statement (the progress bar moves after each).")
def incidents_import(path, crs, skip_bad, source, maps, category, category_maps, date_format,
                     tz, generate_ids, layer, dry_run, batch_size):
    """Import incidents from CSV (UTF-8 or GBK), GeoJSON, GeoPackage (.gpkg), a zipped
    Shapefile (.zip), a Shapefile (.shp) or GeoParquet (.parquet): all rows assigned to
    grids, idempotent on (source, external_id), in one transaction."""
    from gis.incidents.importing import import_incidents, phased
    from gis.incidents.parse import TableOptions, parse_pairs
    try:
        options = TableOptions(columns=parse_pairs(maps, "--map"),
                               categories=parse_pairs(category_maps, "--category-map"),
                               category=category, date_format=date_format, tz=tz,
                               generate_ids=generate_ids)
    except GridgisError as err:
        fail(err)
    engine = ready_engine()
    bar = progress("checking" if dry_run else "importing", " rows")
    try:
        report = import_incidents(engine, path, crs=crs, skip_bad=skip_bad, source=source,
                                  batch_size=batch_size, progress=phased(bar),
                                  options=options, layer=layer, dry_run=dry_run)
    except GridgisError as err:
        bar.close()
        fail(err)
    bar.close()
    read = [f"layer {report.layer}" if report.layer else None,
            f"coordinates in {report.input_crs}" if report.input_crs and
            len(report.input_crs) < 40 else None,
            "ids generated from each row's content" if report.generated_ids else None]
    if any(read):
        click.echo(f"read {', '.join(r for r in read if r)}")
    if report.dry_run:
        click.echo(f"dry run, nothing written: {report.rows} rows: {report.inserted} would be "
                   f"imported, {report.duplicates} already present, {len(report.bad_rows)} "
                   f"rejected, {report.uncovered} outside every grid")
    else:
        click.echo(f"{report.rows} rows: {report.inserted} imported, {report.duplicates} "
                   f"already present, {len(report.bad_rows)} rejected, {report.uncovered} "
                   "outside every grid")
    for item in report.bad_rows[:50]:
        click.echo(f"  {detail_line(item)}")
