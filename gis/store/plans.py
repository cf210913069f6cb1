"""Draft plans in PostGIS: drafts, their grids, the edit log (undo/redo), saved versions, the
generation a published draft becomes, and re-assignment of past incidents.

A draft is visible to an account when its unit lies in the account's jurisdiction; every query
here that returns drafts, grids, areas or incidents adds the clause from gis.store.scope.
Geometries travel as WKB (exact doubles); the caller owns the transaction.
"""
from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from gis.access.scope import Scope
from gis.domain import LEVEL_NUMBER, LEVEL_OF_NUMBER
from gis.store.boundaries import UNIT_COLUMNS, fill_grid_units
from gis.store.scope import area_clause, grid_clause, incident_clause

UNIT_LIST = ", ".join(UNIT_COLUMNS)

PLAN_COLUMNS = ("code", "name", "parent_code", "households", "population")
LEVEL_NAMES = LEVEL_OF_NUMBER

DRAFT_SELECT = """
    SELECT d.id, d.name, d.note, d.author_id, acc.username AS author, d.base_generation_id,
           d.unit_code, u.name AS unit_name, u.level AS unit_level, d.version, d.status,
           d.published_generation_id, d.created_at, d.updated_at,
           (SELECT count(*) FROM plan_grid pg WHERE pg.draft_id = d.id) AS grid_count,
           (SELECT count(*) FROM plan_edit e WHERE e.draft_id = d.id AND NOT e.undone)
               AS undo_steps,
           (SELECT count(*) FROM plan_edit e WHERE e.draft_id = d.id AND e.undone) AS redo_steps
    FROM plan_draft d
    CROSS JOIN LATERAL (SELECT d.unit_code AS code) du
    LEFT JOIN admin_area u ON u.generation_id = d.base_generation_id AND u.code = d.unit_code
    LEFT JOIN account acc ON acc.id = d.author_id
"""


def _draft_scope(scope: Scope) -> tuple[str, dict]:
    """Drafts whose unit lies inside the jurisdiction (the unit's code by the grid rule: inside
    a unit of the account, never an ancestor)."""
    return grid_clause(scope, "du")


# ---- units ----

def unit_in_scope(conn: Connection, generation_id: int, code: str, scope: Scope) -> dict | None:
    """An area of the generation above hamlets (a village, township, city, ...) that lies
    inside the jurisdiction."""
    clause, params = grid_clause(scope, "a")
    row = conn.execute(text(
        f"SELECT a.id, a.code, a.name, a.kind, a.level FROM admin_area a "
        f"WHERE a.generation_id = :g AND a.code = :code AND a.level < :hamlet AND {clause}"),
        {"g": generation_id, "code": code, "hamlet": LEVEL_NUMBER["hamlet"],
         **params}).mappings().first()
    return dict(row) if row else None


def leaf_units(conn: Connection, generation_id: int, prefix: str, scope: Scope
               ) -> gpd.GeoDataFrame:
    """The leaf units (hamlets, villages and communities without hamlets) under a code prefix:
    the units a draft's grids must tile."""
    clause, params = area_clause(scope, "a")
    rows = conn.execute(text(f"""
        SELECT a.code, a.name, a.kind, ST_AsBinary(a.geom) AS wkb FROM admin_area a
        WHERE a.generation_id = :g AND a.level >= :village AND a.code LIKE :prefix AND {clause}
          AND NOT EXISTS (SELECT 1 FROM admin_area c WHERE c.parent_id = a.id)
        ORDER BY a.code COLLATE "C" """),
        {"g": generation_id, "prefix": prefix + "%", "village": LEVEL_NUMBER["village"],
         **params}).mappings().all()
    return _frame(rows, ("code", "name", "kind"))


def _frame(rows, columns) -> gpd.GeoDataFrame:
    df = pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=list(columns))
    geoms = shapely.from_wkb([bytes(r["wkb"]) for r in rows]) if rows else []
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(np.asarray(geoms, dtype=object),
                                                       crs="EPSG:4326"), crs="EPSG:4326")


def as_polygons(geoms) -> np.ndarray:
    """Single-part MultiPolygons (the storage type) as Polygons, as the edit operations make
    them, so that a stored plan and an edited one compare equal."""
    geoms = np.asarray(geoms, dtype=object).copy()
    if len(geoms):
        single = (shapely.get_type_id(geoms) == 6) & (shapely.get_num_geometries(geoms) == 1)
        geoms[single] = shapely.get_geometry(geoms[single], 0)
    return geoms


