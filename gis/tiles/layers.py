"""Tile use cases: a layer's tile for an account (its jurisdiction inside the tile query), the
ETag that identifies it without building it, and the zoom from which grids are drawn.

A tile depends on the layer, the generation (immutable once written), the account's
jurisdiction, the query parameters (filters, a stored result), the data version of incidents for
incident layers and of coverage data for coverage layers, and z/x/y: the ETag is a digest of all
of them, so an unchanged tile answers 304 before any query. Tiles of a generation's boundaries
keep for a day in the browser's private cache; incident and coverage tiles for a minute.

Coverage layers: cameras (binned below CAMERA_POINTS_FROM), camera_views (fields of view, from
VIEWS_FROM), posts; and the shapes a coverage result stored (?result=, gis.coverage.tabs):
roads (?kind= covered or uncovered: the streets in and out of every camera's view),
response_areas (the land reachable within 5, 3 and 1 minutes, drawn in that order, each with
its colour; ?minutes= 1, 3 or 5 for one of them) and blind_spots (?kind=
ungridded, land in no grid, or outside_5min, land outside every 5-minute area)."""
from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from threading import Lock

from gis.access.roles import Principal
from gis.domain import LEVEL_PLURAL
from gis.errors import InputError, NotFound
from gis.incidents.selection import read_filter, unit_scope
from gis.results.cache import for_tiles
from gis.store import aggregates
from gis.store import boundaries as bstore
from gis.store import tiles as tstore
from gis.store import versions
from gis.store.db import Connection
from gis.store.scope import incident_clause

AREA_LAYERS = {plural: level for level, plural in LEVEL_PLURAL.items()}
COVERAGE_LAYERS = ("cameras", "camera_views", "roads", "posts", "response_areas", "blind_spots")
SHAPE_LAYERS = ("roads", "response_areas", "blind_spots")  # shapes stored with a result
LAYERS = ("grids", *AREA_LAYERS, "incidents", "uncovered", *COVERAGE_LAYERS)
MAX_ZOOM = 22
GRIDS_PER_TILE = 3000          # grids are drawn from the zoom where a tile holds about this many
INCIDENT_POINTS_FROM = 14      # single incidents from this zoom, binned below it
SCHEMA = "1"                   # bump when what a tile holds changes
BOUNDARY_MAX_AGE = 86400
INCIDENT_MAX_AGE = 60
FILTER_KEYS = ("category", "source", "severity", "status", "start", "end", "days", "unit")
COVERAGE_KEYS = ("minutes", "kind")
CAMERA_POINTS_FROM = 14        # single cameras from this zoom, binned below it
VIEWS_FROM = 12                # fields of view from this zoom (empty below)
RESPONSE_MINUTES = (1, 3, 5)   # gis.coverage.response.MINUTES (a sibling: not importable)
SHAPE_KINDS = {"blind_spots": ("ungridded", "outside_5min"),
               "roads": ("covered", "uncovered")}
POST_KINDS = {"police_post": {"label": "派出所 Police post", "colour": "#08306b"},
              "patrol_station": {"label": "巡逻站 Patrol station", "colour": "#54278f"}}
POST_METHODS = {"network": "路网 Road network", "buffer": "速度缓冲 Speed buffer",
                "": "未计算 Not computed"}

_min_zoom: dict[tuple[str, int], int] = {}
_lock = Lock()


@dataclass(frozen=True)
class TileRequest:
    layer: str
    z: int
    x: int
    y: int
    generation_id: int
    etag: str
    max_age: int


