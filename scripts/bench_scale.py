"""The scale benchmark (issue 13, "Targets"): synthetic cities of scripts/make_scale_data.py at
1k / 10k / 100k grids loaded through the ordinary imports into throwaway databases, then:

- pages: every map page's first HTML (server time: the first request, then the median of a few
  more; bytes), and the map drawn in headless Chromium;
- tiles: GET /tiles/{layer}/{z}/{x}/{y}.mvt over a deterministic pan/zoom sequence, cold (no
  If-None-Match; PostgreSQL's and the OS's caches stay warm);
- JSON: /api/v1/figures?level=grid and any /api/v1/analysis/... endpoint, cold then cached;
- the incidents import (the load's own `gridgis incidents import`), GridIndex against
  geopandas.sjoin on the city's grids and incidents;
- a soak: officials reading pages, tiles and figures while a client posts incidents;
- a scaling table 1k -> 10k -> 100k.
Driven by scripts/bench.py (its --help); every table row carries its size.
"""
from __future__ import annotations

import gc
import json
import math
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
from bench_common import (
    ROOT,
    Table,
    Target,
    all_met,
    bench_token,
    fmt_bytes,
    fmt_count,
    fmt_rate,
    fmt_s,
    judge,
    measure_bulk,
    ms_target,
    percentile,
    start_server,
    stop_server,
)

CACHE = ROOT / ".gridgis" / "scale"          # generated files and load records (git-ignored)
LOGS = ROOT / "bench-results"
PAGE_TARGET = ms_target(300)
DEMO_PAGE_TARGET = ms_target(1000)
BYTES_TARGET = Target("<", 200_000, lambda v: f"{v / 1000:g} KB")
DRAWN_TARGET = ms_target(2000)
TILE_P50, TILE_P99 = ms_target(30), ms_target(150)
FIGURES_TARGET = ms_target(300)
HOTSPOT_COLD, HOTSPOT_CACHED = ms_target(1000), ms_target(100)
IMPORT_TARGET = Target(">=", 100_000, lambda v: f"{v:,.0f} rows/s")
SPEEDUP_TARGET = Target(">=", 3.0, lambda v: f"{v:.2f}×")
BUILD_TARGET = ms_target(1000)
SOAK_P99 = ms_target(1000)
# the incident centre, tasks and supervision: computed on every request (no stored answer)
CASES_TARGET = ms_target(1000)
CASE_PATHS = ("/api/v1/cases?tab=all", "/api/v1/cases?tab=overdue&sort=stage_due_at",
              "/api/v1/cases?q=SC-00000042", "/api/v1/cases?tab=handle&category=dispute",
              "/api/v1/tasks", "/api/v1/supervision?level=township")
SCALING_TARGET = Target("<=", 2.0, lambda v: f"{v:.2g}×")
ZOOMS = range(8, 17)
VIEWPORT = (1400, 900)
TILE_LAYERS = ("grids", "cities", "townships", "villages", "hamlets", "incidents", "uncovered")
TILE_PARAMS: dict[str, dict] = {}     # layers that need a parameter: {layer: {name: value}}
RESULT_ONLY = "needs ?result= of a coverage result its page stores"
TILE_SKIP = {"blind_spots": RESULT_ONLY}


def pages_for(plan_page: bool = True) -> list[tuple[str, str]]:
    """(path, account) of every page measured: the officials' maps, the start page and the
    planner's list of drafts (/maps/plans needs plan.edit)."""
    pages = [("/", "official"), ("/maps/coverage", "official"),
             ("/maps/coverage/staff", "official"), ("/maps/coverage/cameras", "official"),
             ("/maps/coverage/response", "official"), ("/maps/coverage/blind-spots", "official"),
             ("/maps/hotspots", "official"),
             ("/maps/hotspots?category=dispute&days=90", "official"),
             ("/maps/rates?level=township", "official"), ("/maps/rates?level=village", "official"),
             ("/maps/rates?level=grid", "official"), ("/incidents", "official"),
             ("/tasks", "official"), ("/supervision", "official")]
    if plan_page:
        pages.append(("/maps/plans", "planner"))
    return pages


# ---- the scaling record ----

@dataclass
class Metrics:
    """Values per (measure, size) for the scaling table; `kind` 'time' (lower is better, the
    ≤ 2× rule applies) or 'rate'."""
    values: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)
    sizes: list = field(default_factory=list)

    def put(self, measure: str, size: int, value: float, kind: str = "time") -> None:
        self.values.setdefault(measure, {})[size] = value
        self.kinds[measure] = kind
        if size not in self.sizes:
            self.sizes.append(size)


def scaling_table(m: Metrics) -> Table:
    sizes = sorted(m.sizes)
    cols = ["measure", *(f"{fmt_count(s)} grids" for s in sizes)]
    rule = 10_000 in sizes and 100_000 in sizes
    if rule:
        cols += ["100k ÷ 10k", f"target {SCALING_TARGET}"]
    t = Table("Scaling 1k → 10k → 100k", cols,
              note="Times: pages are the warm median server time, tiles the p50 of the "
                   "sequence; rates in rows or points per second. The rule: at 100k grids no "
                   "page or tile more than 2× its 10k time (cost follows the screen)."
                   + ("" if rule else " (Needs both 10k and 100k sizes to judge.)"))
    for measure, by_size in m.values.items():
        kind = m.kinds[measure]
        cells = [(fmt_s(by_size[s]) if kind == "time" else f"{by_size[s]:,.0f} /s")
                 if s in by_size else "-" for s in sizes]
        ok = None
        if rule:
            a, b = by_size.get(10_000), by_size.get(100_000)
            if a and b is not None:
                ratio = b / a
                if kind == "time" and measure.startswith(("page", "tile")):
                    ok, text = judge(ratio, SCALING_TARGET)
                else:
                    text = "-"
                cells += [f"{ratio:.2f}×", text]
            else:
                cells += ["-", "-"]
        t.add(measure, *cells, ok=ok)
    return t


# ---- data and databases ----

@dataclass
class CitySet:
    grids: int
    incidents: int
    label: str
    folder: Path | None
    manifest: dict | None
    db_name: str
    url: str
    keep: bool
    load: dict                      # the load record: times per step, when
    reused_db: bool = False
    generation_id: int = 0
    city_code: str = ""
    townships: list = field(default_factory=list)


def _exists(admin, name: str) -> bool:
    from sqlalchemy import text
    with admin.connect() as c:
        return c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                         {"n": name}).first() is not None


