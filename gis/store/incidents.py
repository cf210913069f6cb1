"""Incidents in PostGIS: single insert, bulk COPY, reads."""
from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from gis.access.scope import Scope
from gis.domain import LEVELS_UP
from gis.store.scope import incident_clause

if TYPE_CHECKING:  # types of the features that call the store (no import at run time)
    from gis.incidents.parse import IncidentInput

UNITS = LEVELS_UP
ASSIGNMENT = ("generation_id", "grid_id", *(f"{u}_id" for u in UNITS))
INPUT = ("source", "external_id", "category", "severity", "status", "occurred_at",
         "reported_at", "description", "input_crs", "input_x", "input_y")
STORED = (*INPUT, *ASSIGNMENT, "reporter_unit")
# stage clocks a bulk import sets (gis.incidents.timelimits.start_clocks); NULL: the insert
# trigger sets them
CLOCKS = ("stage_started_at", "stage_yellow_at", "stage_due_at")

INCIDENT_SELECT = f"""
    SELECT i.id, i.public_id, i.reported_by, i.source, i.external_id, i.category, i.severity, i.status, i.occurred_at,
           i.reported_at, i.description, i.input_crs, i.input_x, i.input_y,
           ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.generation_id,
           g.code AS grid_code, g.name AS grid_name,
           {", ".join(f"u_{u}.code AS {u}_code, u_{u}.name AS {u}_name" for u in UNITS)},
           i.reporter_unit
    FROM incident i
    LEFT JOIN grid g ON g.id = i.grid_id
    {" ".join(f"LEFT JOIN admin_area u_{u} ON u_{u}.id = i.{u}_id" for u in UNITS)}
"""


def next_public_id(conn: Connection) -> str:
    """A new case number (yyyymmdd-nnnnnn), as the incident.public_id default makes them."""
    return conn.execute(text("SELECT next_public_id()")).scalar_one()


def insert_one(conn: Connection, inc: IncidentInput, assignment: dict,
               reporter_unit: str | None = None, *, reported_by: int | None = None,
               public_id: str | None = None) -> int | None:
    """Insert; returns the new id, or None when (source, external_id) exists already.
    reporter_unit: the reporting account's unit when the point lies outside its jurisdiction;
    reported_by: the reporting account; public_id: a case number taken already
    (next_public_id), else a new one."""
    params = {**{c: getattr(inc, c) for c in INPUT}, **assignment,
              "reporter_unit": reporter_unit, "lon": inc.lon, "lat": inc.lat,
              "reported_by": reported_by, "public_id": public_id}
    cols = ", ".join(STORED)
    values = ", ".join(f":{c}" for c in STORED)
    return conn.execute(text(
        f"INSERT INTO incident ({cols}, reported_by, public_id, geom) VALUES ({values}, "
        ":reported_by, coalesce(:public_id, next_public_id()), "
        "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
        "ON CONFLICT (source, external_id) DO NOTHING RETURNING id"), params).scalar()


def get_by_key(conn: Connection, source: str, external_id: str, *, scope: Scope) -> dict | None:
    clause, params = incident_clause(scope, reported=True)
    row = conn.execute(text(INCIDENT_SELECT + f" WHERE i.source = :s AND i.external_id = :e "
                                              f"AND {clause}"),
                       {"s": source, "e": external_id, **params}).mappings().first()
    return dict(row) if row else None


def get(conn: Connection, incident_id: int, *, scope: Scope,
        account_id: int | None = None) -> dict | None:
    """The incident if it exists inside the scope (or its units reported it from outside, or
    it is dispatched to account_id or its departments); None otherwise (either case)."""
    clause, params = incident_clause(scope, reported=True, account_id=account_id)
    row = conn.execute(text(INCIDENT_SELECT + f" WHERE i.id = :id AND {clause}"),
                       {"id": incident_id, **params}).mappings().first()
    return dict(row) if row else None


