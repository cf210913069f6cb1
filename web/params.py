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
