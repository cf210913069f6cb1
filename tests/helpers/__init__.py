"""Test helpers importable by every test module (no test imports another test or conftest):
accounts with tokens, Flask test clients, free ports. Fixtures live in tests/conftest.py."""
from __future__ import annotations

import socket

from gis.store import db

PASSWORD = "correct-horse-battery-staple"


def make_account(url: str, username: str, role: str, units=()) -> dict:
    """An account with PASSWORD and an API token; returns the account with its 'token'."""
    from gis.store import accounts
    with db.engine(url).begin() as conn:
        account = accounts.create(conn, username, role, password=PASSWORD,
                                  units=accounts.resolve_units(conn, list(units)))
        _, token = accounts.create_token(conn, account["id"], "tests")
    return {**account, "token": token, "password": PASSWORD}


def client_for(url: str, token: str | None, **config):
    from web import create_app
    client = create_app({"DATABASE_URL": url, "TESTING": True, **config}).test_client()
    if token:
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
