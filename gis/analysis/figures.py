"""Resolution figures per unit (found, mediated, resolved, shares by handling level, median
hours to resolve, overdue, per 1,000 households) for an account's jurisdiction and filters, as
JSON-ready rows or an audited CSV download. The SQL is gis.store.figures."""
from __future__ import annotations

import pandas as pd

from gis.access.roles import Principal
from gis.errors import Forbidden, InputError
from gis.files import Download, frame_csv_bytes
from gis.incidents.filters import parse_filter
from gis.incidents.selection import unit_scope
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import figures as fstore
from gis.store.db import Connection

FIGURE_LEVELS = fstore.FIGURE_LEVELS
FORMATS = ("json", "csv")


def figures(conn: Connection, actor: Principal, args, *, origin: dict | None = None):
    """Resolution figures per unit for the account's jurisdiction, under the filters in `args`.

    One row per unit of the level asked for in the active boundary generation (found, mediated,
    resolved, resolution rate, resolved per handling level and their shares, median hours to
    resolve, overdue, incidents per 1,000 households; see gis.store.figures), rows for incidents
    outside every grid or in no unit of the level, and a total row.

    Parameters
    ----------
    conn : Connection
        Database connection; a CSV export is audited in its transaction.
    actor : Principal
        The signed-in account; its jurisdiction bounds the figures.
    args : mapping
        Query parameters: level (one of FIGURE_LEVELS, default "township"), format ("json",
        the default, or "csv") and the incident filters of gis.incidents.filters.parse_filter
        (category, severity, status, start, end, days, unit; dates are China days).
    origin : dict, optional
        Where the request came from (ip, user_agent, via), recorded with the audit event.

    Returns
    -------
    dict or Download
        JSON: {"level", "filters", "now" (ISO 8601 time of the query), "units" (rows with the
        keys of gis.store.figures.COLUMNS, the uncovered and no-unit rows included), "total"
        (the total row)}. CSV: a Download of UTF-8 CSV with a BOM, the unit rows then the total,
        headed "中文 English", named figures-<level>-<YYYYMMDD>.csv; the export is audited.

    Raises
    ------
    InputError
        An unknown level or format, or a bad filter (the field names it).
    Forbidden
        CSV for a role without incident.export, or a unit filter outside the jurisdiction.
    NotFound
        No active boundary generation.
    """
    level = args.get("level") or "township"
    if level not in FIGURE_LEVELS:
        raise InputError(f"level must be one of {', '.join(FIGURE_LEVELS)}", field="level")
    fmt = args.get("format") or "json"
    if fmt not in FORMATS:
        raise InputError("format must be json or csv", field="format")
    if fmt == "csv" and not actor.can("incident.export"):
        raise Forbidden(f"role {actor.role} may not export (incident.export)")
    f = parse_filter(args)
    gen = bstore.require_active_generation(conn)
    out = fstore.figures(conn, actor.scope, level, f, unit_scope(conn, actor.scope, f),
                         gen["id"])
    if fmt == "json":
        return {"level": level, "filters": f.raw, "now": out["now"].isoformat(),
                "units": out["units"], "total": out["total"]}
    audit.record(conn, actor, "export", "figures",
                 details={"format": "csv", "level": level, "filters": f.raw,
                          "rows": len(out["units"])}, **(origin or {}))
    frame = pd.DataFrame([*out["units"], out["total"]], columns=[c[0] for c in fstore.COLUMNS])
    frame.columns = [f"{zh} {en}" for _, zh, en in fstore.COLUMNS]
    return Download(frame_csv_bytes(frame), "text/csv",
                    f"figures-{level}-{out['now']:%Y%m%d}.csv")
