"""Signing in and out, and recognising the account behind an API token or a web session."""
from __future__ import annotations

from gis.access.roles import Principal
from gis.store import accounts, audit
from gis.store.db import Connection

SESSION_HOURS = accounts.SESSION_HOURS


def principal_for_token(conn: Connection, token: str) -> Principal | None:
    """The account of a live API token (None: unknown, revoked or its account disabled)."""
    account = accounts.token_account(conn, token)
    return accounts.principal(conn, account, via="token") if account else None


def principal_for_session(conn: Connection, sid: str) -> Principal | None:
    account = accounts.session_account(conn, sid)
    return accounts.principal(conn, account, via="session") if account else None


def sign_in(conn: Connection, username: str, password: str, *,
            origin: dict | None = None) -> str | None:
    """A new session id for the right password (None otherwise); both outcomes are audited."""
    origin = origin or {}
    account = accounts.authenticate(conn, username, password)
    if account is None:
        audit.record(conn, None, "sign_in_failed", username[:64], username=username[:64],
                     **origin)
        return None
    sid = accounts.open_session(conn, account["id"], origin.get("ip"), origin.get("user_agent"))
    p = accounts.principal(conn, account, via="session")
    audit.record(conn, p, "sign_in", p.username, **origin)
    return sid


def sign_out(conn: Connection, actor: Principal, sid: str, *, origin: dict | None = None) -> None:
    accounts.close_session(conn, sid)
    audit.record(conn, actor, "sign_out", actor.username, **(origin or {}))
