"""`gridgis coverage ...`: import staff, cameras, posts and roads; recompute response areas;
settings; per-unit gap tables."""
from __future__ import annotations

from pathlib import Path

import click

from web.cli.common import progress, ready_engine, run

CRS_HELP = "CRS of the coordinates: EPSG:4326 (default), EPSG:4490, GCJ02, BD09 or any EPSG code."


@click.group()
def group():
    """Coverage: grid staff, cameras, response posts, roads, blind spots."""


def _counts(what: str, report: dict) -> str:
    return (f"{what}: {report['rows']} rows, {report['inserted']} new, {report['updated']} "
            f"changed, {report['unchanged']} unchanged")


@group.command("import-staff")
@click.argument("path", type=click.Path(path_type=Path))
def import_staff(path):
    """Grid heads and full/part-time workers from CSV: external_id, name, role, grids
    (codes separated by ';'), optional phone and active. Upserts by external_id."""
    from gis.coverage import imports
    report = run(imports.import_staff, ready_engine(), path)
    click.echo(_counts("staff", report))


@group.command("import-cameras")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--crs", help=CRS_HELP)
def import_cameras(path, crs):
    """Cameras from CSV (external_id, lon, lat, range_m, direction_deg, fov_deg) or GeoJSON."""
    from gis.coverage import imports
    report = run(imports.import_cameras, ready_engine(), path, crs)
    click.echo(_counts("cameras", report))


@group.command("import-posts")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--crs", help=CRS_HELP)
def import_posts(path, crs):
    """Police posts and patrol stations from CSV (external_id, name, kind, lon, lat) or
    GeoJSON; recomputes the response areas."""
    from gis.coverage import imports
    from gis.demo.load import areas_line
    bar = progress("response areas", " posts")
    try:
        report = run(imports.import_posts, ready_engine(), path, crs, progress=bar.update)
    finally:
        bar.close()
    click.echo(_counts("posts", report))
    click.echo(areas_line(report))


@group.command("import-roads")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--crs", help="CRS of the file when it declares none or declares it wrongly.")
def import_roads(path, crs):
    """Replace the road network with the lines of a GeoPackage or GeoJSON (OSM extracts work:
    highway and maxspeed are read); recomputes the response areas."""
    from gis.coverage import imports
    from gis.coverage.response_areas import post_count
    from gis.demo.load import areas_line
    engine = ready_engine()
    bar = progress("response areas", " posts", total=post_count(engine))
    try:
        report = run(imports.import_roads, engine, path, crs, progress=bar.update)
    finally:
        bar.close()
    click.echo(f"roads: {report['features']} features noded into {report['edges']} edges and "
               f"{report['nodes']} nodes, {report['length_km']:,.1f} km")
    click.echo(areas_line(report))


@group.command("recompute")
def recompute():
    """Recompute every post's 1/3/5-minute response areas."""
    from gis.coverage.response_areas import post_count, recompute_response_areas
    from gis.demo.load import areas_line
    engine = ready_engine()
    bar = progress("response areas", " posts", total=post_count(engine))
    try:
        with engine.begin() as conn:
            r = recompute_response_areas(conn, progress=bar.update)
    finally:
        bar.close()
    click.echo(areas_line({"response_areas": r}))


@group.command("settings")
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE",
              help="Change a setting, e.g. households_per_worker=200.")
def settings(pairs):
    """Show (or change) the coverage settings."""
    from gis.coverage import settings as coverage_settings
    engine = ready_engine()
    if pairs:
        values = {}
        for pair in pairs:
            key, _, value = pair.partition("=")
            try:
                values[key.strip()] = float(value)
            except ValueError:
                raise click.BadParameter(f"{pair!r} is not KEY=NUMBER", param_hint="--set")
        run(coverage_settings.update_settings, engine, values)
    with engine.connect() as conn:
        current = coverage_settings.describe(conn)
    for key, d in current["described"].items():
        click.echo(f"{key} = {current['settings'][key]:g}    ({d['meaning']}; "
                   f"{d['min']:g}-{d['max']:g})")


@group.command("report")
@click.option("--level", type=click.Choice(["township", "village"]), default="township",
              show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of a text table.")
def report(level, as_csv):
    """Blind spots per township, or staffing gaps per village."""
    import pandas as pd

    from gis.access.roles import SYSTEM
    from gis.coverage import report as cr
    with ready_engine().connect() as conn:
        ctx = cr.context(conn, SYSTEM.scope)
        table = cr.blind_spots(conn, ctx)["table"] if level == "township" else \
            cr.staff_units(conn, ctx, level)
    if as_csv:
        from gis.files import spreadsheet_safe
        click.echo(spreadsheet_safe(table).to_csv(index=False), nl=False)
    else:
        with pd.option_context("display.width", 200, "display.max_rows", 500):
            click.echo(table.round(3).to_string(index=False))
