"""Loading the Anda demo through the ordinary imports (idempotent: a second run changes
nothing): the boundary set, the demo incidents with synthetic lifecycle history, and the
synthetic coverage set (staff, cameras, posts, main-town roads; gis.demo.coverage).

`say` receives one line per step; `progress(desc, unit, total)` returns a progress bar (with
update() and close()) for long steps (the CLI passes tqdm)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from gis.boundaries.importing import import_boundaries
from gis.config import PROJECT_ROOT
from gis.coverage import imports as coverage_imports
from gis.coverage.response_areas import recompute_response_areas
from gis.errors import Conflict
from gis.files import file_digest
from gis.incidents.importing import import_incidents, phased
from gis.store import coverage as cstore
from gis.store.db import Engine
from gis.store.demo import synthesize_history

DEMO_BOUNDARIES = PROJECT_ROOT / "data" / "boundaries" / "anda" / "anda.gpkg"
DEMO_INCIDENTS = PROJECT_ROOT / "data" / "demo" / "incidents.csv"


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _no_progress(desc: str, unit: str, total: int | None = None) -> _NoBar:
    return _NoBar()


def _counts(what: str, report: dict) -> str:
    return (f"{what}: {report['rows']} rows, {report['inserted']} new, {report['updated']} "
            f"changed, {report['unchanged']} unchanged")


def areas_line(report: dict) -> str:
    """One line on the response areas an import recomputed."""
    r = report.get("response_areas")
    if not r:
        return "response areas unchanged"
    return (f"response areas recomputed for {r['posts']} posts: {r['network']} along the road "
            f"network, {r['buffer']} speed buffers")


def load_demo(engine: Engine, say=print, progress=_no_progress) -> None:
    """The whole demo: boundaries, incidents and their history, the coverage set."""
    report = import_boundaries(engine, DEMO_BOUNDARIES, commit=True, name="Anda demo", demo=True)
    if report.already_imported and not report.already_active:
        raise Conflict(f"the demo boundaries are stored (generation {report.already_imported}) "
                       "but another generation is active: its incidents would be assigned "
                       "there; `gridgis boundaries activate "
                       f"{report.already_imported}` first, or `gridgis demo remove`")
    if report.already_imported:
        say(f"demo boundaries already loaded (generation {report.already_imported})")
    else:
        say(f"demo boundaries loaded as generation {report.generation_id}")
    bar = progress("demo incidents", " rows")
    try:
        inc = import_incidents(engine, DEMO_INCIDENTS, source="demo",
                               progress=phased(bar))
    finally:
        bar.close()
    say(f"demo incidents: {inc.inserted} new, {inc.duplicates} already present, "
        f"{inc.uncovered} outside every grid")
    with engine.begin() as conn:
        filled = synthesize_history(conn)
    if filled:
        say(f"demo incidents: synthetic lifecycle times for {filled}")
    load_coverage_demo(engine, say, progress)


def load_coverage_demo(engine: Engine, say=print, progress=_no_progress) -> None:
    """Generate the synthetic coverage set for the demo city and load it through the same
    imports as real files."""
    import geopandas as gpd

    from gis.demo import coverage as demo
    grids = gpd.read_file(DEMO_BOUNDARIES, layer="grid")
    towns = gpd.read_file(DEMO_BOUNDARIES, layer="township")
    data = demo.synthesize(grids, towns)
    with tempfile.TemporaryDirectory() as tmp:
        files = demo.write_files(data, Path(tmp))
        staff = coverage_imports.import_staff(engine, files["staff"], synthetic=True)
        say(_counts("demo staff (synthetic)", staff))
        cams = coverage_imports.import_cameras(engine, files["cameras"], synthetic=True)
        say(_counts("demo cameras (synthetic)", cams))
        with engine.connect() as conn:
            network = cstore.road_network(conn)
        if network is None or network["source"] != files["roads"].name \
                or network["source_sha256"] != file_digest(files["roads"]):
            roads = coverage_imports.import_roads(engine, files["roads"], synthetic=True)
            say(f"demo roads (synthetic): {roads['edges']} edges, {roads['length_km']:,.1f} km")
        else:
            say("demo roads already loaded")
        bar = progress("demo posts: response areas", " posts")
        try:
            posts = coverage_imports.import_posts(engine, files["posts"], synthetic=True,
                                                  progress=bar.update)
        finally:
            bar.close()
        say(_counts("demo posts (synthetic)", posts))
        with engine.connect() as conn:
            missing = cstore.posts_without_areas(conn)
        if missing:
            with engine.begin() as conn:
                recompute_response_areas(conn)
        say(areas_line(posts))
