"""Map tiles in Mapbox Vector Tile format, built in PostGIS (ST_AsMVT over ST_AsMVTGeom in
ST_TileEnvelope), one statement per tile, the jurisdiction applied inside the query.

Geometries are stored in EPSG:4326 with GiST indexes: a tile selects with `geom &&` the tile's
envelope (plus its buffer) transformed to 4326, so the index is used, then transforms what it
found to Web Mercator, simplifies it by half a pixel of the zoom and clips it to the tile.
Feature ids are the database ids; they are also a property (`gid`) because Leaflet.VectorGrid
hands only properties to its event handlers."""
from __future__ import annotations

from sqlalchemy import Connection, text

from gis.access.scope import Scope
from gis.domain import LEVEL_NUMBER
from gis.store.scope import area_clause, grid_clause, incident_clause

EXTENT = 4096
BUFFER = 64
WORLD_M = 40075016.685578488

_BOUNDS = f"""
    b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env,
                 ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {BUFFER / EXTENT}), 4326) AS q)
"""


def tolerance_m(z: int) -> float:
    """Half a pixel of a 256-pixel tile at zoom z, in Web Mercator metres."""
    return WORLD_M / 2 ** z / 512


def _geom(column: str) -> str:
    return (f"ST_AsMVTGeom(ST_Simplify(ST_Transform({column}, 3857), :tol, true), b.env, "
            f"{EXTENT}, {BUFFER}, true)")


def _tile(conn: Connection, sql: str, params: dict) -> bytes:
    row = conn.execute(text(sql), params).scalar()
    return bytes(row) if row else b""


def grids(conn: Connection, generation_id: int, scope: Scope, z: int, x: int, y: int,
          result_key: str | None = None) -> bytes:
    """The grids in a tile: code, name, parent (name), households, population; with a result
    key, the per-grid values of that stored analysis result (analysis_grid_value.props)."""
    clause, params = grid_clause(scope, "g")
    values = ("LEFT JOIN analysis_grid_value v ON v.result_key = :key AND v.grid_id = g.id"
              if result_key else "")
    props = ", v.props AS result" if result_key else ""
    sql = f"""WITH {_BOUNDS}
        SELECT ST_AsMVT(t, 'grids', {EXTENT}, 'geom', 'fid') FROM (
            SELECT g.id AS fid, g.id AS gid, g.code, g.name, a.name AS parent,
                   g.households, g.population{props}, {_geom('g.geom')} AS geom
            FROM grid g JOIN admin_area a ON a.id = g.area_id CROSS JOIN b {values}
            WHERE g.generation_id = :gen AND g.geom && b.q AND {clause}
              {'AND v.grid_id IS NOT NULL' if result_key else ''}
        ) t WHERE t.geom IS NOT NULL"""
    return _tile(conn, sql, {**params, "gen": generation_id, "z": z, "x": x, "y": y,
                             "tol": tolerance_m(z), "key": result_key})


def areas(conn: Connection, generation_id: int, scope: Scope, level: str, z: int, x: int,
          y: int, result_key: str | None = None) -> bytes:
    """The units of one level in a tile (the jurisdiction's, and its ancestors as context):
    code, name, kind, households and population of their grids in the jurisdiction; with a
    result key, the per-unit values of that result (stored under the unit's id)."""
    clause, params = area_clause(scope, "a")
    g_clause, g_params = grid_clause(scope, "gh")
    col = f"{level}_id"
    values = ("LEFT JOIN analysis_grid_value v ON v.result_key = :key AND v.grid_id = a.id"
              if result_key else "")
    props = ", v.props AS result" if result_key else ""
    sql = f"""WITH {_BOUNDS},
        hh AS (SELECT gh.{col} AS unit_id, sum(gh.households) AS households,
                      sum(gh.population) AS population
               FROM grid gh WHERE gh.generation_id = :gen AND {g_clause} GROUP BY gh.{col})
        SELECT ST_AsMVT(t, :layer, {EXTENT}, 'geom', 'fid') FROM (
            SELECT a.id AS fid, a.id AS gid, a.code, a.name, a.kind,
                   coalesce(hh.households, 0) AS households,
                   coalesce(hh.population, 0) AS population{props},
                   {_geom('a.geom')} AS geom
            FROM admin_area a CROSS JOIN b LEFT JOIN hh ON hh.unit_id = a.id {values}
            WHERE a.generation_id = :gen AND a.level = :level AND a.geom && b.q AND {clause}
        ) t WHERE t.geom IS NOT NULL"""
    return _tile(conn, sql, {**params, **g_params, "gen": generation_id,
                             "level": LEVEL_NUMBER[level], "layer": f"{level}s", "z": z,
                             "x": x, "y": y, "tol": tolerance_m(z), "key": result_key})


