"""`gridgis departments ...`: departments cases are dispatched to (as the system account;
every change audited)."""
from __future__ import annotations

import click

from web.cli.common import CLI, ready_engine, run


@click.group()
def group():
    """Departments (职能部门): list, add, change members, deactivate."""


def _line(d: dict) -> str:
    state = "" if d["active"] else "  (停用 inactive)"
    members = ",".join(map(str, d["member_ids"])) or "-"
    return (f"{d['id']:>4}  {d['name']}  [{d['unit_level']} {d['unit_code']} "
            f"{d['unit_name'] or ''}]  members {members}{state}")


def _ids(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a list of account ids, e.g. 3,7",
                                 param_hint="--members") from None


@group.command("list")
@click.option("--all", "everything", is_flag=True, help="Show deactivated departments too.")
def list_departments(everything):
    """List the departments: id, name, the unit they serve, member account ids."""
    from gis.access.roles import SYSTEM
    from gis.departments.manage import list_departments as listed
    with ready_engine().connect() as conn:
        out = listed(conn, SYSTEM, inactive=everything)
    for d in out["departments"]:
        click.echo(_line(d))


@group.command("add")
@click.argument("name")
@click.option("--unit", required=True, help="Code of the area the department serves.")
@click.option("--members", default=None, help="Member account ids, comma-separated.")
def add(name, unit, members):
    """Add a department NAME serving --unit."""
    from gis.access.roles import SYSTEM
    from gis.departments.manage import create
    body = {"name": name, "unit": unit, "member_ids": _ids(members) or []}

    def go():
        with ready_engine().begin() as conn:
            return create(conn, SYSTEM, body, origin=CLI)
    click.echo(f"added {_line(run(go))}")


@group.command("set")
@click.argument("department_id", type=int)
@click.option("--name", default=None, help="New name.")
@click.option("--members", default=None, help="Member account ids, comma-separated ('' none).")
@click.option("--active/--inactive", default=None, help="Take new cases or not.")
def set_department(department_id, name, members, active):
    """Rename a department, set its members or (de)activate it."""
    from gis.access.roles import SYSTEM
    from gis.departments.manage import update
    body = {k: v for k, v in {"name": name, "member_ids": _ids(members),
                              "active": active}.items() if v is not None}

    def go():
        with ready_engine().begin() as conn:
            return update(conn, SYSTEM, department_id, body, origin=CLI)
    click.echo(f"changed {_line(run(go))}")
