"""Boundary generations, areas and grids in PostGIS."""
from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import Connection, func, insert, select, text, update

from gis.domain import LEVEL_NUMBER, LEVELS
from gis.errors import NotFound
from gis.geo.shapes import to_multipolygons
from gis.store.schema import admin_area, generation, grid

if TYPE_CHECKING:  # types of the features that call the store (no import at run time)
    from gis.boundaries.read import BoundarySet

AREA_LEVELS = LEVELS
UNIT_COLUMNS = tuple(f"{level}_id" for level in LEVELS)  # a grid's unit at each level


def active_generation(conn: Connection) -> dict | None:
    row = conn.execute(select(generation).where(generation.c.is_active)).mappings().first()
    return dict(row) if row else None


def require_active_generation(conn: Connection) -> dict:
    gen = active_generation(conn)
    if gen is None:
        raise NotFound("no boundary generation is active; import one with "
                       "`gridgis boundaries import PATH --commit`")
    return gen


def generation_by_id(conn: Connection, generation_id: int) -> dict | None:
    row = conn.execute(select(generation).where(generation.c.id == generation_id)
                       ).mappings().first()
    return dict(row) if row else None


def generation_by_identity(conn: Connection, content_sha256: str,
                           file_sha256: str | None = None) -> dict | None:
    """The newest generation holding this content (or, for generations imported before content
    digests, made from this very file)."""
    cond = generation.c.content_sha256 == content_sha256
    if file_sha256:
        cond = cond | ((generation.c.content_sha256.is_(None))
                       & (generation.c.source_sha256 == file_sha256))
    row = conn.execute(select(generation).where(cond).order_by(generation.c.id.desc())
                       ).mappings().first()
    return dict(row) if row else None


def list_generations(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(select(generation).order_by(generation.c.id)).mappings()]


def write_boundary_set(conn: Connection, bset: BoundarySet, name: str, note: str | None = None,
                       activate: bool = True, progress=None, content_sha256: str | None = None,
                       demo: bool = False) -> int:
    """Insert a validated set as a new generation (caller owns the transaction)."""
    gen_id = conn.execute(insert(generation).values(
        name=name, note=note, source=bset.source, source_sha256=bset.sha256,
        content_sha256=content_sha256, demo=demo)
        .returning(generation.c.id)).scalar_one()
    ids: dict[str, int] = {}
    kind_of: dict[str, str] = {}
    parent_of: dict[str, str] = {}
    for level in AREA_LEVELS:
        frame = bset.layers.get(level)
        if frame is None or not len(frame):
            continue
        rows = [{
            "generation_id": gen_id, "level": LEVEL_NUMBER[level], "kind": str(kind),
            "code": str(code), "name": str(nm),
            "parent_id": ids.get(str(parent)) if not pd.isna(parent) else None,
            "synthetic": bool(syn), "geom": from_shape(geom, srid=4326),
        } for code, nm, kind, parent, syn, geom in zip(
            frame["code"], frame["name"], frame["kind"], frame["parent_code"],
            frame["synthetic"], to_multipolygons(frame.geometry.values))]
        result = conn.execute(insert(admin_area).returning(admin_area.c.id, admin_area.c.code,
                                                           sort_by_parameter_order=True), rows)
        for rid, code in result:
            ids[code] = rid
            kind_of[code] = level
        parent_of.update(zip(frame["code"], frame["parent_code"]))
        if progress:
            progress(len(rows))
    frame = bset.layers["grid"]
    rows = []
    for code, nm, parent, hh, pop, syn, geom in zip(
            frame["code"], frame["name"], frame["parent_code"], frame["households"],
            frame["population"], frame["synthetic"], to_multipolygons(frame.geometry.values)):
        chain = dict.fromkeys(LEVELS)
        unit = parent
        while unit is not None and not pd.isna(unit) and unit in kind_of:
            chain[kind_of[unit]] = ids[unit]
            unit = parent_of.get(unit)
        rows.append({"generation_id": gen_id, "code": code, "name": nm, "area_id": ids[parent],
                     **{f"{level}_id": chain[level] for level in LEVELS},
                     "households": int(hh), "population": int(pop), "synthetic": bool(syn),
                     "geom": from_shape(geom, srid=4326)})
    conn.execute(insert(grid), rows)
    if progress:
        progress(len(rows))
    if activate:
        activate_generation(conn, gen_id)
    return gen_id


def lock_active_generation(conn: Connection) -> int | None:
    """The active generation's id, locked against a concurrent publish or activation (None when
    none is active, or it changed while we waited)."""
    return conn.execute(text("SELECT id FROM generation WHERE is_active FOR UPDATE")).scalar()


