#!/usr/bin/env python
"""gridgis benchmarks. Prints Markdown tables and writes them to bench-results/ (git-ignored).

The scale benchmark (default; issue 13, "Targets"), every row with its size, target and margin:

  python scripts/bench.py --quick              # 1k grids, 100k incidents, 20 s soak (minutes)
  python scripts/bench.py --sizes 10000 --keep-db   # one size; the loaded database is kept
  python scripts/bench.py                      # 1k, 10k and 100k grids, 1M incidents each

For each size a synthetic city of scripts/make_scale_data.py (files cached in .gridgis/scale/)
is loaded through the ordinary `gridgis` imports into a throwaway database on the server the
tests use (embedded cluster or GRIDGIS_DATABASE_URL), dropped at the end unless --keep-db
(then reused by the next run with the same size, incidents and --data-seed; stored analysis
results are emptied before the cold measures and the soak's incidents deleted afterwards).
Measured (scripts/bench_scale.py): every page's first HTML (server time, bytes), the map drawn
in headless Chromium, vector tiles over a pan/zoom sequence at zooms 8-16, /api/v1/figures and
any /api/v1/analysis/ endpoint, the incidents import, GridIndex against geopandas.sjoin, a soak
of officials reading while a client posts, a scaling table; then every page of the Anda demo
(< 1 s). Exit status 0 even when targets are missed: the tables say so and by how much.

The earlier benchmark (--legacy): GridIndex vs sjoin on Voronoi sets, single lookups, the
incidents import, the soak and the coverage and hotspot pages on the Anda demo, a planner edit.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import geopandas as gpd
import pandas as pd
import shapely
from bench_common import (
    bench_token,
    machine,
    measure_bulk,
    start_server,
    stop_server,
    timed,
    vertex_summary,
)

from gis.geo.assign import GridIndex

DEMO_GPKG = ROOT / "data" / "boundaries" / "anda" / "anda.gpkg"
CENTRE = (125.3, 46.4)
HALF_W, HALF_H = 0.5, 0.35          # synthetic extent: 1.0° x 0.7° (~77 km x 78 km)


# ---- results ----

@dataclass
class Row:
    measure: str
    set: str
    value: str
    target: str = ""
    ok: str = ""
    notes: str = ""


ROWS: list[Row] = []


def add(measure, set_, value, target="", ok=None, notes=""):
    mark = "" if ok is None else ("yes" if ok else "**NO**")
    ROWS.append(Row(measure, set_, value, target, mark, notes))
    print(f"  {measure} [{set_}]: {value}" + (f"  (target {target}: {mark})" if target else "")
          + (f"  - {notes}" if notes else ""), flush=True)


def rate(n, seconds):
    return f"{n / seconds:,.0f} /s" if seconds > 0 else "inf"


def ms(seconds):
    return f"{seconds * 1000:.2f} ms"


# ---- data ----

def synthetic_grids(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n non-overlapping irregular polygons around CENTRE: Voronoi cells of random seeds clipped
    to a box, densified and warped by one smooth displacement field (applied to every vertex, so
    shared borders stay shared). Typically 10-32 vertices. Codes are a random permutation so that
    code order differs from array order."""
    cx, cy = CENTRE
    x0, y0, x1, y1 = cx - HALF_W, cy - HALF_H, cx + HALF_W, cy + HALF_H
    seeds = shapely.multipoints(np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)]))
    frame = shapely.box(x0, y0, x1, y1)
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame))
    cells = shapely.intersection(cells, frame)
    size = np.sqrt((x1 - x0) * (y1 - y0) / n)          # typical cell width
    cells = shapely.segmentize(cells, 0.26 * size)
    wave, amp = 1.7 * size, 0.07 * size               # gentle: the map stays one-to-one
    ph = rng.uniform(0, 2 * np.pi, 4)

    def warp(xy):
        x, y = xy[:, 0], xy[:, 1]
        dx = amp * (np.sin(2 * np.pi * y / wave + ph[0])
                    + 0.5 * np.sin(2 * np.pi * (x + y) / (0.6 * wave) + ph[1]))
        dy = amp * (np.sin(2 * np.pi * x / wave + ph[2])
                    + 0.5 * np.sin(2 * np.pi * (x - y) / (0.6 * wave) + ph[3]))
        return np.column_stack([x + dx, y + dy])

    cells = shapely.transform(cells, warp)
    codes = np.array([f"23128100{i:07d}" for i in rng.permutation(n)])
    return cells, codes