def _scale_module():
    import make_scale_data
    return make_scale_data


def city_files(grids: int, incidents: int, seed: int) -> tuple[Path, dict]:
    """Generate (or reuse) the synthetic city's files under .gridgis/scale/. A folder with the
    same grids, incidents and seed is reused whatever day its incident year ends on."""
    scale = _scale_module()
    folder = CACHE / f"g{grids}-i{incidents}-s{seed}"
    end = None
    try:
        old = json.loads((folder / "manifest.json").read_text())
        end = date.fromisoformat(old["params"]["end"])
    except (OSError, ValueError, KeyError):
        pass
    print(f"\n== data: {grids:,} grids, {incidents:,} incidents in {folder.relative_to(ROOT)} ==",
          flush=True)
    t = time.perf_counter()
    manifest = scale.write_all(folder, grids, incidents, seed, end)
    print(f"  {'reused' if manifest.get('reused') else 'generated'} in "
          f"{time.perf_counter() - t:.1f} s; incidents end {manifest['params']['end']}",
          flush=True)
    return folder, manifest


def _load_with_cli(folder: Path, manifest: dict, url: str) -> dict:
    """gridgis boundaries/incidents/coverage imports (make_scale_data.load_all) into `url`."""
    scale = _scale_module()
    before = os.environ.get("GRIDGIS_DATABASE_URL")
    os.environ["GRIDGIS_DATABASE_URL"] = url
    try:
        return scale.load_all(folder, manifest)
    except SystemExit as exc:
        raise RuntimeError(f"loading failed (exit {exc.code})") from None
    finally:
        if before is None:
            os.environ.pop("GRIDGIS_DATABASE_URL", None)
        else:
            os.environ["GRIDGIS_DATABASE_URL"] = before


def prepare_city(admin, grids: int, incidents: int, seed: int, keep: bool, run: str) -> CitySet:
    from gis.store import db, scratch
    folder, manifest = city_files(grids, incidents, seed)
    record_path = folder / "load.json"
    name = f"gridgis_scale_g{grids}_i{incidents}_s{seed}" if keep else \
        f"gridgis_bench_{run}_g{grids}"
    record = {}
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        pass
    reuse = (keep and _exists(admin, name) and record.get("database") == name
             and record.get("manifest_created") == manifest.get("created"))
    label = f"{fmt_count(grids)} grids · {fmt_count(incidents)} inc"
    if reuse:
        url = scratch.url_of(name)
        db.migrate(url)
        print(f"  reusing database {name} (loaded {record['loaded']})", flush=True)
        s = CitySet(grids, incidents, label, folder, manifest, name, url, keep, record,
                    reused_db=True)
    else:
        scratch.drop_database(admin, name)
        url = scratch.create_database(admin, name)
        print(f"  database {name} created; loading through the ordinary imports", flush=True)
        try:
            times = _load_with_cli(folder, manifest, url)
        except BaseException:
            scratch.drop_database(admin, name)  # a half-loaded database is never reused
            raise
        record = {"database": name, "manifest_created": manifest.get("created"),
                  "loaded": datetime.now().isoformat(timespec="seconds"), "times_s": times,
                  "counts": manifest["summary"]["counts"]}
        if keep:
            record_path.write_text(json.dumps(record, indent=2))
        s = CitySet(grids, incidents, label, folder, manifest, name, url, keep, record)
    _describe(s)
    return s


def prepare_demo(admin, keep: bool, run: str) -> CitySet:
    """The Anda demo (1,011 grids, its incidents and coverage set), as `scripts/demo` loads it."""
    from gis.demo.load import load_demo
    from gis.store import db, scratch
    name = "gridgis_scale_anda" if keep else f"gridgis_bench_{run}_anda"
    record_path = CACHE / "anda-load.json"
    record = {}
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        pass
    print("\n== data: the Anda demo ==", flush=True)
    if keep and _exists(admin, name) and record.get("database") == name:
        url = scratch.url_of(name)
        db.migrate(url)
        print(f"  reusing database {name} (loaded {record['loaded']})", flush=True)
    else:
        scratch.drop_database(admin, name)
        url = scratch.create_database(admin, name)
        t = time.perf_counter()
        try:
            load_demo(db.engine(url), say=lambda line: print(f"  {line}", flush=True))
        except BaseException:
            scratch.drop_database(admin, name)
            raise
        record = {"database": name, "loaded": datetime.now().isoformat(timespec="seconds"),
                  "times_s": {"demo": round(time.perf_counter() - t, 1)}}
        if keep:
            CACHE.mkdir(parents=True, exist_ok=True)
            record_path.write_text(json.dumps(record, indent=2))
    s = CitySet(0, 0, "Anda demo", None, None, name, url, keep, record)
    _describe(s)
    s.label = f"Anda demo ({s.grids:,} grids)"
    return s


def _describe(s: CitySet) -> None:
    from sqlalchemy import text

    from gis.domain import LEVEL_NUMBER
    from gis.store import db
    with db.engine(s.url).connect() as c:
        gen = c.execute(text("SELECT id FROM generation WHERE is_active")).scalar_one()
        s.generation_id = gen
        s.city_code = c.execute(text("SELECT code FROM admin_area WHERE generation_id = :g "
                                     "AND parent_id IS NULL ORDER BY code LIMIT 1"),
                                {"g": gen}).scalar_one()
        s.townships = list(c.execute(text("SELECT code FROM admin_area WHERE generation_id = :g "
                                          "AND level = :t ORDER BY code"),
                                     {"g": gen, "t": LEVEL_NUMBER["township"]}).scalars())
        if not s.grids:
            s.grids = c.execute(text("SELECT count(*) FROM grid WHERE generation_id = :g"),
                                {"g": gen}).scalar_one()
            s.incidents = c.execute(text("SELECT count(*) FROM incident")).scalar_one()


def release(admin, s: CitySet) -> None:
    from gis.store import db, scratch
    db.engine(s.url).dispose()
    if s.keep:
        print(f"  kept database {s.db_name} (--keep-db)", flush=True)
    else:
        scratch.drop_database(admin, s.db_name)
        print(f"  dropped {s.db_name}", flush=True)


def clear_results(url: str) -> int:
    """Empty the stored analysis results (cold analyses); 0 when the table does not exist."""
    from sqlalchemy import text

    from gis.store import db
    with db.engine(url).begin() as c:
        if c.execute(text("SELECT to_regclass('analysis_result')")).scalar() is None:
            return 0
        return c.execute(text("DELETE FROM analysis_result")).rowcount


