"""Background work on results (e.g. Gi* with permutations after the analytic answer): a small
pool of daemon worker threads per process with a bounded queue (a full queue answers Busy), and
the job's state and progress in PostgreSQL (analysis_job), so any app process can report it and
only one process runs a key. A job whose process died or stopped (no progress for STALE_S) is
taken again by the next request."""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from gis.errors import Busy
from gis.store import results as rstore
from gis.store.db import Engine

WORKERS = 1        # the machine this runs on has few cores; requests keep the rest
QUEUE = 8          # jobs waiting for a worker, per process
STALE_S = 300.0
REPORT_EVERY_S = 0.5

log = logging.getLogger(__name__)
_queue: queue.Queue = queue.Queue(maxsize=QUEUE)
_workers: list[threading.Thread] = []
_workers_lock = threading.Lock()

Progress = Callable[[float], None]


def _worker() -> None:
    while True:
        engine, key, work = _queue.get()
        try:
            _run(engine, key, work)
        finally:
            _queue.task_done()


def _submit(engine: Engine, key: str, work) -> None:
    # daemon threads: a process that exits does not wait for them (the job goes stale)
    with _workers_lock:
        while len(_workers) < WORKERS:
            t = threading.Thread(target=_worker, name=f"gridgis-job-{len(_workers)}",
                                 daemon=True)
            t.start()
            _workers.append(t)
    try:
        _queue.put_nowait((engine, key, work))
    except queue.Full:
        with engine.begin() as conn:
            rstore.job_progress(conn, key, 0.0, "failed", "busy")
        raise Busy("后台任务已满 Too much background work queued; try again in a minute",
                   retry_after=60)


def status(engine: Engine, key: str) -> dict | None:
    """{state, progress} of a key's job (None when no job was started)."""
    with engine.connect() as conn:
        row = rstore.job(conn, key)
    if row is None:
        return None
    out = {"state": row["state"], "progress": round(float(row["progress"]), 3)}
    if row["error"]:
        out["error"] = row["error"]
    return out


def start(engine: Engine, key: str, kind: str, work: Callable[[Progress], None]) -> dict:
    """Run `work(progress)` in the background unless a live job of this key exists; answer the
    job's status. `work` stores its own result; an exception marks the job failed."""
    with engine.begin() as conn:
        mine = rstore.claim_job(conn, key, kind, STALE_S)
    if mine:
        _submit(engine, key, work)
    return status(engine, key) or {"state": "queued", "progress": 0.0}


def _run(engine: Engine, key: str, work: Callable[[Progress], None]) -> None:
    last = [0.0]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= REPORT_EVERY_S:
            last[0] = now
            with engine.begin() as conn:
                rstore.job_progress(conn, key, min(max(fraction, 0.0), 0.999))

    try:
        work(progress)
    except Exception as err:  # a failed job must say so, whatever went wrong
        log.exception("background job %s failed", key)
        with engine.begin() as conn:
            rstore.job_progress(conn, key, 0.0, "failed", f"{type(err).__name__}: {err}"[:500])
        return
    with engine.begin() as conn:
        rstore.job_progress(conn, key, 1.0, "done")


def wait(engine: Engine, key: str, timeout_s: float = 60.0) -> dict | None:
    """Poll a job until it is done or failed (for commands and tests)."""
    deadline = time.monotonic() + timeout_s
    while True:
        s = status(engine, key)
        if s is None or s["state"] in ("done", "failed") or time.monotonic() > deadline:
            return s
        time.sleep(0.05)