def bulk_insert(conn: Connection, frame: pd.DataFrame, batch_size: int = 25_000,
                progress=None) -> int:
    """COPY assigned rows through a staging table and insert them batch by batch (so progress
    moves while the database works); rows whose (source, external_id) exists are skipped.
    Returns the number inserted. Runs inside the caller's transaction, so a failure in any
    batch leaves nothing."""
    staged = [*STORED, *CLOCKS, "lon", "lat"]
    conn.execute(text(f"CREATE TEMP TABLE incident_stage ON COMMIT DROP AS SELECT "
                      f"{', '.join(STORED)}, {', '.join(CLOCKS)}, 0::float8 AS lon, "
                      "0::float8 AS lat FROM incident WITH NO DATA"))
    cols = [*STORED, *CLOCKS, "geom", "accept_due_at", "resolve_due_at"]
    # Due times set here, once per statement, spare the per-row trigger (migration 0009); the
    # formula is the trigger's (migration 0014), at the default handling level 'grid': the
    # category's hours where it has them, else the level rule's.
    insert = text(
        f"INSERT INTO incident ({', '.join(cols)}) "
        f"SELECT {', '.join('s.' + c for c in (*STORED, *CLOCKS))}, "
        "ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), "
        "s.reported_at + make_interval(secs => coalesce(c.accept_hours, r.accept_hours) * 3600), "
        "s.reported_at + make_interval(secs => coalesce(c.resolve_hours, r.resolve_hours) * 3600) "
        "FROM incident_stage s LEFT JOIN deadline_rule r ON r.level = 'grid' "
        "LEFT JOIN category c ON c.code = s.category "
        "ON CONFLICT (source, external_id) DO NOTHING")
    raw = conn.connection.driver_connection
    inserted = 0
    with raw.cursor() as cur:
        for start in range(0, len(frame), batch_size):
            part = frame.iloc[start:start + batch_size]
            with cur.copy(f"COPY incident_stage ({', '.join(staged)}) FROM STDIN "
                          "WITH (FORMAT csv, NULL '\\N')") as copy:
                copy.write(_csv(part))
            inserted += conn.execute(insert).rowcount
            conn.execute(text("TRUNCATE incident_stage"))
            if progress:
                progress(len(part))
    conn.execute(text("DROP TABLE incident_stage"))
    return inserted


def _csv(part: pd.DataFrame) -> str:
    """The rows as COPY CSV: times as UTC ISO strings, ids as integers, NULL as \\N."""
    # reporter_unit and the clocks may be absent: NULL
    out = part.reindex(columns=[*STORED, *CLOCKS]).copy()
    for col in ASSIGNMENT[1:]:
        out[col] = out[col].astype("Int64")
    for col in ("occurred_at", "reported_at", *CLOCKS):
        times = pd.to_datetime(out[col], utc=True)
        values = times.dt.tz_localize(None).to_numpy("datetime64[us]")
        text_ = np.char.add(np.datetime_as_string(values, unit="us"), "+00:00")
        out[col] = np.where(times.isna().to_numpy(), None, text_)
    out["lon"], out["lat"] = part["lon"].to_numpy(), part["lat"].to_numpy()
    buf = io.StringIO()
    out.to_csv(buf, index=False, header=False, na_rep="\\N")
    return buf.getvalue()


def existing_keys(conn: Connection, source_ids: pd.DataFrame) -> np.ndarray:
    """Boolean mask: which (source, external_id) pairs are already stored."""
    if not len(source_ids):
        return np.zeros(0, dtype=bool)
    rows = conn.execute(text(
        "SELECT s.n FROM unnest(CAST(:src AS text[]), CAST(:ext AS text[])) "
        "WITH ORDINALITY AS s(source, external_id, n) "
        "JOIN incident i USING (source, external_id)"),
        {"src": list(source_ids["source"]), "ext": list(source_ids["external_id"])}).scalars()
    mask = np.zeros(len(source_ids), dtype=bool)
    mask[[n - 1 for n in rows]] = True
    return mask


def export_rows(conn: Connection, scope: Scope, f, unit_scope: Scope | None, generation_id: int,
                limit: int) -> list[dict]:
    """The selected incidents (gis.store.aggregates.selection) with their grid, village and
    township under the generation, oldest first."""
    from gis.store.aggregates import selection
    sql, params = selection(conn, scope, f, unit_scope, generation_id)
    return [dict(r) for r in conn.execute(text(f"""
        SELECT i.external_id, i.source, i.category, i.severity, i.status, i.occurred_at,
               i.reported_at, round(ST_X(i.geom)::numeric, 6) AS lon,
               round(ST_Y(i.geom)::numeric, 6) AS lat, g.code AS grid_code, g.name AS grid_name,
               v.name AS village, t.name AS township, i.description
        FROM ({sql}) s JOIN incident i ON i.id = s.id
        LEFT JOIN grid g ON g.id = s.grid_id
        LEFT JOIN admin_area v ON v.id = g.village_id
        LEFT JOIN admin_area t ON t.id = g.township_id
        ORDER BY i.occurred_at, i.id LIMIT :max_rows"""),
        {**params, "max_rows": limit}).mappings()]


def count(conn: Connection) -> int:
    return conn.execute(text("SELECT count(*) FROM incident")).scalar_one()


def uncovered(conn: Connection, scope: Scope, limit: int = 5000) -> list[dict]:
    """Incidents outside every grid (coverage gaps), oldest first: those lying in the
    jurisdiction and those its units reported from outside it."""
    clause, params = incident_clause(scope, reported=True)
    return [dict(r) for r in conn.execute(text(
        f"SELECT i.external_id, i.category, i.occurred_at, ST_X(i.geom) AS lon, "
        f"ST_Y(i.geom) AS lat FROM incident i WHERE i.grid_id IS NULL AND {clause} "
        f"ORDER BY i.id LIMIT :limit"), {**params, "limit": limit}).mappings()]

