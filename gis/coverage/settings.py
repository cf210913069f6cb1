"""Coverage settings (households per worker, speeds, access distance): checked, changed and
audited; a change of speed or access distance recomputes the response areas."""
from __future__ import annotations

from gis.access.roles import SYSTEM, Principal
from gis.coverage.response_areas import recompute_response_areas
from gis.errors import InputError
from gis.store import audit
from gis.store import coverage as cstore
from gis.store.db import Engine

SETTINGS = cstore.SETTINGS


def update_settings(engine: Engine, values: dict, *, actor: Principal = SYSTEM,
                    origin: dict | None = None) -> dict:
    clean = {}
    for key, value in values.items():
        if key not in cstore.SETTINGS:
            raise InputError(f"unknown setting {key!r}; known: {', '.join(cstore.SETTINGS)}",
                             field=key)
        _default, low, high, _what = cstore.SETTINGS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not (low <= value <= high):
            raise InputError(f"{key} must be a number in [{low:g}, {high:g}]", field=key)
        clean[key] = float(value)
    with engine.begin() as conn:
        before = cstore.settings(conn)
        cstore.set_settings(conn, clean, actor.username)
        result = {"settings": cstore.settings(conn)}
        if any(before[k] != clean[k] for k in clean if k in ("buffer_speed_kmh", "access_m")):
            result["response_areas"] = recompute_response_areas(conn)
        audit.record(conn, actor, "coverage_settings", None, details=clean, **(origin or {}))
    return result


def describe(conn) -> dict:
    """The current settings with their defaults, ranges and meanings."""
    return {"settings": cstore.settings(conn), "described": {
        k: {"default": d, "min": lo, "max": hi, "meaning": what}
        for k, (d, lo, hi, what) in SETTINGS.items()}}
