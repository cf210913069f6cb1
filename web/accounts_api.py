"""Accounts, API tokens and the audit trail."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from gis.access import ROLE_PERMISSIONS, ROLES
from gis.errors import InputError
from gis.incidents import parse_time
from gis.store import accounts, audit
from web import engine
from web.api import not_visible
from web.auth import audit_event, principal, requires
from web.params import int_arg, json_object

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1")
MAX_PAGE = 1000


def _account_json(a: dict) -> dict:
    out = {k: a[k] for k in ("id", "username", "display_name", "role", "active", "units")}
    out["role_label"] = " ".join(ROLES[a["role"]])
    for k in ("created_at", "last_sign_in_at"):
        out[k] = a[k].isoformat() if a[k] else None
    return out


def _token_json(t: dict) -> dict:
    out = {k: t[k] for k in ("id", "account_id", "name", "prefix")}
    for k in ("created_at", "last_used_at", "revoked_at"):
        out[k] = t[k].isoformat() if t[k] else None
    return out


@bp.get("/me")
@requires("signed_in")
def me():
    p = principal()
    with engine().connect() as conn:
        account = accounts.get(conn, p.account_id)
    body = _account_json(account)
    body["via"] = p.via
    body["scope"] = p.scope.describe()
    body["permissions"] = sorted(ROLE_PERMISSIONS[p.role])
    return jsonify(body)


@bp.get("/tokens")
@requires("signed_in")
def list_tokens():
    p = principal()
    with engine().connect() as conn:
        return jsonify(tokens=[_token_json(t) for t in accounts.list_tokens(conn, p.account_id)])


@bp.post("/tokens")
@requires("signed_in")
def create_token():
    """A new API token for the signed-in account (or, for administrators, for account_id).
    The secret is in the answer only once."""
    p = principal()
    body = json_object()
    account_id = body.get("account_id", p.account_id)
    if not isinstance(account_id, int) or isinstance(account_id, bool):
        raise InputError("account_id must be an integer", field="account_id")
    if account_id != p.account_id and not p.can("account.manage"):
        raise not_visible("account", account_id)
    with engine().begin() as conn:
        if accounts.get(conn, account_id) is None:
            raise not_visible("account", account_id)
        row, secret = accounts.create_token(conn, account_id, body.get("name"))
        audit_event("token_create", f"token/{row['id']}",
                    {"account_id": account_id, "name": row["name"]}, conn=conn)
    return jsonify(token=_token_json(row), secret=secret), 201


@bp.delete("/tokens/<int:token_id>")
@requires("signed_in")
def revoke_token(token_id: int):
    p = principal()
    with engine().begin() as conn:
        token = accounts.get_token(conn, token_id)
        if token is None or (token["account_id"] != p.account_id
                             and not p.can("account.manage")):
            raise not_visible("token", token_id)
        row = accounts.revoke_token(conn, token_id)
        audit_event("token_revoke", f"token/{token_id}", conn=conn)
    return jsonify(token=_token_json(row))


@bp.get("/accounts")
@requires("account.manage")
def list_accounts():
    with engine().connect() as conn:
        return jsonify(accounts=[_account_json(a) for a in accounts.list_all(conn)])


def _units(body: dict):
    codes = body.get("units")
    if codes is None:
        return None
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise InputError("units must be a list of unit or grid codes", field="units")
    return codes


@bp.post("/accounts")
@requires("account.manage")
def create_account():
    body = json_object()
    for key in ("username", "role", "password"):
        if not isinstance(body.get(key), str):
            raise InputError(f"{key} is required (a string)", field=key)
    with engine().begin() as conn:
        units = accounts.resolve_units(conn, _units(body) or [])
        account = accounts.create(conn, body["username"], body["role"],
                                  password=body["password"], units=units,
                                  display_name=str(body.get("display_name") or ""))
        audit_event("account_create", f"account/{account['id']}",
                    {"username": account["username"], "role": account["role"],
                     "units": account["units"]}, conn=conn)
    return jsonify(_account_json(account)), 201


@bp.patch("/accounts/<int:account_id>")
@requires("account.manage")
def update_account(account_id: int):
    body = json_object()
    if "active" in body and not isinstance(body["active"], bool):
        raise InputError("active must be true or false", field="active")
    for key in ("role", "password", "display_name"):
        if key in body and not isinstance(body[key], str):
            raise InputError(f"{key} must be a string", field=key)
    with engine().begin() as conn:
        codes = _units(body)
        units = accounts.resolve_units(conn, codes) if codes is not None else None
        account = accounts.update(conn, account_id, role=body.get("role"),
                                  active=body.get("active"), password=body.get("password"),
                                  display_name=body.get("display_name"), units=units)
        audit_event("account_update", f"account/{account_id}",
                    {k: v for k, v in body.items() if k != "password"}
                    | ({"password": "changed"} if "password" in body else {}), conn=conn)
    return jsonify(_account_json(account))


@bp.get("/audit")
@requires("audit.read")
def audit_trail():
    """Audit events, newest first: ?action=&username=&since=&until=&limit=&offset=."""
    since = parse_time(request.args["since"], "since") if request.args.get("since") else None
    until = parse_time(request.args["until"], "until") if request.args.get("until") else None
    action = request.args.get("action") or None
    if action and action not in audit.ACTIONS:
        raise InputError(f"unknown action {action!r}; actions: {', '.join(audit.ACTIONS)}",
                         field="action")
    limit = int_arg("limit", 100, 1, MAX_PAGE)
    offset = int_arg("offset", 0, 0, 10**9)
    with engine().connect() as conn:
        rows, total = audit.query(conn, action=action, username=request.args.get("username"),
                                  since=since, until=until, limit=limit, offset=offset)
    events = [{**r, "at": r["at"].isoformat()} for r in rows]
    return jsonify(events=events, total=total, limit=limit, offset=offset)
