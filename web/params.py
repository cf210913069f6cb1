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


MAX_HOUSEHOLDS = 100_000


def household_targets():
    """The planners' target household range per grid from ?min=&max= (defaults 300 and 500)."""
    from gis.planning.drafts import parse_targets
    return parse_targets(int_arg("min", 300, 0, MAX_HOUSEHOLDS),
                         int_arg("max", 500, 0, MAX_HOUSEHOLDS))