def _plan_frame(rows) -> gpd.GeoDataFrame:
    frame = _frame(rows, PLAN_COLUMNS)
    frame = frame.set_geometry(as_polygons(frame.geometry.values), crs="EPSG:4326")
    for col in ("households", "population"):
        frame[col] = frame[col].astype(np.int64)
    return frame


# ---- drafts ----

def insert_draft(conn: Connection, *, name: str, note: str | None, unit_code: str,
                 base_generation_id: int, author_id: int | None) -> int:
    return conn.execute(text(
        "INSERT INTO plan_draft (name, note, author_id, base_generation_id, unit_code) "
        "VALUES (:name, :note, :a, :g, :u) RETURNING id"),
        {"name": name, "note": note, "a": author_id, "g": base_generation_id,
         "u": unit_code}).scalar_one()


def copy_generation_grids(conn: Connection, draft_id: int, generation_id: int, prefix: str,
                          scope: Scope) -> int:
    """Copy the generation's grids under a code prefix into the draft; returns how many."""
    clause, params = grid_clause(scope, "g")
    return conn.execute(text(f"""
        INSERT INTO plan_grid (draft_id, code, name, parent_code, households, population, geom)
        SELECT :d, g.code, g.name, a.code, g.households, g.population, g.geom
        FROM grid g JOIN admin_area a ON a.id = g.area_id
        WHERE g.generation_id = :g AND g.code LIKE :prefix AND {clause}"""),
        {"d": draft_id, "g": generation_id, "prefix": prefix + "%", **params}).rowcount


def get_draft(conn: Connection, draft_id: int, scope: Scope, *, lock: bool = False
              ) -> dict | None:
    """The draft if it exists inside the jurisdiction (None otherwise, either case). With lock,
    the draft row is locked until the transaction ends (every save takes this lock)."""
    clause, params = _draft_scope(scope)
    if lock:
        found = conn.execute(text(
            f"SELECT d.id FROM plan_draft d CROSS JOIN LATERAL (SELECT d.unit_code AS code) du "
            f"WHERE d.id = :id AND {clause} FOR UPDATE OF d"), {"id": draft_id, **params}).scalar()
        if found is None:
            return None
    row = conn.execute(text(DRAFT_SELECT + f" WHERE d.id = :id AND {clause}"),
                       {"id": draft_id, **params}).mappings().first()
    return dict(row) if row else None


def list_drafts(conn: Connection, scope: Scope, status: str | None = None) -> list[dict]:
    clause, params = _draft_scope(scope)
    where = [clause]
    if status:
        where.append("d.status = :status")
        params["status"] = status
    return [dict(r) for r in conn.execute(text(
        DRAFT_SELECT + f" WHERE {' AND '.join(where)} ORDER BY d.id DESC"), params).mappings()]


def load_plan(conn: Connection, draft_id: int, scope: Scope) -> gpd.GeoDataFrame:
    """The draft's grids (code, name, parent_code, households, population, geometry), sorted by
    code."""
    clause, params = grid_clause(scope, "pg")
    rows = conn.execute(text(f"""
        SELECT pg.code, pg.name, pg.parent_code, pg.households, pg.population,
               ST_AsBinary(pg.geom) AS wkb
        FROM plan_grid pg WHERE pg.draft_id = :d AND {clause}
        ORDER BY pg.code COLLATE "C" """), {"d": draft_id, **params}).mappings().all()
    return _plan_frame(rows)


def insert_grids(conn: Connection, draft_id: int, frame: gpd.GeoDataFrame) -> None:
    if not len(frame):
        return
    rows = [{"d": draft_id, "code": str(code), "name": str(name), "parent": str(parent),
             "hh": int(hh), "pop": int(pop), "wkb": shapely.to_wkb(geom)}
            for code, name, parent, hh, pop, geom in zip(
                frame["code"], frame["name"], frame["parent_code"], frame["households"],
                frame["population"], frame.geometry.values)]
    conn.execute(text(
        "INSERT INTO plan_grid (draft_id, code, name, parent_code, households, population, geom) "
        "VALUES (:d, :code, :name, :parent, :hh, :pop, ST_Multi(ST_GeomFromWKB(:wkb, 4326)))"),
        rows)


