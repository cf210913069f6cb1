"""Test helpers importable by every test module (no test imports another test or conftest):
accounts with tokens, Flask test clients, free ports. Fixtures live in tests/conftest.py."""
from __future__ import annotations

import re
import socket
import uuid

from gis.store import db

PASSWORD = "correct-horse-battery-staple"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


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


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def petition(external_id: str, lon: float, lat: float) -> dict:
    """A petition incident as a GeoJSON Feature (occurred 2026-02-01 08:00 China time)."""
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"external_id": external_id, "category": "petition",
                           "occurred_at": "2026-02-01T08:00:00+08:00"}}


def csrf_token(client, path="/login") -> str:
    """The CSRF token of a page's forms (the session's token)."""
    return CSRF_RE.search(client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, username, password=PASSWORD, next_url=""):
    """Sign a Flask test client in through the sign-in form (a web session)."""
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(client), "next": next_url})
