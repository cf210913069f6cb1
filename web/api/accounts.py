"""Accounts, API tokens and the audit trail."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from gis.access.roles import ROLES
from gis.accounts import audit_trail, manage
from gis.errors import InputError
from web.auth import origin, principal, requires
from web.database import engine
from web.downloads import attachment
from web.params import int_arg, json_object
from web.spec import NULLABLE_STR, PAGING, TIME, json_response, op, param, ref

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1")
MAX_PAGE = 1000


@bp.get("/me")
@requires("signed_in")
def me():
    with engine().connect() as conn:
        return jsonify(manage.me(conn, principal()))


@bp.get("/tokens")
@requires("signed_in")
def list_tokens():
    with engine().connect() as conn:
        return jsonify(tokens=manage.list_tokens(conn, principal()))


@bp.post("/tokens")
@requires("signed_in")
def create_token():
    """A new API token for the signed-in account (or, for administrators, for account_id).
    The secret is in the answer only once."""
    body = json_object()
    with engine().begin() as conn:
        token, secret = manage.create_token(conn, principal(),
                                            body.get("account_id", principal().account_id),
                                            body.get("name"), origin=origin())
    return jsonify(token=token, secret=secret), 201


@bp.delete("/tokens/<int:token_id>")
@requires("signed_in")
def revoke_token(token_id: int):
    with engine().begin() as conn:
        return jsonify(token=manage.revoke_token(conn, principal(), token_id, origin=origin()))


@bp.get("/accounts")
@requires("account.manage")
def list_accounts():
    with engine().connect() as conn:
        return jsonify(accounts=manage.list_accounts(conn))


@bp.post("/accounts")
@requires("account.manage")
def create_account():
    body = json_object()
    with engine().begin() as conn:
        return jsonify(manage.create_account(conn, principal(), body, origin=origin())), 201


@bp.patch("/accounts/<int:account_id>")
@requires("account.manage")
def update_account(account_id: int):
    body = json_object()
    with engine().begin() as conn:
        return jsonify(manage.update_account(conn, principal(), account_id, body,
                                             origin=origin()))


@bp.get("/audit")
@requires("audit.read")
def audit_trail_events():
    """Audit events, newest first: ?action=&username=&target=&since=&until=&limit=&offset=;
    format=csv: every matching event as CSV."""
    filters = {k: request.args.get(k) for k in ("action", "username", "since", "until",
                                                "target")}
    fmt = request.args.get("format") or "json"
    if fmt not in ("json", "csv"):
        raise InputError("format must be json or csv", field="format")
    with engine().connect() as conn:
        if fmt == "csv":
            return attachment(audit_trail.export_csv(conn, **filters))
        return jsonify(audit_trail.events(
            conn, **filters, limit=int_arg("limit", 100, 1, MAX_PAGE),
            offset=int_arg("offset", 0, 0, 10**9)))


OPENAPI_PATHS = {
    "/me": {"get": op("The signed-in account", {"200": json_response(ref("Account"))},
                      tag="accounts")},
    "/tokens": {
        "get": op("My API tokens", {"200": json_response({
            "type": "object", "required": ["tokens"],
            "properties": {"tokens": {"type": "array", "items": ref("Token")}}})},
            tag="accounts"),
        "post": op("Create an API token (the secret is shown once)", {"201": json_response({
            "type": "object", "required": ["token", "secret"],
            "properties": {"token": ref("Token"), "secret": {"type": "string"}}},
            "Created")}, body={"required": True, "content": {"application/json": {
                "schema": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"}, "account_id": {"type": "integer"}}}}}},
            tag="accounts")},
    "/tokens/{token_id}": {"delete": op(
        "Revoke a token", {"200": json_response({"type": "object", "required": ["token"],
                                                 "properties": {"token": ref("Token")}})},
        params=[param("token_id", "path", {"type": "integer"})], tag="accounts")},
    "/accounts": {
        "get": op("All accounts (administrators)", {"200": json_response({
            "type": "object", "required": ["accounts"],
            "properties": {"accounts": {"type": "array", "items": ref("Account")}}})},
            tag="accounts"),
        "post": op("Create an account (administrators)",
                   {"201": json_response(ref("Account"), "Created")},
                   body={"required": True, "content": {"application/json": {"schema": {
                       "type": "object", "required": ["username", "role", "password"],
                       "properties": {"username": {"type": "string"},
                                      "role": {"type": "string", "enum": list(ROLES)},
                                      "password": {"type": "string"},
                                      "display_name": {"type": "string"},
                                      "units": {"type": "array",
                                                "items": {"type": "string"}}}}}}},
                   tag="accounts")},
    "/accounts/{account_id}": {"patch": op(
        "Change an account (administrators)", {"200": json_response(ref("Account"))},
        params=[param("account_id", "path", {"type": "integer"})],
        body={"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": {
                "role": {"type": "string", "enum": list(ROLES)},
                "active": {"type": "boolean"}, "password": {"type": "string"},
                "display_name": {"type": "string"},
                "units": {"type": "array", "items": {"type": "string"}}}}}}},
        tag="accounts")},
    "/audit": {"get": op("Audit trail, newest first (administrators); format=csv exports it", {
        "200": {"description": "OK", "content": {"text/csv": {"schema": {"type": "string"}},
                                                  "application/json": {"schema": {
        "type": "object", "required": ["events", "total"], "properties": {
            "events": {"type": "array", "items": {"type": "object", "required": [
                "id", "at", "action"], "properties": {
                "id": {"type": "integer"}, "at": TIME, "action": {"type": "string"},
                "username": NULLABLE_STR, "target": NULLABLE_STR, "ip": NULLABLE_STR}}},
            "total": {"type": "integer"}, "limit": {"type": "integer"},
            "offset": {"type": "integer"}}}}}}},
        params=[param("action", schema={"type": "string", "enum": list(audit_trail.ACTIONS)}),
                param("username"), param("target", schema={"type": "string", "maxLength": 200}),
                param("since", schema=TIME), param("until", schema=TIME),
                param("format", schema={"type": "string", "enum": ["json", "csv"]}),
                *PAGING], tag="accounts")},
}
