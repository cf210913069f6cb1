"""Cached analysis results: a result is keyed by what it depends on (kind, generation,
jurisdiction, parameters and the data versions of what it reads), so a write anywhere it reads
moves the version and the next request computes afresh; nothing needs deleting. The result's
`meta` is the JSON a page shows; its per-grid (or per-unit) values are what map tiles carry
(`/tiles/grids/...?result=<key>`). Two requests for the same key in one process compute once."""
from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gis.access.scope import Scope
from gis.errors import Busy, NotFound
from gis.store import results as rstore
from gis.store import versions
from gis.store.db import Connection

SCHEMA = "1"        # bump when what a kind of result holds changes
PRUNE_EVERY = 50    # stores between two prunes of the least recently used results
KEEP = 500

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_stored = 0


class Unsettled(RuntimeError):
    """A result computed while a writer of its data was still open (it is not kept)."""


@dataclass
class Computed:
    """What a computation hands back: the JSON-ready meta, and values by grid (or unit) id."""
    meta: dict
    values: dict[int, dict] = field(default_factory=dict)


def key_of(kind: str, generation_id: int, scope: Scope, params: Mapping[str, object],
           data_versions: Mapping[str, int]) -> str:
    parts = {"schema": SCHEMA, "kind": kind, "generation": generation_id,
             "scope": scope.describe(), "params": {k: str(v) for k, v in params.items()
                                                   if v not in (None, "")},
             "versions": dict(data_versions)}
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False)
    return f"{kind}-" + hashlib.sha256(blob.encode()).hexdigest()[:40]


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def cached(conn: Connection, kind: str, generation_id: int, scope: Scope,
           params: Mapping[str, object], compute: Callable[[], Computed],
           depends: tuple[str, ...] = ("incidents",),
           guard: Callable[[], AbstractContextManager] = nullcontext,
           key: str | None = None) -> dict:
    """The meta of the result for these inputs, computed (and stored) when there is none.
    The answer carries `result` (its key, for tiles), `cached` (whether it was stored before)
    and `computed_s` (how long computing it took when it was made). `guard()` wraps the
    computation only (the interface's bound on heavy work), so cached answers never wait.
    `key` stores under a key made earlier (a background job finishing what a request named).

    When the guard refuses (every heavy-work slot busy), the newest stored result of the same
    analysis at an earlier data version (or answer time, `as_of`) answers instead, with
    `stale: true` and `stale_since` (when it was computed); Busy only when there is none."""
    global _stored
    named = key is not None
    family = key_of(kind, generation_id, scope,
                    {k: v for k, v in params.items() if k != "as_of"}, {})
    if key is None:
        now = versions.current(conn)
        key = key_of(kind, generation_id, scope, params, {k: now[k] for k in depends})
    # a writer still open may have moved the version already: what is computed now may miss
    # its rows, so it must not answer later requests under that version
    settled = not versions.writers_active(conn, depends)
    try:
        with _lock(key):
            hit = rstore.fetch(conn, key)
            conn.commit()
            if hit is not None:
                return {**hit["meta"], "result": key, "cached": True}
            try:
                with guard():
                    started = time.perf_counter()
                    out = compute()
            except Busy:
                older = None if named else rstore.latest(conn, family)
                conn.commit()
                if older is None:
                    raise
                return {**older["meta"], "result": older["key"], "cached": True, "stale": True,
                        "stale_since": older["created_at"].isoformat(timespec="seconds")}
            meta = {**out.meta, "computed_s": round(time.perf_counter() - started, 3)}
            stored_key = key
            if not settled:
                if named:  # a job: it runs again, when the writer is done
                    raise Unsettled(key)
                stored_key = f"{key}-u{secrets.token_hex(4)}"  # for its own tiles only
            with conn.engine.begin() as w:
                rstore.store(w, stored_key, kind, generation_id, scope.describe(), meta,
                             out.values, family=family if settled else None)
                _stored += 1
                if _stored % PRUNE_EVERY == 0:
                    rstore.prune(w, KEEP)
    finally:
        with _locks_guard:
            _locks.pop(key, None)
    return {**meta, "result": stored_key, "cached": False}


def for_tiles(conn: Connection, key: str, scope: Scope, generation_id: int) -> dict:
    """A stored result a tile may draw: only one made for this jurisdiction and generation."""
    hit = rstore.fetch(conn, key, mark_used=False)
    if hit is None or hit["scope"] != scope.describe() or hit["generation_id"] != generation_id:
        raise NotFound(f"no stored result {key!r} for this account and generation; "
                       "reload the page")
    return hit


def plain(value):
    """A JSON-ready scalar: NaN and NaT become None, numpy scalars plain Python."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def jsonable(value):
    """A JSON-ready copy of nested dicts, lists and tuples of scalars (see `plain`)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and (not hasattr(value, "item") or getattr(value, "ndim", 0)):
        return jsonable(value.tolist())  # arrays and Series (numpy scalars go to plain)
    return plain(value)


def records(frame, columns) -> list[dict]:
    """Rows of a DataFrame as JSON-ready dicts of the given columns."""
    cols = [c for c in columns if c in frame.columns]
    return [{c: plain(v) for c, v in zip(cols, row)}
            for row in frame[cols].itertuples(index=False, name=None)]