# ---- pages (server) ----

def get(session, url: str, timeout: float):
    t = time.perf_counter()
    r = session.get(url, timeout=timeout)
    body = r.content
    return r, body, time.perf_counter() - t


def measure_pages(base: str, tokens: dict, s: CitySet, table: Table, metrics: Metrics | None,
                  warm: int, time_target: Target, bytes_target: Target | None,
                  pages=None, timeout: float = 300) -> dict:
    """Each page once cold (the first request in this server process), then `warm` more (one
    when the cold one took over 10 s); judged on the warm median. Returns {path: (cold, p50)}."""
    import requests
    out = {}
    print(f"\n== pages, server time [{s.label}] ==", flush=True)
    for path, who in pages or pages_for():
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {tokens[who]}"
            try:
                r, body, cold = get(session, base + path, timeout)
                samples = []
                n = warm if cold < 10 else min(warm, 1)
                for _ in range(n):
                    r, body, dt = get(session, base + path, timeout)
                    samples.append(dt)
            except requests.RequestException as exc:
                table.add(path, s.label, "-", "-", f"**MISS** ({type(exc).__name__})", "-", "-",
                          str(exc)[:120], ok=False)
                continue
        if r.status_code != 200:
            table.add(path, s.label, fmt_s(cold), "-", f"**MISS** (answered {r.status_code})",
                      fmt_bytes(len(body)), "-", r.text[:120], ok=False)
            continue
        p50 = percentile(samples or [cold], 50)
        t_res = judge(p50, time_target)
        b_res = judge(len(body), bytes_target)
        table.add(path, s.label, fmt_s(cold), f"{fmt_s(p50)} ({len(samples)})",
                  f"{time_target}: {t_res[1]}", fmt_bytes(len(body)),
                  f"{bytes_target}: {b_res[1]}" if bytes_target else "-",
                  f"as {who}", ok=all_met(t_res, b_res))
        out[path] = (cold, p50)
        if metrics is not None:
            metrics.put(f"page {path}", s.grids, p50)
    return out


PAGE_COLUMNS = ["page", "size", "cold", "warm p50 (n)", "time", "HTML", "bytes", "notes"]


# ---- JSON endpoints ----

def analysis_paths(url: str) -> list[str]:
    """GET routes of the app under /api/v1/analysis/ without path variables (they are being
    built: the benchmark measures what exists)."""
    from web import create_app
    app = create_app({"DATABASE_URL": url})
    return sorted(r.rule for r in app.url_map.iter_rules()
                  if r.rule.startswith("/api/v1/analysis/") and "<" not in r.rule
                  and "GET" in (r.methods or ()))


def measure_json(base: str, token: str, s: CitySet, table: Table, metrics: Metrics | None,
                 warm: int, hotspot_page_cold: float | None = None,
                 hotspot_page_warm: float | None = None) -> None:
    import requests
    print(f"\n== JSON endpoints [{s.label}] ==", flush=True)
    cleared = clear_results(s.url)
    endpoints = [("/api/v1/figures?level=grid", FIGURES_TARGET, FIGURES_TARGET),
                 *((path, CASES_TARGET, CASES_TARGET) for path in CASE_PATHS)]
    found = analysis_paths(s.url)
    for path in found:
        hot = "hotspot" in path or "gistar" in path or "getis" in path
        query = "?level=grid" if path.endswith("/rates") else ""
        endpoints.append((path + query, HOTSPOT_COLD if hot else None,
                          HOTSPOT_CACHED if hot else None))
        if hot:
            endpoints.append((path + "?category=dispute&days=90", HOTSPOT_COLD, HOTSPOT_CACHED))
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for path, cold_target, warm_target in endpoints:
            try:
                r, body, cold = get(session, base + path, 300)
                samples = []
                for _ in range(warm):
                    r, body, dt = get(session, base + path, 300)
                    samples.append(dt)
            except requests.RequestException as exc:
                table.add(path, s.label, "-", "-", fmt_bytes(math.nan), "-", "-",
                          f"{type(exc).__name__}: {str(exc)[:100]}", ok=False)
                continue
            if r.status_code != 200:
                table.add(path, s.label, fmt_s(cold), "-", fmt_bytes(len(body)), "-",
                          f"**MISS** (answered {r.status_code})", r.text[:120], ok=False)
                continue
            p50 = percentile(samples or [cold], 50)
            figures = path.startswith("/api/v1/figures")
            c_res = judge(cold, cold_target)
            w_res = judge(p50, warm_target)
            table.add(path, s.label, fmt_s(cold), f"{fmt_s(p50)} ({len(samples)})",
                      fmt_bytes(len(body)),
                      f"{cold_target}: {c_res[1]}" if cold_target else "-",
                      f"{warm_target}: {w_res[1]}" if warm_target else "-",
                      "no target in the issue for this endpoint" if warm_target is None else
                      ("cold = computed (as after any write), warm = the stored answer"
                       if figures else "cached = the repeats"), ok=all_met(c_res, w_res))
            if metrics is not None:
                metrics.put(f"json {path}", s.grids, p50)
    if not any("hotspot" in p for p in found):
        note = f"{cleared} stored results emptied first" if cleared else "no stored results"
        if hotspot_page_cold is not None:
            c_res = judge(hotspot_page_cold, HOTSPOT_COLD)
            w_res = judge(hotspot_page_warm, HOTSPOT_CACHED)
            table.add("hot spots via GET /maps/hotspots (no JSON endpoint yet)", s.label,
                      fmt_s(hotspot_page_cold), fmt_s(hotspot_page_warm), "(page)",
                      f"{HOTSPOT_COLD}: {c_res[1]}", f"{HOTSPOT_CACHED}: {w_res[1]}",
                      "the whole page (analysis + HTML); the first request in the server "
                      "also imports esda/libpysal; " + note, ok=all_met(c_res, w_res))
        else:
            table.add("hot-spot analysis endpoint", s.label, "-", "-", "-", "-", "-",
                      "skipped: no /api/v1/analysis/hotspots endpoint in the app yet")


JSON_COLUMNS = ["endpoint", "size", "cold", "warm p50 (n)", "bytes", "cold target",
                "warm target", "notes"]


# ---- tiles ----

