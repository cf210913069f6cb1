"""Collections and items of the OGC API - Features: which collections exist, their extents, and
pages of items filtered by bbox, datetime, category and source, all inside the jurisdiction.
Reading incident items is an export (audited)."""
from __future__ import annotations

from datetime import datetime

from gis.access.roles import Principal
from gis.access.scope import Scope, not_visible
from gis.errors import InputError, NotFound
from gis.results.cache import Computed, cached
from gis.store import audit, features
from gis.store import boundaries as bstore
from gis.store.db import Connection
from gis.times import parse_time

COLLECTIONS = features.COLLECTIONS
Collection = features.Collection


def get_collection(collection_id: str) -> Collection:
    coll = COLLECTIONS.get(collection_id)
    if coll is None:
        raise NotFound(f"collection {collection_id!r} does not exist; collections: "
                       f"{', '.join(COLLECTIONS)}")
    return coll


def _generation_id(conn: Connection, scope: Scope) -> int | None:
    """The active generation of the reader's root (gis.store.boundaries.choose_generation)."""
    gen = bstore.active_generation(conn, scope)
    return gen["id"] if gen else None


def extents(conn: Connection, scope: Scope, collection_ids) -> dict[str, list | None]:
    """The lon/lat bounding box of each collection inside the jurisdiction (None when empty);
    area collections only for the levels the active generation has."""
    gen_id = _generation_id(conn, scope)
    present = features.levels_present(conn, gen_id) if gen_id is not None else set()
    return {c: features.extent(conn, get_collection(c), gen_id, scope) for c in collection_ids
            if COLLECTIONS[c].level is None or COLLECTIONS[c].level in present}


def collection_extent(conn: Connection, scope: Scope, collection_id: str) -> list | None:
    """One collection's bounding box inside the jurisdiction; NotFound for the collection of a
    level the active generation does not have."""
    coll = get_collection(collection_id)
    boxes = extents(conn, scope, [coll.id])
    if coll.id not in boxes:
        raise NotFound(f"collection {collection_id}: the active boundary generation has no "
                       f"{collection_id}")
    return boxes[coll.id]


def parse_bbox(raw: str | None):
    if not raw:
        return None
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"bbox={raw!r}: expected minLon,minLat,maxLon,maxLat", field="bbox")
    if len(values) != 4:
        raise InputError("bbox takes 4 numbers: minLon,minLat,maxLon,maxLat", field="bbox")
    minx, miny, maxx, maxy = values
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InputError("bbox is outside lon -180..180, lat -90..90 or min > max", field="bbox")
    return minx, miny, maxx, maxy


MAX_SOURCES = 50
MAX_SOURCE = 128  # as gis.incidents.filters (a sibling: not importable)


def parse_sources(raw: str | None) -> tuple[str, ...]:
    """Sources separated by commas (e.g. 12345,api)."""
    out = tuple(dict.fromkeys(p.strip() for p in (raw or "").split(",") if p.strip()))
    if len(out) > MAX_SOURCES or any(len(p) > MAX_SOURCE for p in out):
        raise InputError(f"source: at most {MAX_SOURCES} sources of at most {MAX_SOURCE} "
                         "characters, separated by commas", field="source")
    return out


def parse_datetime(raw: str | None) -> tuple[datetime | None, datetime | None]:
    """RFC 3339 instant or interval 'a/b', with '..' or '' for an open end."""
    if not raw:
        return None, None
    try:
        if "/" in raw:
            a, b = raw.split("/", 1)
            start = None if a in ("", "..") else parse_time(a, "datetime")
            end = None if b in ("", "..") else parse_time(b, "datetime")
            if start and end and start > end:
                raise InputError("datetime interval ends before it starts", field="datetime")
            return start, end
        t = parse_time(raw, "datetime")
        return t, t
    except InputError:
        raise
    except Exception as err:
        raise InputError(f"datetime={raw!r}: {err}", field="datetime")


def items(conn: Connection, actor: Principal, collection_id: str, *, limit: int, offset: int,
          bbox: str | None = None, datetime_range: str | None = None,
          category: str | None = None, source: str | None = None, query: str = "",
          origin: dict | None = None) -> tuple[list[dict], int]:
    """One page of a collection's features and the number matched; incidents may be narrowed
    to a category and to sources (comma-separated)."""
    coll = get_collection(collection_id)
    start, end = parse_datetime(datetime_range) if coll.is_incidents else (None, None)
    q = features.ItemQuery(generation_id=_generation_id(conn, actor.scope), scope=actor.scope, limit=limit,
                           offset=offset, bbox=parse_bbox(bbox), start=start, end=end,
                           category=category if coll.is_incidents else None,
                           sources=parse_sources(source) if coll.is_incidents else ())
    feats, matched = features.items(conn, coll, q)
    if coll.is_incidents and feats:  # incident records name people and places
        audit.record(conn, actor, "export", f"collections/{coll.id}/items",
                     details={"query": query[:500], "returned": len(feats)}, **(origin or {}))
    return feats, matched


def item(conn: Connection, scope: Scope, collection_id: str, fid: int) -> dict:
    coll = get_collection(collection_id)
    feat = features.item(conn, coll, fid, _generation_id(conn, scope), scope)
    if feat is None:
        raise not_visible(scope, f"{collection_id} item", fid)
    return feat


def overview(conn: Connection, scope: Scope) -> tuple[dict | None, dict]:
    """The active generation and the number of units, grids and incidents in the jurisdiction
    (the start page)."""
    gen = bstore.active_generation(conn, scope)
    if gen is None:
        return gen, features.summary(conn, None, scope)
    counts = cached(conn, "summary", gen["id"], scope, {},
                    lambda: Computed(features.summary(conn, gen["id"], scope)))
    return gen, {k: counts[k] for k in ("grids", "townships", "villages", "incidents",
                                        "uncovered")}
