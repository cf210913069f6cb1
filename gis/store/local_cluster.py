"""The embedded default database: a PostgreSQL + PostGIS cluster in `.gridgis/` of the checkout.

Used only when GRIDGIS_DATABASE_URL is not set. PostgreSQL refuses to run as root, so when
gridgis runs as root the cluster belongs to the system user `postgres` (created by Debian's
package). The port is derived from the checkout path so that two checkouts on one machine do not
collide; it listens on 127.0.0.1 only, with trust authentication for the local superuser.
"""
from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from gis.config import PROJECT_ROOT, STATE_DIR

DATA_DIR = STATE_DIR / "pgdata"
SOCKET_DIR = STATE_DIR / "run"
LOG_FILE = STATE_DIR / "postgres.log"
SUPERUSER = "gridgis"
DATABASE = "gridgis"


class ClusterError(RuntimeError):
    pass


def port() -> int:
    if os.environ.get("GRIDGIS_PG_PORT"):
        return int(os.environ["GRIDGIS_PG_PORT"])
    digest = hashlib.sha256(str(PROJECT_ROOT).encode()).digest()
    return 54000 + int.from_bytes(digest[:2], "big") % 900


def url(database: str = DATABASE) -> str:
    return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port()}/{database}"


def _bin_dir() -> Path:
    base = Path("/usr/lib/postgresql")
    if base.is_dir():
        versions = sorted((p for p in base.iterdir() if (p / "bin" / "initdb").exists()),
                          key=lambda p: int(p.name) if p.name.isdigit() else 0)
        if versions:
            return versions[-1] / "bin"
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ClusterError("PostgreSQL server binaries not found; run scripts/setup first")


def _run_as_owner(args: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, text=True, capture_output=True, **kw)


def _prepare_dirs() -> None:
    for d in (STATE_DIR, SOCKET_DIR):
        d.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        try:
            pg = pwd.getpwnam("postgres")
        except KeyError:
            raise ClusterError("system user 'postgres' is missing; install Debian's postgresql")
        for d in (STATE_DIR, SOCKET_DIR):
            os.chown(d, pg.pw_uid, pg.pw_gid)
        probe = _run_as_owner(["test", "-w", str(STATE_DIR)])
        if probe.returncode != 0:
            raise ClusterError(
                f"user 'postgres' cannot write to {STATE_DIR}; a parent folder is not "
                "traversable for it. Set GRIDGIS_HOME to a folder it can use, or "
                "GRIDGIS_DATABASE_URL to another PostGIS.")


def is_running() -> bool:
    if not (DATA_DIR / "postmaster.pid").exists():
        return False
    res = _run_as_owner([str(_bin_dir() / "pg_ctl"), "status", "-D", str(DATA_DIR)])
    return res.returncode == 0


def _initdb() -> None:
    res = _run_as_owner([str(_bin_dir() / "initdb"), "-D", str(DATA_DIR), "-U", SUPERUSER,
                         "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"])
    if res.returncode != 0:
        raise ClusterError(f"initdb failed:\n{res.stdout}\n{res.stderr}")
    with open(DATA_DIR / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write("\n# gridgis embedded cluster\n"
                   "listen_addresses = '127.0.0.1'\n"
                   "max_connections = 100\n"
                   "shared_buffers = 256MB\n"
                   "work_mem = 32MB\n"
                   "maintenance_work_mem = 256MB\n"
                   "fsync = on\n"
                   "timezone = 'UTC'\n")


def start() -> str:
    """Initialise (first time) and start the cluster; create the database. Returns its URL."""
    _prepare_dirs()
    if not (DATA_DIR / "PG_VERSION").exists():
        _initdb()
    if not is_running():
        res = _run_as_owner([str(_bin_dir() / "pg_ctl"), "start", "-D", str(DATA_DIR), "-w",
                             "-t", "60", "-l", str(LOG_FILE),
                             "-o", f"-p {port()} -k {SOCKET_DIR}"])
        if res.returncode != 0:
            log = LOG_FILE.read_text(errors="replace")[-2000:] if LOG_FILE.exists() else ""
            raise ClusterError(f"could not start PostgreSQL on port {port()}:\n{res.stderr}\n{log}")
    _wait_ready()
    ensure_database(DATABASE)
    return url()


def _psql(sql: str, database: str = "postgres") -> subprocess.CompletedProcess:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port()), "-U", SUPERUSER,
                           "-d", database, "-v", "ON_ERROR_STOP=1", "-tAc", sql],
                          text=True, capture_output=True)


def _wait_ready(timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _psql("select 1").returncode == 0:
            return
        time.sleep(0.2)
    raise ClusterError(f"PostgreSQL on port {port()} does not answer")


def ensure_database(name: str) -> None:
    res = _psql(f"select 1 from pg_database where datname = '{name}'")
    if res.returncode != 0:
        raise ClusterError(res.stderr)
    if res.stdout.strip() != "1":
        created = _psql(f'create database "{name}"')
        if created.returncode != 0:
            raise ClusterError(created.stderr)


def stop() -> None:
    if is_running():
        res = _run_as_owner([str(_bin_dir() / "pg_ctl"), "stop", "-D", str(DATA_DIR), "-m", "fast"])
        if res.returncode != 0:
            raise ClusterError(res.stderr)