def lonlat_to_pixel(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Web Mercator pixel of lon/lat at zoom z (256-pixel tiles)."""
    n = 256 * 2 ** z
    lat = max(min(lat, 85.05112878), -85.05112878)
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return x, y


def view_tiles(lon: float, lat: float, z: int, size=VIEWPORT) -> list[tuple[int, int, int]]:
    """The tiles a viewport of `size` pixels centred on lon/lat shows at zoom z, from the
    centre outwards (the order Leaflet asks for them)."""
    w, h = size
    px, py = lonlat_to_pixel(lon, lat, z)
    last = 2 ** z - 1
    xs = range(max(0, math.floor((px - w / 2) / 256)), min(last, math.floor((px + w / 2) / 256)) + 1)
    ys = range(max(0, math.floor((py - h / 2) / 256)), min(last, math.floor((py + h / 2) / 256)) + 1)
    cx, cy = px / 256, py / 256
    return sorted(((z, x, y) for x in xs for y in ys),
                  key=lambda t: ((t[1] + .5 - cx) ** 2 + (t[2] + .5 - cy) ** 2, t[1], t[2]))


def pan_zoom_sequence(places: np.ndarray, zooms=ZOOMS, views: int = 3,
                      seed: int = 0) -> list[tuple[int, float, float]]:
    """Viewports (z, lon, lat): at each zoom the first view zooms in halfway towards a place,
    the next pan to other places; places (lon, lat rows, e.g. incidents) are picked with the
    seed, so busy parts of the city are visited more, as officials do."""
    rng = np.random.default_rng(seed)
    lon, lat = float(np.median(places[:, 0])), float(np.median(places[:, 1]))
    out = []
    for z in zooms:
        for v in range(views):
            p = places[rng.integers(len(places))]
            if v == 0:
                lon, lat = (lon + p[0]) / 2, (lat + p[1]) / 2
            else:
                lon, lat = float(p[0]), float(p[1])
            out.append((z, lon, lat))
    return out


def tile_requests(sequence, layers, min_zoom: dict) -> list[tuple[str, int, int, int]]:
    """(layer, z, x, y) in the order a page showing every layer would ask, each tile once."""
    seen, out = set(), []
    for z, lon, lat in sequence:
        for tile in view_tiles(lon, lat, z):
            for layer in layers:
                if z < min_zoom.get(layer, 0):
                    continue
                key = (layer, *tile)
                if key not in seen:
                    seen.add(key)
                    out.append(key)
    return out


def incident_places(s: CitySet, n: int = 5000, seed: int = 0) -> np.ndarray:
    """A sample of incident locations (lon, lat) from the database."""
    from sqlalchemy import text

    from gis.store import db
    with db.engine(s.url).connect() as c:
        rows = c.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM incident "
                              "ORDER BY md5(id::text || :seed) LIMIT :n"),
                         {"n": n, "seed": str(seed)}).all()
    return np.array(rows, dtype=float)


def tile_url(base: str, layer: str, z: int, x: int, y: int, generation_id: int) -> str:
    from urllib.parse import urlencode
    query = urlencode({"g": generation_id, **TILE_PARAMS.get(layer, {})})
    return f"{base}/tiles/{layer}/{z}/{x}/{y}.mvt?{query}"


def tile_plan(s: CitySet, views: int, seed: int) -> tuple[list, dict, str]:
    """The tile requests of the sequence (every layer the app serves, as far as it can be asked
    without a page's stored result), the zoom from which grids are drawn, and a note."""
    from gis.store import db
    layers, min_zoom, note, skip = TILE_LAYERS, {}, "", dict(TILE_SKIP)
    try:
        from gis.tiles import layers as tile_layers
        layers = tuple(tile_layers.LAYERS)
        for k in getattr(tile_layers, "SHAPE_LAYERS", ()):
            skip.setdefault(k, RESULT_ONLY)
        with db.engine(s.url).connect() as c:
            min_zoom["grids"] = tile_layers.grid_min_zoom(c, s.generation_id)
        note = f"grids from zoom {min_zoom['grids']} (gis.tiles.layers.grid_min_zoom), as the pages"
    except (ImportError, AttributeError) as exc:
        note = f"grid min zoom unknown ({exc}); grids at every zoom"
    skipped = [f"{k} ({why})" for k, why in skip.items() if k in layers]
    layers = tuple(k for k in layers if k not in skip)
    if skipped:
        note += "; skipped: " + ", ".join(skipped)
    if TILE_PARAMS:
        note += "; " + ", ".join(f"{k} with ?" + "&".join(f"{a}={b}" for a, b in v.items())
                                 for k, v in TILE_PARAMS.items() if k in layers)
    seq = pan_zoom_sequence(incident_places(s, seed=seed), ZOOMS, views, seed)
    return tile_requests(seq, layers, min_zoom), min_zoom, note


def _message(r) -> str:
    try:
        return str(r.json()["error"]["message"])[:160]
    except (ValueError, KeyError, TypeError):
        return r.text[:160]


def measure_tiles(base: str, token: str, s: CitySet, requests_, table: Table,
                  metrics: Metrics | None, note: str = "") -> set:
    """Every tile of `requests_` once; one row per layer and one for all. Returns the layers
    refused outright (400 on their first tile), which the soak then leaves out."""
    import requests
    print(f"\n== tiles [{s.label}]: {len(requests_):,} requests ==", flush=True)
    by_layer: dict[str, list] = {}
    errors = []
    t_all = time.perf_counter()
    refused: dict[str, str] = {}    # layers whose first tile answered 400: not asked again
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for i, (layer, z, x, y) in enumerate(requests_):
            if layer in refused:
                continue
            url = tile_url(base, layer, z, x, y, s.generation_id)
            try:
                r, body, dt = get(session, url, 120)
            except requests.RequestException as exc:
                errors.append(f"{layer}/{z}/{x}/{y}: {type(exc).__name__}")
                continue
            if r.status_code == 400 and layer not in by_layer:
                refused[layer] = _message(r)
                continue
            if r.status_code not in (200, 204):
                errors.append(f"{layer}/{z}/{x}/{y}: {r.status_code} {r.text[:60]}")
                if r.status_code == 404 and i == 0:
                    break
            by_layer.setdefault(layer, []).append((z, x, y, dt, len(body), r.status_code))
            if (i + 1) % 500 == 0:
                print(f"  {i + 1:,}/{len(requests_):,} tiles, {time.perf_counter() - t_all:.0f} s",
                      flush=True)
    for layer, why in refused.items():
        table.add(layer, s.label, "-", "-", "-", "-", "not measured", "not measured", "-",
                  f"its first tile answered 400: {why}")
    if not by_layer:
        table.add("all layers", s.label, "-", "0", "-", "-", "-", "-", "-",
                  "no tile answered: " + "; ".join(errors[:3]), ok=False)
        return set(refused)
    rows = [(layer, v) for layer, v in by_layer.items()]
    rows.append(("all layers", [t for v in by_layer.values() for t in v]))
    for layer, v in rows:
        failed = [t for t in v if t[5] not in (200, 204)]
        v = [t for t in v if t[5] in (200, 204)]
        if not v:
            table.add(layer, s.label, "-", f"0 of {len(failed):,}", "-", "-", "**MISS**",
                      "**MISS**", "-", f"every tile answered {failed[0][5]}: "
                      + next((e for e in errors if e.startswith(layer + "/")), ""), ok=False)
            continue
        times = [t[3] for t in v]
        sizes = [t[4] for t in v if t[4] > 0]
        zs = sorted({t[0] for t in v})
        p50, p99 = percentile(times, 50), percentile(times, 99)
        r50, r99 = judge(p50, TILE_P50), judge(p99, TILE_P99)
        worst = max(v, key=lambda t: t[3])
        empty = sum(1 for t in v if t[4] == 0)
        notes = f"slowest {worst[0]}/{worst[1]}/{worst[2]} {fmt_s(worst[3])}"
        if failed:
            notes += f"; {len(failed):,} errors"
        if layer == "all layers":
            lost = len(errors) - len(failed)   # connection errors and timeouts
            notes += (f"; {lost} requests failed" if lost else "") + \
                (f" ({'; '.join(errors[:2])})" if errors else "") + (f"; {note}" if note else "")
        table.add(layer, s.label, f"{zs[0]}-{zs[-1]}", f"{len(v):,} ({empty:,})",
                  fmt_s(p50), fmt_s(p99), r50[1], r99[1],
                  f"{fmt_bytes(percentile(sizes, 50))} / {fmt_bytes(max(sizes, default=0))}",
                  notes, ok=False if failed or (layer == "all layers" and errors)
                  else all_met(r50, r99))
        if metrics is not None:
            metrics.put(f"tile {layer} p50", s.grids, p50)
    return set(refused)


TILE_COLUMNS = ["layer", "size", "zooms", "tiles (empty)", "p50", "p99", f"p50 {TILE_P50}",
                f"p99 {TILE_P99}", "bytes p50 / max", "notes"]
TILE_NOTE = ("Cold: every tile once, no If-None-Match, a fresh server process; PostgreSQL's "
             "shared buffers and the OS page cache stay warm (the pages ran before). Sequence: "
             f"at each zoom {ZOOMS.start}-{ZOOMS.stop - 1}, viewports of {VIEWPORT[0]}×"
             f"{VIEWPORT[1]} px, the first zooming in halfway towards an incident place, the "
             "others panning to incident places (seeded); every layer of each view. Bytes over "
             "non-empty tiles (empty = 204).")


# ---- the browser ----

INIT_JS = """
try { performance.setResourceTimingBufferSize(100000); } catch (e) {}
window.__ggLastPaint = 0;
new MutationObserver(function (muts) {
  for (const m of muts) {
    for (const n of m.addedNodes) {
      if (n.nodeType !== 1) continue;
      const inMap = n.closest && n.closest('.leaflet-container');
      if (inMap && (n.matches('path,canvas,svg,img') ||
                    (n.querySelector && n.querySelector('path,canvas')))) {
        window.__ggLastPaint = performance.now();
      }
    }
  }
}).observe(document, {subtree: true, childList: true});
"""
METRICS_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0] || {};
  const res = performance.getEntriesByType('resource');
  let lastRes = 0, bytes = 0, slow = null;
  for (const r of res) {
    lastRes = Math.max(lastRes, r.responseEnd);
    bytes += r.transferSize || 0;
    if (!slow || r.duration > slow.duration) slow = r;
  }
  const q = (s) => document.querySelectorAll(s).length;
  const flag = window.gridgisDrawn;
  return {flag: typeof flag === 'number' ? flag : (flag ? -1 : null),
          map: q('.leaflet-container'),
          paths: q('.leaflet-overlay-pane path, .leaflet-tile-container path'),
          canvases: q('.leaflet-overlay-pane canvas, .leaflet-tile-container canvas'),
          lastPaint: window.__ggLastPaint || 0, load: nav.loadEventEnd || 0,
          lastRes: lastRes, requests: res.length,
          slowest: slow ? [new URL(slow.name).pathname + new URL(slow.name).search,
                           slow.startTime, slow.duration] : null,
          bytes: bytes + (nav.transferSize || 0)};
}"""
# offline as the browser tests are: every host but loopback fails to resolve
BLOCK_OUTSIDE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost"


def drawn_ms(m: dict) -> tuple[float | None, str]:
    """When the map was drawn (ms from navigation) and how that was read: the page's own
    window.gridgisDrawn timestamp, else the latest of the load event, the last response and the
    last path/canvas added in the map, provided something was painted."""
    if m.get("flag") is not None and m["flag"] >= 0:
        return m["flag"], "window.gridgisDrawn"
    if not m.get("map"):
        return m["load"], "no map: load event"
    if not (m.get("paths") or m.get("canvases")):
        return None, "nothing painted in the map"
    how = "flag set (no time); " if m.get("flag") == -1 else ""
    return max(m["load"], m["lastRes"], m["lastPaint"]), how + "network idle + painted"


def measure_browser(base: str, tokens: dict, s: CitySet, table: Table, timeout_s: float,
                    pages=None) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from tests.helpers.browser import ARGS, CHROMIUM
    print(f"\n== browser [{s.label}] ==", flush=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=[*ARGS, BLOCK_OUTSIDE])
        try:
            for path, who in pages or pages_for():
                ctx = browser.new_context(viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]},
                                          extra_http_headers={
                                              "Authorization": f"Bearer {tokens[who]}"})
                ctx.add_init_script(INIT_JS)
                page = ctx.new_page()
                errors, failed, bad = [], [], []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.on("console", lambda m, errors=errors: m.type == "error"
                        and not m.text.startswith("Failed to load resource")
                        and errors.append(m.text))
                page.on("requestfailed", lambda r, failed=failed: failed.append(r.url))
                page.on("response", lambda r, bad=bad: r.status >= 400
                        and bad.append(f"{r.status} {r.url.replace(base, '')}"))
                t = time.perf_counter()
                try:
                    resp = page.goto(base + path, wait_until="load", timeout=timeout_s * 1000)
                    left = max(1.0, timeout_s - (time.perf_counter() - t))
                    page.wait_for_load_state("networkidle", timeout=left * 1000)
                    m = page.evaluate(METRICS_JS)
                except PlaywrightError as exc:
                    wall = time.perf_counter() - t
                    what = "timeout" if "Timeout" in str(exc) else \
                        ("crashed" if "crash" in str(exc).lower() else type(exc).__name__)
                    table.add(path, s.label, f"> {fmt_s(wall)}", "-", "-",
                              f"{DRAWN_TARGET}: **MISS** ({what})", str(exc).splitlines()[0][:120],
                              ok=False)
                    ctx.close()
                    continue
                wall = time.perf_counter() - t
                ms, how = drawn_ms(m)
                status = resp.status if resp else 0
                res = judge(None if ms is None else ms / 1000, DRAWN_TARGET)
                if status != 200:
                    res = (False, f"**MISS** (answered {status})")
                notes = [how, f"wall {fmt_s(wall)} incl. 0.5 s of network idle"]
                if m.get("slowest"):
                    url, start, took = m["slowest"]
                    notes.append(f"slowest request {url[:90]}: {fmt_s(took / 1000)} from "
                                 f"{fmt_s(start / 1000)}")
                if errors:
                    notes.append(f"{len(errors)} console errors: {errors[0][:80]}")
                if failed:
                    notes.append(f"{len(failed)} failed requests: {failed[0][:80]}")
                if bad:
                    notes.append(f"{len(bad)} answers >= 400: {', '.join(sorted(set(bad))[:3])}")
                table.add(path, s.label, fmt_s(ms / 1000) if ms is not None else "not drawn",
                          f"{m['paths']:,} paths, {m['canvases']:,} canvases",
                          f"{m['requests']:,} / {fmt_bytes(m['bytes'])}",
                          f"{DRAWN_TARGET}: {res[1]}", "; ".join(notes), ok=res[0])
                ctx.close()
        finally:
            browser.close()


BROWSER_COLUMNS = ["page", "size", "drawn after", "painted", "requests / bytes", "target",
                   "notes"]
BROWSER_NOTE = ("Headless Chromium (Debian's, through Playwright), a new context (empty cache) "
                f"per page, {VIEWPORT[0]}×{VIEWPORT[1]} px, every host but loopback blocked; "
                "time from navigation start. \"Drawn\": the page's window.gridgisDrawn "
                "timestamp when it sets one, else the latest of the load event, the last "
                "response and the last path/canvas added to the Leaflet map (after network "
                "idle), provided at least one path or canvas is in the overlay pane or a tile "
                "container.")


# ---- import and assignment ----

def measure_import(s: CitySet, table: Table, metrics: Metrics | None) -> None:
    times = s.load.get("times_s", {})
    counts = s.load.get("counts") or s.manifest["summary"]["counts"]
    when = f"the load of {s.load.get('loaded')}" + (" (database reused)" if s.reused_db else "")
    if "incidents" in times:
        rate = counts["incidents"] / times["incidents"]
        res = judge(rate, IMPORT_TARGET)
        table.add("gridgis incidents import", s.label, f"{rate:,.0f} rows/s",
                  f"{IMPORT_TARGET}: {res[1]}",
                  f"{counts['incidents']:,} rows in {fmt_s(times['incidents'])} end to end "
                  f"(command start-up, read, validate, assign, COPY, commit); {when}", ok=res[0])
        if metrics is not None:
            metrics.put("import incidents", s.grids, rate, "rate")
    if "boundaries" in times:
        units = sum(counts[k] for k in ("city", "township", "village", "hamlet", "grid"))
        table.add("gridgis boundaries import --commit", s.label, fmt_s(times["boundaries"]), "-",
                  f"{units:,} units, {s.manifest['summary']['vertices_total']:,} vertices; {when}")
    for step in ("staff", "cameras"):
        if step in times:
            table.add(f"gridgis coverage import-{step}", s.label, fmt_s(times[step]), "-",
                      f"{counts[step]:,} rows; {when}")


def measure_assignment(s: CitySet, repeats: int, table: Table, metrics: Metrics | None) -> None:
    """GridIndex against geopandas.sjoin on the city's grids and its incidents' points."""
    import pandas as pd
    import pyogrio
    print(f"\n== assignment [{s.label}] ==", flush=True)
    grids = pyogrio.read_dataframe(s.folder / "boundaries.gpkg", layer="grid", columns=["code"])
    pts = pd.read_csv(s.folder / "incidents.csv", usecols=["lon", "lat"],
                      dtype={"lon": float, "lat": float})
    x, y = pts["lon"].to_numpy(float), pts["lat"].to_numpy(float)
    del pts
    r = measure_bulk(grids.geometry.to_numpy(), grids["code"].astype(str).to_numpy(), x, y,
                     repeats)
    del grids
    gc.collect()
    n = len(x)
    spread = f"median of {repeats}" if repeats > 1 else "1 run"
    b_res = judge(r["build"], BUILD_TARGET)
    table.add("GridIndex build", s.label, fmt_s(r["build"]), f"{BUILD_TARGET}: {b_res[1]}",
              f"{r['vertices']}; {spread}", ok=b_res[0])
    table.add("GridIndex first build + assign in the process", s.label, fmt_s(r["first"]), "-",
              "includes imports and any JIT compilation; the rows below are the runs after it")
    table.add("GridIndex assign", s.label, fmt_rate(n, r["assign"], "points/s"), "-",
              f"{fmt_s(r['assign'])} for {n:,} incident points")
    table.add("geopandas.sjoin within", s.label, fmt_rate(n, r["join"], "points/s"), "-",
              f"{fmt_s(r['join'])} incl. its STRtree, excl. {fmt_s(r['points'])} to build the "
              "points GeoDataFrame")
    speed = r["join"] / (r["build"] + r["assign"])
    sp_res = judge(speed, SPEEDUP_TARGET)
    table.add("speed GridIndex build+assign ÷ sjoin", s.label, f"{speed:.2f}×",
              f"{SPEEDUP_TARGET}: {sp_res[1]}", f"assign alone {r['join'] / r['assign']:.2f}×",
              ok=sp_res[0])
    ag_res = (r["agree"] == 1.0, "pass" if r["agree"] == 1.0 else "**MISS**")
    table.add("agreement GridIndex = sjoin", s.label, f"{r['agree'] * 100:.4f} %",
              f"= 100 %: {ag_res[1]}", f"{r['differ']} differ; uncovered {r['uncovered'] * 100:.2f} %",
              ok=ag_res[0])
    if metrics is not None:
        metrics.put("assign GridIndex build+assign", s.grids, n / (r["build"] + r["assign"]),
                    "rate")
        metrics.put("assign GridIndex build", s.grids, r["build"])


LOAD_COLUMNS = ["measure", "size", "value", "target", "notes"]


# ---- the soak ----

def grid_points(s: CitySet, n: int, seed: int) -> np.ndarray:
    """Points surely inside grids (one per grid sampled), for the reports the client posts."""
    from sqlalchemy import text

    from gis.store import db
    with db.engine(s.url).connect() as c:
        rows = c.execute(text("""
            SELECT ST_X(p), ST_Y(p) FROM (
                SELECT ST_PointOnSurface(geom) AS p FROM grid WHERE generation_id = :g
                ORDER BY md5(id::text || :seed) LIMIT :n) t"""),
            {"g": s.generation_id, "n": n, "seed": str(seed)}).all()
    return np.array(rows, dtype=float)


def server_log_summary(log: Path | None, start: int = 0) -> str:
    """What the server wrote to stderr from byte `start`: waitress's deepest task queue and
    the number of tracebacks."""
    if not log or not log.exists():
        return ""
    with log.open("rb") as f:
        f.seek(start)
        text_ = f.read().decode(errors="replace")
    depths = [int(m) for m in re.findall(r"Task queue depth is (\d+)", text_)]
    parts = []
    if depths:
        parts.append(f"waitress task queue up to {max(depths)} deep")
    if (n := text_.count("Traceback")):
        parts.append(f"{n} tracebacks in {log.relative_to(ROOT)}")
    return "; ".join(parts)


def soak(base: str, s: CitySet, seconds: float, officials: list[str], poster: tuple[str, str],
         tiles: list, pages: list[str], post_rate: float, seed: int, table: Table,
         log: Path | None = None) -> None:
    """Officials read pages (20 %), tiles (60 %) and figures (20 %) back to back while one
    machine client posts incidents at `post_rate` per second; afterwards the incidents stored
    under the client's source must equal the posts answered 201."""
    import requests
    from sqlalchemy import text

    from gis.store import db
    print(f"\n== soak [{s.label}]: {len(officials)} officials + 1 posting client, "
          f"{seconds:.0f} s ==", flush=True)
    lock = threading.Lock()
    lat: dict[str, list] = {"page": [], "tile": [], "figures": [], "post": []}
    served: dict[str, list] = {k: [] for k in lat}  # answered 2xx/3xx
    errors: list[str] = []
    busy = 0
    accepted = 0
    stop = time.monotonic() + seconds
    places = grid_points(s, 2000, seed)
    levels = ("township", "village", "grid")

    def record(kind, dt, r=None, exc=None):
        nonlocal busy, accepted
        with lock:
            lat[kind].append(dt)
            if r is not None and r.status_code < 400:
                served[kind].append(dt)
            if exc is not None:
                errors.append(f"{kind}: {type(exc).__name__}")
            elif kind == "post":
                if r.status_code == 201:
                    accepted += 1
                else:
                    errors.append(f"post: {r.status_code} {r.text[:80]}")
            elif r.status_code >= 400:
                busy += r.status_code == 429
                errors.append(f"{kind}: {r.status_code}")

    def official(i: int, token: str) -> None:
        rng = np.random.default_rng([seed, i])
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            while time.monotonic() < stop:
                u = rng.random()
                if u < 0.2:
                    kind, url = "page", base + pages[rng.integers(len(pages))]
                elif u < 0.8:
                    layer, z, x, y = tiles[rng.integers(len(tiles))]
                    kind, url = "tile", tile_url(base, layer, z, x, y, s.generation_id)
                else:
                    kind = "figures"
                    url = f"{base}/api/v1/figures?level={levels[rng.integers(3)]}"
                t = time.perf_counter()
                try:
                    r = session.get(url, timeout=60)
                    _ = r.content
                    record(kind, time.perf_counter() - t, r)
                except requests.RequestException as exc:
                    record(kind, time.perf_counter() - t, exc=exc)

    def post(name: str, token: str) -> None:
        rng = np.random.default_rng([seed, 999])
        n = 0
        nxt = time.monotonic()
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            while time.monotonic() < stop:
                nxt += 1.0 / post_rate
                time.sleep(max(0.0, nxt - time.monotonic()))
                n += 1
                lon, lat_ = places[rng.integers(len(places))]
                body = {"type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat_, 6)]},
                        "properties": {"external_id": f"{name}-{n}", "category": "dispute_land",
                                       "occurred_at": datetime.now().astimezone().isoformat(
                                           timespec="seconds")}}
                t = time.perf_counter()
                try:
                    r = session.post(f"{base}/api/v1/incidents", json=body, timeout=60)
                    record("post", time.perf_counter() - t, r)
                except requests.RequestException as exc:
                    record("post", time.perf_counter() - t, exc=exc)

    log_start = log.stat().st_size if log and log.exists() else 0
    threads = [threading.Thread(target=official, args=(i, tok)) for i, tok in enumerate(officials)]
    threads.append(threading.Thread(target=post, args=poster))
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    with db.engine(s.url).begin() as c:
        stored = c.execute(text("SELECT count(*) FROM incident WHERE source = :s"),
                           {"s": poster[0]}).scalar_one()
        if s.keep:  # leave the kept database as it was loaded
            c.execute(text("DELETE FROM incident WHERE source = :s"), {"s": poster[0]})
    every = [x for v in lat.values() for x in v]
    ok_all = [x for v in served.values() for x in v]
    size = f"{s.label}, {len(officials)}+1 clients, {elapsed:.0f} s"
    server = server_log_summary(log, log_start)
    table.add("throughput", size, fmt_rate(len(every), elapsed, "requests/s"), "-",
              ", ".join(f"{k} {len(v):,}" for k, v in lat.items())
              + f"; answered 2xx/3xx {fmt_rate(len(ok_all), elapsed, '/s')}"
              + (f"; {server}" if server else ""))
    p99 = percentile(ok_all, 99)
    res = judge(p99, SOAK_P99)
    table.add("latency, every answered request", size, _spread(ok_all),
              f"p99 {SOAK_P99}: {res[1]}", "2xx/3xx answers (refusals and errors are counted "
              f"below); all {len(every):,} requests incl. refusals: {_spread(every)}; officials "
              "read back to back (no think time)", ok=res[0])
    for kind, v in served.items():
        if v:
            table.add(f"latency, {kind}", size, _spread(v), "-",
                      f"{len(v):,} answered of {len(lat[kind]):,}"
                      + (f", posted at {post_rate:g}/s" if kind == "post" else ""))
    res = judge(len(errors), Target("==", 0, str))
    table.add("errors (4xx, 5xx, timeouts, connection)", size, f"{len(errors):,}",
              f"= 0: {res[1]}", (f"{busy:,} of them 429 (heavy work busy); " if busy else "")
              + "; ".join(sorted(set(errors))[:4]), ok=res[0])
    res = (stored == accepted, "pass" if stored == accepted else "**MISS**")
    table.add("incidents stored = posts answered 201", size, f"{stored:,} = {accepted:,}",
              f"equal: {res[1]}", "deleted again afterwards (--keep-db)" if s.keep else "",
              ok=res[0])


