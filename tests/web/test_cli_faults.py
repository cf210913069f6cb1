"""Faults in the middle of a write: the CLI's database backend is terminated
(pg_terminate_backend) or the CLI process is SIGKILLed. Each import is one transaction, so
afterwards nothing of it may be visible, and running the same command again must complete and
then be a no-op.

The incident import is killed while its backend is busy with the COPY into the staging table or
the INSERT into `incident` (seconds long for this file). The boundary publish of the Anda set
writes in about 0.2 s, too short to hit by polling, so the test holds a lock that stalls it at a
chosen statement, after earlier statements of its transaction have written rows; the kill lands
while it waits there.
"""
from __future__ import annotations

import re
import signal
import sqlite3

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from gis.boundaries.importing import import_boundaries
from gis.demo.load import DEMO_BOUNDARIES
from gis.domain import CATEGORIES
from gis.store import db
from tests.helpers.faults import (
    run_cli,
    start_cli,
    terminate_backend,
    wait_backends_gone,
    wait_for_statement,
)

N_INCIDENTS = 100_000
BATCH = 20_000  # rows per COPY: a kill in the COPY phase lands between staged batches
SOURCE = "faults"
AREA_LEVELS = ("city", "township", "village", "hamlet")
# what psycopg reports when the server ends the session (or a CLI that words it itself)
LOST = re.compile(r"terminating connection due to administrator command|server closed the "
                  r"connection|lost .*connection|connection .*lost", re.IGNORECASE)
FAULTS = ("terminate_backend", "sigkill_cli")


@pytest.fixture(scope="module")
def incidents_csv(tmp_path_factory):
    """N_INCIDENTS rows at random points inside the factory city (125.0-125.4 E, 46.0-46.4 N)."""
    rng = np.random.default_rng(8)
    n = N_INCIDENTS
    occurred = np.datetime64("2026-03-01T00:00:00") + rng.integers(0, 30 * 86400, n) \
        .astype("timedelta64[s]")
    frame = pd.DataFrame({
        "external_id": np.char.add("F-", np.arange(n).astype(str)),
        "category": np.array(sorted(CATEGORIES))[rng.integers(0, len(CATEGORIES), n)],
        "occurred_at": occurred.astype(str),
        "lon": rng.uniform(125.0, 125.4, n).round(6),
        "lat": rng.uniform(46.0, 46.4, n).round(6),
    })
    path = tmp_path_factory.mktemp("faults") / "incidents.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def factory_copy(fresh_db, factory_gpkg):
    """A fresh database with the factory set as its only, active generation."""
    import_boundaries(db.engine(fresh_db), factory_gpkg, commit=True, name="factory")
    return fresh_db


def stored_incidents(url) -> tuple[int, int]:
    """(rows, distinct keys) of incidents from the generated file."""
    with db.engine(url).connect() as c:
        return tuple(c.execute(text(
            "SELECT count(*), count(DISTINCT external_id) FROM incident WHERE source = :s"),
            {"s": SOURCE}).one())


def interrupt(fault, admin, run, pid) -> None:
    if fault == "terminate_backend":
        terminate_backend(admin, pid)
        assert run.wait(30) == 1, run.stderr[-2000:]
        assert LOST.search(run.stderr), f"no word of the lost connection:\n{run.stderr[-2000:]}"
    else:
        run.sigkill()
        assert run.proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("fault", FAULTS)
def test_incident_import_interrupted_mid_write(fault, factory_copy, incidents_csv, admin_engine,
                                               tmp_path):
    url = factory_copy
    args = ["incidents", "import", str(incidents_csv), "--source", SOURCE,
            "--batch-size", str(BATCH)]
    run = start_cli(args, url, tmp_path)
    try:
        if fault == "terminate_backend":  # during the INSERT into incident
            pid = wait_for_statement(admin_engine, run, ("INSERT INTO incident (",))
        else:  # during the third COPY batch, two being staged (or the INSERT, if all were missed)
            pid = wait_for_statement(admin_engine, run,
                                     ("COPY incident_stage", "INSERT INTO incident ("), skip=2)
        interrupt(fault, admin_engine, run, pid)
        # a backend whose client died ends (rolling back) only once it reads from the socket
        wait_backends_gone(admin_engine, run)
    finally:
        run.stop()
    assert stored_incidents(url) == (0, 0)

    again = run_cli(args, url, tmp_path)
    assert again.proc.returncode == 0, again.stderr[-2000:]
    assert (f"{N_INCIDENTS} rows: {N_INCIDENTS} imported, 0 already present, 0 rejected, "
            "0 outside every grid") in again.stdout
    assert stored_incidents(url) == (N_INCIDENTS, N_INCIDENTS)

    third = run_cli(args, url, tmp_path)
    assert third.proc.returncode == 0, third.stderr[-2000:]
    assert f"{N_INCIDENTS} rows: 0 imported, {N_INCIDENTS} already present" in third.stdout
    assert stored_incidents(url) == (N_INCIDENTS, N_INCIDENTS)


