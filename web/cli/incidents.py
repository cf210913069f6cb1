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
@click.option("--crs", default="EPSG:4326", show_default=True,
              help="CRS of lon/lat: EPSG:4326, EPSG:4490, GCJ02, BD09 or any EPSG code.")
@click.option("--skip-bad", is_flag=True, help="Import the valid rows and list the bad ones.")
@click.option("--source", default="import", show_default=True,
              help="Source name for rows without a source column.")
@click.option("--batch-size", default=25_000, show_default=True,
              help="Rows stored per statement (the progress bar moves after each).")
def incidents_import(path, crs, skip_bad, source, batch_size):
    """Import incidents from CSV (lon, lat columns) or GeoJSON: all rows assigned to grids,
    idempotent on (source, external_id), in one transaction."""
    from gis.incidents.importing import import_incidents, phased
    engine = ready_engine()
    bar = progress("importing", " rows")
    try:
        report = import_incidents(engine, path, crs=crs, skip_bad=skip_bad, source=source,
                                  batch_size=batch_size, progress=phased(bar))
    except GridgisError as err:
        bar.close()
        fail(err)
    bar.close()
    click.echo(f"{report.rows} rows: {report.inserted} imported, {report.duplicates} already "
               f"present, {len(report.bad_rows)} rejected, {report.uncovered} outside every grid")
    for item in report.bad_rows[:50]:
        click.echo(f"  {detail_line(item)}")
