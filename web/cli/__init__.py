"""The `gridgis` command: the root group, `serve`, and the feature groups registered below
(each in its own module, thin: parse options, call one use case, print)."""
from __future__ import annotations

import click

from web.cli import (accounts, boundaries, categories, coverage, db, demo, departments,
                     incidents, planning)
from web.cli.common import GridgisGroup, ready_engine


@click.group(cls=GridgisGroup)
def main():
    """gridgis: grid management for community governance."""


main.add_command(db.group, "db")
main.add_command(boundaries.group, "boundaries")
main.add_command(incidents.group, "incidents")
main.add_command(categories.group, "categories")
main.add_command(departments.group, "departments")
main.add_command(demo.group, "demo")
main.add_command(accounts.group, "accounts")
main.add_command(planning.group, "plans")
main.add_command(coverage.group, "coverage")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--threads", default=8, show_default=True)
def serve(host, port, threads):
    """Serve the web app and API (waitress)."""
    from waitress import serve as waitress_serve

    from web import create_app
    from web.offline import missing_vendor_files
    ready_engine()
    missing = missing_vendor_files()
    if missing:
        raise click.ClickException(
            f"{len(missing)} front-end files are missing (e.g. {missing[0]}); "
            "run scripts/setup (or python scripts/vendor_assets.py)")
    app = create_app()
    click.echo(f"gridgis serving on http://{host}:{port}/")
    waitress_serve(app, host=host, port=port, threads=threads)
