"""`gridgis demo ...`: the Anda demo."""
from __future__ import annotations

import click

from web.cli.common import CLI, progress, ready_engine, run


@click.group()
def group():
    """Demo data."""


@group.command("load")
def demo_load():
    """Load the Anda demo boundary set, demo incidents and the synthetic coverage set (staff,
    cameras, posts, main-town roads) (idempotent)."""
    from gis.demo.load import load_demo
    run(load_demo, ready_engine(), say=click.echo, progress=progress)


@group.command("remove")
@click.option("--delete-other-incidents", is_flag=True,
              help="Also delete incidents of other sources assigned under the demo boundaries "
                   "when no other boundary generation can take them.")
@click.confirmation_option(prompt="Remove the demo boundaries, incidents, coverage set, plans "
                                  "and accounts?")
def demo_remove(delete_other_incidents):
    """Remove the demo whole (one transaction, audited): its boundary generations, incidents,
    synthetic staff, cameras, posts and roads, plans drawn on it, and the demo accounts.
    Incidents of other sources under the demo boundaries are re-assigned under the newest other
    generation, which becomes active if the demo's was."""
    from gis.demo.remove import remove_demo
    out = run(remove_demo, ready_engine(),
              other_incidents="delete" if delete_other_incidents else "refuse", say=click.echo,
              origin=CLI)
    removed = ", ".join(f"{k} {v}" for k, v in out["removed"].items())
    click.echo(f"demo removed: {removed}")
    if out["activated"]:
        click.echo(f"generation {out['activated']} is now active")
