"""`gridgis categories ...`: the deployment's incident categories (as the system account;
every change audited)."""
from __future__ import annotations

import click

from web.cli.common import CLI, ready_engine, run


@click.group()
def group():
    """Incident categories: list, add, change, deactivate, load a shipped set."""


def _hours(value: str | None, name: str):
    """An hours option: a number, or 'none' for the handling level's rule."""
    if value is None or value.strip().lower() in ("none", "null", ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number of hours (or 'none')",
                                 param_hint=name) from None


def _line(c: dict) -> str:
    hours = ""
    if c["accept_hours"] is not None or c["resolve_hours"] is not None:
        show = lambda h: "rule" if h is None else f"{h:g}"  # noqa: E731
        hours = f"  deadlines {show(c['accept_hours'])}/{show(c['resolve_hours'])} h"
    state = "" if c["active"] else "  (停用 inactive)"
    return (f"{c['code']:<32} {c['name_zh']} {c['name_en']}  [{c['parent_class'] or '-'}]"
            f"{hours}{state}")


@group.command("list")
@click.option("--all", "everything", is_flag=True, help="Show deactivated categories too.")
def list_categories(everything):
    """List the categories in display order (code, names, parent class, own deadlines)."""
    from gis.categories.manage import list_categories as listed
    with ready_engine().connect() as conn:
        out = listed(conn, inactive=everything)
    for c in out["categories"]:
        click.echo(_line(c))


def _options(f):
    f = click.option("--zh", "name_zh", help="Chinese name.")(f)
    f = click.option("--en", "name_en", help="English name.")(f)
    f = click.option("--parent", "parent_class",
                     help="Parent class (major class), e.g. 矛盾纠纷 or 市容环境.")(f)
    f = click.option("--sort", "sort_order", type=int, help="Position in lists.")(f)
    f = click.option("--accept-hours", default=None, metavar="H",
                     help="Hours to accept a new incident ('none': the level rule).")(f)
    f = click.option("--resolve-hours", default=None, metavar="H",
                     help="Hours to resolve a new incident ('none': the level rule).")(f)
    return f


def _body(name_zh, name_en, parent_class, sort_order, accept_hours, resolve_hours) -> dict:
    body = {"name_zh": name_zh, "name_en": name_en, "parent_class": parent_class,
            "sort_order": sort_order}
    body = {k: v for k, v in body.items() if v is not None}
    if accept_hours is not None:
        body["accept_hours"] = _hours(accept_hours, "--accept-hours")
    if resolve_hours is not None:
        body["resolve_hours"] = _hours(resolve_hours, "--resolve-hours")
    return body


@group.command("add")
@click.argument("code")
@_options
def add(code, **options):
    """Add a category CODE (lower-case letters, digits, underscores) with --zh and --en."""
    from gis.access.roles import SYSTEM
    from gis.categories.manage import create

    def go():
        with ready_engine().begin() as conn:
            return create(conn, SYSTEM, {"code": code, **_body(**options)}, origin=CLI)
    click.echo(f"added {_line(run(go))}")


@group.command("set")
@click.argument("code")
@_options
@click.option("--active/--inactive", default=None, help="Take new incidents or not.")
def set_category(code, active, **options):
    """Change a category's names, parent class, order, deadlines or active flag."""
    from gis.access.roles import SYSTEM
    from gis.categories.manage import update
    body = _body(**options)
    if active is not None:
        body["active"] = active

    def go():
        with ready_engine().begin() as conn:
            return update(conn, SYSTEM, code, body, origin=CLI)
    out = run(go)
    click.echo(f"{'changed ' + ', '.join(out['changed']) if out['changed'] else 'unchanged'}: "
               f"{_line(out)}")


@group.command("deactivate")
@click.argument("code")
def deactivate(code):
    """Take a category out of use: no new incidents; its incidents keep it."""
    from gis.access.roles import SYSTEM
    from gis.categories.manage import deactivate as off

    def go():
        with ready_engine().begin() as conn:
            return off(conn, SYSTEM, code, origin=CLI)
    click.echo(f"deactivated: {_line(run(go))}")


@group.command("load-set")
@click.argument("name", type=click.Choice(["cjt214", "default"]))
def load_set(name):
    """Add a shipped set: cjt214 (CJ/T 214 urban-management events) or default; categories
    already there stay as they are."""
    from gis.access.roles import SYSTEM
    from gis.categories.manage import load_set as load

    def go():
        with ready_engine().begin() as conn:
            return load(conn, SYSTEM, name, origin=CLI)
    out = run(go)
    click.echo(f"{out['label']}: {len(out['added'])} added, {out['present']} already there")