def demo_grids() -> tuple[np.ndarray, np.ndarray]:
    frame = gpd.read_file(DEMO_GPKG, layer="grid")
    return frame.geometry.to_numpy(), frame["code"].astype(str).to_numpy()


# ---- 1. bulk assignment ----

def bench_bulk(label: str, geoms, codes, n_points: int, repeats: int,
               rng: np.random.Generator, target_set: str) -> None:
    print(f"\n== bulk assignment: {label} ({vertex_summary(geoms)}) ==", flush=True)
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    x = rng.uniform(x0, x1, n_points)
    y = rng.uniform(y0, y1, n_points)
    r = measure_bulk(geoms, codes, x, y, repeats)
    b, a, j = r["build"], r["assign"], r["join"]
    spread = lambda v: f"median of {len(v)}, range {min(v):.2f}-{max(v):.2f} s" \
        if len(v) > 1 else "1 run"
    n = f"{n_points / 1e6:g}M pts" if n_points >= 1e6 else f"{n_points / 1e3:g}k pts"
    set_ = f"{label}, {n}"
    add("GridIndex build", set_, f"{b:.2f} s", notes=spread(r["builds"]))
    add("GridIndex assign", set_, rate(n_points, a), notes=f"{a:.2f} s; {spread(r['assigns'])}")
    add("GridIndex build + assign", set_, rate(n_points, b + a), notes=f"{b + a:.2f} s")
    add("geopandas.sjoin within", set_, rate(n_points, j),
        notes=f"{j:.2f} s incl. its STRtree, excl. {r['points']:.2f} s to build the points "
              f"GeoDataFrame; {spread(r['joins'])}")
    is_target = label == target_set
    add("speed GridIndex assign ÷ sjoin", set_, f"{j / a:.2f}×",
        "≥ 1.00×" if is_target else "", (j / a >= 1.0) if is_target else None)
    add("speed GridIndex build+assign ÷ sjoin", set_, f"{j / (b + a):.2f}×",
        "≥ 1.00×" if is_target else "", (j / (b + a) >= 1.0) if is_target else None)
    add("agreement GridIndex = sjoin", set_, f"{r['agree'] * 100:.4f} %", "100 %",
        r["differ"] == 0,
        notes=f"{r['differ']} differ; uncovered {r['uncovered'] * 100:.2f} %"
              + (f"; {r['dup_rows']} points matched 2+ grids in sjoin" if r["dup_rows"] else ""))


# ---- database ----

def latency_row(measure, set_, samples, target_ms=None, notes=""):
    s = np.asarray(samples)
    p50, p95, p99 = np.percentile(s, [50, 95, 99])
    value = f"p50 {ms(p50)} · p95 {ms(p95)} · p99 {ms(p99)} · max {ms(s.max())}"
    if target_ms is None:
        add(measure, set_, value, notes=notes)
    else:
        add(measure, set_, value, f"p99 < {target_ms} ms", p99 * 1000 < target_ms, notes=notes)


def city_bbox() -> tuple[float, float, float, float]:
    return tuple(gpd.read_file(DEMO_GPKG, layer="city").total_bounds)


