"""`gridgis coverage ...`: import staff, cameras, posts and roads; recompute response areas;
settings; per-unit gap tables; the synthetic demo set."""
from __future__ import annotations

import tempfile
from pathlib import Path

import click
import pandas as pd
from tqdm import tqdm

from gis import coverage_service as service
from gis.cli import fail, ready_engine
from gis.errors import GridgisError
from gis.store import coverage as cstore

CRS_HELP = "CRS of the coordinates: EPSG:4326 (default), EPSG:4490, GCJ02, BD09 or any EPSG code."


@click.group()
def coverage_group():
    """Coverage: grid staff, cameras, response posts, roads, blind spots."""


def _counts(what: str, report: dict) -> str:
    return (f"{what}: {report['rows']} rows, {report['inserted']} new, {report['updated']} "
            f"changed, {report['unchanged']} unchanged")


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except GridgisError as err:
        fail(err)


@coverage_group.command("import-staff")
@click.argument("path", type=click.Path(path_type=Path))
def import_staff(path):
    """Grid heads and full/part-time workers from CSV: external_id, name, role, grids
    (codes separated by ';'), optional phone and active. Upserts by external_id."""
    report = _run(service.import_staff, ready_engine(), path)
    click.echo(_counts("staff", report))


@coverage_group.command("import-cameras")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--crs", help=CRS_HELP)
def import_cameras(path, crs):
    """Cameras from CSV (external_id, lon, lat, range_m, direction_deg, fov_deg) or GeoJSON."""
    report = _run(service.import_cameras, ready_engine(), path, crs)
    click.echo(_counts("cameras", report))


def _areas_line(report: dict) -> str:
    r = report.get("response_areas")
    if not r:
        return "response areas unchanged"
    return (f"response areas recomputed for {r['posts']} posts: {r['network']} along the road "
            f"network, {r['buffer']} speed buffers")


@coverage_group.command("import-posts")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--crs", help=CRS_HELP)
def import_posts(path, crs):
    """Police posts and patrol stations from CSV (external_id, name, kind, lon, lat) or
    GeoJSON; recomputes the response areas."""
    with tqdm(desc="response areas", unit=" posts") as bar:
        report = _run(service.import_posts, ready_engine(), path, crs, progress=bar.update)
    click.echo(_counts("posts", report))
    click.echo(_areas_line(report))


@coverage_group.command("import-roads")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--crs", help="CRS of the file when it declares none or declares it wrongly.")
def import_roads(path, crs):
    """Replace the road network with the lines of a GeoPackage or GeoJSON (OSM extracts work:
    highway and maxspeed are read); recomputes the response areas."""
    engine = ready_engine()
    with engine.connect() as conn:
        posts = len(cstore.points_frame(conn, "response_post"))
    with tqdm(total=posts, desc="response areas", unit=" posts") as bar:
        report = _run(service.import_roads, engine, path, crs, progress=bar.update)
    click.echo(f"roads: {report['features']} features noded into {report['edges']} edges and "
               f"{report['nodes']} nodes, {report['length_km']:,.1f} km")
    click.echo(_areas_line(report))


@coverage_group.command("recompute")
def recompute():
    """Recompute every post's 1/3/5-minute response areas."""
    engine = ready_engine()
    with engine.begin() as conn:
        posts = len(cstore.points_frame(conn, "response_post"))
        with tqdm(total=posts, desc="response areas", unit=" posts") as bar:
            r = service.recompute_response_areas(conn, progress=bar.update)
    click.echo(_areas_line({"response_areas": r}))


@coverage_group.command("settings")
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE",
              help="Change a setting, e.g. households_per_worker=200.")
def settings(pairs):
    """Show (or change) the coverage settings."""
    engine = ready_engine()
    if pairs:
        values = {}
        for pair in pairs:
            key, _, value = pair.partition("=")
            try:
                values[key.strip()] = float(value)
            except ValueError:
                raise click.BadParameter(f"{pair!r} is not KEY=NUMBER", param_hint="--set")
        _run(service.update_settings, engine, values)
    with engine.connect() as conn:
        current = cstore.settings(conn)
    for key, (_default, low, high, what) in cstore.SETTINGS.items():
        click.echo(f"{key} = {current[key]:g}    ({what}; {low:g}-{high:g})")


@coverage_group.command("report")
@click.option("--level", type=click.Choice(["township", "village"]), default="township",
              show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of a text table.")
def report(level, as_csv):
    """Blind spots per township, or staffing gaps per village."""
    from gis import coverage_report as cr
    from gis.access import SYSTEM
    with ready_engine().connect() as conn:
        ctx = cr.context(conn, SYSTEM.scope)
        table = cr.blind_spots(conn, ctx)["table"] if level == "township" else \
            cr.staff_units(conn, ctx, level)
    if as_csv:
        click.echo(table.to_csv(index=False), nl=False)
    else:
        with pd.option_context("display.width", 200, "display.max_rows", 500):
            click.echo(table.round(3).to_string(index=False))


def load_demo(engine) -> None:
    """Generate the synthetic coverage set for the demo city and load it through the same
    imports as real files (idempotent: a second run changes nothing)."""
    import geopandas as gpd

    from gis.cli import DEMO_BOUNDARIES
    from gis.coverage import demo
    grids = gpd.read_file(DEMO_BOUNDARIES, layer="grid")
    towns = gpd.read_file(DEMO_BOUNDARIES, layer="township")
    data = demo.synthesize(grids, towns)
    with tempfile.TemporaryDirectory() as tmp:
        files = demo.write_files(data, Path(tmp))
        staff = service.import_staff(engine, files["staff"], synthetic=True)
        click.echo(_counts("demo staff (synthetic)", staff))
        cams = service.import_cameras(engine, files["cameras"], synthetic=True)
        click.echo(_counts("demo cameras (synthetic)", cams))
        with engine.connect() as conn:
            network = cstore.road_network(conn)
        if network is None or network["source"] != files["roads"].name \
                or network["source_sha256"] != _digest(files["roads"]):
            roads = service.import_roads(engine, files["roads"], synthetic=True)
            click.echo(f"demo roads (synthetic): {roads['edges']} edges, "
                       f"{roads['length_km']:,.1f} km")
        else:
            click.echo("demo roads already loaded")
        with tqdm(desc="demo posts: response areas", unit=" posts") as bar:
            posts = service.import_posts(engine, files["posts"], synthetic=True,
                                         progress=bar.update)
        click.echo(_counts("demo posts (synthetic)", posts))
        with engine.connect() as conn:
            missing = conn.exec_driver_sql(
                "SELECT count(*) FROM response_post p WHERE NOT EXISTS "
                "(SELECT 1 FROM response_area a WHERE a.post_id = p.id)").scalar()
        if missing:
            with engine.begin() as conn:
                service.recompute_response_areas(conn)
        click.echo(_areas_line(posts))


def _digest(path: Path) -> str:
    from gis.boundaries import file_digest
    return file_digest(path)


def register(group: click.Group) -> None:
    group.add_command(coverage_group, "coverage")
