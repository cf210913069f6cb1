"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) over the deployment's
categories and incidents, so that 12345 hotlines and city-service systems can use a standard
client: a service is an active category (its code is the service_code), a service request is
an incident (its case number public_id is the service_request_id).

Requests are reported as the account reports any incident (gis.incidents.submit), so the
server gives the case number and the account's source; they need a position (lat/long,
WGS 84): an address alone cannot be located. Personal fields (email, names, phone, device_id),
attributes and media_url are read by no one and stored nowhere. A request is "closed" once its
incident is handled (resolved, verified, closed, evaluated) or returned, "open" before.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone

from gis.access.roles import Principal
from gis.access.scope import Scope, not_visible
from gis.categories.manage import catalogue
from gis.categories.rules import Catalogue, Category, class_label
from gis.domain import DONE
from gis.errors import InputError, NotFound, UnprocessableError
from gis.incidents.lifecycle import LEVEL_LABELS, STATUS_LABELS
from gis.incidents.submit import report_incident
from gis.store import open311 as ostore
from gis.store.db import Connection
from gis.times import CST, parse_time

CLOSED = (*DONE, "returned")  # DONE holds evaluated
STATES = ("open", "closed")
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_IDS = 1000


# ---- services ----

def service_json(c: Category) -> dict:
    return {"service_code": c.code, "service_name": c.label,
            "description": f"{c.label} ({class_label(c.parent_class)})",
            "metadata": False, "type": "realtime",
            "keywords": ", ".join(k for k in (c.name_zh, c.name_en, c.parent_class) if k),
            "group": class_label(c.parent_class)}


def services(conn: Connection) -> list[dict]:
    """The active categories as services, in display order."""
    return [service_json(c) for c in catalogue(conn).active]


def service_definition(conn: Connection, code: str) -> dict:
    """A service's definition: no attributes (metadata false). NotFound unless active."""
    c = catalogue(conn).get(code)
    if c is None or not c.active:
        raise NotFound(f"没有此服务 no service {code[:64]!r} (services.json lists them)",
                       field="service_code")
    return {"service_code": c.code, "attributes": []}


# ---- reporting ----

def _text(fields: Mapping, name: str) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"{name} 应为文本 {name} must be a string", field=name)
    return value.strip() or None


def _coordinate(fields: Mapping, name: str, bound: float) -> float:
    value = fields.get(name)
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or abs(number) > bound:
        raise InputError(f"{name} 应为 -{bound:g} 到 {bound:g} 的数 {name} must be a number "
                         f"from -{bound:g} to {bound:g} (WGS 84 degrees)", field=name)
    return number


def parse_request(fields: Mapping, categories: Catalogue,
                  now: datetime | None = None) -> dict:
    """A GeoReport v2 request (form fields or a JSON object) as an incident Feature without
    external_id (the server gives the case number). Missing or malformed fields: InputError
    (400); an unknown service_code: InputError naming the services."""
    code = _text(fields, "service_code")
    if code is None:
        raise InputError("缺少服务代码 service_code is required (services.json lists them)",
                         field="service_code")
    if categories.refusal(code) is not None:
        raise InputError(f"未知或已停用的服务代码 unknown or inactive service_code "
                         f"{code[:64]!r}; services: {categories.listing(15)}",
                         field="service_code")
    if fields.get("lat") in (None, "") or fields.get("long") in (None, ""):
        located = any(fields.get(k) not in (None, "") for k in ("address_string", "address_id"))
        raise InputError("需要位置坐标 a position is needed: send lat and long (WGS 84)"
                         + ("; an address alone cannot be located here" if located else ""),
                         field="lat" if fields.get("lat") in (None, "") else "long")
    lat, lon = _coordinate(fields, "lat", 90), _coordinate(fields, "long", 180)
    now = now or datetime.now(timezone.utc)
    requested = _text(fields, "requested_datetime")
    occurred = parse_time(requested, "requested_datetime") if requested else now
    if occurred > now:
        raise UnprocessableError("请求时间晚于当前时间 requested_datetime is in the future",
                                 field="requested_datetime")
    props = {"category": code, "occurred_at": occurred.isoformat()}
    description = _text(fields, "description")
    if description is not None:
        props["description"] = description
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": props}


