"""Stored analysis results (migration 0008): what a result says as a whole (`meta`, the JSON a
page shows), its per-grid or per-unit values that map tiles carry, and the state of background
work on it. Shared by every app process; keyed by a digest of what the result depends on."""
from __future__ import annotations

import json

from sqlalchemy import Connection, text


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, allow_nan=False)


def store(conn: Connection, key: str, kind: str, generation_id: int, scope: str, meta: dict,
          values: dict[int, dict], family: str | None = None) -> bool:
    """Keep a result; False when another writer stored the same key first (nothing written).
    `family`: the same analysis at any data version (see `latest`)."""
    done = conn.execute(text(
        "INSERT INTO analysis_result (key, kind, generation_id, scope, meta, family) "
        "VALUES (:k, :kind, :g, :s, CAST(:m AS jsonb), :f) ON CONFLICT (key) DO NOTHING"),
        {"k": key, "kind": kind, "g": generation_id, "s": scope, "m": _json(meta),
         "f": family}).rowcount
    if not done:
        return False
    if values:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            with cur.copy("COPY analysis_grid_value (result_key, grid_id, props) FROM STDIN") \
                    as copy:
                for gid, props in values.items():
                    copy.write_row((key, int(gid), _json(props)))
    return True


def fetch(conn: Connection, key: str, mark_used: bool = True) -> dict | None:
    """{kind, generation_id, scope, meta} of a stored result (None when there is none), marked
    used (kept longest by prune) unless mark_used is False."""
    sql = ("UPDATE analysis_result SET used_at = now() WHERE key = :k "
           "RETURNING kind, generation_id, scope, meta" if mark_used else
           "SELECT kind, generation_id, scope, meta FROM analysis_result WHERE key = :k")
    row = conn.execute(text(sql), {"k": key}).first()
    return dict(row._mapping) if row else None


def latest(conn: Connection, family: str) -> dict | None:
    """{key, created_at, meta} of the family's newest stored result, or None."""
    row = conn.execute(text(
        "SELECT key, created_at, meta FROM analysis_result WHERE family = :f "
        "ORDER BY created_at DESC LIMIT 1"), {"f": family}).first()
    return dict(row._mapping) if row else None


def prune(conn: Connection, keep: int = 500) -> int:
    """Forget all but the `keep` most recently used results (and finished jobs without one)."""
    n = conn.execute(text(
        "DELETE FROM analysis_result WHERE key IN (SELECT key FROM analysis_result "
        "ORDER BY used_at DESC OFFSET :keep)"), {"keep": keep}).rowcount
    conn.execute(text("DELETE FROM analysis_job j WHERE state IN ('done', 'failed') "
                      "AND updated_at < now() - interval '1 hour'"))
    return n


# background jobs ---------------------------------------------------------------------------

def claim_job(conn: Connection, key: str, kind: str, stale_s: float) -> bool:
    """Take the job of a key: True when this caller must run it (no job yet, or the last one
    failed or went stale, i.e. its process died)."""
    row = conn.execute(text(
        "INSERT INTO analysis_job (key, kind, state) VALUES (:k, :kind, 'running') "
        "ON CONFLICT (key) DO UPDATE SET state = 'running', progress = 0, error = NULL, "
        "       created_at = now(), updated_at = now() "
        "  WHERE analysis_job.state = 'failed' OR (analysis_job.state <> 'done' AND "
        "        analysis_job.updated_at < now() - make_interval(secs => :stale)) "
        "RETURNING key"), {"k": key, "kind": kind, "stale": stale_s}).first()
    return row is not None


def job_progress(conn: Connection, key: str, progress: float, state: str = "running",
                 error: str | None = None) -> None:
    conn.execute(text(
        "UPDATE analysis_job SET progress = :p, state = :s, error = :e, updated_at = now() "
        "WHERE key = :k"), {"k": key, "p": float(progress), "s": state, "e": error})


def job(conn: Connection, key: str) -> dict | None:
    """{state, progress, error, created_at, updated_at} of a key's job, or None."""
    row = conn.execute(text(
        "SELECT state, progress, error, created_at, updated_at FROM analysis_job "
        "WHERE key = :k"), {"k": key}).first()
    return dict(row._mapping) if row else None