def _check_xyz(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise InputError(f"zoom {z} is outside 0..{MAX_ZOOM}", field="z")
    n = 2 ** z
    if not (0 <= x < n and 0 <= y < n):
        raise InputError(f"tile {x}/{y} does not exist at zoom {z}", field="x")


def _generation(conn: Connection, args, scope) -> int:
    raw = args.get("g")
    if raw in (None, ""):
        return bstore.require_active_generation(conn, scope, root=args.get("root"))["id"]
    try:
        gen_id = int(raw)
    except ValueError:
        raise InputError(f"g={raw!r} is not a generation id", field="g")
    if bstore.generation_by_id(conn, gen_id) is None:
        raise NotFound(f"generation {gen_id} does not exist")
    return gen_id


def grid_min_zoom(conn: Connection, generation_id: int) -> int:
    """The zoom from which a generation's grids are drawn: where a tile holds about
    GRIDS_PER_TILE grids of average density (lower zooms show the villages instead)."""
    key = (conn.engine.url.render_as_string(hide_password=True), generation_id)
    with _lock:
        if key in _min_zoom:
            return _min_zoom[key]
    count, area_deg2 = tstore.grid_density(conn, generation_id)
    zoom = 0
    if count and area_deg2 > 0:
        per_deg2 = count / area_deg2
        # a tile spans (360 / 2^z)^2 square degrees, times cos(latitude) ~ 0.7 in China
        zoom = max(0, math.ceil(math.log2(math.sqrt(per_deg2 * 0.7 / GRIDS_PER_TILE) * 360)))
    with _lock:
        _min_zoom[key] = min(zoom, 14)
    return _min_zoom[key]


def prepare(conn: Connection, actor: Principal, layer: str, z: int, x: int, y: int,
            args) -> TileRequest:
    """Check a tile request and name its ETag (no tile is built)."""
    if layer not in LAYERS:
        raise NotFound(f"no tile layer {layer!r}; layers: {', '.join(LAYERS)}")
    _check_xyz(z, x, y)
    gen_id = _generation(conn, args, actor.scope)
    if layer in SHAPE_LAYERS and not args.get("result"):
        raise InputError(f"layer {layer} draws a coverage result: give ?result=",
                         field="result")
    if args.get("result"):  # only a result made for this jurisdiction and generation
        if layer not in ("grids", *AREA_LAYERS, *SHAPE_LAYERS):
            raise InputError(f"layer {layer} carries no results", field="result")
        for_tiles(conn, args["result"], actor.scope, gen_id)
    if layer in COVERAGE_LAYERS:
        _check_coverage_args(layer, args)
    parts = [SCHEMA, layer, str(gen_id), actor.scope.describe(), f"{z}/{x}/{y}"]
    parts += [f"{k}={args.get(k)}" for k in ("result", *FILTER_KEYS, *COVERAGE_KEYS)
              if args.get(k)]
    max_age = BOUNDARY_MAX_AGE
    kind = "incidents" if layer in ("incidents", "uncovered") else \
        "coverage" if layer in COVERAGE_LAYERS else None
    if kind:
        parts.append(str(versions.current(conn)[kind]))
        max_age = INCIDENT_MAX_AGE
        if versions.writers_active(conn, (kind,)):
            # the version may count rows not yet committed: promise nothing about this tile
            parts.append(secrets.token_hex(8))
            max_age = 0
    etag = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return TileRequest(layer, z, x, y, gen_id, etag, max_age)


def build(conn: Connection, actor: Principal, req: TileRequest, args) -> bytes:
    """The tile's MVT bytes (empty when nothing of the layer lies in it)."""
    result = args.get("result") or None
    if req.layer in COVERAGE_LAYERS:
        return _coverage_tile(conn, actor, req, args)
    if req.layer == "grids":
        return tstore.grids(conn, req.generation_id, actor.scope, req.z, req.x, req.y, result)
    if req.layer in AREA_LAYERS:
        return tstore.areas(conn, req.generation_id, actor.scope, AREA_LAYERS[req.layer], req.z,
                            req.x, req.y, result)
    f = read_filter(conn, args)
    where, params = aggregates.filter_clause(f, "i")
    narrowed = unit_scope(conn, actor.scope, f)
    if narrowed is not None:  # the jurisdiction (in the tile query) and the unit filter
        u_sql, u_params = incident_clause(narrowed, "iu")
        where, params = f"{where} AND {u_sql.replace('iu.', 'i.')}", {**params, **u_params}
    return tstore.incidents(conn, actor.scope, req.z, req.x, req.y, where=where, params=params,
                            points_from_zoom=INCIDENT_POINTS_FROM,
                            uncovered=req.layer == "uncovered")


def _check_coverage_args(layer: str, args) -> None:
    if layer == "response_areas":
        if args.get("minutes") not in (None, "", *(str(m) for m in RESPONSE_MINUTES)):
            raise InputError(f"minutes must be one of {', '.join(map(str, RESPONSE_MINUTES))}",
                             field="minutes")
    if layer in SHAPE_KINDS and args.get("kind") not in SHAPE_KINDS[layer]:
        raise InputError(f"kind must be one of {', '.join(SHAPE_KINDS[layer])}", field="kind")


def _coverage_tile(conn: Connection, actor: Principal, req: TileRequest, args) -> bytes:
    gen, scope, z, x, y = req.generation_id, actor.scope, req.z, req.x, req.y
    if req.layer == "cameras":
        return tstore.cameras(conn, gen, scope, z, x, y, points_from_zoom=CAMERA_POINTS_FROM)
    if req.layer == "posts":
        return tstore.posts(conn, gen, scope, z, x, y, POST_KINDS, POST_METHODS)
    if req.layer == "response_areas":
        minutes = [int(args["minutes"])] if args.get("minutes") else \
            sorted(RESPONSE_MINUTES, reverse=True)
        return tstore.stored_shapes(conn, args["result"], req.layer,
                                    [f"reach_{m}" for m in minutes], z, x, y)
    if req.layer == "blind_spots":
        return tstore.stored_shapes(conn, args["result"], req.layer, args["kind"], z, x, y)
    if req.layer == "roads":
        return tstore.stored_shapes(conn, args["result"], req.layer, f"roads_{args['kind']}",
                                    z, x, y)
    if z < VIEWS_FROM:  # a tile of a whole city's fields of view would draw every camera
        return b""
    return tstore.camera_views(conn, gen, scope, z, x, y)
