"""`gridgis accounts ...`: manage accounts and tokens, and create the demo accounts."""
from __future__ import annotations

import json
import os

import click
from sqlalchemy import text

from gis.access import ROLES, SYSTEM
from gis.cli import fail, ready_engine
from gis.credentials import new_password
from gis.errors import GridgisError, InputError
from gis.store import accounts, audit


@click.group()
def accounts_group():
    """Accounts, roles, jurisdictions and API tokens."""


@accounts_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(list(ROLES)), required=True)
@click.option("--unit", "units", multiple=True,
              help="Jurisdiction: a unit or grid code (repeatable). Administrators may omit it.")
@click.option("--password", envvar="GRIDGIS_NEW_PASSWORD",
              help="Password (default: generated and printed once).")
def create(username, role, units, password):
    """Create an account."""
    generated = password is None
    password = password or new_password()
    try:
        with ready_engine().begin() as conn:
            account = accounts.create(conn, username, role, password=password,
                                      units=accounts.resolve_units(conn, list(units)))
            audit.record(conn, SYSTEM, "account_create", f"account/{account['id']}",
                         details={"username": username, "role": role, "via": "cli"})
    except GridgisError as err:
        fail(err)
    click.echo(f"account {account['username']} ({role}) created, id {account['id']}")
    if generated:
        click.echo(f"password: {password}")


@accounts_group.command("list")
def list_accounts():
    """List accounts with role, jurisdiction and state."""
    with ready_engine().connect() as conn:
        for a in accounts.list_all(conn):
            units = ", ".join(f"{u['level']}:{u['code']}" for u in a["units"]) or "all"
            state = "active" if a["active"] else "disabled"
            click.echo(f"{a['id']:>4}  {a['username']:<20} {a['role']:<12} {state:<9} {units}")


@accounts_group.command("token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. 12345-hotline.")
def token(username, name):
    """Create an API token for an account (printed once)."""
    try:
        with ready_engine().begin() as conn:
            account = accounts.get_by_username(conn, username)
            if account is None:
                raise InputError(f"no account {username!r}")
            row, secret = accounts.create_token(conn, account["id"], name)
            audit.record(conn, SYSTEM, "token_create", f"token/{row['id']}",
                         details={"account": username, "via": "cli"})
    except GridgisError as err:
        fail(err)
    click.echo(f"token {row['id']} for {username}: {secret}")


@accounts_group.command("revoke-token")
@click.argument("token_id", type=int)
def revoke(token_id):
    """Revoke an API token by id."""
    try:
        with ready_engine().begin() as conn:
            accounts.revoke_token(conn, token_id)
            audit.record(conn, SYSTEM, "token_revoke", f"token/{token_id}",
                         details={"via": "cli"})
    except GridgisError as err:
        fail(err)
    click.echo(f"token {token_id} revoked")


def demo_roster(conn) -> list[dict]:
    """One account per role over the demo data (plus a township official to show scoping)."""
    city = conn.execute(text(
        "SELECT a.code FROM admin_area a JOIN generation g ON g.id = a.generation_id "
        "AND g.is_active WHERE a.level = 1 ORDER BY a.code LIMIT 1")).scalar()
    busiest = conn.execute(text("""
        SELECT t.code AS township, x.code AS grid FROM incident i
        JOIN grid x ON x.id = i.grid_id JOIN admin_area t ON t.id = x.township_id
        JOIN generation g ON g.id = x.generation_id AND g.is_active
        GROUP BY t.code, x.code ORDER BY count(*) DESC, x.code LIMIT 1""")).mappings().first()
    if city is None or busiest is None:
        raise InputError("load the demo data first (gridgis demo load)")
    return [
        {"username": "admin", "role": "admin", "units": []},
        {"username": "planner", "role": "planner", "units": [city]},
        {"username": "official", "role": "official", "units": [city]},
        {"username": "township-official", "role": "official", "units": [busiest["township"]]},
        {"username": "grid-worker", "role": "grid_worker", "units": [busiest["grid"]]},
        {"username": "hotline-12345", "role": "client", "units": [city]},
    ]


@accounts_group.command("demo")
def demo():
    """Create (or reset) the demo accounts and print their passwords and the client's token.
    The secrets are kept in .gridgis/demo-accounts.json so that every run prints the same."""
    from gis.store.local_cluster import STATE_DIR
    path = STATE_DIR / "demo-accounts.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    try:
        with ready_engine().begin() as conn:
            out = {}
            for spec in demo_roster(conn):
                name = spec["username"]
                password = saved.get(name, {}).get("password") or new_password()
                units = accounts.resolve_units(conn, spec["units"])
                account = accounts.get_by_username(conn, name)
                if account is None:
                    account = accounts.create(conn, name, spec["role"], password=password,
                                              units=units, display_name=f"演示 demo {name}")
                else:
                    accounts.update(conn, account["id"], role=spec["role"], active=True,
                                    password=password, units=units)
                entry = {"password": password, "role": spec["role"], "units": spec["units"]}
                if spec["role"] == "client":
                    secret = saved.get(name, {}).get("token")
                    if not secret or accounts.token_account(conn, secret) is None:
                        _, secret = accounts.create_token(conn, account["id"], "demo")
                    entry["token"] = secret
                out[name] = entry
            audit.record(conn, SYSTEM, "account_update", "demo-accounts",
                         details={"accounts": sorted(out)})
    except GridgisError as err:
        fail(err)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    click.echo("demo accounts 演示账号 (sign in at /login; kept in .gridgis/demo-accounts.json):")
    for name, e in out.items():
        zh, en = ROLES[e["role"]]
        where = ", ".join(e["units"]) or "all"
        click.echo(f"  {name:<18} {e['password']:<18} {zh} {en} · {where}")
        if "token" in e:
            click.echo(f"  {'':<18} API token: {e['token']}")


def register(group: click.Group) -> None:
    group.add_command(accounts_group, "accounts")
