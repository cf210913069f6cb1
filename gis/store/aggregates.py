"""Incident selections and counts per unit for the officials' maps (scope and filters in SQL).

Counts are by the active generation's units: an incident counts in the grid it was assigned to
under that generation (its own assignment, or a re-assignment recorded in incident_assignment);
incidents from other generations with no re-assignment are placed by their point.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from gis.access.scope import Scope
from gis.domain import LEVEL_NUMBER, LEVELS
from gis.store.scope import area_clause, grid_clause, incident_clause

if TYPE_CHECKING:  # types of the features that call the store (no import at run time)
    from gis.incidents.filters import IncidentFilter

UNIT_LEVELS = (*LEVELS, "grid")


def filter_clause(f: IncidentFilter, alias: str = "i") -> tuple[str, dict]:
    where, params = ["TRUE"], {}
    for col, values in (("category", f.categories), ("source", f.sources),
                        ("severity", f.severities), ("status", f.statuses)):
        if values:
            where.append(f"{alias}.{col} = ANY(:f_{col})")
            params[f"f_{col}"] = list(values)
    # dates are China days, whatever the server's time zone
    if f.start:
        where.append(f"{alias}.occurred_at >= "
                     f"(CAST(:f_start AS timestamp) AT TIME ZONE 'Asia/Shanghai')")
        params["f_start"] = f.start
    if f.end:
        where.append(f"{alias}.occurred_at < "
                     f"((CAST(:f_end AS timestamp) + interval '1 day') AT TIME ZONE 'Asia/Shanghai')")
        params["f_end"] = f.end
    return " AND ".join(where), params


def selection(conn: Connection, scope: Scope, f: IncidentFilter, unit_scope: Scope | None,
              generation_id: int, columns: tuple[str, ...] = (), where: str = "TRUE",
              others: bool | None = None) -> tuple[str, dict]:
    """SQL of the selected incidents with their grid under the generation: columns id, grid_id,
    geom, occurred_at, then `columns` (SQL over the incident alias i, e.g. "i.status"); `where`
    narrows the selection further (SQL over i); `others`: the answer of others_recorded when
    the caller already has it.

    Two branches, so that the common case reads the table alone (a parallel scan, no join):
    incidents recorded under the generation keep their own grid; those recorded under another
    one (found through their grid, or the uncovered index) take a recorded re-assignment or
    are placed by their point."""
    s_sql, s_params = incident_clause(scope, "i")
    f_sql, f_params = filter_clause(f, "i")
    u_sql, u_params = ("TRUE", {}) if unit_scope is None else incident_clause(unit_scope, "iu")
    u_sql = u_sql.replace("iu.", "i.")
    where = f"{where} AND {s_sql} AND {f_sql} AND {u_sql}"
    extra = "".join(f", {c}" for c in columns)
    params = {"gen": generation_id, **s_params, **f_params, **u_params}
    sql = f"""
        SELECT i.id, i.geom, i.occurred_at, i.grid_id{extra}
        FROM incident i WHERE i.generation_id = :gen AND {where}"""
    if not (others_recorded(conn, generation_id) if others is None else others):
        return sql, params
    sql += f"""
        UNION ALL
        SELECT i.id, i.geom, i.occurred_at, COALESCE(ia.grid_id, sp.id){extra}
        FROM (SELECT oi.* FROM grid og JOIN incident oi ON oi.grid_id = og.id
              WHERE og.generation_id <> :gen
              UNION ALL
              SELECT oi.* FROM incident oi
              WHERE oi.grid_id IS NULL AND oi.generation_id <> :gen) i
        LEFT JOIN incident_assignment ia ON ia.incident_id = i.id AND ia.generation_id = :gen
        LEFT JOIN LATERAL (
            SELECT g2.id FROM grid g2
            WHERE ia.incident_id IS NULL
              AND g2.generation_id = :gen AND ST_Covers(g2.geom, i.geom)
            ORDER BY g2.code COLLATE "C" LIMIT 1) sp ON TRUE
        WHERE {where}"""
    return sql, params


def others_recorded(conn: Connection, generation_id: int) -> bool:
    """Whether any incident is recorded under a generation other than this one (after a new
    generation is published). When none is, selections read the incident table alone, which
    PostgreSQL scans and aggregates in parallel."""
    return bool(conn.execute(text("""
        SELECT EXISTS (SELECT 1 FROM grid og
                       WHERE (og.generation_id < :gen OR og.generation_id > :gen)
                         AND EXISTS (SELECT 1 FROM incident oi WHERE oi.grid_id = og.id))
            OR EXISTS (SELECT 1 FROM incident oi WHERE oi.grid_id IS NULL
                         AND (oi.generation_id < :gen OR oi.generation_id > :gen))"""),
        {"gen": generation_id}).scalar())


# COPY ... (FORMAT binary) of three float8 columns: a 19-byte header, then per row a field
# count and each field's length and big-endian value, then a 2-byte trailer
_XYT = np.dtype([("n", ">i2"), ("lx", ">i4"), ("x", ">f8"), ("ly", ">i4"), ("y", ">f8"),
                 ("lt", ">i4"), ("t", ">f8")])


def points(conn: Connection, scope: Scope, f: IncidentFilter, unit_scope: Scope | None,
           generation_id: int) -> pd.DataFrame:
    """lon, lat and occurred_at (UTC) of the selected incidents."""
    sql, params = selection(conn, scope, f, unit_scope, generation_id)
    # fetched as binary COPY rows, read by numpy at once: about twice as fast as arrays in one
    # row at a million points, and no Python object per value
    compiled = text(f"SELECT ST_X(s.geom), ST_Y(s.geom), "
                    f"extract(epoch FROM s.occurred_at)::float8 FROM ({sql}) s"
                    ).bindparams(**params).compile(dialect=conn.dialect)
    buf = bytearray()
    with conn.connection.driver_connection.cursor() as cur, \
            cur.copy(f"COPY ({compiled}) TO STDOUT (FORMAT binary)", compiled.params) as copy:
        for chunk in copy:
            buf += chunk
    body = np.frombuffer(memoryview(buf)[19:len(buf) - 2], dtype=_XYT)
    if not ((body["n"] == 3).all() and (body["lx"] == 8).all() and (body["ly"] == 8).all()
            and (body["lt"] == 8).all()):
        raise RuntimeError("unexpected COPY row layout")  # a NULL would show here
    lon, lat, epoch = (body[c].astype("float64") for c in ("x", "y", "t"))
    return pd.DataFrame({"lon": lon, "lat": lat,
                         # microseconds hold any stored year (nanoseconds stop at 2262)
                         "occurred_at": pd.to_datetime(
                             np.round(epoch * 1e6).astype("int64").astype("datetime64[us]"),
                             utc=True)})


def unit_counts(conn: Connection, scope: Scope, f: IncidentFilter, unit_scope: Scope | None,
                generation_id: int, level: str, simplify: float = 0.0,
                geometry: bool = True) -> pd.DataFrame:
    """Units of the active generation at `level` inside the scope (and the unit filter), with
    households, population and the number of selected incidents in each (zeros included): a
    GeoDataFrame in EPSG:4326, or without `geometry` a plain DataFrame (far less to fetch)."""
    if level not in UNIT_LEVELS:
        raise ValueError(level)
    sel, params = selection(conn, scope, f, unit_scope, generation_id)
    geom = f"ST_SimplifyPreserveTopology(u.geom, {float(simplify)})" if simplify else "u.geom"
    wkb = f", ST_AsBinary({geom}) AS wkb" if geometry else ""
    if level == "grid":
        g_sql, g_params = grid_clause(scope, "u")
        ug_sql, ug_params = ("TRUE", {}) if unit_scope is None else grid_clause(unit_scope, "uu")
        sql = f"""
            WITH sel AS ({sel}), n AS (SELECT grid_id, count(*) AS incidents FROM sel
                                       GROUP BY grid_id)
            SELECT u.id, u.code, u.name, a.code AS parent_code, a.name AS parent_name,
                   u.households, u.population, coalesce(n.incidents, 0) AS incidents{wkb}
            FROM grid u JOIN admin_area a ON a.id = u.area_id
            LEFT JOIN n ON n.grid_id = u.id
            WHERE u.generation_id = :gen AND {g_sql} AND {ug_sql.replace('uu.', 'u.')}
            ORDER BY u.code COLLATE "C" """
        params.update(g_params)
        params.update({k: v for k, v in ug_params.items()})
    else:
        a_sql, a_params = area_clause(scope, "u")
        h_sql, h_params = grid_clause(scope, "gh")  # households of the jurisdiction's grids only
        a_params.update(h_params)
        pa_sql, pa_params = ("TRUE", {}) if unit_scope is None else area_clause(unit_scope, "ua")
        col = f"{level}_id"
        sql = f"""
            WITH sel AS ({sel}),
            n AS (SELECT g.{col} AS unit_id, count(*) AS incidents
                  FROM sel JOIN grid g ON g.id = sel.grid_id GROUP BY g.{col}),
            hh AS (SELECT gh.{col} AS unit_id, sum(gh.households) AS households,
                          sum(gh.population) AS population
                   FROM grid gh WHERE gh.generation_id = :gen AND {h_sql}
                   GROUP BY gh.{col})
            SELECT u.id, u.code, u.name, p.code AS parent_code, p.name AS parent_name,
                   coalesce(hh.households, 0) AS households,
                   coalesce(hh.population, 0) AS population,
                   coalesce(n.incidents, 0) AS incidents{wkb}
            FROM admin_area u LEFT JOIN admin_area p ON p.id = u.parent_id
            LEFT JOIN n ON n.unit_id = u.id LEFT JOIN hh ON hh.unit_id = u.id
            WHERE u.generation_id = :gen AND u.level = :level AND {a_sql}
              AND {pa_sql.replace('ua.', 'u.')}
            ORDER BY u.code COLLATE "C" """
        params.update(a_params)
        params.update(pa_params)
        params["level"] = LEVEL_NUMBER[level]
    frame = pd.read_sql_query(text(sql), conn, params=params)
    if not geometry:
        return frame
    geoms = shapely.from_wkb([bytes(b) for b in frame.pop("wkb")]) if len(frame) else []
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs="EPSG:4326")
