"""Account and token use cases for administrators, account holders and the command line; every
change is an audit event in the same transaction."""
from __future__ import annotations

from gis.access.roles import ROLE_PERMISSIONS, ROLES, Principal
from gis.access.scope import not_visible
from gis.errors import InputError, UnprocessableError
from gis.store import accounts, audit
from gis.store.db import Connection


def account_json(a: dict) -> dict:
    out = {k: a[k] for k in ("id", "username", "display_name", "role", "active", "units")}
    out["role_label"] = " ".join(ROLES[a["role"]])
    for k in ("created_at", "last_sign_in_at"):
        out[k] = a[k].isoformat() if a[k] else None
    return out


def token_json(t: dict) -> dict:
    out = {k: t[k] for k in ("id", "account_id", "name", "prefix")}
    for k in ("created_at", "last_used_at", "revoked_at"):
        out[k] = t[k].isoformat() if t[k] else None
    return out


def me(conn: Connection, actor: Principal) -> dict:
    """The signed-in account with how it signed in, its jurisdiction and permissions."""
    body = account_json(accounts.get(conn, actor.account_id))
    body["via"] = actor.via
    body["scope"] = actor.scope.describe()
    body["permissions"] = sorted(ROLE_PERMISSIONS[actor.role])
    return body


def unit_label(conn: Connection, scope) -> str:
    """The account's units by name for the page header (新兴街道, not township:231281002000)."""
    if scope.everything:
        return "全部 All units"
    names = accounts.unit_names(conn, [u.code for u in scope.units])
    return "、".join(names.get(u.code) or u.code for u in scope.units) or "—"


def list_accounts(conn: Connection) -> list[dict]:
    return [account_json(a) for a in accounts.list_all(conn)]


def _unit_codes(value) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise InputError("units must be a list of unit or grid codes", field="units")
    return value


MAX_DISPLAY_NAME = 200


def _check_display_name(body: dict) -> None:
    name = body.get("display_name")
    if isinstance(name, str) and len(name) > MAX_DISPLAY_NAME:
        raise UnprocessableError(f"display_name is longer than {MAX_DISPLAY_NAME} characters",
                                 field="display_name")


def create_account(conn: Connection, actor: Principal, body: dict, *,
                   origin: dict | None = None) -> dict:
    """{username, role, password, display_name?, units?} -> the new account."""
    for key in ("username", "role", "password"):
        if not isinstance(body.get(key), str):
            raise InputError(f"{key} is required (a string)", field=key)
    _check_display_name(body)
    units = accounts.resolve_units(conn, _unit_codes(body.get("units")) or [])
    account = accounts.create(conn, body["username"], body["role"], password=body["password"],
                              units=units, display_name=str(body.get("display_name") or ""))
    audit.record(conn, actor, "account_create", f"account/{account['id']}",
                 details={"username": account["username"], "role": account["role"],
                          "units": account["units"]}, **(origin or {}))
    return account_json(account)


def update_account(conn: Connection, actor: Principal, account_id: int, body: dict, *,
                   origin: dict | None = None) -> dict:
    """Change role, active, password, display_name or units of an account."""
    if "active" in body and not isinstance(body["active"], bool):
        raise InputError("active must be true or false", field="active")
    for key in ("role", "password", "display_name"):
        if key in body and not isinstance(body[key], str):
            raise InputError(f"{key} must be a string", field=key)
    _check_display_name(body)
    codes = _unit_codes(body.get("units"))
    units = accounts.resolve_units(conn, codes) if codes is not None else None
    account = accounts.update(conn, account_id, role=body.get("role"), active=body.get("active"),
                              password=body.get("password"),
                              display_name=body.get("display_name"), units=units)
    audit.record(conn, actor, "account_update", f"account/{account_id}",
                 details={k: v for k, v in body.items() if k != "password"}
                 | ({"password": "changed"} if "password" in body else {}), **(origin or {}))
    return account_json(account)


def list_tokens(conn: Connection, actor: Principal) -> list[dict]:
    return [token_json(t) for t in accounts.list_tokens(conn, actor.account_id)]


def create_token(conn: Connection, actor: Principal, account_id, name, *,
                 origin: dict | None = None) -> tuple[dict, str]:
    """A new API token for the actor's own account (administrators: for any account). Returns
    the token and its secret, which is shown only this once."""
    if not isinstance(account_id, int) or isinstance(account_id, bool):
        raise InputError("account_id must be an integer", field="account_id")
    if account_id != actor.account_id and not actor.can("account.manage"):
        raise not_visible(actor.scope, "account", account_id)
    if accounts.get(conn, account_id) is None:
        raise not_visible(actor.scope, "account", account_id)
    row, secret = accounts.create_token(conn, account_id, name)
    audit.record(conn, actor, "token_create", f"token/{row['id']}",
                 details={"account_id": account_id, "name": row["name"]}, **(origin or {}))
    return token_json(row), secret


def revoke_token(conn: Connection, actor: Principal, token_id: int, *,
                 origin: dict | None = None) -> dict:
    token = accounts.get_token(conn, token_id)
    if token is None or (token["account_id"] != actor.account_id
                         and not actor.can("account.manage")):
        raise not_visible(actor.scope, "token", token_id)
    row = accounts.revoke_token(conn, token_id)
    audit.record(conn, actor, "token_revoke", f"token/{token_id}", **(origin or {}))
    return token_json(row)


def create_token_for(conn: Connection, actor: Principal, username: str, name, *,
                     origin: dict | None = None) -> tuple[dict, str]:
    """create_token for the account named `username` (the command line)."""
    account = accounts.get_by_username(conn, username)
    if account is None:
        raise InputError(f"no account {username!r}")
    return create_token(conn, actor, account["id"], name, origin=origin)
