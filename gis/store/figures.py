"""Resolution figures per unit (found, mediated, resolved, level shares, time to resolve,
overdue, incidents per 1,000 households): one SQL statement with GROUP BY GROUPING SETS.

What the figures mean:
- found (排查): incidents matching the filters;
- mediated (调解): incidents taken beyond acceptance: mediation started (mediated_at), or the
  status is mediating, resolved or closed (rows imported without a history count by status);
- resolved (化解): status resolved or closed; resolution_rate = resolved / found;
- share_<level>: of the resolved incidents whose resolving level is recorded, the share
  resolved at grid, village, township and city level (resolved_level_unknown counts the rest,
  e.g. imported as resolved);
- median_hours_to_resolve: reported_at to resolved_at, over resolved incidents with a time;
- overdue: open incidents past a due time now (gis.incidents.lifecycle);
- on_time (按期): resolved incidents handled by their case deadline (resolved_at <=
  resolve_due_at); on_time_rate = on_time / resolved;
- rework (返工): resolved incidents sent back at least once by verification;
  rework_rate = rework / resolved;
- evaluated: incidents with the reporter's evaluation; satisfaction_rate = (satisfied +
  fairly satisfied) / evaluated;
- per_1000_households: found * 1000 / households of the unit's grids inside the jurisdiction
  (active generation).

Incidents are selected and placed exactly as on the officials' rates map
(gis.store.aggregates.selection, filters from gis.incidents.filters): inside the jurisdiction and the
filters, counted in the active generation's grid they are assigned to (own assignment, a
recorded re-assignment, or their point). Incidents outside every grid form a row of their own
("uncovered"), and at hamlet level so do those in grids without a hamlet ("no unit at this
level"). Dates apply to occurred_at, in China time, both inclusive.

by_key gives the same figures (without households) per category or per source of the same
selection instead of per unit.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

from gis.access.scope import Scope
from gis.domain import DONE, HANDLING_LEVELS, LEVELS
from gis.store.aggregates import others_recorded, selection
from gis.store.lifecycle import overdue_accept_sql, overdue_resolve_sql
from gis.store.scope import grid_clause

if TYPE_CHECKING:  # types of the features that call the store (no import at run time)
    from gis.incidents.filters import IncidentFilter

FIGURE_LEVELS = (*LEVELS, "grid")
NO_UNIT, UNCOVERED = "~none", "~uncovered"
GROUP_LABELS = {NO_UNIT: "无此级单位 No unit at this level",
                UNCOVERED: "未覆盖 Uncovered (outside every grid)"}
# (key, Chinese, English) of every figure column, in output order
COLUMNS = (
    ("unit_code", "单位代码", "Unit code"), ("unit_name", "单位名称", "Unit name"),
    ("kind", "类别", "Row kind"), ("households", "户数", "Households"),
    ("found", "排查数", "Found"), ("mediated", "调解数", "Mediated"),
    ("resolved", "化解数", "Resolved"), ("resolution_rate", "化解率", "Resolution rate"),
    ("resolved_grid", "网格化解", "Resolved at grid"),
    ("resolved_village", "村级化解", "Resolved at village"),
    ("resolved_township", "乡镇化解", "Resolved at township"),
    ("resolved_city", "县/市级化解", "Resolved at city"),
    ("resolved_prefecture", "地级市化解", "Resolved at prefecture"),
    ("resolved_province", "省级化解", "Resolved at province"),
    ("resolved_level_unknown", "化解层级未知", "Resolved, level unknown"),
    ("share_grid", "网格化解占比", "Share resolved at grid"),
    ("share_village", "村级化解占比", "Share resolved at village"),
    ("share_township", "乡镇化解占比", "Share resolved at township"),
    ("share_city", "县/市级化解占比", "Share resolved at city"),
    ("share_prefecture", "地级市化解占比", "Share resolved at prefecture"),
    ("share_province", "省级化解占比", "Share resolved at province"),
    ("median_hours_to_resolve", "化解用时中位数(小时)", "Median hours to resolve"),
    ("overdue", "超期数", "Overdue"),
    ("on_time", "按期办结数", "Resolved on time"),
    ("on_time_rate", "按期结案率", "On-time rate"),
    ("rework", "返工数", "Reworked"), ("rework_rate", "返工率", "Rework rate"),
    ("evaluated", "回访评价数", "Evaluated"),
    ("satisfaction_rate", "满意率", "Satisfaction rate"),
    ("per_1000_households", "每千户事件数", "Incidents per 1,000 households"),
)


def _list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


WORKFLOW_COLUMNS = (
    f"(i.status IN ({_list(DONE)}) AND i.resolved_at <= i.resolve_due_at) AS on_time",
    f"(i.status IN ({_list(DONE)}) AND i.rework_count > 0) AS rework",
    "i.satisfaction")
WORKFLOW_COUNTS = """count(*) FILTER (WHERE on_time) AS on_time,
               count(*) FILTER (WHERE rework) AS rework,
               count(satisfaction) AS evaluated,
               count(*) FILTER (WHERE satisfaction IN ('satisfied', 'basic')) AS satisfied"""
WORKFLOW_RATES = """on_time,
           round(on_time::numeric / NULLIF(resolved, 0), 4)::float AS on_time_rate,
           rework, round(rework::numeric / NULLIF(resolved, 0), 4)::float AS rework_rate,
           evaluated,
           round(satisfied::numeric / NULLIF(evaluated, 0), 4)::float AS satisfaction_rate"""
WORKFLOW_KEYS = ("on_time", "rework", "evaluated", "satisfied")


def query(conn: Connection, scope: Scope, level: str, f: IncidentFilter,
          unit_scope: Scope | None, generation_id: int) -> tuple[str, dict]:
    """The figures statement: one row per unit, then the total (kind 'total')."""
    if level not in FIGURE_LEVELS:
        raise ValueError(level)
    unit_table, grid_col = ("grid", "id") if level == "grid" else ("admin_area", f"{level}_id")
    g_sql, g_params = grid_clause(scope, "g")
    unit_grids = "TRUE"
    if unit_scope is not None:
        unit_grids = "g.code LIKE ANY(:unit_patterns)"
        g_params["unit_patterns"] = [u.code if u.level == "grid" else u.prefix + "%"
                                     for u in unit_scope.units]
    done = _list(DONE)
    per_level = ",\n".join(
        f"count(*) FILTER (WHERE done AND resolved_level = '{lv}') AS resolved_{lv}"
        for lv in HANDLING_LEVELS)
    per_level_sum = ", ".join(f"sum(resolved_{lv})::bigint AS resolved_{lv}"
                              for lv in HANDLING_LEVELS)
    shares = ",\n".join(
        f"round(resolved_{lv}::numeric / NULLIF(resolved_known, 0), 4)::float AS share_{lv}"
        for lv in HANDLING_LEVELS)
    done_sql = f"i.status IN ({done})"
    others = others_recorded(conn, generation_id)
    sel, params = selection(conn, scope, f, unit_scope, generation_id, others=others, columns=(
        f"{done_sql} AS done", "i.resolved_level",
        f"(i.mediated_at IS NOT NULL OR i.status IN ('mediating', {done})) AS mediated",
        f"({overdue_accept_sql('i')} OR {overdue_resolve_sql('i')}) AS overdue",
        *WORKFLOW_COLUMNS))
    times, _ = selection(conn, scope, f, unit_scope, generation_id, others=others, columns=(
        "extract(epoch FROM i.resolved_at - i.reported_at) / 3600 AS hours",),
        where=f"i.resolved_at IS NOT NULL AND {done_sql}")
    params.update(g_params)
    # counted per grid first (an integer key, scanned and counted in parallel), then summed
    # per unit; medians from a second scan of the resolved incidents with a time
    sql = f"""
    WITH per_grid AS (
        SELECT grid_id, count(*) AS found,
               count(*) FILTER (WHERE mediated) AS mediated,
               count(*) FILTER (WHERE done) AS resolved,
               {per_level},
               count(*) FILTER (WHERE overdue) AS overdue,
               {WORKFLOW_COUNTS}
        FROM ({sel}) sel GROUP BY grid_id
    ), inc AS (
        SELECT coalesce(u.code, CASE WHEN p.grid_id IS NULL THEN '{UNCOVERED}'
                                     ELSE '{NO_UNIT}' END) AS gkey,
               u.name AS unit_name, p.*
        FROM per_grid p
        LEFT JOIN grid g ON g.id = p.grid_id
        LEFT JOIN {unit_table} u ON u.id = g.{grid_col}
    ), hh AS (
        SELECT coalesce(u.code, '{NO_UNIT}') AS gkey, max(u.name) AS unit_name,
               sum(g.households) AS households
        FROM grid g
        LEFT JOIN {unit_table} u ON u.id = g.{grid_col}
        WHERE g.generation_id = :gen AND {g_sql} AND {unit_grids}
        GROUP BY 1
    ), med AS (
        SELECT gkey, GROUPING(gkey) AS is_total,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_hours
        FROM (SELECT coalesce(u.code, CASE WHEN t.grid_id IS NULL THEN '{UNCOVERED}'
                                           ELSE '{NO_UNIT}' END) AS gkey, t.hours
              FROM ({times}) t
              LEFT JOIN grid g ON g.id = t.grid_id
              LEFT JOIN {unit_table} u ON u.id = g.{grid_col}) t
        GROUP BY GROUPING SETS ((gkey), ())
    ), agg AS (
        SELECT gkey, GROUPING(gkey) AS is_total, max(unit_name) AS unit_name,
               sum(found)::bigint AS found, sum(mediated)::bigint AS mediated,
               sum(resolved)::bigint AS resolved, {per_level_sum},
               sum(overdue)::bigint AS overdue,
               {', '.join(f'sum({k})::bigint AS {k}' for k in WORKFLOW_KEYS)}
        FROM inc GROUP BY GROUPING SETS ((gkey), ())
    ), merged AS (
        SELECT coalesce(a.gkey, h.gkey) AS gkey, coalesce(a.is_total, 0) AS is_total,
               coalesce(h.unit_name, a.unit_name) AS unit_name,
               CASE WHEN a.is_total = 1 THEN (SELECT sum(households) FROM hh)
                    ELSE h.households END AS households,
               coalesce(a.found, 0) AS found, coalesce(a.mediated, 0) AS mediated,
               coalesce(a.resolved, 0) AS resolved,
               {', '.join(f'coalesce(a.resolved_{lv}, 0) AS resolved_{lv}'
                          for lv in HANDLING_LEVELS)},
               {' + '.join(f'coalesce(a.resolved_{lv}, 0)' for lv in HANDLING_LEVELS)}
                   AS resolved_known,
               coalesce(a.overdue, 0) AS overdue,
               {', '.join(f'coalesce(a.{k}, 0) AS {k}' for k in WORKFLOW_KEYS)},
               m.median_hours
        FROM agg a FULL JOIN hh h ON h.gkey = a.gkey
        LEFT JOIN med m ON m.gkey IS NOT DISTINCT FROM a.gkey AND m.is_total = a.is_total
    )
    SELECT CASE WHEN gkey LIKE '~%' THEN NULL ELSE gkey END AS unit_code, unit_name,
           CASE WHEN is_total = 1 THEN 'total' WHEN gkey = '{UNCOVERED}' THEN 'uncovered'
                WHEN gkey = '{NO_UNIT}' THEN 'no_unit' ELSE 'unit' END AS kind,
           households::bigint AS households, found, mediated, resolved,
           round(resolved::numeric / NULLIF(found, 0), 4)::float AS resolution_rate,
           {', '.join(f'resolved_{lv}' for lv in HANDLING_LEVELS)},
           resolved - resolved_known AS resolved_level_unknown,
           {shares},
           round(median_hours::numeric, 2)::float AS median_hours_to_resolve,
           overdue, {WORKFLOW_RATES},
           round(found * 1000.0 / NULLIF(households, 0), 2)::float AS per_1000_households,
           now() AS now
    FROM merged
    ORDER BY is_total, gkey COLLATE "C"
    """
    return sql, params


def figures(conn: Connection, scope: Scope, level: str, f: IncidentFilter,
            unit_scope: Scope | None, generation_id: int) -> dict:
    """{"units": [row, ...], "total": row, "now": time}; each row has the COLUMNS keys.
    unit_scope: the unit filter (a unit inside the jurisdiction or one of its ancestors)."""
    sql, params = query(conn, scope, level, f, unit_scope, generation_id)
    rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    now = rows[-1]["now"]
    for r in rows:
        del r["now"]
        if r["kind"] == "total":
            r["unit_name"] = "合计 Total"
        elif r["kind"] != "unit":
            r["unit_name"] = GROUP_LABELS[NO_UNIT if r["kind"] == "no_unit" else UNCOVERED]
    return {"units": rows[:-1], "total": rows[-1], "now": now}


BY_KEYS = ("category", "source")
# (key, Chinese, English) of the figures per category or source, after the key's own columns
BY_MEASURES = tuple(c for c in COLUMNS if c[0] not in ("unit_code", "unit_name", "kind",
                                                       "households", "per_1000_households"))
COUNTED = ("found", "mediated", "resolved", *(f"resolved_{lv}" for lv in HANDLING_LEVELS),
           "resolved_level_unknown", "overdue", "on_time", "rework",
           "evaluated")  # counts (0 without incidents; others None)


def by_key(conn: Connection, scope: Scope, key: str, f: IncidentFilter,
           unit_scope: Scope | None, generation_id: int) -> dict:
    """Figures per category or source (`key`) of the selection (as `figures` selects):
    {"rows": [row, ...] (kind = key, `key` holding the code or source, in code order),
    "total": row (kind 'total'), "now": time}; rows have the BY_MEASURES keys. Values
    without incidents have no row."""
    if key not in BY_KEYS:
        raise ValueError(key)
    done_sql = f"i.status IN ({_list(DONE)})"
    sel, params = selection(conn, scope, f, unit_scope, generation_id, columns=(
        f"i.{key} AS key", f"{done_sql} AS done", "i.resolved_level",
        f"(i.mediated_at IS NOT NULL OR i.status IN ('mediating', {_list(DONE)})) AS mediated",
        f"({overdue_accept_sql('i')} OR {overdue_resolve_sql('i')}) AS overdue",
        *WORKFLOW_COLUMNS,
        f"CASE WHEN i.resolved_at IS NOT NULL AND {done_sql} THEN "
        "extract(epoch FROM i.resolved_at - i.reported_at) / 3600 END AS hours"))
    per_level = ",\n".join(
        f"count(*) FILTER (WHERE done AND resolved_level = '{lv}') AS resolved_{lv}"
        for lv in HANDLING_LEVELS)
    known = " + ".join(f"resolved_{lv}" for lv in HANDLING_LEVELS)
    shares = ",\n".join(
        f"round(resolved_{lv}::numeric / NULLIF({known}, 0), 4)::float AS share_{lv}"
        for lv in HANDLING_LEVELS)
    sql = f"""
    WITH agg AS (
        SELECT key, GROUPING(key) AS is_total, count(*) AS found,
               count(*) FILTER (WHERE mediated) AS mediated,
               count(*) FILTER (WHERE done) AS resolved,
               {per_level},
               count(*) FILTER (WHERE overdue) AS overdue,
               {WORKFLOW_COUNTS},
               percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_hours
        FROM ({sel}) sel GROUP BY GROUPING SETS ((key), ())
    )
    SELECT CASE WHEN is_total = 1 THEN NULL ELSE key END AS key,
           CASE WHEN is_total = 1 THEN 'total' ELSE '{key}' END AS kind,
           found, mediated, resolved,
           round(resolved::numeric / NULLIF(found, 0), 4)::float AS resolution_rate,
           {', '.join(f'resolved_{lv}' for lv in HANDLING_LEVELS)},
           resolved - ({known}) AS resolved_level_unknown,
           {shares},
           round(median_hours::numeric, 2)::float AS median_hours_to_resolve,
           overdue, {WORKFLOW_RATES}, now() AS now
    FROM agg ORDER BY is_total, key COLLATE "C"
    """
    rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    now = rows[-1]["now"]
    for r in rows:
        del r["now"]
    del rows[-1]["key"]
    return {"rows": rows[:-1], "total": rows[-1], "now": now}