def incidents(conn: Connection, scope: Scope, z: int, x: int, y: int, *, where: str = "TRUE",
              params: dict | None = None, points_from_zoom: int = 14,
              uncovered: bool = False) -> bytes:
    """Incidents in a tile: from `points_from_zoom` on one point each (gid, category, status,
    severity, occurred day, grid code); below it binned on a 64 x 64 lattice of the tile, one
    point per cell with `count`. `where` filters on alias i (gis.store.aggregates
    .filter_clause); uncovered: only incidents outside every grid, with those the jurisdiction
    reported from outside it (the blind spots)."""
    clause, s_params = incident_clause(scope, "i", reported=uncovered)
    extra = "AND i.grid_id IS NULL" if uncovered else ""
    base = (f"FROM incident i CROSS JOIN b WHERE i.geom && b.q AND {clause} AND {where} "
            f"{extra}")
    args = {**s_params, **(params or {}), "z": z, "x": x, "y": y}
    if z >= points_from_zoom:
        sql = f"""WITH {_BOUNDS}
            SELECT ST_AsMVT(t, 'incidents', {EXTENT}, 'geom', 'fid') FROM (
                SELECT i.id AS fid, i.id AS gid, i.external_id, i.category, i.status,
                       i.severity, to_char(i.occurred_at AT TIME ZONE 'Asia/Shanghai',
                                           'YYYY-MM-DD') AS day,
                       (SELECT code FROM grid WHERE id = i.grid_id) AS grid,
                       ST_AsMVTGeom(ST_Transform(i.geom, 3857), b.env, {EXTENT}, {BUFFER}, true)
                           AS geom
                {base}) t WHERE t.geom IS NOT NULL"""
    else:
        sql, cell = _binned("incidents", "i", base, z)
        args.update(cell)
    return _tile(conn, sql, args)


def grid_density(conn: Connection, generation_id: int) -> tuple[int, float]:
    """How many grids a generation has and the area of their extent in square degrees."""
    row = conn.execute(text(
        "SELECT count(*), coalesce(ST_Area(ST_Extent(geom)::geometry), 0) FROM grid "
        "WHERE generation_id = :g"), {"g": generation_id}).one()
    return int(row[0]), float(row[1])


# ---- coverage layers: cameras, their fields of view and posts, and the shapes a coverage
# ---- result stored (streets in and out of view, response areas, blind spots)

CAMERA_REACH_DEG = 0.08   # 5 km (the longest camera range) in longitude degrees at 55° N
ARC_STEP_DEG = 5.0        # a sector's arc has a vertex at least every 5 degrees


def _own_land_units(scope: Scope) -> tuple[list[str], list[str]]:
    """The codes of the jurisdiction's own area units and grids (no ancestors)."""
    return ([u.code for u in scope.units if u.level != "grid"],
            [u.code for u in scope.units if u.level == "grid"])


def point_clause(scope: Scope, alias: str) -> tuple[str, dict]:
    """Points (cameras, posts) on the jurisdiction's own land: covered by one of its area units
    or grids in generation :gen (the rule of incidents outside every grid, gis.store.scope)."""
    if scope.everything:
        return "TRUE", {}
    areas, grids = _own_land_units(scope)
    p = f"{alias}_land"
    parts, params = [], {}
    if areas:
        parts.append(f"EXISTS (SELECT 1 FROM admin_area su WHERE su.generation_id = :gen "
                     f"AND su.code = ANY(:{p}_areas) AND ST_Covers(su.geom, {alias}.geom))")
        params[f"{p}_areas"] = areas
    if grids:
        parts.append(f"EXISTS (SELECT 1 FROM grid sg WHERE sg.generation_id = :gen "
                     f"AND sg.code = ANY(:{p}_grids) AND ST_Covers(sg.geom, {alias}.geom))")
        params[f"{p}_grids"] = grids
    return ("(" + " OR ".join(parts) + ")", params) if parts else ("FALSE", {})


