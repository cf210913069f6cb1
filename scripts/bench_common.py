"""Shared pieces of the benchmarks (scripts/bench.py, scripts/bench_scale.py): targets judged with
their margin, percentiles and units, Markdown tables, the app served by waitress in a
subprocess, accounts with tokens, and a description of the machine."""
from __future__ import annotations

import math
import os
import platform
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---- numbers ----

def percentile(values, q: float) -> float:
    """The q-th percentile (0-100, linear interpolation) of values; NaN when there are none."""
    values = np.asarray(list(values), dtype=float)
    return float(np.percentile(values, q)) if values.size else math.nan


def fmt_s(seconds: float) -> str:
    """A duration: '4.2 ms', '123 ms', '6.02 s', '1 min 40 s'."""
    if seconds is None or math.isnan(seconds):
        return "-"
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 100:
        return f"{seconds:.2f} s"
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def fmt_bytes(n: float) -> str:
    """Bytes in decimal units (1 KB = 1,000 bytes, as the targets are written)."""
    if n is None or math.isnan(n):
        return "-"
    for unit, size in (("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} B"


def fmt_rate(n: float, seconds: float, unit: str = "/s") -> str:
    return f"{n / seconds:,.0f} {unit}" if seconds > 0 else "-"


def fmt_count(n: int) -> str:
    """1000 -> '1k', 100000 -> '100k', 1000000 -> '1M', 1500 -> '1.5k'."""
    for suffix, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            return f"{n / size:g}{suffix}"
    return str(n)


# ---- targets ----

@dataclass(frozen=True)
class Target:
    """A limit a measure must meet: value `op` limit, with op one of '<', '<=', '>=', '=='.
    `show` formats the limit (and values) for the table."""
    op: str
    limit: float
    show: callable = str

    def __str__(self) -> str:
        return f"{self.op} {self.show(self.limit)}"


def ms_target(limit_ms: float) -> Target:
    return Target("<", limit_ms / 1000, fmt_s)


def judge(value: float | None, target: Target | None) -> tuple[bool | None, str]:
    """(met, text) with the margin as a ratio to the limit: 'pass (0.42× limit)',
    '**MISS** (20× limit)', for minimums 'pass (2.1× minimum)'; (None, '-') without a target
    or a value."""
    if target is None:
        return None, "-"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False, "**MISS** (no value)"
    ops = {"<": value < target.limit, "<=": value <= target.limit,
           ">=": value >= target.limit, "==": value == target.limit}
    ok = ops[target.op]
    word = "pass" if ok else "**MISS**"
    if target.op == "==":
        return ok, word if ok else f"{word} (off by {target.show(abs(value - target.limit))})"
    if target.limit == 0:
        return ok, word
    ratio = value / target.limit
    kind = "minimum" if target.op == ">=" else "limit"
    return ok, f"{word} ({_ratio(ratio)} {kind})"


def _ratio(r: float) -> str:
    if r == 0:
        return "0×"
    return f"{r:.2g}×" if r < 10 else f"{r:,.0f}×"


# ---- tables ----

@dataclass
class Table:
    """A Markdown table filled row by row (each row is printed as it is added)."""
    title: str
    columns: list[str]
    note: str = ""
    rows: list[list[str]] = field(default_factory=list)
    results: list[bool | None] = field(default_factory=list)

    def add(self, *cells, ok: bool | None = None) -> None:
        cells = ["" if c is None else str(c) for c in cells]
        cells += [""] * (len(self.columns) - len(cells))
        self.rows.append(cells)
        self.results.append(ok)
        print("  " + " · ".join(f"{h}: {c}" for h, c in zip(self.columns, cells) if c),
              flush=True)

    def markdown(self) -> str:
        out = [f"## {self.title}", ""]
        if self.note:
            out += [self.note, ""]
        out += ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        for row in self.rows:
            out.append("| " + " | ".join(c.replace("|", "/").replace("\n", " ")
                                         for c in row) + " |")
        return "\n".join(out) + "\n"

    def missed(self) -> int:
        return sum(1 for r in self.results if r is False)


def all_met(*results: tuple[bool | None, str]) -> bool | None:
    """Combine judge() results of one row: False if any missed, None if none had a target."""
    oks = [ok for ok, _ in results if ok is not None]
    return None if not oks else all(oks)


# ---- the app in a subprocess ----

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER = """
import sys
sys.path.insert(0, {root!r})
from waitress import serve
from web import create_app
serve(create_app({{"DATABASE_URL": {url!r}}}), host="127.0.0.1", port={port}, threads={threads},
      _quiet=True)
"""


def start_server(url: str, threads: int = 4, log: Path | None = None,
                 env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """The real app served by waitress on a free loopback port (per-account rate limit lifted:
    the benchmark measures the server); its stderr goes to `log` (or is dropped)."""
    import requests
    port = free_port()
    env = {**os.environ, "GRIDGIS_RATE_LIMIT": "1000000 per minute", **(env or {})}
    code = SERVER.format(root=str(ROOT), url=url, port=port, threads=threads)
    err = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the proc
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=err)
    proc.log = log
    if log:
        err.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log else ""
            raise RuntimeError(f"server exited ({proc.returncode}): {tail}")
        try:
            requests.get(f"{base}/health", timeout=2)
            return proc, base
        except requests.ConnectionError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("server did not answer within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_token(url: str, username: str, role: str = "admin", units=()) -> str:
    """A fresh account and API token in the benchmark database."""
    from gis.store import accounts, db
    with db.engine(url).begin() as conn:
        account = accounts.create(conn, username, role, password=None,
                                  units=accounts.resolve_units(conn, list(units)))
        return accounts.create_token(conn, account["id"], "bench")[1]


# ---- machine ----

def machine(db_info: dict, loadavg: tuple | None = None) -> list[str]:
    """Lines describing the machine, libraries and database; `loadavg` as taken at the start."""
    import geopandas as gpd
    import pandas as pd
    import shapely
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "-"
    libs = [f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string})",
            f"geopandas {gpd.__version__}", f"numpy {np.__version__}", f"pandas {pd.__version__}",
            f"pyogrio {version('pyogrio')}", f"psycopg {version('psycopg')}",
            f"SQLAlchemy {version('sqlalchemy')}", f"waitress {version('waitress')}",
            f"Flask {version('flask')}", f"playwright {version('playwright')}"]
    load = ", load average at the start {:.2f} {:.2f} {:.2f}".format(*loadavg) if loadavg else ""
    lines = [(f"- machine: {nproc} CPUs (nproc), {cpu}, {mem:.0f} GiB RAM, "
              f"{platform.platform()}, Python {platform.python_version()}{load}"),
             f"- libraries: {', '.join(libs)}"]
    if db_info:
        lines.append(f"- database: PostgreSQL {db_info.get('PostgreSQL')}, "
                     f"PostGIS {db_info.get('PostGIS')}")
    return lines


# ---- bulk assignment ----

def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def vertex_summary(geoms) -> str:
    import shapely
    nv = shapely.get_num_coordinates(geoms) - shapely.get_num_geometries(geoms)
    p = np.percentile(nv, [1, 50, 99])
    return f"{len(geoms):,} polygons, vertices p1/p50/p99 {p[0]:.0f}/{p[1]:.0f}/{p[2]:.0f}"


def measure_bulk(geoms, codes, x, y, repeats: int) -> dict:
    """gis.geo.assign.GridIndex (build, assign) against geopandas.sjoin(points, grids,
    predicate="within") on the same points, each the median of `repeats` runs after one first
    build + assign (timed apart: it pays for imports and JIT compilation), and their agreement
    (sjoin's first match per point). Seconds, and shares for agreement."""
    import gc

    import geopandas as gpd

    from gis.geo.assign import GridIndex
    n = len(x)
    points, t_points = timed(lambda: gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(x, y), crs="EPSG:4326"))
    # the first build + assign in the process (imports, any JIT compilation), then the repeats
    gc.collect()
    t = time.perf_counter()
    GridIndex(geoms, codes).assign(x, y)
    first = time.perf_counter() - t
    builds, assigns, joins = [], [], []
    ours = theirs = None
    dup_rows = 0
    for _ in range(repeats):
        gc.collect()
        index, t_build = timed(GridIndex, geoms, codes)
        ours, t_assign = timed(index.assign, x, y)
        builds.append(t_build)
        assigns.append(t_assign)
        del index
        gc.collect()
        # a fresh frame each time so sjoin pays for its own STRtree, as GridIndex does
        grids = gpd.GeoDataFrame({"code": codes}, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"))
        joined, t_join = timed(gpd.sjoin, points, grids, predicate="within")
        joins.append(t_join)
        theirs = np.full(n, -1, dtype=np.int64)
        left = joined.index.to_numpy()
        dup_rows = len(left) - len(np.unique(left))
        theirs[left[::-1]] = joined["index_right"].to_numpy()[::-1]   # first match wins
        del grids, joined
    same = ours == theirs
    med = lambda v: float(np.median(v))
    return {"build": med(builds), "assign": med(assigns), "join": med(joins),
            "builds": builds, "assigns": assigns, "joins": joins, "points": t_points,
            "first": first,
            "agree": float(same.mean()), "differ": int((~same).sum()),
            "uncovered": float((ours < 0).mean()), "dup_rows": dup_rows,
            "vertices": vertex_summary(geoms)}