def create_request(conn: Connection, fields, *, actor: Principal,
                   origin: dict | None = None) -> list[dict]:
    """Report a request as the account's incident (audited); its GeoReport answer."""
    if not isinstance(fields, Mapping):
        raise InputError("请发送表单字段或 JSON 对象 send form fields "
                         "(application/x-www-form-urlencoded) or a JSON object")
    feature = parse_request(fields, catalogue(conn))
    body, _ = report_incident(conn, feature, None, actor=actor, origin=origin)
    public_id = body["properties"]["public_id"]
    return [{"service_request_id": public_id,
             "service_notice": f"已受理，案件编号 {public_id} Received as case {public_id}",
             "account_id": None}]


# ---- reading ----

def _iso(value: datetime | None) -> str | None:
    return value.astimezone(CST).isoformat() if value is not None else None


def _address(row: dict, scope: Scope) -> str:
    """Township, village and grid names, those the viewer's jurisdiction holds (or lies in)."""
    context = set(scope.ancestor_codes())
    names = [row[f"{k}_name"] for k in ("township", "village", "grid")
             if row[f"{k}_code"] is not None
             and (scope.contains_code(row[f"{k}_code"]) or row[f"{k}_code"] in context)]
    return " ".join(names)


def request_json(row: dict, categories: Catalogue, scope: Scope) -> dict:
    """An incident row (gis.store.open311) as a GeoReport v2 service request."""
    c = categories.get(row["category"])
    return {"service_request_id": row["public_id"],
            "status": "closed" if row["status"] in CLOSED else "open",
            "status_notes": STATUS_LABELS.get(row["status"], row["status"]),
            "service_name": c.label if c else row["category"],
            "service_code": row["category"],
            "description": row["description"] or "",
            "agency_responsible": LEVEL_LABELS.get(row["handling_level"],
                                                   row["handling_level"]),
            "service_notice": "",
            "requested_datetime": _iso(row["reported_at"]),
            "updated_datetime": _iso(row["updated_at"]),
            "expected_datetime": _iso(row["resolve_due_at"]),
            "address": _address(row, scope),
            "lat": row["lat"], "long": row["lon"], "media_url": None}


def _query_time(args: Mapping, name: str) -> datetime | None:
    raw = args.get(name)
    if raw in (None, ""):
        return None
    try:
        return parse_time(raw, name)
    except UnprocessableError as err:  # a query parameter: 400
        raise InputError(err.message, field=name) from None


def _limit(args: Mapping) -> int:
    raw = args.get("limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    if not re.fullmatch(r"\d{1,4}", str(raw)) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InputError(f"limit 应为 1 到 {MAX_LIMIT} limit must be a whole number from 1 to "
                         f"{MAX_LIMIT}", field="limit")
    return int(raw)


def list_requests(conn: Connection, actor: Principal, args: Mapping) -> list[dict]:
    """The account's visible requests, newest first: service_request_id (comma-separated),
    service_code, start_date, end_date (ISO 8601, on requested_datetime), status
    (open|closed), limit (default 50, at most 1000)."""
    ids = None
    if args.get("service_request_id") not in (None, ""):
        ids = [i.strip() for i in args["service_request_id"].split(",") if i.strip()]
        if len(ids) > MAX_IDS:
            raise InputError(f"at most {MAX_IDS} service_request_id values",
                             field="service_request_id")
    state = args.get("status") or None
    if state is not None and state not in STATES:
        raise InputError("status 应为 open 或 closed status must be open or closed",
                         field="status")
    start, end = _query_time(args, "start_date"), _query_time(args, "end_date")
    if start and end and start > end:
        raise InputError("start_date 晚于 end_date start_date is after end_date",
                         field="start_date")
    rows = ostore.requests(conn, actor.scope, actor.account_id, public_ids=ids,
                           category=args.get("service_code") or None, start=start, end=end,
                           statuses=CLOSED if state else None,
                           exclude_statuses=state == "open", limit=_limit(args))
    categories = catalogue(conn)
    return [request_json(r, categories, actor.scope) for r in rows]


def get_request(conn: Connection, actor: Principal, service_request_id: str) -> list[dict]:
    """One visible request as a one-element list (else not_visible: 404, or 403 for accounts
    with a jurisdiction, whether or not it exists)."""
    rows = ostore.requests(conn, actor.scope, actor.account_id,
                           public_ids=[service_request_id], limit=1)
    if not rows:
        raise not_visible(actor.scope, "service request", service_request_id[:64])
    return [request_json(rows[0], catalogue(conn), actor.scope)]
