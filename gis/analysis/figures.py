"""Resolution figures per unit (found, mediated, resolved, shares by handling level, median
hours to resolve, overdue, per 1,000 households) for an account's jurisdiction and filters, as
JSON-ready rows or an audited CSV download; the same figures per category or per source
(?by=category|source). The SQL is gis.store.figures."""
from __future__ import annotations

from contextlib import nullcontext

import pandas as pd

from gis.access.roles import Principal
from gis.analysis.results import answer_time, filter_params
from gis.categories.manage import catalogue
from gis.errors import Forbidden, InputError
from gis.files import Download, frame_csv_bytes
from gis.incidents.selection import read_filter, unit_scope
from gis.results.cache import Computed, cached, jsonable
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import figures as fstore
from gis.store.db import Connection

FIGURE_LEVELS = fstore.FIGURE_LEVELS
FORMATS = ("json", "csv")
BY = ("unit", *fstore.BY_KEYS)
# the key columns of the figures per category and per source: (key, Chinese, English)
BY_COLUMNS = {
    "category": (("category", "类别代码", "Category code"), ("name_zh", "类别名称", "Category"),
                 ("name_en", "英文名称", "Category (English)"),
                 ("parent_class", "大类", "Parent class"), ("kind", "类别", "Row kind")),
    "source": (("source", "来源", "Source"), ("kind", "类别", "Row kind")),
}


def figures(conn: Connection, actor: Principal, args, *, origin: dict | None = None,
            guard=nullcontext):
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
        Query parameters: level (one of FIGURE_LEVELS, default "township"), by ("unit", the
        default: per unit of the level; "category" or "source": per category or source of
        the selection instead), format ("json", the default, or "csv") and the incident
        filters of gis.incidents.filters.parse_filter (category, source, severity, status,
        start, end, days, unit; dates are China days).
    origin : dict, optional
        Where the request came from (ip, user_agent, via), recorded with the audit event.
    guard : context manager factory, optional
        Wraps computing the figures (the interface's bound on heavy work); JSON answers are
        stored results (gis.results.cache) keyed by the filters and the incidents' data
        version, and kept at most results.AS_OF_MINUTES as overdue counts move with time, so a stored
        answer never waits for it.

    Returns
    -------
    dict or Download
        JSON: {"level", "filters", "now" (ISO 8601 time the figures were computed), "units"
        (rows with the keys of gis.store.figures.COLUMNS, the uncovered and no-unit rows
        included), "total" (the total row), "cached" (whether they were stored before), and
        "stale": true with "stale_since" when every heavy-work slot was busy and an earlier
        stored answer stood in}. With by=category or source: {"by", "filters", "now",
        "rows" (one per category: every active one and any other with incidents, in display
        order, with name_zh, name_en and parent_class; or one per source with incidents),
        "total", "cached"}.
        CSV: a Download of UTF-8 CSV with a BOM, the unit rows then the total, headed
        "中文 English", named figures-<level>-<YYYYMMDD>.csv; the export is audited.

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
    by = args.get("by") or "unit"
    if by not in BY:
        raise InputError(f"by must be one of {', '.join(BY)}", field="by")
    f = read_filter(conn, args)
    gen = bstore.require_active_generation(conn, actor.scope, root=args.get("root"))

    def compute() -> dict:
        narrowed = unit_scope(conn, actor.scope, f)
        if by != "unit":
            out = fstore.by_key(conn, actor.scope, by, f, narrowed, gen["id"])
            total = {**out["total"], **({"name_zh": "合计", "name_en": "Total"}
                                        if by == "category" else {})}
            return {"now": out["now"], "units": _by_rows(conn, by, f, out), "total": total}
        return fstore.figures(conn, actor.scope, level, f, narrowed, gen["id"])

    if fmt == "json":
        def stored() -> Computed:
            out = compute()
            return Computed(jsonable({"now": out["now"].isoformat(), "units": out["units"],
                                      "total": out["total"]}))
        params = {**filter_params(f), "level": level, "as_of": answer_time(),
                  "by": None if by == "unit" else by}
        got = cached(conn, "figures", gen["id"], actor.scope, params, stored, guard=guard)
        stale = {k: got[k] for k in ("stale", "stale_since") if k in got}
        if by != "unit":
            return {"by": by, "filters": f.raw, "now": got["now"], "rows": got["units"],
                    "total": got["total"], "cached": got["cached"], **stale}
        return {"level": level, "by": by, "filters": f.raw, "now": got["now"],
                "units": got["units"], "total": got["total"], "cached": got["cached"],
                **stale}
    with guard():
        out = compute()
    audit.record(conn, actor, "export", "figures",
                 details={"format": "csv", "level": level, "by": by, "filters": f.raw,
                          "rows": len(out["units"])}, **(origin or {}))
    columns = fstore.COLUMNS if by == "unit" else (*BY_COLUMNS[by], *fstore.BY_MEASURES)
    frame = pd.DataFrame([*out["units"], out["total"]], columns=[c[0] for c in columns])
    frame.columns = [f"{zh} {en}" for _, zh, en in columns]
    name = level if by == "unit" else f"by-{by}"
    return Download(frame_csv_bytes(frame), "text/csv",
                    f"figures-{name}-{out['now']:%Y%m%d}.csv")


def _by_rows(conn: Connection, by: str, f, out: dict) -> list[dict]:
    """The rows of figures per category (every active category, and any other the selection
    holds, in display order, with their names; zeros where none) or per source."""
    counted = {r.pop("key"): r for r in out["rows"]}
    if by == "source":
        return [{"source": k, **r} for k, r in counted.items()]
    cats = catalogue(conn)
    zero = {k: (0 if k in fstore.COUNTED else None) for k, *_ in fstore.BY_MEASURES}
    rows = []
    for c in cats.categories:
        if c.code in counted or (c.active and (not f.categories or c.code in f.categories)):
            rows.append({"category": c.code, "name_zh": c.name_zh, "name_en": c.name_en,
                         "parent_class": c.parent_class, "kind": "category",
                         **counted.pop(c.code, zero)})
    rows += [{"category": k, "name_zh": None, "name_en": None, "parent_class": None, **r}
             for k, r in counted.items()]  # not in the list (the database keeps that out)
    return rows