# EPSG:3857 from lon/lat as arithmetic: the spherical Mercator PROJ computes, without a call to
# ST_Transform per point (binning a million points at zoom 8 takes about half the time)
MERC_X = "(6378137.0 * radians({lon}))"
MERC_Y = "(6378137.0 * ln(tan(pi() / 4 + radians({lat}) / 2)))"


def _binned(layer: str, alias: str, base: str, z: int) -> tuple[str, dict]:
    """Points of `base` (FROM ... CROSS JOIN b WHERE ..., over `alias`) counted on a 64 x 64
    lattice of the tile, one point per cell with `count`. Cells are taken by floor and the tile
    has no buffer, so at each zoom every point is in exactly one tile's bins: the counts add up
    across tiles."""
    sql = f"""WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env,
                                ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326) AS q),
        pts AS (SELECT {MERC_X.format(lon=f"ST_X({alias}.geom)")} AS mx,
                       {MERC_Y.format(lat=f"ST_Y({alias}.geom)")} AS my {base}),
        cells AS (SELECT floor((mx - ST_XMin(b.env)) / :cell) AS cx,
                         floor((my - ST_YMin(b.env)) / :cell) AS cy, count(*) AS count
                  FROM pts CROSS JOIN b GROUP BY 1, 2)
        SELECT ST_AsMVT(t, '{layer}', {EXTENT}, 'geom') FROM (
            SELECT c.count, ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(
                       ST_XMin(b.env) + (c.cx + 0.5) * :cell,
                       ST_YMin(b.env) + (c.cy + 0.5) * :cell), 3857),
                   b.env, {EXTENT}, 0, true) AS geom
            FROM cells c CROSS JOIN b
            WHERE c.cx BETWEEN 0 AND 63 AND c.cy BETWEEN 0 AND 63) t
        WHERE t.geom IS NOT NULL"""
    return sql, {"cell": WORLD_M / 2 ** z / 64}


def cameras(conn: Connection, generation_id: int, scope: Scope, z: int, x: int, y: int,
            points_from_zoom: int = 14) -> bytes:
    """The cameras on the jurisdiction's land in a tile: from `points_from_zoom` one point each
    (gid, external_id, name, range_m, direction_deg, fov_deg); below it binned with `count`."""
    clause, params = point_clause(scope, "c")
    base = f"FROM camera c CROSS JOIN b WHERE c.geom && b.q AND {clause}"
    args = {**params, "gen": generation_id, "z": z, "x": x, "y": y}
    if z < points_from_zoom:
        sql, extra = _binned("cameras", "c", base, z)
        return _tile(conn, sql, {**args, **extra})
    sql = f"""WITH {_BOUNDS}
        SELECT ST_AsMVT(t, 'cameras', {EXTENT}, 'geom', 'fid') FROM (
            SELECT c.id AS fid, c.id AS gid, c.external_id, c.name, c.range_m, c.direction_deg,
                   c.fov_deg,
                   ST_AsMVTGeom(ST_Transform(c.geom, 3857), b.env, {EXTENT}, {BUFFER}, true)
                       AS geom
            {base}) t WHERE t.geom IS NOT NULL"""
    return _tile(conn, sql, args)


