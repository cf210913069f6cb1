"""What every `gridgis` command shares: the database engine, errors printed as readable lines
(with the problems listed), progress bars, and the command group that turns a lost database
connection into one line instead of a traceback. Heavy libraries load inside commands, so
that `gridgis --help` stays fast."""
from __future__ import annotations

import json
import sys

import click

from gis.errors import GridgisError


CLI = {"via": "cli"}  # the origin the audit trail records for commands


def ready_engine():
    """Start the embedded cluster when it is the one in use, migrate, return an Engine."""
    from gis.store.db import ready_engine as ready
    return ready()


def fail(err: GridgisError, limit: int = 50) -> None:
    click.secho(f"error: {err.message}", fg="red", err=True)
    details = err.details if isinstance(err.details, list) else []
    for item in details[:limit]:
        click.echo(f"  {detail_line(item)}", err=True)
    if len(details) > limit:
        click.echo(f"  ... and {len(details) - limit} more", err=True)
    sys.exit(1)


def run(fn, *args, **kwargs):
    """fn(*args, **kwargs), or the error printed (fail) and exit status 1."""
    try:
        return fn(*args, **kwargs)
    except GridgisError as err:
        fail(err)


def detail_line(item) -> str:
    if isinstance(item, dict) and "rule" in item:
        where = f" at {item['lon']},{item['lat']}" if item.get("lon") is not None else ""
        return f"[{item['level']} {item['code']}] {item['rule']}: {item['message']}{where}"
    if isinstance(item, dict) and "row" in item:
        return f"row {item['row']} ({item.get('external_id', '')}): {item['error']}"
    return json.dumps(item, ensure_ascii=False)


def progress(desc: str, unit: str, total: int | None = None, disable: bool = False):
    """A tqdm progress bar on the terminal."""
    from tqdm import tqdm
    return tqdm(desc=desc, unit=unit, total=total, disable=disable)


class GridgisGroup(click.Group):
    """The command group: a lost or refused database connection ends any command with one
    readable line instead of a traceback (imports are all-or-nothing, so re-running is safe)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as err:
            from gis.store.db import lost_connection
            reason = lost_connection(err)
            if reason is None:
                raise
            from tqdm import tqdm
            for bar in list(getattr(tqdm, "_instances", ())):  # end progress lines first
                bar.close()
            click.secho(f"error: lost the database connection ({reason}); imports are "
                        "all-or-nothing, so run the same command again to complete it",
                        fg="red", err=True)
            sys.exit(1)
