"""Open311 GeoReport v2 under /open311/v2 (JSON only): services (the active categories) and
service requests (incidents). Use cases: gis.incidents.open311.

GeoReport v2 clients send their API key as the api_key field (form, query or JSON body); it is
read as the Bearer token it is (an Authorization header, when sent, takes precedence), so it
passes the same check as every API token. Errors answer in the app's shape
{"error": {"code", "message", "field", "details"}} (web.errors treats /open311/ as API)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from gis.errors import InputError, NotFound
from gis.incidents import open311
from gis.incidents.parse import MAX_DESCRIPTION
from web.auth import origin, principal, requires
from web.database import engine
from web.spec import NULLABLE_TIME, TIME, json_response, op, param

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")


@bp.before_app_request
def api_key_as_token():
    """Runs before web.auth loads the account: a GeoReport api_key becomes the request's
    Bearer token (nothing else is trusted: web.auth checks it like any token)."""
    if request.blueprint != bp.name or "Authorization" in request.headers:
        return
    key = request.args.get("api_key") or request.form.get("api_key")
    if not key and request.is_json:
        body = request.get_json(silent=True)
        key = body.get("api_key") if isinstance(body, dict) else None
    if isinstance(key, str) and key.strip():
        request.environ["HTTP_AUTHORIZATION"] = f"Bearer {key.strip()}"


def _json_only(fmt: str) -> None:
    if fmt != "json":
        raise InputError(f"不支持 {fmt[:16]} 格式 format {fmt[:16]} is not supported; use .json",
                         field="format")


@bp.get("/services.<fmt>")
@requires("incident.read")
def services(fmt: str):
    _json_only(fmt)
    with engine().connect() as conn:
        return jsonify(open311.services(conn))


@bp.get("/services/<service_code>.<fmt>")
@requires("incident.read")
def service(service_code: str, fmt: str):
    _json_only(fmt)
    with engine().connect() as conn:
        return jsonify(open311.service_definition(conn, service_code))


@bp.post("/requests.<fmt>")
@requires("incident.create")
def create_request(fmt: str):
    """Form-encoded (as GeoReport v2 clients send) or a JSON object."""
    _json_only(fmt)
    if request.is_json:
        fields = request.get_json(silent=True)
        if fields is None:
            raise InputError("request body is not valid JSON")
    else:
        fields = request.form
    with engine().begin() as conn:
        answer = open311.create_request(conn, fields, actor=principal(), origin=origin())
    return jsonify(answer), 201


@bp.get("/requests.<fmt>")
@requires("incident.read")
def list_requests(fmt: str):
    _json_only(fmt)
    with engine().connect() as conn:
        return jsonify(open311.list_requests(conn, principal(), request.args))


@bp.get("/requests/<service_request_id>.<fmt>")
@requires("incident.read")
def get_request(service_request_id: str, fmt: str):
    _json_only(fmt)
    with engine().connect() as conn:
        return jsonify(open311.get_request(conn, principal(), service_request_id))


@bp.route("/<path:rest>", methods=["GET", "POST"])
@requires("incident.read")
def unknown(rest: str):
    """Any other address under /open311/v2 (an id holding a slash, a typo): a JSON 404."""
    raise NotFound(f"没有此资源 no such Open311 resource: {rest[:100]}; this server answers "
                   "services.json, services/{code}.json, requests.json and "
                   "requests/{id}.json")


# ---- OpenAPI: the document's server is /api/v1, so the paths climb out of it ----

ROOT = "/../../open311/v2"
TAG = "open311"
_STR = {"type": "string"}
_SERVICE = {"type": "object", "required": ["service_code", "service_name", "metadata", "type"],
            "properties": {"service_code": _STR, "service_name": _STR, "description": _STR,
                           "metadata": {"type": "boolean"},
                           "type": {"type": "string", "enum": ["realtime"]},
                           "keywords": _STR, "group": _STR}}
_DEFINITION = {"type": "object", "required": ["service_code", "attributes"],
               "properties": {"service_code": _STR,
                              "attributes": {"type": "array", "maxItems": 0}}}
_REQUEST = {"type": "object", "required": ["service_request_id", "status", "service_code",
                                           "requested_datetime", "lat", "long"],
            "properties": {
                "service_request_id": _STR,
                "status": {"type": "string", "enum": list(open311.STATES)},
                "status_notes": _STR, "service_name": _STR, "service_code": _STR,
                "description": _STR, "agency_responsible": _STR, "service_notice": _STR,
                "requested_datetime": TIME, "updated_datetime": TIME,
                "expected_datetime": NULLABLE_TIME, "address": _STR,
                "lat": {"type": "number"}, "long": {"type": "number"},
                "media_url": {"type": "string", "nullable": True}}}
_REQUESTS = {"type": "array", "items": _REQUEST}
_CREATED = {"type": "array", "minItems": 1, "maxItems": 1, "items": {
    "type": "object", "required": ["service_request_id"],
    "properties": {"service_request_id": _STR, "service_notice": _STR,
                   "account_id": {"type": "string", "nullable": True}}}}
_IGNORED = "accepted and ignored (nothing personal is stored)"
_INPUT = {"type": "object", "required": ["service_code", "lat", "long"], "properties": {
    "api_key": {**_STR, "description": "an API token of the account (or send "
                                       "Authorization: Bearer)"},
    "service_code": {**_STR, "description": "an active category code (services.json)"},
    "lat": {"type": "number", "minimum": -90, "maximum": 90,
            "description": "WGS 84 latitude (required: an address alone cannot be located)"},
    "long": {"type": "number", "minimum": -180, "maximum": 180,
             "description": "WGS 84 longitude"},
    "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
    "requested_datetime": {**TIME, "description": "when it was observed (default: now)"},
    "address_string": {**_STR, "description": "ignored; lat and long are needed"},
    "address_id": {**_STR, "description": "ignored"},
    "media_url": {**_STR, "description": "ignored: attach photos with the attachments API"},
    **{k: {**_STR, "description": _IGNORED}
       for k in ("email", "device_id", "account_id", "first_name", "last_name", "phone")}}}
_CODE = param("service_code", "path", _STR)
_ID = param("service_request_id", "path", _STR, description="the case number (public_id)")


def _op(summary, ok, **kw):
    return op(f"Open311 GeoReport v2: {summary}", ok, tag=TAG, **kw)


OPENAPI_PATHS = {
    f"{ROOT}/services.json": {"get": _op(
        "the active categories as services (service_code = category code)",
        {"200": json_response({"type": "array", "items": _SERVICE})})},
    f"{ROOT}/services/{{service_code}}.json": {"get": _op(
        "a service's definition (no attributes); 404 for an unknown or inactive code",
        {"200": json_response(_DEFINITION)}, params=[_CODE])},
    f"{ROOT}/requests.json": {
        "post": _op(
            "report a service request as an incident of the account (its case number is the "
            "service_request_id); 400 when service_code, lat or long is missing or malformed, "
            "or the service_code is unknown; attribute[...], media_url and personal fields are "
            "ignored",
            {"201": json_response(_CREATED, "Created")},
            body={"required": True, "content": {
                "application/x-www-form-urlencoded": {"schema": _INPUT},
                "application/json": {"schema": _INPUT}}}),
        "get": _op(
            f"the account's visible requests, newest first: at most limit (default "
            f"{open311.DEFAULT_LIMIT}, at most {open311.MAX_LIMIT}) and no default date window "
            "(GeoReport v2 suggests the last 90 days); closed = handled or returned",
            {"200": json_response(_REQUESTS)},
            params=[param("service_request_id", description="case numbers, comma-separated"),
                    param("service_code"),
                    param("start_date", schema=TIME, description="requested at or after"),
                    param("end_date", schema=TIME, description="requested at or before"),
                    param("status", schema={"type": "string", "enum": list(open311.STATES)}),
                    param("limit", schema={"type": "integer", "minimum": 1,
                                           "maximum": open311.MAX_LIMIT}),
                    param("api_key", description="an API token (or Authorization: Bearer)")])},
    f"{ROOT}/requests/{{service_request_id}}.json": {"get": _op(
        "one request as a one-element list; 403 (404 for administrators) when it is not "
        "within the jurisdiction or does not exist", {"200": json_response(_REQUESTS)},
        params=[_ID])},
}
