"""Heavy work (imports, analyses, proposals, recomputations) may not take every request
thread: at most `heavy_slots` heavy calls run at once and `heavy_queue` more wait for a slot;
one account may have at most `heavy_per_account` in flight. Beyond that the answer is 429 with
Retry-After, at once, so that cheap calls (locate, report an incident, reads) keep the other
threads and stay fast. Views opt in with @heavy."""
from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager
from functools import wraps

from flask import current_app

from gis.config import WebSettings
from gis.errors import Busy


class HeavyGate:
    def __init__(self, slots: int, queue: int, per_account: int, wait_s: float = 60.0):
        self.slots, self.queue, self.per_account, self.wait_s = slots, queue, per_account, wait_s
        self._running = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._per = Counter()

    def enter(self, key) -> None:
        with self._lock:
            if self._per[key] >= self.per_account:
                raise Busy(f"你已有 {self._per[key]} 个耗时请求在处理 You already have "
                           f"{self._per[key]} heavy request(s) running; wait for them to finish")
            if self._in_flight >= self.slots + self.queue:
                raise Busy("服务器正忙于耗时任务 The server is busy with heavy work; try again "
                           "in a few seconds", retry_after=10)
            self._per[key] += 1
            self._in_flight += 1
        if not self._running.acquire(timeout=self.wait_s):
            self._leave(key)
            raise Busy("服务器正忙于耗时任务 The server is busy with heavy work; try again later",
                       retry_after=30)

    def leave(self, key) -> None:
        self._running.release()
        self._leave(key)

    def _leave(self, key) -> None:
        with self._lock:
            self._per[key] -= 1
            self._in_flight -= 1
            if not self._per[key]:
                del self._per[key]


def init_app(app) -> None:
    """One gate per app; HEAVY_SLOTS, HEAVY_QUEUE, HEAVY_PER_ACCOUNT in its config override the
    settings (GRIDGIS_HEAVY_*)."""
    s = WebSettings()
    app.extensions["gridgis_heavy"] = HeavyGate(
        max(1, int(app.config.get("HEAVY_SLOTS", s.heavy_slots))),
        max(0, int(app.config.get("HEAVY_QUEUE", s.heavy_queue))),
        max(1, int(app.config.get("HEAVY_PER_ACCOUNT", s.heavy_per_account))))


@contextmanager
def heavy_section():
    """The heavy part of a view (e.g. computing what is not cached yet) as heavy work."""
    from web.auth import principal
    p = principal()
    key = p.account_id if p.account_id is not None else p.username
    g = current_app.extensions["gridgis_heavy"]
    g.enter(key)
    try:
        yield
    finally:
        g.leave(key)


def heavy(view):
    """Run a view as heavy work (see the module docstring)."""
    @wraps(view)
    def run(*args, **kwargs):
        with heavy_section():
            return view(*args, **kwargs)
    return run
