"""Boundary generations, areas and grids in PostGIS."""
from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import Connection, func, insert, select, text, update

from gis.access.scope import Scope
from gis.domain import LEVEL_NUMBER, LEVEL_OF_NUMBER, LEVELS, PREFIX_LENGTH
from gis.errors import NotFound
from gis.geo.shapes import to_multipolygons
from gis.store.schema import admin_area, generation, grid

if TYPE_CHECKING:  # types of the features that call the store (no import at run time)
    from gis.boundaries.read import BoundarySet

AREA_LEVELS = LEVELS
UNIT_COLUMNS = tuple(f"{level}_id" for level in LEVELS)  # a grid's unit at each level


def active_generations(conn: Connection) -> list[dict]:
    """The active generation of every root (the top unit of a set), in root-code order."""
    return [dict(r) for r in conn.execute(
        select(generation).where(generation.c.is_active)
        .order_by(generation.c.root_code, generation.c.id)).mappings()]


def root_names(conn: Connection) -> dict[int, str]:
    """Active generation id -> the name of its root unit."""
    return dict(conn.execute(text(
        "SELECT g.id, a.name FROM generation g JOIN admin_area a ON a.generation_id = g.id "
        "AND a.code = g.root_code WHERE g.is_active")).all())


def root_prefix(gen: dict) -> str:
    """The significant digits of a generation's root unit (a city: 6, a prefecture: 4, ...)."""
    level = LEVEL_OF_NUMBER.get(gen.get("root_level"))
    return (gen.get("root_code") or "")[:PREFIX_LENGTH.get(level, 12)]


def choose_generation(gens: list[dict], scope: Scope | None = None,
                      root: str | None = None, code: str | None = None) -> dict | None:
    """Of the active generations, the one a reader works in: the one of `root` (a root code)
    when given; the one whose root holds the unit or grid `code` when given; else the first
    whose root holds (or lies inside) one of the jurisdiction's units; else the first."""
    if root:
        return next((g for g in gens if g["root_code"] == root), None)
    if code:
        return next((g for g in gens if code.startswith(root_prefix(g))), None)
    if scope is not None and not scope.everything:
        for unit in scope.units:
            for g in gens:
                prefix = root_prefix(g)
                if unit.code.startswith(prefix) or prefix.startswith(unit.prefix):
                    return g
    return gens[0] if gens else None


def active_generation(conn: Connection, scope: Scope | None = None,
                      root: str | None = None, code: str | None = None) -> dict | None:
    """The active generation for a reader (choose_generation), or None."""
    return choose_generation(active_generations(conn), scope, root, code)


def require_active_generation(conn: Connection, scope: Scope | None = None,
                              root: str | None = None, code: str | None = None) -> dict:
    gens = active_generations(conn)
    gen = choose_generation(gens, scope, root, code)
    if gen is None:
        if (root or code) and gens:
            raise NotFound(f"no active boundary generation holds {root or code}; roots: "
                           f"{', '.join(g['root_code'] or '?' for g in gens)}")
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
    top = next(level for level in AREA_LEVELS if level in bset.layers
               and len(bset.layers[level]))
    gen_id = conn.execute(insert(generation).values(
        name=name, note=note, source=bset.source, source_sha256=bset.sha256,
        content_sha256=content_sha256, demo=demo,
        root_code=str(bset.layers[top]["code"].iat[0]), root_level=LEVEL_NUMBER[top])
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


def lock_active_generation(conn: Connection, root_code: str | None) -> int | None:
    """The id of the active generation of a root, locked against a concurrent publish or
    activation (None when the root has none, or it changed while we waited)."""
    return conn.execute(text("SELECT id FROM generation WHERE is_active AND root_code = :r "
                             "FOR UPDATE"), {"r": root_code}).scalar()


def nested_roots(a: dict, b: dict) -> bool:
    """Whether two generations' roots are the same place or one lies inside the other."""
    pa, pb = root_prefix(a), root_prefix(b)
    return pa.startswith(pb) or pb.startswith(pa)


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


def activate_generation(conn: Connection, gen_id: int) -> list[int]:
    """Make a generation the active one of its root: the active generations of the same root,
    or of a root inside it or holding it, stop being active; other roots are not touched.
    Returns the ids deactivated."""
    target = generation_by_id(conn, gen_id)
    if target is None:
        raise NotFound(f"generation {gen_id} does not exist")
    replaced = [g["id"] for g in active_generations(conn)
                if g["id"] != gen_id and nested_roots(g, target)]
    if replaced:
        conn.execute(update(generation).where(generation.c.id.in_(replaced))
                     .values(is_active=False))
    conn.execute(update(generation).where(generation.c.id == gen_id)
                 .values(is_active=True, activated_at=func.now()))
    return replaced


GRID_COLUMNS = ("id", "code", "name", "area_id", *UNIT_COLUMNS, "households", "population")


def load_grids(conn: Connection, generation_id: int) -> gpd.GeoDataFrame:
    """Grids of one generation as a GeoDataFrame (EPSG:4326)."""
    sql = text(f"SELECT {', '.join(GRID_COLUMNS)}, ST_AsBinary(geom) AS wkb FROM grid "
               "WHERE generation_id = :g ORDER BY code COLLATE \"C\"")
    df = pd.DataFrame(conn.execute(sql, {"g": generation_id}).mappings().all(),
                      columns=[*GRID_COLUMNS, "wkb"])
    geoms = shapely.from_wkb([bytes(b) for b in df.pop("wkb")]) if len(df) else []
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")


def _grid_at(conn: Connection, lon: float, lat: float, where: str, params: dict) -> dict | None:
    """The grid covering a WGS84 point among the grids `where` selects (alias g), with its
    generation and units; smallest code wins on shared borders."""
    row = conn.execute(text(f"""
        WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geom)
        SELECT g.generation_id, g.id, g.code, g.name, g.households, g.population,
               {", ".join("g." + c for c in UNIT_COLUMNS)}
        FROM grid g, pt
        WHERE {where} AND ST_Covers(g.geom, pt.geom)
        ORDER BY g.code COLLATE "C" LIMIT 1"""),
        {"lon": lon, "lat": lat, **params}).mappings().first()
    return dict(row) if row else None


def locate(conn: Connection, lon: float, lat: float, generation_id: int) -> dict | None:
    """The grid of one generation covering a WGS84 point, with its units."""
    grid = _grid_at(conn, lon, lat, "g.generation_id = :gen", {"gen": generation_id})
    if grid:
        grid.pop("generation_id")
    return grid


def locate_active(conn: Connection, lon: float, lat: float) -> tuple[int | None, dict | None]:
    """(generation id, grid) of a WGS84 point among the active generations of every root: the
    grid covering it (smallest code on shared borders, across roots too), else no grid under
    the generation whose root outline covers the point, else (None, None)."""
    pt = {"lon": lon, "lat": lat}
    grid = _grid_at(conn, lon, lat,
                    "g.generation_id IN (SELECT id FROM generation WHERE is_active)", {})
    if grid:
        return grid.pop("generation_id"), grid
    gen = conn.execute(text("""
        SELECT a.generation_id FROM admin_area a
        JOIN generation ge ON ge.id = a.generation_id AND ge.is_active
        WHERE a.parent_id IS NULL
          AND ST_Covers(a.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
        ORDER BY a.code LIMIT 1"""), pt).scalar()
    return gen, None


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