def _spread(v) -> str:
    if not v:
        return "-"
    return (f"p50 {fmt_s(percentile(v, 50))} · p99 {fmt_s(percentile(v, 99))} · "
            f"max {fmt_s(max(v))}")


SOAK_COLUMNS = ["measure", "size", "value", "target", "notes"]


# ---- one size ----

@dataclass
class Options:
    warm: int = 3
    tile_views: int = 3
    browser_timeout: float = 60
    repeats: int = 3
    soak_seconds: float = 180
    soak_officials: int = 20
    post_rate: float = 5.0
    seed: int = 0
    browser: bool = True
    threads: int = 8


@dataclass
class Tables:
    pages: Table = field(default_factory=lambda: Table(
        "Pages: first HTML (server time)", PAGE_COLUMNS,
        note="Time to the last byte over loopback from a fresh server process (waitress, 8 "
             "threads as `gridgis serve`); cold = the first request for the page, then the "
             "median of the repeats (n); judged on the median. KB = 1,000 bytes."))
    browser: Table = field(default_factory=lambda: Table(
        "Map drawn in headless Chromium", BROWSER_COLUMNS, note=BROWSER_NOTE))
    tiles: Table = field(default_factory=lambda: Table(
        "Vector tiles", TILE_COLUMNS, note=TILE_NOTE))
    json: Table = field(default_factory=lambda: Table(
        "JSON endpoints", JSON_COLUMNS,
        note="Cold: stored analysis results emptied, first request in the server process; "
             "warm: the repeats."))
    load: Table = field(default_factory=lambda: Table(
        "Import and assignment", LOAD_COLUMNS,
        note="Imports: the load of the city through the `gridgis` commands "
             "(make_scale_data.load_all). Assignment: in process on the city's grids and all "
             "its incidents' points (clustered, as generated)."))
    soak: Table = field(default_factory=lambda: Table("Soak", SOAK_COLUMNS))
    demo: Table = field(default_factory=lambda: Table(
        "Demo pages (Anda): every demo page under 1 s", PAGE_COLUMNS,
        note="As the pages table, on the Anda demo as `scripts/demo` loads it."))

    def all(self) -> list[Table]:
        return [self.pages, self.browser, self.tiles, self.json, self.load, self.soak, self.demo]


