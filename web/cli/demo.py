"""`gridgis demo ...`: the Anda demo."""
from __future__ import annotations

import click

from web.cli.common import progress, ready_engine, run


@click.group()
def group():
    """Demo data."""


@group.command("load")
def demo_load():
    """Load the Anda demo boundary set, demo incidents and the synthetic coverage set (staff,
    cameras, posts, main-town roads) (idempotent)."""
    from gis.demo.load import load_demo
    run(load_demo, ready_engine(), say=click.echo, progress=progress)