def replace_grids(conn: Connection, draft_id: int, remove, add: gpd.GeoDataFrame) -> None:
    """Delete the grids with codes `remove`, then insert the rows of `add`."""
    codes = [str(c) for c in remove]
    if codes:
        conn.execute(text("DELETE FROM plan_grid WHERE draft_id = :d AND code = ANY(:codes)"),
                     {"d": draft_id, "codes": codes})
    insert_grids(conn, draft_id, add)


# ---- the edit log (undo and redo) and saved versions ----

def push_edit(conn: Connection, draft_id: int, op: str, change: dict,
              author_id: int | None) -> int:
    """Append an applied edit, discarding the undone ones (no redo after a new edit)."""
    conn.execute(text("DELETE FROM plan_edit WHERE draft_id = :d AND undone"), {"d": draft_id})
    seq = conn.execute(text("SELECT coalesce(max(seq), 0) + 1 FROM plan_edit WHERE draft_id = :d"),
                       {"d": draft_id}).scalar_one()
    conn.execute(text(
        "INSERT INTO plan_edit (draft_id, seq, op, change, author_id) "
        "VALUES (:d, :seq, :op, CAST(:change AS jsonb), :a)"),
        {"d": draft_id, "seq": seq, "op": op, "change": json.dumps(change, ensure_ascii=False),
         "a": author_id})
    return seq


def last_applied_edit(conn: Connection, draft_id: int) -> dict | None:
    row = conn.execute(text(
        "SELECT id, seq, op, change FROM plan_edit WHERE draft_id = :d AND NOT undone "
        "ORDER BY seq DESC LIMIT 1"), {"d": draft_id}).mappings().first()
    return dict(row) if row else None


def first_undone_edit(conn: Connection, draft_id: int) -> dict | None:
    row = conn.execute(text(
        "SELECT id, seq, op, change FROM plan_edit WHERE draft_id = :d AND undone "
        "ORDER BY seq LIMIT 1"), {"d": draft_id}).mappings().first()
    return dict(row) if row else None


def set_undone(conn: Connection, edit_id: int, undone: bool) -> None:
    conn.execute(text("UPDATE plan_edit SET undone = :u WHERE id = :id"),
                 {"u": undone, "id": edit_id})


def record_save(conn: Connection, draft_id: int, action: str, *, author_id: int | None,
                author: str | None, op: str | None = None, edit_seq: int | None = None,
                summary: dict | None = None, status: str | None = None) -> int:
    """Bump the draft's version and log the save; returns the new version."""
    sets = ", status = :status" if status else ""
    version = conn.execute(text(
        f"UPDATE plan_draft SET version = version + 1, updated_at = now(){sets} "
        "WHERE id = :d RETURNING version"),
        {"d": draft_id, "status": status}).scalar_one()
    _log_save(conn, draft_id, version, action, author_id, author, op, edit_seq, summary)
    return version


def _log_save(conn, draft_id, version, action, author_id, author, op=None, edit_seq=None,
              summary=None) -> None:
    conn.execute(text(
        "INSERT INTO plan_save (draft_id, version, action, op, edit_seq, summary, author_id, "
        "author) VALUES (:d, :v, :action, :op, :seq, CAST(:summary AS jsonb), :a, :author)"),
        {"d": draft_id, "v": version, "action": action, "op": op, "seq": edit_seq,
         "summary": json.dumps(summary, ensure_ascii=False) if summary is not None else None,
         "a": author_id, "author": author})


def log_first_save(conn: Connection, draft_id: int, action: str, author_id: int | None,
                   author: str | None, summary: dict | None = None) -> None:
    """The save that made version 1 (the draft's creation or import)."""
    _log_save(conn, draft_id, 1, action, author_id, author, summary=summary)


def saves(conn: Connection, draft_id: int, since_version: int = 0) -> list[dict]:
    rows = conn.execute(text(
        "SELECT version, action, op, edit_seq, summary, author, created_at FROM plan_save "
        "WHERE draft_id = :d AND version > :v ORDER BY version"),
        {"d": draft_id, "v": since_version}).mappings().all()
    return [dict(r) for r in rows]


# ---- publishing ----