def _views_cte(where: str) -> str:
    """`views`: the field of view of each camera selected by `where` (alias c, with b) in Web
    Mercator: a disc of its range for all-round cameras, else a sector from direction - fov/2
    to direction + fov/2 (compass bearings), as gis.coverage.cameras.footprints draws them in
    metres; Mercator stretches lengths by 1 / cos(latitude), so the range is too."""
    return f"""cams AS (
            SELECT c.id, c.external_id, c.name, c.range_m, c.direction_deg AS dir,
                   c.fov_deg AS fov, ST_Transform(c.geom, 3857) AS p,
                   c.range_m / cos(radians(ST_Y(c.geom))) AS r,
                   greatest(ceil(c.fov_deg / {ARC_STEP_DEG})::int, 1) AS n,
                   ST_Expand(c.geom, c.range_m / 111320.0 / cos(radians(ST_Y(c.geom))),
                             c.range_m / 111320.0) AS box
            FROM camera c CROSS JOIN b WHERE c.geom && ST_Expand(b.q, {CAMERA_REACH_DEG})
              AND {where}),
        views AS MATERIALIZED (
            SELECT id, external_id, name, range_m, dir, fov, box,
                   CASE WHEN dir IS NULL OR fov IS NULL OR fov >= 360
                        THEN ST_Buffer(p, r, 8)
                        ELSE (SELECT ST_MakePolygon(ST_MakeLine(pt ORDER BY k)) FROM (
                                  SELECT -1 AS k, p AS pt
                                  UNION ALL
                                  SELECT k, ST_SetSRID(ST_MakePoint(
                                      ST_X(p) + r * sin(radians(dir + fov * (k::float8 / n - 0.5))),
                                      ST_Y(p) + r * cos(radians(dir + fov * (k::float8 / n - 0.5)))),
                                      3857)
                                  FROM generate_series(0, n) k
                                  UNION ALL
                                  SELECT n + 1, p) s)
                   END AS geom
            FROM cams CROSS JOIN b WHERE box && b.q)"""


def camera_views(conn: Connection, generation_id: int, scope: Scope, z: int, x: int,
                 y: int) -> bytes:
    """The fields of view of the cameras on the jurisdiction's land that reach into a tile:
    gid, external_id, name, range_m, direction_deg, fov_deg."""
    clause, params = point_clause(scope, "c")
    sql = f"""WITH {_BOUNDS}, {_views_cte(clause)}
        SELECT ST_AsMVT(t, 'camera_views', {EXTENT}, 'geom', 'fid') FROM (
            SELECT v.id AS fid, v.id AS gid, v.external_id, v.name, v.range_m,
                   v.dir AS direction_deg, v.fov AS fov_deg,
                   ST_AsMVTGeom(ST_Simplify(v.geom, :tol, true), b.env, {EXTENT}, {BUFFER},
                                true) AS geom
            FROM views v CROSS JOIN b WHERE v.geom && b.env) t WHERE t.geom IS NOT NULL"""
    return _tile(conn, sql, {**params, "gen": generation_id, "z": z, "x": x, "y": y,
                             "tol": tolerance_m(z)})


def posts(conn: Connection, generation_id: int, scope: Scope, z: int, x: int, y: int,
          kinds: dict[str, dict], methods: dict[str, str]) -> bytes:
    """The police posts and patrol stations on the jurisdiction's land in a tile: gid,
    external_id, name, kind, and from `kinds` (by kind: {label, colour}) and `methods` (by
    method of its response areas, "" for none yet: a label) kind_label, colour, method."""
    import json
    clause, params = point_clause(scope, "p")
    sql = f"""WITH {_BOUNDS}
        SELECT ST_AsMVT(t, 'posts', {EXTENT}, 'geom', 'fid') FROM (
            SELECT p.id AS fid, p.id AS gid, p.external_id, p.name, p.kind,
                   CAST(:kinds AS jsonb) -> p.kind ->> 'label' AS kind_label,
                   CAST(:kinds AS jsonb) -> p.kind ->> 'colour' AS colour,
                   CAST(:methods AS jsonb) ->> coalesce(
                       (SELECT min(a.method) FROM response_area a WHERE a.post_id = p.id), '')
                       AS method,
                   ST_AsMVTGeom(ST_Transform(p.geom, 3857), b.env, {EXTENT}, {BUFFER}, true)
                       AS geom
            FROM response_post p CROSS JOIN b WHERE p.geom && b.q AND {clause}
        ) t WHERE t.geom IS NOT NULL"""
    return _tile(conn, sql, {**params, "gen": generation_id, "z": z, "x": x, "y": y,
                             "kinds": json.dumps(kinds, ensure_ascii=False),
                             "methods": json.dumps(methods, ensure_ascii=False)})


# Stored shapes are cut along the tiles of SHAPE_CELL_ZOOM ("cells") and kept one piece per
# (kind, cell, unit) under a negative id that says which: -((kind * 2^18 + cell) * 1024 + seq),
# cell = x * 512 + y of the zoom-9 tile, seq 1..1023. A tile then reads only the pieces of its
# own cells (an id range each) instead of every shape of the result.
SHAPE_CELL_ZOOM = 9
SHAPE_KIND_NUMBERS = {"ungridded": 1, "outside_5min": 2, "reach_1": 3, "reach_3": 4,
                      "reach_5": 5, "roads_covered": 6, "roads_uncovered": 7}
