"""`gridgis accounts ...`: manage accounts and tokens (as the system account), and create the
demo accounts."""
from __future__ import annotations

import click

from gis.access.roles import ROLES
from web.cli.common import CLI, ready_engine, run



@click.group()
def group():
    """Accounts, roles, jurisdictions and API tokens."""


@group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(list(ROLES)), required=True)
@click.option("--unit", "units", multiple=True,
              help="Jurisdiction: a unit or grid code (repeatable). Administrators may omit it.")
@click.option("--password", envvar="GRIDGIS_NEW_PASSWORD",
              help="Password (default: generated and printed once).")
def create(username, role, units, password):
    """Create an account."""
    from gis.access.credentials import new_password
    from gis.access.roles import SYSTEM
    from gis.accounts.manage import create_account
    generated = password is None
    password = password or new_password()

    def go():
        with ready_engine().begin() as conn:
            return create_account(conn, SYSTEM, {"username": username, "role": role,
                                                 "password": password, "units": list(units)},
                                  origin=CLI)
    account = run(go)
    click.echo(f"account {account['username']} ({role}) created, id {account['id']}")
    if generated:
        click.echo(f"password: {password}")


@group.command("list")
def list_accounts():
    """List accounts with role, jurisdiction and state."""
    from gis.accounts.manage import list_accounts as all_accounts
    with ready_engine().connect() as conn:
        for a in all_accounts(conn):
            units = ", ".join(f"{u['level']}:{u['code']}" for u in a["units"]) or "all"
            state = "active" if a["active"] else "disabled"
            click.echo(f"{a['id']:>4}  {a['username']:<20} {a['role']:<12} {state:<9} {units}")


@group.command("token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. 12345-hotline.")
def token(username, name):
    """Create an API token for an account (printed once)."""
    from gis.access.roles import SYSTEM
    from gis.accounts.manage import create_token_for

    def go():
        with ready_engine().begin() as conn:
            return create_token_for(conn, SYSTEM, username, name, origin=CLI)
    row, secret = run(go)
    click.echo(f"token {row['id']} for {username}: {secret}")


@group.command("revoke-token")
@click.argument("token_id", type=int)
def revoke(token_id):
    """Revoke an API token by id."""
    from gis.access.roles import SYSTEM
    from gis.accounts.manage import revoke_token

    def go():
        with ready_engine().begin() as conn:
            return revoke_token(conn, SYSTEM, token_id, origin=CLI)
    run(go)
    click.echo(f"token {token_id} revoked")


@group.command("demo")
def demo():
    """Create (or reset) the demo accounts and print their passwords and the client's token.
    The secrets are kept in .gridgis/demo-accounts.json so that every run prints the same."""
    from gis.demo.accounts import ensure_demo_accounts
    out = run(ensure_demo_accounts, ready_engine())
    click.echo("demo accounts 演示账号 (sign in at /login; kept in .gridgis/demo-accounts.json):")
    for name, e in out.items():
        zh, en = ROLES[e["role"]]
        where = ", ".join(e["units"]) or "all"
        click.echo(f"  {name:<18} {e['password']:<18} {zh} {en} · {where}")
        if "department" in e:
            click.echo(f"  {'':<18} 部门 department: {e['department']}")
        if "token" in e:
            click.echo(f"  {'':<18} API token: {e['token']}")