def write_published_generation(conn: Connection, draft: dict, prefix: str, name: str,
                               note: str | None) -> int:
    """A new (inactive) generation: every area and grid of the draft's base generation, with
    the grids under the unit's prefix replaced by the draft's. Returns its id."""
    base = draft["base_generation_id"]
    gen_id = conn.execute(text(
        "INSERT INTO generation (name, note, source, root_code, root_level) "
        "SELECT :n, :note, :src, root_code, root_level FROM generation WHERE id = :base "
        "RETURNING id"),
        {"n": name, "note": note, "src": f"plan:{draft['id']}", "base": base}).scalar_one()
    p = {"new": gen_id, "base": base, "prefix": prefix + "%", "d": draft["id"]}
    conn.execute(text("""
        INSERT INTO admin_area (generation_id, level, kind, code, name, parent_id, synthetic, geom)
        SELECT :new, level, kind, code, name, NULL, synthetic, geom
        FROM admin_area WHERE generation_id = :base"""), p)
    conn.execute(text("""
        UPDATE admin_area n SET parent_id = np.id
        FROM admin_area o
        JOIN admin_area op ON op.id = o.parent_id
        JOIN admin_area np ON np.generation_id = :new AND np.code = op.code
        WHERE n.generation_id = :new AND o.generation_id = :base AND o.code = n.code"""), p)
    # grids outside the unit as they are, the draft's grids as drawn; then each grid's units
    conn.execute(text("""
        INSERT INTO grid (generation_id, code, name, area_id, households, population, synthetic,
                          geom)
        SELECT :new, g.code, g.name, na.id, g.households, g.population, g.synthetic, g.geom
        FROM grid g
        JOIN admin_area oa ON oa.id = g.area_id
        JOIN admin_area na ON na.generation_id = :new AND na.code = oa.code
        WHERE g.generation_id = :base AND g.code NOT LIKE :prefix"""), p)
    conn.execute(text("""
        INSERT INTO grid (generation_id, code, name, area_id, households, population, synthetic,
                          geom)
        SELECT :new, pg.code, pg.name, a.id, pg.households, pg.population,
               coalesce(og.synthetic, false), pg.geom
        FROM plan_grid pg
        JOIN admin_area a ON a.generation_id = :new AND a.code = pg.parent_code
        LEFT JOIN grid og ON og.generation_id = :base AND og.code = pg.code
        WHERE pg.draft_id = :d"""), p)
    fill_grid_units(conn, gen_id)
    return gen_id


def mark_published(conn: Connection, draft_id: int, generation_id: int) -> None:
    conn.execute(text("UPDATE plan_draft SET published_generation_id = :g WHERE id = :d"),
                 {"g": generation_id, "d": draft_id})


# ---- generations: grids, areas, incidents ----

def generation_exists(conn: Connection, generation_id: int) -> dict | None:
    row = conn.execute(text("SELECT * FROM generation WHERE id = :g"),
                       {"g": generation_id}).mappings().first()
    return dict(row) if row else None


def generation_grids(conn: Connection, generation_id: int, prefix: str, scope: Scope
                     ) -> gpd.GeoDataFrame:
    """A generation's grids under a code prefix, as a plan frame."""
    clause, params = grid_clause(scope, "g")
    rows = conn.execute(text(f"""
        SELECT g.code, g.name, a.code AS parent_code, g.households, g.population,
               ST_AsBinary(g.geom) AS wkb
        FROM grid g JOIN admin_area a ON a.id = g.area_id
        WHERE g.generation_id = :g AND g.code LIKE :prefix AND {clause}
        ORDER BY g.code COLLATE "C" """),
        {"g": generation_id, "prefix": prefix + "%", **params}).mappings().all()
    return _plan_frame(rows)


def neighbour_grids(conn: Connection, generation_id: int, unit_code: str, prefix: str
                    ) -> gpd.GeoDataFrame:
    """Grids outside the unit whose box meets the unit's outline: they compete for points on
    its border under the smallest-code rule. Used for counting only, never shown."""
    rows = conn.execute(text("""
        SELECT g.code, g.name, a.code AS parent_code, g.households, g.population,
               ST_AsBinary(g.geom) AS wkb
        FROM admin_area u
        JOIN grid g ON g.generation_id = u.generation_id AND g.geom && u.geom
        JOIN admin_area a ON a.id = g.area_id
        WHERE u.generation_id = :g AND u.code = :unit AND g.code NOT LIKE :prefix"""),
        {"g": generation_id, "unit": unit_code, "prefix": prefix + "%"}).mappings().all()
    return _plan_frame(rows)