def bench_lookups(url: str, n: int, rng: np.random.Generator) -> None:
    import requests

    from gis.store import boundaries as bstore
    from gis.store import db
    print(f"\n== single lookups ({n:,} sequential, random points in the city bbox) ==",
          flush=True)
    x0, y0, x1, y1 = city_bbox()
    warm = max(50, n // 10)
    lon = rng.uniform(x0, x1, n + warm)
    lat = rng.uniform(y0, y1, n + warm)
    set_ = f"Anda, {n:,} lookups"

    proc, base = start_server(url)
    try:
        samples, covered, failures = [], 0, 0
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {bench_token(url, 'bench-locate')}"
            for i in range(n + warm):
                t = time.perf_counter()
                resp = session.get(f"{base}/api/v1/locate",
                                   params={"lon": f"{lon[i]:.7f}", "lat": f"{lat[i]:.7f}"})
                body = resp.content
                dt = time.perf_counter() - t
                if i >= warm:
                    samples.append(dt)
                    if resp.status_code != 200:
                        failures += 1
                    elif b'"covered":true' in body.replace(b" ", b""):
                        covered += 1
        latency_row("HTTP GET /api/v1/locate", set_, samples, target_ms=20,
                    notes=f"waitress 4 threads (subprocess), requests.Session; "
                          f"{covered / n * 100:.0f} % covered; {failures} non-200")
    finally:
        stop_server(proc)

    engine = db.engine(url)
    with engine.connect() as conn:
        gen = bstore.require_active_generation(conn)["id"]
        samples = []
        for i in range(n + warm):
            t = time.perf_counter()
            bstore.locate(conn, float(lon[i]), float(lat[i]), gen)
            if i >= warm:
                samples.append(time.perf_counter() - t)
        latency_row("PostGIS locate (SQL, one connection)", set_, samples,
                    notes="gis.store.boundaries.locate, no HTTP, no unit lookup")
        grids = bstore.load_grids(conn, gen)
    index = GridIndex(grids.geometry.values, grids["code"])
    samples = []
    for i in range(n + warm):
        t = time.perf_counter()
        index.assign_one(float(lon[i]), float(lat[i]))
        if i >= warm:
            samples.append(time.perf_counter() - t)
    latency_row("GridIndex.assign_one (in process)", set_, samples, notes="for comparison")


def write_incident_csv(path: Path, n: int, rng: np.random.Generator,
                       prefix: str = "BENCH") -> None:
    from gis.domain import CATEGORIES
    x0, y0, x1, y1 = city_bbox()
    start = np.datetime64("2025-01-01T00:00:00")
    seconds = rng.integers(0, 300 * 86400, n)
    occurred = pd.Series(start + seconds.astype("timedelta64[s]")).dt.strftime(
        "%Y-%m-%dT%H:%M:%S") + "+08:00"
    pd.DataFrame({
        "external_id": [f"{prefix}-{i:07d}" for i in range(1, n + 1)],
        "category": rng.choice(sorted(CATEGORIES), n),
        "occurred_at": occurred,
        "lon": np.round(rng.uniform(x0, x1, n), 6),
        "lat": np.round(rng.uniform(y0, y1, n), 6),
    }).to_csv(path, index=False)


def bench_import(url: str, n: int, rng: np.random.Generator) -> None:
    from gis.boundaries import index
    from gis.incidents.importing import import_incidents
    from gis.store import db
    print(f"\n== bulk incident import ({n:,} rows) ==", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "incidents.csv"
        write_incident_csv(path, n, rng)
        index._index_cache.clear()        # cold: the import builds its GridIndex
        report, t = timed(import_incidents, db.engine(url), path)
    add("import_incidents (CSV → PostGIS)", f"Anda, {n:,} rows", rate(n, t),
        ok=report.inserted == n,
        notes=f"{t:.2f} s end to end (read, validate, assign, COPY, commit); "
              f"{report.inserted:,} inserted, {report.uncovered:,} uncovered, "
              f"{len(report.bad_rows)} bad")


def bench_plan_edit(repeats: int) -> None:
    """One planner edit (split by a line) plus its live check in a village of 50 grids, in
    process (gis.planning.checks.benchmark_edit_check); the API adds its own time (see the note)."""
    from gis.demo.plans import benchmark_edit_check
    print("\n== planner edit + live check ==", flush=True)
    r = benchmark_edit_check(n_grids=50, repeats=repeats)
    total = r["edit_ms"]["median"] + r["incremental_check_ms"]["median"]
    worst = r["edit_ms"]["max"] + r["incremental_check_ms"]["max"]
    add("plan edit + live check (village of 50 grids)", f"{r['grids']} grids, {repeats} edits",
        f"median {total:.1f} ms · max {worst:.1f} ms", "< 300 ms", worst < 300,
        notes=f"split {r['edit_ms']['median']} ms + incremental check "
              f"{r['incremental_check_ms']['median']} ms over {r['grids_checked_median']:g} "
              f"grids; full check {r['full_check_ms']['median']} ms")


def bench_hotspot_page(url: str, n_incidents: int, rng: np.random.Generator) -> None:
    """GET /maps/hotspots (density, heat, weekly slider, Gi* with 9,999 permutations over the
    ~1,000 Anda grids) with n_incidents in the database, over HTTP."""
    import requests
    from sqlalchemy import text

    from gis.incidents.importing import import_incidents
    from gis.store import db
    engine = db.engine(url)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
    if have < n_incidents:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "more.csv"
            write_incident_csv(path, n_incidents - have, rng, prefix="HOT")
            import_incidents(engine, path)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
    print(f"\n== hotspot page ({total:,} incidents) ==", flush=True)
    proc, base = start_server(url)
    try:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {bench_token(url, 'bench-hotspots')}"
            samples = []
            for i in range(4):
                t = time.perf_counter()
                resp = session.get(f"{base}/maps/hotspots", timeout=120)
                dt = time.perf_counter() - t
                if resp.status_code != 200:
                    raise RuntimeError(f"hotspot page answered {resp.status_code}")
                if i:  # the first request also imports esda/libpysal in the server
                    samples.append(dt)
        size = len(resp.content) / 1e6
        med = statistics.median(samples)
        add("GET /maps/hotspots (whole page)", f"Anda, {total:,} incidents, 1,011 grids",
            f"median {med:.2f} s · max {max(samples):.2f} s", "< 2 s", med < 2.0,
            notes=f"{len(samples)} warm runs; {size:.1f} MB of HTML; density, heat, weekly "
                  "slider, Gi* 9,999 permutations")
    finally:
        stop_server(proc)


def bench_coverage(url: str) -> None:
    """The synthetic Anda coverage set: load it (staff, cameras, roads with pgRouting response
    areas, posts), recompute the response areas, and time each coverage page over HTTP."""
    import requests

    from gis.coverage import imports as coverage_service
    from gis.demo.load import load_demo
    from gis.store import db
    engine = db.engine(url)
    print("\n== coverage ==", flush=True)
    _, t_load = timed(load_demo, engine)
    add("coverage demo load (all imports)", "Anda synthetic", f"{t_load:.1f} s",
        notes="3,214 staff, ~1,000 cameras, ~420 km of roads, 22 posts")
    with engine.begin() as conn:
        result, t_re = timed(coverage_service.recompute_response_areas, conn)
    add("recompute response areas (1/3/5 min)", f"{result['posts']} posts", f"{t_re:.2f} s",
        notes=f"{result['network']} along the network (pgRouting), {result['buffer']} buffers")
    proc, base = start_server(url)
    try:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {bench_token(url, 'bench-coverage')}"
            for page in ("staff", "cameras", "response", "blind-spots"):
                samples = []
                for i in range(4):
                    t = time.perf_counter()
                    resp = session.get(f"{base}/maps/coverage/{page}", timeout=120)
                    if resp.status_code != 200:
                        raise RuntimeError(f"/maps/coverage/{page} answered {resp.status_code}")
                    if i:
                        samples.append(time.perf_counter() - t)
                med = statistics.median(samples)
                add(f"GET /maps/coverage/{page}", "Anda, 1,011 grids",
                    f"median {med:.2f} s · max {max(samples):.2f} s", "< 2 s", med < 2.0,
                    notes=f"{len(samples)} warm runs; {len(resp.content) / 1e6:.1f} MB of HTML")
    finally:
        stop_server(proc)


SOAK_MIX = (("post incident", 0.60), ("repeat post", 0.05), ("locate", 0.20),
            ("grid features (bbox)", 0.10), ("hotspot map page", 0.05))


def bench_soak(url: str, seconds: float, clients: int, seed: int) -> None:
    """Concurrent clients on loopback for `seconds`: each posts incidents (and repeats some),
    locates points and reads features and the hotspot map. Afterwards the number of incidents
    stored must equal the number of posts answered 201."""
    import threading

    import requests
    from sqlalchemy import text

    from gis.store import db
    print(f"\n== soak: {clients} clients for {seconds:.0f} s ==", flush=True)
    x0, y0, x1, y1 = city_bbox()
    tokens = [bench_token(url, f"soak-client-{i}", "client" if i % 2 else "admin",
                          ["231281000000"] if i % 2 else []) for i in range(clients)]
    proc, base = start_server(url, threads=8)
    kinds = [k for k, _ in SOAK_MIX]
    weights = np.array([w for _, w in SOAK_MIX])
    lock = threading.Lock()
    latencies = {k: [] for k in kinds}
    statuses: dict[tuple[str, int], int] = {}
    errors: list[str] = []
    created = 0
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        nonlocal created
        rng = np.random.default_rng(seed + i)
        sent: list[dict] = []
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {tokens[i]}"
            n = 0
            while time.monotonic() < stop:
                kind = kinds[rng.choice(len(kinds), p=weights)]
                if kind == "hotspot map page" and i % 2:
                    kind = "locate"  # machine clients do not read pages
                lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
                t = time.perf_counter()
                try:
                    if kind in ("post incident", "repeat post"):
                        if kind == "repeat post" and sent:
                            body = sent[int(rng.integers(len(sent)))]
                        else:
                            n += 1
                            body = {"type": "Feature",
                                    "geometry": {"type": "Point",
                                                 "coordinates": [round(lon, 6), round(lat, 6)]},
                                    "properties": {"external_id": f"soak-{i}-{n}",
                                                   "source": "soak", "category": "dispute_land",
                                                   "occurred_at": "2026-06-01T10:00:00+08:00"}}
                            sent.append(body)
                        r = session.post(f"{base}/api/v1/incidents", json=body, timeout=30)
                    elif kind == "locate":
                        r = session.get(f"{base}/api/v1/locate",
                                        params={"lon": lon, "lat": lat}, timeout=30)
                    elif kind == "grid features (bbox)":
                        r = session.get(f"{base}/api/v1/collections/grids/items", timeout=30,
                                        params={"bbox": f"{lon - .02},{lat - .02},"
                                                        f"{lon + .02},{lat + .02}"})
                    else:
                        r = session.get(f"{base}/maps/hotspots", timeout=60)
                    dt = time.perf_counter() - t
                    with lock:
                        latencies[kind].append(dt)
                        statuses[(kind, r.status_code)] = statuses.get((kind, r.status_code),
                                                                       0) + 1
                        if kind.endswith("post") or kind == "post incident":
                            created += r.status_code == 201
                        if r.status_code >= 500 or (r.status_code >= 400 and
                                                    r.status_code != 403):
                            errors.append(f"{kind}: {r.status_code} {r.text[:120]}")
                except requests.RequestException as exc:
                    with lock:
                        errors.append(f"{kind}: {type(exc).__name__}: {exc}")

    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    finally:
        stop_server(proc)
    with db.engine(url).connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM incident WHERE source = 'soak'")
                              ).scalar_one()
    total = sum(len(v) for v in latencies.values())
    every = [x for v in latencies.values() for x in v]
    set_ = f"Anda, {clients} clients, {elapsed:.0f} s"
    add("soak: throughput", set_, rate(total, elapsed).replace("/s", " requests/s"),
        notes=", ".join(f"{k} {len(v):,}" for k, v in latencies.items()))
    latency_row("soak: all requests", set_, every or [0.0])
    for kind, values in latencies.items():
        if values:
            latency_row(f"soak: {kind}", set_, values)
    add("soak: errors (5xx, unexpected 4xx, connection)", set_, str(len(errors)), "0",
        not errors, notes="; ".join(errors[:3]))
    add("soak: incidents stored = posts answered 201", set_, f"{stored:,} = {created:,}",
        "equal", stored == created,
        notes="repeat posts answered " + ", ".join(
            f"{code}×{n}" for (k, code), n in sorted(statuses.items()) if k == "repeat post"))


def bench_database(n_lookups: int, n_incidents: int, rng: np.random.Generator,
                   soak_seconds: float = 0, soak_clients: int = 6, seed: int = 0) -> dict:
    from sqlalchemy import text

    from gis.boundaries.importing import import_boundaries
    from gis.store import db
    info = {}
    print("\n== throwaway database ==", flush=True)
    from gis.store import scratch
    admin = scratch.admin_engine()
    name = f"gridgis_bench_{uuid.uuid4().hex[:8]}"
    url = None
    try:
        url, t_create = timed(scratch.create_database, admin, name)
        engine = db.engine(url)
        with engine.connect() as c:
            info["PostgreSQL"] = c.execute(text("SHOW server_version")).scalar_one()
            info["PostGIS"] = c.execute(text("SELECT postgis_lib_version()")).scalar_one()
        report, t_import = timed(import_boundaries, engine, DEMO_GPKG, commit=True,
                                 name="bench")
        print(f"  created + migrated in {t_create:.1f} s; demo boundaries imported "
              f"(validated) in {t_import:.1f} s: {report.counts}", flush=True)
        add("import_boundaries (validate + write)", "Anda", f"{t_import:.2f} s",
            notes=", ".join(f"{k} {v}" for k, v in report.counts.items()))
        if n_lookups:
            run_step(bench_lookups, url, n_lookups, rng)
        run_step(bench_coverage, url)
        run_step(bench_hotspot_page, url, 50_000, rng)  # before the import adds more
        if n_incidents:
            run_step(bench_import, url, n_incidents, rng)
        if soak_seconds:
            run_step(bench_soak, url, soak_seconds, soak_clients, seed)
        engine.dispose()
    finally:
        if url:
            scratch.drop_database(admin, name)
            print(f"  dropped {name}", flush=True)
        admin.dispose()
    return info


def run_step(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - keep going; the table records the failure
        traceback.print_exc()
        add(f"{fn.__name__} FAILED", "", type(exc).__name__, ok=False, notes=str(exc)[:200])



def render_legacy(args, started: datetime, elapsed: float, db_info: dict, loadavg) -> str:
    head = ["measure", "set", "value", "target", "ok", "notes"]
    out = [f"# gridgis benchmark (legacy) {started:%Y-%m-%d %H:%M}"
           + (" (quick)" if args.quick else ""),
           "", *machine(db_info, loadavg),
           (f"- run: seed {args.seed}, {args.repeats} repeat(s) per bulk measure (median), "
            f"{args.points:,} points per set, total {elapsed:.0f} s"),
           "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in ROWS:
        cells = [r.measure, r.set, r.value, r.target, r.ok, r.notes]
        out.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    missed = [r for r in ROWS if r.ok == "**NO**"]
    out += ["", f"Targets missed: {len(missed)}" + (
        "" if not missed else " (" + "; ".join(f"{r.measure} [{r.set}]" for r in missed) + ")")]
    return "\n".join(out) + "\n"


def main_legacy(args, started, loadavg) -> str:
    full = not args.quick
    args.grids = args.grids or ([10_000, 100_000] if full else [1_000])
    args.points = args.points or (1_000_000 if full else 100_000)
    args.lookups = args.lookups if args.lookups is not None else (2_000 if full else 200)
    args.incidents = args.incidents if args.incidents is not None else \
        (100_000 if full else 10_000)
    args.repeats = args.repeats or (3 if full else 1)
    if args.soak_seconds is None:
        args.soak_seconds = 180 if full else 15
    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    target_set = "synthetic 10,000" if 10_000 in args.grids else None

    sets = []
    for n in args.grids:
        (geoms, codes), t_gen = timed(synthetic_grids, n, rng)
        print(f"generated {n:,} synthetic grids in {t_gen:.1f} s "
              f"(valid: {shapely.is_valid(geoms).all()})", flush=True)
        sets.append((f"synthetic {n:,}", geoms, codes))
    sets.append(("Anda demo",) + demo_grids())
    for label, geoms, codes in sets:
        run_step(bench_bulk, label, geoms, codes, args.points, args.repeats, rng, target_set)
        gc.collect()
    del sets
    gc.collect()

    run_step(bench_plan_edit, 30 if full else 10)
    db_info = {}
    if not args.no_db:
        try:
            db_info = bench_database(args.lookups, args.incidents, rng, args.soak_seconds,
                                     args.soak_clients, args.seed)
        except Exception as exc:  # noqa: BLE001 - the table records the failure
            traceback.print_exc()
            add("database benchmarks FAILED", "", type(exc).__name__, ok=False,
                notes=str(exc)[:200])
    return render_legacy(args, started, time.perf_counter() - t0, db_info, loadavg)


# ---- the scale benchmark ----

def main_scale(args, started, loadavg) -> str:
    import bench_scale as bs
    from sqlalchemy import text

    from gis.store import scratch
    full = not args.quick
    sizes = args.sizes or ([1_000, 10_000, 100_000] if full else [1_000])
    incidents = args.incidents or (1_000_000 if full else 100_000)
    opts = bs.Options(
        warm=args.warm or (3 if full else 2),
        tile_views=args.tile_views or (3 if full else 1),
        browser_timeout=args.browser_timeout or (60 if full else 30),
        repeats=args.repeats or (3 if full else 1),
        soak_seconds=args.soak_seconds if args.soak_seconds is not None else
        (180 if full else 20),
        soak_officials=args.soak_officials, post_rate=args.post_rate, seed=args.seed,
        browser=not args.no_browser)
    tables, metrics = bs.Tables(), bs.Metrics()
    failures: list[str] = []
    run = bs.new_run_id()
    t0 = time.perf_counter()

    def step(fn, *a):
        try:
            return fn(*a)
        except Exception as exc:  # noqa: BLE001 - keep going; the report lists the failure
            traceback.print_exc()
            failures.append(f"{fn.__name__}: {type(exc).__name__}: {str(exc)[:300]}")
            return None

    admin = scratch.admin_engine()
    db_info = {}
    try:
        with admin.connect() as c:
            db_info["PostgreSQL"] = c.execute(text("SHOW server_version")).scalar_one()
        for n in sizes:
            city = step(bs.prepare_city, admin, n, incidents, args.data_seed, args.keep_db, run)
            if city is None:
                continue
            try:
                from gis.store import db
                with db.engine(city.url).connect() as c:
                    db_info["PostGIS"] = c.execute(text("SELECT postgis_lib_version()")
                                                   ).scalar_one()
                bs.run_city(city, opts, tables, metrics, run, step)
            finally:
                step(bs.release, admin, city)
            gc.collect()
        if not args.no_demo:
            demo = step(bs.prepare_demo, admin, args.keep_db, run)
            if demo is not None:
                try:
                    bs.run_demo(demo, opts, tables, run, step)
                finally:
                    step(bs.release, admin, demo)
    finally:
        admin.dispose()

    elapsed = time.perf_counter() - t0
    title = f"# gridgis scale benchmark {started:%Y-%m-%d %H:%M}" + (" (quick)" if args.quick
                                                                      else "")
    out = [title, "", *machine(db_info, loadavg),
           (f"- run: sizes {', '.join(f'{n:,}' for n in sizes)} grids, {incidents:,} incidents "
           f"(make_scale_data seed {args.data_seed}), bench seed {args.seed}; {opts.warm} warm "
           f"request(s) per page, {opts.tile_views} view(s) per zoom, {opts.repeats} "
           f"assignment repeat(s), soak {opts.soak_seconds:g} s with {opts.soak_officials} "
           f"officials and {opts.post_rate:g} posts/s; total {elapsed / 60:.1f} min"), ""]
    every = [*tables.all(), bs.scaling_table(metrics)]
    for t in every:
        if t.rows:
            out.append(t.markdown())
    missed = sum(t.missed() for t in every)
    out.append(f"Targets missed: {missed} row(s)." + ("" if not failures else
               f" Steps that failed ({len(failures)}): " + "; ".join(failures)))
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1k grids, 100k incidents, 20 s soak, 1 repeat (a few "
                        "minutes); with --legacy its old quick run")
    p.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")], default=None,
                   help="grid counts, e.g. 1000,10000,100000 (the default; quick 1000)")
    p.add_argument("--incidents", type=int, default=None,
                   help="incidents per city (default 1,000,000; quick 100,000; legacy: rows in "
                        "its import benchmark, default 100,000)")
    p.add_argument("--keep-db", action="store_true",
                   help="keep each loaded database (gridgis_scale_g<grids>_i<incidents>_s<seed>) "
                        "and reuse it in later runs instead of loading again")
    p.add_argument("--soak-seconds", type=float, default=None,
                   help="length of the soak (default 180; quick 20; legacy quick 15; 0 skips)")
    p.add_argument("--soak-officials", type=int, default=20, help="concurrent officials")
    p.add_argument("--post-rate", type=float, default=5.0,
                   help="incidents per second the client posts during the soak")
    p.add_argument("--warm", type=int, default=None, help="repeats per page after the cold "
                   "request (default 3; quick 2)")
    p.add_argument("--tile-views", type=int, default=None,
                   help="viewports per zoom in the tile sequence (default 3; quick 1)")
    p.add_argument("--browser-timeout", type=float, default=None,
                   help="seconds a page may take in Chromium (default 60; quick 30)")
    p.add_argument("--no-browser", action="store_true", help="skip the Chromium measures")
    p.add_argument("--no-demo", action="store_true", help="skip the Anda demo pages")
    p.add_argument("--repeats", type=int, default=None,
                   help="runs per assignment measure (default 3; quick 1)")
    p.add_argument("--data-seed", type=int, default=20261202,
                   help="seed of the synthetic cities (make_scale_data's default)")
    p.add_argument("--seed", type=int, default=20251123, help="seed of the benchmark itself")
    p.add_argument("--out", type=Path, default=None, help="output file (default "
                   "bench-results/bench-<date>[-quick].md; legacy bench-legacy-...)")
    legacy = p.add_argument_group("legacy benchmark (--legacy)")
    legacy.add_argument("--legacy", action="store_true", help="run the earlier benchmark")
    legacy.add_argument("--grids", type=int, nargs="+", default=None,
                        help="synthetic grid set sizes (default 10000 100000; quick 1000)")
    legacy.add_argument("--points", type=int, default=None, help="points per set (default 1M)")
    legacy.add_argument("--lookups", type=int, default=None,
                        help="HTTP/SQL lookups (default 2000)")
    legacy.add_argument("--soak-clients", type=int, default=6, help="concurrent soak clients")
    legacy.add_argument("--no-db", action="store_true", help="skip the database parts")
    args = p.parse_args(argv)

    started = datetime.now()
    loadavg = os.getloadavg() if hasattr(os, "getloadavg") else None
    report = main_legacy(args, started, loadavg) if args.legacy else \
        main_scale(args, started, loadavg)
    out = args.out or ROOT / "bench-results" / (
        f"bench-{'legacy-' if args.legacy else ''}{started:%Y-%m-%d}"
        + ("-quick" if args.quick else "") + ".md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    print("\n" + report)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