# Where the publish is held, in turn, before it is killed: a lock the test takes before the CLI
# starts, and the statement of the CLI's transaction that then waits for it.
HOLD_AT = {
    # generation and all admin_area rows written, grids not yet
    "grid_insert": ("LOCK TABLE grid IN SHARE MODE", "INSERT INTO grid ("),
    # everything written, the old generation not yet deactivated
    "activation": ("SELECT id FROM generation WHERE is_active FOR UPDATE",
                   "UPDATE generation SET is_active"),
}


@pytest.fixture(scope="module")
def anda_counts():
    """Areas and grids in the Anda GeoPackage, counted with sqlite3 (independent of gridgis)."""
    with sqlite3.connect(DEMO_BOUNDARIES) as c:
        count = lambda layer: c.execute(f'SELECT count(*) FROM "{layer}"').fetchone()[0]
        return sum(count(level) for level in AREA_LEVELS), count("grid")


def boundary_state(url) -> dict:
    with db.engine(url).connect() as c:
        return {
            "generations": [tuple(r) for r in c.execute(text(
                "SELECT id, is_active FROM generation ORDER BY id"))],
            "areas": dict(c.execute(text(
                "SELECT generation_id, count(*) FROM admin_area GROUP BY 1")).all()),
            "grids": dict(c.execute(text(
                "SELECT generation_id, count(*) FROM grid GROUP BY 1")).all()),
        }


@pytest.mark.parametrize("fault", FAULTS)
def test_boundary_publish_interrupted_mid_write(fault, factory_copy, admin_engine, anda_counts,
                                                tmp_path):
    url = factory_copy
    before = boundary_state(url)
    [(old, active)] = before["generations"]
    assert active and before["areas"] == {old: 9} and before["grids"] == {old: 10}
    args = ["boundaries", "import", str(DEMO_BOUNDARIES), "--commit", "--name", "Anda"]

    for hold, (lock_sql, statement) in HOLD_AT.items():
        blocker = db.engine(url).connect()
        blocker.execute(text(lock_sql))
        run = start_cli(args, url, tmp_path)
        try:
            pid = wait_for_statement(admin_engine, run, (statement,), lock_wait=True)
            interrupt(fault, admin_engine, run, pid)
        finally:
            blocker.rollback()
            blocker.close()
            run.stop()
        # after SIGKILL the backend runs the statement it waited for, then finds no client
        wait_backends_gone(admin_engine, run)
        assert boundary_state(url) == before, f"after {fault} held at {hold}"

    again = run_cli(args, url, tmp_path)
    assert again.proc.returncode == 0, again.stderr[-2000:]
    found = re.search(r"imported as generation (\d+) \(active\)", again.stdout)
    assert found, again.stdout
    new = int(found.group(1))
    areas, grids = anda_counts
    after = boundary_state(url)
    assert after == {"generations": [(old, False), (new, True)],
                     "areas": {old: 9, new: areas}, "grids": {old: 10, new: grids}}

    third = run_cli(args, url, tmp_path)
    assert third.proc.returncode == 0, third.stderr[-2000:]
    assert f"same content as generation {new} (the active one): nothing to write" in third.stdout
    assert boundary_state(url) == after


class Unreadable(AssertionError):
    """The CLI did not report the lost connection as a plain `error: ...` line."""


@pytest.mark.parametrize("command", ["incidents", "boundaries"])
def test_lost_connection_is_reported_readably(command, factory_copy, admin_engine, tmp_path):
    url = factory_copy
    if command == "incidents":
        path = tmp_path / "few.csv"
        path.write_text("external_id,category,occurred_at,lon,lat\n"
                        + "".join(f"R-{i},petition,2026-03-01T08:00:00,125.1,46.1\n"
                                  for i in range(100)))
        args, lock_sql, statement = (["incidents", "import", str(path)],
                                     "LOCK TABLE incident IN SHARE MODE", "INSERT INTO incident (")
    else:
        args = ["boundaries", "import", str(DEMO_BOUNDARIES), "--commit"]
        lock_sql, statement = HOLD_AT["grid_insert"]
    blocker = db.engine(url).connect()
    blocker.execute(text(lock_sql))
    run = start_cli(args, url, tmp_path)
    try:
        terminate_backend(admin_engine,
                          wait_for_statement(admin_engine, run, (statement,), lock_wait=True))
        assert run.wait(30) == 1
    finally:
        blocker.rollback()
        blocker.close()
        run.stop()
    said = re.search(r"^error: .*connection", run.stderr, re.MULTILINE | re.IGNORECASE)
    if "Traceback" in run.stderr or not said:
        raise Unreadable(run.stderr[-2000:])
