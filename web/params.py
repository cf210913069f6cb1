"""Query-string parsing shared by the API views: clear 400 errors naming the parameter."""
from __future__ import annotations

import math

from flask import request

from gis.errors import InputError


def float_arg(name: str) -> float:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        raise InputError(f"query parameter {name} is required", field=name)
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a number", field=name)
    if not math.isfinite(value):
        raise InputError(f"{name} must be finite", field=name)
    return value


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not an integer", field=name)
    if not low <= value <= high:
        raise InputError(f"{name} must be between {low} and {high}", field=name)
    return value


def json_object() -> dict:
    """The request body as a JSON object, or a 400 saying what to send."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("send a JSON object (Content-Type: application/json)")
    return body


def unit_filter_scope(conn, f):
    """The `unit` filter of an IncidentFilter as a Scope. A unit outside the account's
    jurisdiction (and not one of its ancestors) is refused before it is looked up, so the
    answer never tells whether it exists."""
    from gis.access import Scope
    from gis.errors import Forbidden
    from gis.store import accounts
    from web.auth import principal
    if not f.unit:
        return None
    scope = principal().scope
    if not (scope.contains_code(f.unit) or f.unit in scope.ancestor_codes()):
        raise Forbidden("该单元不在您的管辖范围内 The unit is outside your jurisdiction",
                        field="unit")
    try:
        return Scope(tuple(accounts.resolve_units(conn, [f.unit])))
    except InputError as err:
        raise InputError(err.message, field="unit")
