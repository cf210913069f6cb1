"""Coverage settings (households per worker, speeds, access distance): checked, changed and
audited; a change of speed or access distance recomputes the response areas."""
from __future__ import annotations

from gis.access.roles import SYSTEM, Principal
from gis.coverage.city import require_city_wide
from gis.coverage.response_areas import recompute_response_areas
from gis.errors import InputError
from gis.store import audit
from gis.store import coverage as cstore
from gis.store.db import Engine

SETTINGS = cstore.SETTINGS


def update_settings(engine: Engine, values: dict, *, actor: Principal = SYSTEM,
                    origin: dict | None = None) -> dict:
    """Check, store and audit coverage settings, in one transaction.

    A change of buffer_speed_kmh or access_m recomputes the response areas of every post.

    Parameters
    ----------
    engine : Engine
        Database engine.
    values : dict
        {name: number} for names of SETTINGS: households_per_worker (households per FTE worker,
        1 to 5,000), buffer_speed_kmh (km/h, 1 to 150), access_m (metres, 0 to 1,000).
    actor : Principal, default SYSTEM
        Who changes them (recorded as updated_by and in the audit event).
    origin : dict, optional
        Where the request came from (ip, user_agent, via), recorded with the audit event.

    Returns
    -------
    dict
        settings (every current value, as floats) and, when the speed or access distance
        changed, response_areas (the counts of `recompute_response_areas`).

    Raises
    ------
    InputError
        An unknown setting, or a value that is not a number (booleans refused) within its range;
        the field names the setting.
    NotFound
        Response areas to recompute but no active boundary generation.
    """
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
        require_city_wide(conn, actor, "覆盖设置 Coverage settings")
        before = cstore.settings(conn)
        cstore.set_settings(conn, clean, actor.username)
        result = {"settings": cstore.settings(conn)}
        if any(before[k] != clean[k] for k in clean if k in ("buffer_speed_kmh", "access_m")):
            result["response_areas"] = recompute_response_areas(conn)
        audit.record(conn, actor, "coverage_settings", None, details=clean, **(origin or {}))
    return result


def describe(conn) -> dict:
    """The current settings with their defaults, ranges and meanings.

    Parameters
    ----------
    conn : Connection
        Database connection.

    Returns
    -------
    dict
        settings ({name: value}) and described ({name: {default, min, max, meaning}});
        households_per_worker is in households per FTE worker, buffer_speed_kmh in km/h and
        access_m in metres.
    """
    return {"settings": cstore.settings(conn), "described": {
        k: {"default": d, "min": lo, "max": hi, "meaning": what}
        for k, (d, lo, hi, what) in SETTINGS.items()}}