_CELLS = 2 ** SHAPE_CELL_ZOOM
_SEQ = 1024


def shape_id(kind: str, cx: int, cy: int, seq: int) -> int:
    """The id a stored shape piece of `kind` in cell (cx, cy) is kept under (seq 1..1023)."""
    if not 0 < seq < _SEQ:
        raise ValueError(f"piece {seq} of a cell is out of range")
    return -((SHAPE_KIND_NUMBERS[kind] * _CELLS * _CELLS + cx * _CELLS + cy) * _SEQ + seq)


def _shape_ranges(kind: str, z: int, x: int, y: int) -> list[tuple[int, int]]:
    """(low, high) id ranges of the pieces of `kind` a tile can hold."""
    k = SHAPE_KIND_NUMBERS[kind] * _CELLS * _CELLS
    if z < SHAPE_CELL_ZOOM - 4:  # wider than 16 x 16 cells: every piece of the kind
        return [(-((k + _CELLS * _CELLS) * _SEQ - 1), -(k * _SEQ + 1))]
    if z >= SHAPE_CELL_ZOOM:
        cx0 = cx1 = x >> (z - SHAPE_CELL_ZOOM)
        cy0 = cy1 = y >> (z - SHAPE_CELL_ZOOM)
    else:
        n = 2 ** (SHAPE_CELL_ZOOM - z)
        cx0, cx1, cy0, cy1 = x * n, x * n + n - 1, y * n, y * n + n - 1
    return [(-((k + cx * _CELLS + cy1) * _SEQ + _SEQ - 1), -((k + cx * _CELLS + cy0) * _SEQ + 1))
            for cx in range(cx0, cx1 + 1)]


def stored_shapes(conn: Connection, result_key: str, layer: str, kinds, z: int, x: int,
                  y: int) -> bytes:
    """Shapes a coverage result stored with its values (gis.coverage.tabs: the land reachable
    within m minutes, land outside every 5-minute area, land in no grid, the streets in and out
    of every camera's view), in pieces (see shape_id): props code, name, label, colour, km2 (the
    unit's total) and the geometry as hex WKB in EPSG:4326. `kinds` is one kind or several,
    drawn in that order; the tile's layer is named `layer`. The result was made for the
    account's jurisdiction (checked before)."""
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    ranges = [r for kind in kinds for r in _shape_ranges(kind, z, x, y)]
    order = " ".join(f"WHEN v.grid_id BETWEEN {-((n + 1) * _CELLS * _CELLS * _SEQ - 1)} AND "
                     f"{-(n * _CELLS * _CELLS * _SEQ + 1)} THEN {i}"
                     for i, n in enumerate(SHAPE_KIND_NUMBERS[k] for k in kinds))
    where = " OR ".join(f"v.grid_id BETWEEN :lo{i} AND :hi{i}" for i in range(len(ranges)))
    bounds = {**{f"lo{i}": lo for i, (lo, _hi) in enumerate(ranges)},
              **{f"hi{i}": hi for i, (_lo, hi) in enumerate(ranges)}}
    sql = f"""WITH {_BOUNDS}
        SELECT ST_AsMVT(t, :layer, {EXTENT}, 'geom', 'fid') FROM (
            SELECT -v.grid_id AS fid, -v.grid_id AS gid, v.props ->> 'code' AS code,
                   v.props ->> 'name' AS name, v.props ->> 'label' AS label,
                   v.props ->> 'colour' AS colour, (v.props ->> 'km2')::float8 AS km2,
                   ST_AsMVTGeom(ST_Simplify(ST_Transform(ST_ClipByBox2D(
                       ST_GeomFromWKB(decode(v.props ->> 'wkb', 'hex'), 4326), b.q), 3857),
                       :tol, true), b.env, {EXTENT}, {BUFFER}, true) AS geom
            FROM analysis_grid_value v CROSS JOIN b
            WHERE v.result_key = :key AND ({where})
            ORDER BY CASE {order} END, v.grid_id
        ) t WHERE t.geom IS NOT NULL"""
    return _tile(conn, sql, {"key": result_key, "layer": layer, "z": z, "x": x, "y": y,
                             "tol": tolerance_m(z), **bounds})