def incidents_in_unit(conn: Connection, generation_id: int, unit_code: str, scope: Scope
                      ) -> pd.DataFrame:
    """Incidents (any generation) lying in the unit's outline: id, lon, lat, grid_code (of
    record)."""
    clause, params = incident_clause(scope, "i")
    rows = conn.execute(text(f"""
        SELECT i.id, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, rg.code AS grid_code
        FROM admin_area u
        JOIN incident i ON ST_Covers(u.geom, i.geom)
        LEFT JOIN grid rg ON rg.id = i.grid_id
        WHERE u.generation_id = :g AND u.code = :unit AND {clause}
        ORDER BY i.id"""), {"g": generation_id, "unit": unit_code, **params}).mappings().all()
    return pd.DataFrame(rows, columns=["id", "lon", "lat", "grid_code"])


def generation_layers(conn: Connection, generation_id: int, scope: Scope
                      ) -> dict[str, gpd.GeoDataFrame]:
    """A generation as boundary-set layers (city, township, village, hamlet, grid) inside the
    jurisdiction (areas with their ancestors as context), in the import format."""
    aclause, aparams = area_clause(scope, "a")
    gclause, gparams = grid_clause(scope, "g")
    out = {}
    area_rows = conn.execute(text(f"""
        SELECT a.level, a.code, a.name, a.kind, p.code AS parent_code, a.synthetic,
               ST_AsBinary(a.geom) AS wkb
        FROM admin_area a LEFT JOIN admin_area p ON p.id = a.parent_id
        WHERE a.generation_id = :g AND {aclause} ORDER BY a.code COLLATE "C" """),
        {"g": generation_id, **aparams}).mappings().all()
    for level, name in LEVEL_NAMES.items():
        rows = [r for r in area_rows if r["level"] == level]
        out[name] = _frame(rows, ("code", "name", "parent_code", "kind", "synthetic"))
    grid_rows = conn.execute(text(f"""
        SELECT g.code, g.name, a.code AS parent_code, g.households, g.population, g.synthetic,
               ST_AsBinary(g.geom) AS wkb
        FROM grid g JOIN admin_area a ON a.id = g.area_id
        WHERE g.generation_id = :g AND {gclause} ORDER BY g.code COLLATE "C" """),
        {"g": generation_id, **gparams}).mappings().all()
    out["grid"] = _frame(grid_rows, (*PLAN_COLUMNS, "synthetic"))
    return out


# ---- re-assignment of past incidents under another generation ----

def incidents_to_reassign(conn: Connection, generation_id: int, after_id: int, limit: int
                          ) -> pd.DataFrame:
    """Incidents recorded under another generation and not yet assigned under this one."""
    rows = conn.execute(text("""
        SELECT i.id, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat FROM incident i
        WHERE i.generation_id <> :g AND i.id > :after
          AND NOT EXISTS (SELECT 1 FROM incident_assignment x
                          WHERE x.incident_id = i.id AND x.generation_id = :g)
        ORDER BY i.id LIMIT :limit"""),
        {"g": generation_id, "after": after_id, "limit": limit}).mappings().all()
    return pd.DataFrame(rows, columns=["id", "lon", "lat"])


def insert_assignments(conn: Connection, generation_id: int, incident_ids, grid_ids) -> int:
    """Assignments under the generation: grid (None = uncovered) and its units, from the grid
    row. Existing ones are kept (idempotent). Returns how many were inserted."""
    return conn.execute(text(f"""
        INSERT INTO incident_assignment (incident_id, generation_id, grid_id, {UNIT_LIST})
        SELECT s.incident_id, :g, g.id, {", ".join("g." + c for c in UNIT_COLUMNS)}
        FROM unnest(CAST(:ids AS bigint[]), CAST(:grids AS bigint[])) AS s(incident_id, grid_id)
        LEFT JOIN grid g ON g.id = s.grid_id AND g.generation_id = :g
        ON CONFLICT (incident_id, generation_id) DO NOTHING"""),
        {"g": generation_id, "ids": [int(i) for i in incident_ids],
         "grids": [None if g is None else int(g) for g in grid_ids]}).rowcount


def count_reassigned(conn: Connection, generation_id: int) -> dict:
    row = conn.execute(text(
        "SELECT count(*) AS assigned, count(*) FILTER (WHERE grid_id IS NULL) AS uncovered "
        "FROM incident_assignment WHERE generation_id = :g"), {"g": generation_id}).mappings().one()
    return dict(row)
