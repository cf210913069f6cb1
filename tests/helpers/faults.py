"""Fault injection for tests: run the gridgis CLI as a real process, find the PostgreSQL backend
it is writing through, and kill one or the other.

Each CLI run gets its own application_name (libpq reads PGAPPNAME), so its backend can be picked
out of pg_stat_activity. Every wait is a poll with a deadline that fails with what it last saw.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

GRIDGIS = Path(sys.executable).parent / "gridgis"
POLL = 0.01


def database_name(url: str) -> str:
    return make_url(url).database


@dataclass
class CliRun:
    proc: subprocess.Popen
    app: str
    database: str
    out: Path
    err: Path

    @property
    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"gridgis {self.proc.args[1:]} did not finish within {timeout} s;"
                                 f" stderr tail:\n{self.stderr[-2000:]}") from None

    def sigkill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """Clean-up: kill the process if it is still running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_cli(args: list[str], url: str, workdir: Path) -> CliRun:
    """Start `gridgis ARGS` against the database at url; output goes to files in workdir."""
    assert GRIDGIS.exists(), f"{GRIDGIS} is missing: run the tests with the project's venv"
    app = f"gridgis-fault-{uuid.uuid4().hex[:8]}"
    out, err = workdir / f"{app}.out", workdir / f"{app}.err"
    env = {**os.environ, "GRIDGIS_DATABASE_URL": url, "PGAPPNAME": app}
    with out.open("wb") as fo, err.open("wb") as fe:
        proc = subprocess.Popen([str(GRIDGIS), *args], env=env, stdout=fo, stderr=fe,
                                stdin=subprocess.DEVNULL)
    return CliRun(proc, app, database_name(url), out, err)


def run_cli(args: list[str], url: str, workdir: Path, timeout: float = 60) -> CliRun:
    run = start_cli(args, url, workdir)
    run.wait(timeout)
    return run


def _backends(admin: Engine, run: CliRun) -> list[dict]:
    with admin.connect() as c:
        return [dict(r) for r in c.execute(text(
            "SELECT pid, state, wait_event_type, backend_xid IS NOT NULL AS writing, query, "
            "query_start FROM pg_stat_activity WHERE datname = :db AND application_name = :app"),
            {"db": run.database, "app": run.app}).mappings()]


def wait_for_statement(admin: Engine, run: CliRun, prefixes: tuple[str, ...], *, skip: int = 0,
                       lock_wait: bool = False, timeout: float = 60) -> int:
    """Poll until the run's backend is executing (state active) a statement starting with one of
    prefixes, inside a transaction that has written (has an xid), and return the backend pid.

    skip: let that many matching statements run first (told apart by query_start; a finished
    one stays visible as the backend's last query until the next starts). lock_wait: wait until
    the statement is blocked on a lock."""
    deadline = time.monotonic() + timeout
    starts: list = []
    seen: list[dict] = []
    while time.monotonic() < deadline:
        seen = _backends(admin, run)
        for b in seen:
            if not (b["query"] or "").startswith(prefixes):
                continue
            if b["query_start"] not in starts:
                starts.append(b["query_start"])
            if (b["state"] == "active" and b["writing"]
                    and starts.index(b["query_start"]) >= skip
                    and (not lock_wait or b["wait_event_type"] == "Lock")):
                return b["pid"]
        if run.proc.poll() is not None:
            raise AssertionError(
                f"gridgis exited ({run.proc.returncode}) before its backend was seen running "
                f"{prefixes} (after {skip} such statements); stdout:\n{run.stdout[-1000:]}\n"
                f"stderr:\n{run.stderr[-2000:]}")
        time.sleep(POLL)
    last = [(b["state"], b["wait_event_type"], (b["query"] or "")[:60]) for b in seen]
    raise AssertionError(f"no backend of {run.app} ran {prefixes} (after {skip} such statements) "
                         f"within {timeout} s; {len(starts)} seen; last state: {last}")


def terminate_backend(admin: Engine, pid: int) -> None:
    with admin.connect() as c:
        assert c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar(), \
            f"pg_terminate_backend({pid}) found no such backend"


def wait_backends_gone(admin: Engine, run: CliRun, timeout: float = 60) -> None:
    """Poll until no backend of the run is left (after its client died, the server notices
    only when the backend next reads from the socket)."""
    deadline = time.monotonic() + timeout
    left: list[dict] = []
    while time.monotonic() < deadline:
        left = _backends(admin, run)
        if not left:
            return
        time.sleep(POLL * 5)
    raise AssertionError(f"backends of {run.app} still there after {timeout} s: "
                         f"{[(b['pid'], b['state'], b['query'][:60]) for b in left]}")
