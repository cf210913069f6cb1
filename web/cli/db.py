"""`gridgis db ...`: the embedded cluster or GRIDGIS_DATABASE_URL."""
from __future__ import annotations

import click

from web.cli.common import ready_engine


@click.group()
def group():
    """The database: embedded cluster or GRIDGIS_DATABASE_URL."""


@group.command("up")
def db_up():
    """Start the embedded PostGIS (if used) and migrate the schema."""
    from gis.store.db import database_url
    ready_engine()
    click.echo(f"database ready: {database_url()}")


@group.command("down")
def db_down():
    """Stop the embedded PostGIS cluster."""
    from gis.store import local_cluster
    local_cluster.stop()
    click.echo("embedded database stopped")


@group.command("url")
def db_url():
    from gis.store.db import database_url
    click.echo(database_url())