def fill_grid_units(conn: Connection, generation_id: int) -> None:
    """Set each grid's unit at every level (province_id ... hamlet_id) from its leaf unit's
    chain of parents (NULL where the chain skips a level)."""
    found = ", ".join(f"max(u.id) FILTER (WHERE u.level = {LEVEL_NUMBER[lv]}) AS {lv}_id"
                      for lv in LEVELS)
    sets = ", ".join(f"{c} = c.{c}" for c in UNIT_COLUMNS)
    conn.execute(text(f"""
        WITH RECURSIVE up(grid_id, id, level, parent_id) AS (
            SELECT g.id, a.id, a.level, a.parent_id FROM grid g
            JOIN admin_area a ON a.id = g.area_id WHERE g.generation_id = :g
            UNION ALL
            SELECT up.grid_id, p.id, p.level, p.parent_id FROM up
            JOIN admin_area p ON p.id = up.parent_id),
        c AS (SELECT grid_id, {found} FROM up u GROUP BY grid_id)
        UPDATE grid g SET {sets} FROM c WHERE g.id = c.grid_id"""), {"g": generation_id})


def activate_generation(conn: Connection, gen_id: int) -> None:
    conn.execute(update(generation).where(generation.c.is_active).values(is_active=False))
    done = conn.execute(update(generation).where(generation.c.id == gen_id)
                        .values(is_active=True, activated_at=func.now()))
    if done.rowcount != 1:
        raise NotFound(f"generation {gen_id} does not exist")


GRID_COLUMNS = ("id", "code", "name", "area_id", *UNIT_COLUMNS, "households", "population")


def load_grids(conn: Connection, generation_id: int) -> gpd.GeoDataFrame:
    """Grids of one generation as a GeoDataFrame (EPSG:4326)."""
    sql = text(f"SELECT {', '.join(GRID_COLUMNS)}, ST_AsBinary(geom) AS wkb FROM grid "
               "WHERE generation_id = :g ORDER BY code COLLATE \"C\"")
    df = pd.DataFrame(conn.execute(sql, {"g": generation_id}).mappings().all(),
                      columns=[*GRID_COLUMNS, "wkb"])
    geoms = shapely.from_wkb([bytes(b) for b in df.pop("wkb")]) if len(df) else []
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")


def locate(conn: Connection, lon: float, lat: float, generation_id: int) -> dict | None:
    """The grid covering a WGS84 point, with its units; smallest code wins on shared borders."""
    row = conn.execute(text(f"""
        WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geom)
        SELECT g.id, g.code, g.name, g.households, g.population,
               {", ".join("g." + c for c in UNIT_COLUMNS)}
        FROM grid g, pt
        WHERE g.generation_id = :gen AND ST_Covers(g.geom, pt.geom)
        ORDER BY g.code COLLATE "C" LIMIT 1"""),
        {"lon": lon, "lat": lat, "gen": generation_id}).mappings().first()
    return dict(row) if row else None


def units_by_id(conn: Connection, ids) -> dict[int, dict]:
    ids = [int(i) for i in ids if i is not None]
    if not ids:
        return {}
    rows = conn.execute(select(admin_area.c.id, admin_area.c.code, admin_area.c.name,
                               admin_area.c.level, admin_area.c.kind)
                        .where(admin_area.c.id.in_(ids))).mappings()
    return {r["id"]: dict(r) for r in rows}


def area_geometries(conn: Connection, generation_id: int, codes: list[str]):
    """The union of the areas with these codes in a generation (a shapely geometry), or None."""
    if not codes:
        return None
    wkb = conn.execute(text("SELECT ST_AsBinary(ST_Union(geom)) FROM admin_area "
                            "WHERE generation_id = :g AND code = ANY(:codes)"),
                       {"g": generation_id, "codes": codes}).scalar()
    return shapely.from_wkb(bytes(wkb)) if wkb is not None else None


def city_outline(conn: Connection, generation_id: int):
    """The outline of a generation's set: the union of its top units (None when it has none)."""
    wkb = conn.execute(text("SELECT ST_AsBinary(ST_Union(geom)) FROM admin_area "
                            "WHERE generation_id = :g AND parent_id IS NULL"),
                       {"g": generation_id}).scalar()
    return shapely.from_wkb(bytes(wkb)) if wkb is not None else None


def grids_union(conn: Connection, generation_id: int, codes: list[str]):
    """The union of a generation's grids with the given codes (None when none exists)."""
    wkb = conn.execute(text("SELECT ST_AsBinary(ST_Union(geom)) FROM grid "
                            "WHERE generation_id = :g AND code = ANY(:c)"),
                       {"g": generation_id, "c": codes}).scalar()
    return shapely.from_wkb(bytes(wkb)) if wkb is not None else None


def city_code(conn: Connection, generation_id: int) -> str | None:
    """The code of a generation's top unit (its city, prefecture or province: the root of the
    set; the lowest code, should there be several)."""
    return conn.execute(text("SELECT min(code) FROM admin_area WHERE generation_id = :g "
                             "AND parent_id IS NULL"), {"g": generation_id}).scalar()