def accounts(s: CitySet, run: str, officials: int) -> tuple[dict, list, tuple]:
    """Tokens: a city-wide official and planner, soak officials (half city-wide, half one
    township each) and a machine client that posts."""
    tokens = {"official": bench_token(s.url, f"bench-{run}-official", "official", [s.city_code]),
              "planner": bench_token(s.url, f"bench-{run}-planner", "planner", [s.city_code])}
    soakers = []
    for i in range(officials):
        unit = s.city_code if i % 2 == 0 or not s.townships else \
            s.townships[(i // 2) % len(s.townships)]
        soakers.append(bench_token(s.url, f"bench-{run}-soak{i}", "official", [unit]))
    name = f"bench-{run}-poster"
    poster = (name, bench_token(s.url, name, "client", [s.city_code]))
    return tokens, soakers, poster


def run_city(s: CitySet, opts: Options, tables: Tables, metrics: Metrics, run: str,
             step) -> None:
    """Every measure at one size (the database is loaded)."""
    step(measure_import, s, tables.load, metrics)
    step(measure_assignment, s, opts.repeats, tables.load, metrics)
    tokens, soakers, poster = accounts(s, run, opts.soak_officials)
    clear_results(s.url)
    log = LOGS / f"server-{run}-{s.db_name}.log"
    LOGS.mkdir(parents=True, exist_ok=True)
    proc, base = start_server(s.url, threads=opts.threads, log=log)
    try:
        done = step(measure_pages, base, tokens, s, tables.pages, metrics, opts.warm,
                    PAGE_TARGET, BYTES_TARGET) or {}
        hot = done.get("/maps/hotspots", (None, None))
        step(measure_json, base, tokens["official"], s, tables.json, metrics, opts.warm, *hot)
        plan = step(tile_plan, s, opts.tile_views, opts.seed)
        tiles = []
        if plan:
            reqs, _, note = plan
            refused = step(measure_tiles, base, tokens["official"], s, reqs, tables.tiles,
                           metrics, note) or set()
            tiles = [t for t in reqs if t[0] not in refused]
        if opts.browser:
            step(measure_browser, base, tokens, s, tables.browser, opts.browser_timeout)
        if opts.soak_seconds and tiles:
            map_pages = [p for p, who in pages_for() if who == "official"]
            step(soak, base, s, opts.soak_seconds, soakers, poster, tiles, map_pages,
                 opts.post_rate, opts.seed, tables.soak, log)
    finally:
        stop_server(proc)
        _drop_empty(log)


def _drop_empty(log: Path) -> None:
    if log.exists() and log.stat().st_size == 0:
        log.unlink()


def run_demo(s: CitySet, opts: Options, tables: Tables, run: str, step) -> None:
    tokens = {"official": bench_token(s.url, f"bench-{run}-official", "official", [s.city_code]),
              "planner": bench_token(s.url, f"bench-{run}-planner", "planner", [s.city_code])}
    clear_results(s.url)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"server-{run}-{s.db_name}.log"
    proc, base = start_server(s.url, threads=opts.threads, log=log)
    try:
        step(measure_pages, base, tokens, s, tables.demo, None, opts.warm, DEMO_PAGE_TARGET,
             None)
    finally:
        stop_server(proc)
        _drop_empty(log)


def new_run_id() -> str:
    return uuid.uuid4().hex[:6]
