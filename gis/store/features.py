"""Feature queries behind the OGC API - Features endpoints and the maps."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from gis.access.scope import Scope
from gis.domain import LEVEL_LABELS, LEVEL_NUMBER, LEVEL_PLURAL, LEVELS
from gis.store.scope import area_clause, grid_clause, incident_clause


@dataclass(frozen=True)
class Collection:
    id: str
    title_zh: str
    title_en: str
    table: str
    level: int | None = None  # admin_area level

    @property
    def is_incidents(self) -> bool:
        return self.table == "incident"


COLLECTIONS = {
    **{LEVEL_PLURAL[lv]: Collection(LEVEL_PLURAL[lv], *LEVEL_LABELS[lv], "admin_area",
                                    LEVEL_NUMBER[lv]) for lv in LEVELS},
    "grids": Collection("grids", *LEVEL_LABELS["grid"], "grid"),
    "incidents": Collection("incidents", "事件", "Incidents", "incident"),
}

AREA_PROPS = """a.code, a.name, a.kind, a.level, a.synthetic, p.code AS parent_code,
                round((ST_Area(a.geom::geography) / 1e6)::numeric, 3)::float AS area_km2"""
GRID_PROPS = """a.code, a.name, a.households, a.population, a.synthetic,
                u.code AS parent_code, u.name AS parent_name,
                round((ST_Area(a.geom::geography) / 1e6)::numeric, 3)::float AS area_km2"""
INCIDENT_PROPS = """a.source, a.external_id, a.category, a.severity, a.status,
                    a.occurred_at, a.reported_at, a.description, a.generation_id,
                    g.code AS grid_code, (a.grid_id IS NOT NULL) AS covered"""


@dataclass
class ItemQuery:
    generation_id: int | None
    scope: Scope
    limit: int = 100
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    start: datetime | None = None
    end: datetime | None = None
    category: str | None = None
    sources: tuple[str, ...] = ()
    simplify: float | None = None  # tolerance in degrees for map display


def _select(coll: Collection, q: ItemQuery) -> tuple[str, str, dict]:
    params: dict = {}
    where = []
    geom = "a.geom"
    if q.simplify:
        geom = "ST_SimplifyPreserveTopology(a.geom, :simplify)"
        params["simplify"] = q.simplify
    if coll.is_incidents:
        base = (f"SELECT a.id, {INCIDENT_PROPS}, ST_AsGeoJSON({geom}, 7) AS geometry "
                "FROM incident a LEFT JOIN grid g ON g.id = a.grid_id")
        if q.start:
            where.append("a.occurred_at >= :start")
            params["start"] = q.start
        if q.end:
            where.append("a.occurred_at <= :end")
            params["end"] = q.end
        if q.category:
            where.append("a.category = :category")
            params["category"] = q.category
        if q.sources:
            where.append("a.source = ANY(:sources)")
            params["sources"] = list(q.sources)
        order = "a.id"
        clause, scope_params = incident_clause(q.scope, "a")
    elif coll.table == "grid":
        base = (f"SELECT a.id, {GRID_PROPS}, ST_AsGeoJSON({geom}, 7) AS geometry "
                "FROM grid a JOIN admin_area u ON u.id = a.area_id")
        where.append("a.generation_id = :gen")
        order = 'a.code COLLATE "C"'
        clause, scope_params = grid_clause(q.scope, "a")
    else:
        base = (f"SELECT a.id, {AREA_PROPS}, ST_AsGeoJSON({geom}, 7) AS geometry "
                "FROM admin_area a LEFT JOIN admin_area p ON p.id = a.parent_id")
        where += ["a.generation_id = :gen", "a.level = :level"]
        params["level"] = coll.level
        order = 'a.code COLLATE "C"'
        clause, scope_params = area_clause(q.scope, "a")
    where.append(clause)
    params.update(scope_params)
    if not coll.is_incidents:
        params["gen"] = q.generation_id
    if q.bbox:
        where.append("a.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)")
        params.update(zip(("minx", "miny", "maxx", "maxy"), q.bbox))
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    return base + clause, order, params


def items(conn: Connection, coll: Collection, q: ItemQuery) -> tuple[list[dict], int]:
    """Features (GeoJSON dicts) of one page and the number matched."""
    sql, order, params = _select(coll, q)
    matched = conn.execute(text(f"SELECT count(*) FROM ({sql}) s"), params).scalar_one()
    rows = conn.execute(text(f"{sql} ORDER BY {order} LIMIT :limit OFFSET :offset"),
                        {**params, "limit": q.limit, "offset": q.offset}).mappings().all()
    return [_feature(r) for r in rows], matched


def item(conn: Connection, coll: Collection, fid: int, generation_id: int | None,
         scope: Scope) -> dict | None:
    """One feature if it exists inside the scope; None otherwise (either case)."""
    sql, _, params = _select(coll, ItemQuery(generation_id, scope))
    row = conn.execute(text(f"{sql} AND a.id = :fid"), {**params, "fid": fid}).mappings().first()
    return _feature(row) if row else None


def _feature(row) -> dict:
    props = {}
    for k, v in row.items():
        if k in ("id", "geometry"):
            continue
        props[k] = v.isoformat() if isinstance(v, datetime) else v
    return {"type": "Feature", "id": row["id"], "properties": props,
            "geometry": json.loads(row["geometry"])}


_STATIC: OrderedDict = OrderedDict()   # answers about a generation's shapes: never change
_STATIC_KEEP = 512
_static_lock = threading.Lock()


def _per_generation(conn: Connection, generation_id: int, what: tuple, compute):
    """compute(), kept in process for this generation: its shapes and households are never
    changed once written. The key holds the database and the generation's creation time, so a
    database made again under the same name does not answer from the old one."""
    created = conn.execute(text("SELECT created_at FROM generation WHERE id = :g"),
                           {"g": generation_id}).scalar()
    key = (conn.engine.url.render_as_string(hide_password=True), generation_id, str(created),
           *what)
    with _static_lock:
        if key in _STATIC:
            _STATIC.move_to_end(key)
            return _STATIC[key]
    out = compute()
    with _static_lock:
        _STATIC[key] = out
        while len(_STATIC) > _STATIC_KEEP:
            _STATIC.popitem(last=False)
    return out


def extent(conn: Connection, coll: Collection, generation_id: int | None,
           scope: Scope) -> list[float] | None:
    """[min lon, min lat, max lon, max lat] of the collection's items in the scope, or None.
    Boundary collections of a named generation are kept in process (reading every grid's box
    takes most of a second at 100,000 grids)."""
    def compute():
        sql, _, params = _select(coll, ItemQuery(generation_id, scope))
        box = conn.execute(text(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                                f"(SELECT ST_Extent(a.geom) AS e FROM ({sql}) q "
                                f"JOIN {coll.table} a USING (id)) s"), params).first()
        return [float(v) for v in box] if box and box[0] is not None else None
    if generation_id is not None and coll.table in ("grid", "admin_area"):
        out = _per_generation(conn, generation_id, ("extent", coll.id, scope.describe()),
                              compute)
        return list(out) if out is not None else None
    return compute()


def summary(conn: Connection, generation_id: int | None, scope: Scope) -> dict:
    """Counts for the start page, inside the scope."""
    grids, gp = grid_clause(scope, "g")
    areas, ap = area_clause(scope, "a")
    incidents, ip = incident_clause(scope, "i")
    return dict(conn.execute(text(f"""
        SELECT (SELECT count(*) FROM grid g WHERE g.generation_id = :gen AND {grids}) AS grids,
               (SELECT count(*) FILTER (WHERE a.level = {LEVEL_NUMBER["township"]})
                 FROM admin_area a WHERE a.generation_id = :gen AND {areas}) AS townships,
               (SELECT count(*) FILTER (WHERE a.level = {LEVEL_NUMBER["village"]})
                 FROM admin_area a WHERE a.generation_id = :gen AND {areas}) AS villages,
               (SELECT count(*) FROM incident i WHERE {incidents}) AS incidents,
               (SELECT count(*) FROM incident i WHERE i.grid_id IS NULL AND {incidents})
                   AS uncovered"""), {"gen": generation_id, **gp, **ap, **ip}).mappings().one())


def household_breaks(conn: Connection, generation_id: int, scope: Scope, level: str = "grid",
                     k: int = 5) -> list[float]:
    """Upper bounds of k quantile classes of households per grid (or per village) inside the
    jurisdiction, for a legend; [] when there is nothing. Kept in process per generation."""
    def compute():
        g_sql, params = grid_clause(scope, "g")
        fractions = [i / k for i in range(1, k)]
        per = "g.households" if level == "grid" else "sum(g.households)"
        group = "" if level == "grid" else "GROUP BY g.village_id"
        row = conn.execute(text(f"""
            SELECT percentile_disc(CAST(:f AS float8[])) WITHIN GROUP (ORDER BY h), max(h)
            FROM (SELECT {per} AS h FROM grid g
                  WHERE g.generation_id = :gen AND {g_sql} {group}) s
            """), {**params, "gen": generation_id, "f": fractions}).one()
        if row[1] is None:
            return ()
        return tuple(sorted(set(float(v) for v in row[0]))) + (float(row[1]),)
    return list(_per_generation(conn, generation_id,
                                ("household_breaks", level, k, scope.describe()), compute))


def grid_totals(conn: Connection, generation_id: int, scope: Scope) -> dict:
    """Grids, households and incidents outside every grid inside the jurisdiction."""
    grids, gp = grid_clause(scope, "g")
    incidents, ip = incident_clause(scope, "i")
    return dict(conn.execute(text(f"""
        SELECT (SELECT count(*) FROM grid g WHERE g.generation_id = :gen AND {grids}) AS grids,
               (SELECT coalesce(sum(g.households), 0) FROM grid g
                 WHERE g.generation_id = :gen AND {grids}) AS households,
               (SELECT count(*) FROM incident i WHERE i.grid_id IS NULL AND {incidents})
                   AS uncovered"""), {"gen": generation_id, **gp, **ip}).mappings().one())


def levels_present(conn: Connection, generation_id: int) -> set[int]:
    """The admin_area levels a generation has."""
    return set(conn.execute(text("SELECT DISTINCT level FROM admin_area WHERE generation_id = :g"),
                            {"g": generation_id}).scalars())


def label_points(conn: Connection, generation_id: int, scope: Scope, level: int,
                 min_share: float = 1 / 60) -> list[dict]:
    """A point inside each unit of a level that is large enough to hold its name at the
    jurisdiction's zoom (area at least min_share of the level's total): code, name, lon, lat."""
    areas, ap = area_clause(scope, "a")
    rows = conn.execute(text(f"""
        WITH u AS (SELECT a.code, a.name, a.geom, ST_Area(a.geom) AS area FROM admin_area a
                   WHERE a.generation_id = :gen AND a.level = :level AND {areas})
        SELECT code, name, ST_X(p) AS lon, ST_Y(p) AS lat FROM (
            SELECT code, name, ST_PointOnSurface(geom) AS p, area,
                   sum(area) OVER () AS total FROM u) s
        WHERE area >= total * :share ORDER BY code"""),
        {**ap, "gen": generation_id, "level": level, "share": min_share}).mappings()
    return [dict(r) for r in rows]
