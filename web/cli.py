"""The `gridgis` command: data tasks from gis.cli plus `serve`."""
from __future__ import annotations

import click

from gis import account_cli, coverage_cli, plan_cli
from gis import cli as data_cli


@click.group(cls=data_cli.GridgisGroup)
def main():
    """gridgis: grid management for community governance."""


data_cli.register(main)
account_cli.register(main)
plan_cli.register(main)
coverage_cli.register(main)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--threads", default=8, show_default=True)
def serve(host, port, threads):
    """Serve the web app and API (waitress)."""
    from waitress import serve as waitress_serve

    from web import create_app
    from web.offline import missing_vendor_files
    data_cli.ready_engine()
    missing = missing_vendor_files()
    if missing:
        raise click.ClickException(
            f"{len(missing)} front-end files are missing (e.g. {missing[0]}); "
            "run scripts/setup (or python scripts/vendor_assets.py)")
    app = create_app()
    click.echo(f"gridgis serving on http://{host}:{port}/")
    waitress_serve(app, host=host, port=port, threads=threads)
