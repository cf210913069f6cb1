"""The analyses the officials' map pages show, as JSON-ready answers cached in PostgreSQL
(gis.results.cache): the page shell asks for them by URL parameters, draws the numbers in its
panel and the map through tiles that carry the result's per-unit values
(`/tiles/<level>/{z}/{x}/{y}.mvt?result=<key>`)."""
from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime

import pandas as pd
import shapely

from gis.access.scope import Scope
from gis.analysis import reports
from gis.domain import LEVEL_NUMBER, PREFIX_LENGTH
from gis.errors import InputError
from gis.incidents.filters import IncidentFilter
from gis.incidents.selection import read_filter
from gis.results import jobs
from gis.results.cache import Computed, cached, jsonable, key_of, plain, records
from gis.store import boundaries as bstore
from gis.store import results as rstore
from gis.store import versions
from gis.store.db import Connection
from gis.times import CST

RATE_ROWS = 500         # table rows a rates answer lists (the CSV has them all)
AS_OF_MINUTES = 5       # overdue counts move with time: answers keep this long


def filter_params(f: IncidentFilter) -> dict:
    """What a filter selects, days resolved to dates (so a cached answer for days=30 ends
    today)."""
    return {"category": ",".join(f.categories), "source": ",".join(f.sources),
            "severity": ",".join(f.severities),
            "status": ",".join(f.statuses), "start": f.start, "end": f.end, "unit": f.unit}


def answer_time() -> str:
    now = datetime.now(CST)
    return now.replace(minute=now.minute - now.minute % AS_OF_MINUTES, second=0,
                       microsecond=0).isoformat(timespec="minutes")


def up_link(f: IncidentFilter, level: str,
            below: list[str] = ("township", "village")) -> dict | None:
    """One level up from a unit's children: {level, unit} of the parent view, or None.
    below: the levels under the root, top down (reports.levels_below_root)."""
    chain = [*below, "grid"]
    level = "grid" if level == "hamlet" else level
    if not f.unit or level not in chain or chain.index(level) == 0 or len(f.unit) < 12:
        return None
    parent = chain[chain.index(level) - 1]
    if chain.index(parent) == 0:
        return {"level": parent, "unit": None}
    keep = PREFIX_LENGTH[chain[chain.index(parent) - 1]]
    return {"level": parent, "unit": f.unit[:keep] + "0" * (12 - keep)}


def rates_choice(args, default: str = "township") -> tuple[str, str]:
    """The level and measure of a rates view (InputError names a bad one)."""
    level = args.get("level") or default
    if level not in reports.UNIT_LEVELS:
        raise InputError(f"level must be one of {', '.join(reports.UNIT_LEVELS)}",
                         field="level")
    measure = args.get("measure") or "rate"
    if measure not in reports.MEASURES:
        raise InputError(f"measure must be one of {', '.join(reports.MEASURES)}",
                         field="measure")
    return level, measure


def default_rates_level(conn: Connection, scope: Scope, args) -> str:
    """The level a rates view starts at: the first one under the reader's root."""
    gen = bstore.require_active_generation(conn, scope, root=args.get("root"))
    return reports.first_level(reports.levels_below_root(conn, gen))


def frame(conn: Connection, scope: Scope, f: IncidentFilter) -> dict:
    """What a report page's shell needs before any analysis: the active generation's id, the
    box to show (the unit filter's, else the jurisdiction's) and township name points."""
    from gis.incidents.selection import unit_scope
    from gis.store import features
    gen_id = bstore.require_active_generation(conn, scope, root=f.raw.get("root"))["id"]
    return {"generation": gen_id,
            "bounds": reports.bounds(conn, scope, gen_id, unit_scope(conn, scope, f)),
            "labels": features.label_points(conn, gen_id, scope, LEVEL_NUMBER["township"])}


def rates(conn: Connection, scope: Scope, args, guard=nullcontext) -> dict:
    """Incident rates per unit at ?level= with the classes of ?measure=, cached.

    Returns
    -------
    dict
        level, measure, child (the level a click drills down to, or None), up ({level, unit}
        or None), caption, legend ([{colour, label}]), totals (the figures' total row), units
        (how many), incidents, rows (at most RATE_ROWS, the highest first; code, name,
        parent_name, incidents, households, rate, resolution_pct, overdue), rows_total,
        bounds, as_of, filter (its description), result (the key tiles take), cached.
    """
    f = read_filter(conn, args)
    gen = bstore.require_active_generation(conn, scope, root=args.get("root"))
    below = reports.levels_below_root(conn, gen)
    level, measure = rates_choice(args, reports.first_level(below))
    gen_id = gen["id"]
    as_of = answer_time()

    def compute() -> Computed:
        r = reports.rates(conn, scope, args)
        units = r.units
        column = reports.MEASURES[measure][0]
        ordered = units.sort_values([column, "code"], ascending=[False, True],
                                    na_position="last")
        rows = records(ordered.head(RATE_ROWS), ("code", "name", "parent_name", "incidents",
                                                 "households", "rate", "resolution_pct",
                                                 "overdue"))
        values = {int(row["id"]): v for row, v in zip(
            units[["id"]].to_dict("records"),
            records(units, ("colour", "incidents", "rate", "resolution_pct", "overdue")))}
        meta = {"level": level, "measure": measure, "child": r.child,
                "up": up_link(f, level, below),
                "caption": r.caption, "legend": [{"colour": c, "label": lab}
                                                 for c, lab in r.legend],
                "totals": {k: plain(v) for k, v in r.totals.items()},
                "units": len(units), "incidents": int(units["incidents"].sum()),
                "rows": rows, "rows_total": len(units), "bounds": r.bounds, "as_of": as_of,
                "filter": f.describe()}
        return Computed(meta, values)

    params = {**filter_params(f), "level": level, "measure": measure, "as_of": as_of}
    return cached(conn, "rates", gen_id, scope, params, compute, guard=guard)



HOT_ROWS = 50
HEAT_POINTS = 10_000     # points the browser's heat layer and weekly slider get
INFERENCES = ("analytic", "permutation")
GI_VALUES = ("bin", "z", "p", "incidents", "colour", "label_zh", "label_en")


def _inference(args) -> str:
    value = args.get("inference") or "analytic"
    if value not in INFERENCES:
        raise InputError(f"inference must be one of {', '.join(INFERENCES)}", field="inference")
    return value


def _bands_geojson(bands) -> dict:
    feats = []
    for label, colour, geom in zip(bands["label"], bands["colour"], bands.geometry):
        if geom is None or geom.is_empty:
            continue
        feats.append({"type": "Feature", "properties": {"label": label, "colour": colour},
                      "geometry": shapely.geometry.mapping(shapely.set_precision(geom, 1e-6))})
    return {"type": "FeatureCollection", "features": feats}


def _heat(quick) -> dict:
    """A fixed sample for the browser's heat layer: [lat, lon, week] rows and the weeks."""
    sample = quick if len(quick) <= HEAT_POINTS else quick.sample(HEAT_POINTS, random_state=0)
    weeks, index = reports.weekly(sample)
    rows = [[lat, lon, w] for w, pts in enumerate(weeks) for lat, lon in pts]
    return {"points": rows, "weeks": index}


def _hotspot_answer(r: reports.HotspotReport) -> Computed:
    meta = {"incidents": r.incidents, "grids": len(r.grids), "bandwidth_m": r.bandwidth_m,
            "bounds": r.bounds, "filter": r.filters.describe(), "method": None,
            "message": r.message, "hot": r.hot, "legend": [], "hot_rows": [],
            "density": {"legend": [{"colour": c, "label": lab}
                                   for lab, c in zip(r.bands["label"], r.bands["colour"])],
                        "features": _bands_geojson(r.bands)},
            "heat": _heat(r.quick), "heat_of": r.incidents}
    values = {}
    if r.method is not None:
        meta["method"] = jsonable(r.method)
        meta["legend"] = [{"colour": c, "label": lab} for c, lab in r.legend]
        meta["hot_rows"] = records(pd.DataFrame(r.hot_rows).round({"z": 2, "p": 4}),
                                   ("code", "name", "parent_name", "incidents", "z", "p", "bin",
                                    "label_zh", "label_en")) if r.hot_rows else []
        shown = r.grids[r.grids["bin"] != 0].round({"z": 3, "p": 5})
        values = {int(i): v for i, v in zip(shown["id"], records(shown, GI_VALUES))}
    return Computed(meta, values)


def hotspots(conn: Connection, scope: Scope, args, guard=nullcontext) -> dict:
    """Hot spots of the filtered incidents, cached: kernel density bands (GeoJSON), a sample
    for the heat layer and weekly slider, Getis-Ord Gi* per grid (the values tiles carry) with
    its method, and the strongest hot grids. ?inference=analytic (default, computed now) or
    permutation (9,999 permutations, computed in the background: the answer says
    {"state": ...} until the result is stored; see `refinement`)."""
    f = read_filter(conn, args)
    bandwidth = reports.parse_bandwidth(args.get("bandwidth"))
    inference = _inference(args)
    gen_id = bstore.require_active_generation(conn, scope, root=args.get("root"))["id"]
    params = {**filter_params(f), "bandwidth": bandwidth, "inference": inference}
    if inference == "permutation":
        return _refined(conn, scope, args, gen_id, params)
    out = cached(conn, "hotspots", gen_id, scope, params,
                 lambda: _hotspot_answer(reports.hotspots(conn, scope, args)), guard=guard)
    out["refinement"] = refinement_status(conn, scope, gen_id, params)
    return out


def _refinement_key(conn, scope, gen_id, params) -> str:
    now = versions.current(conn)
    return key_of("hotspots", gen_id, scope, {**params, "inference": "permutation"},
                  {"incidents": now["incidents"]})


def refinement_status(conn: Connection, scope: Scope, gen_id: int, params: dict) -> dict:
    """Where the permutation refinement of an analytic answer stands: done (stored), a running
    or failed job, or none."""
    key = _refinement_key(conn, scope, gen_id, params)
    if rstore.fetch(conn, key, mark_used=False) is not None:
        return {"state": "done", "progress": 1.0}
    return jobs.status(conn.engine, key) or {"state": "none", "progress": 0.0}


def _refined(conn, scope, args, gen_id, params) -> dict:
    key = _refinement_key(conn, scope, gen_id, params)
    hit = rstore.fetch(conn, key)
    conn.commit()
    if hit is not None:
        return {**hit["meta"], "result": key, "cached": True,
                "refinement": {"state": "done", "progress": 1.0}}
    engine = conn.engine
    query = dict(args)

    def work(progress):
        with engine.connect() as c:
            cached(c, "hotspots", gen_id, scope, params,
                   lambda: _hotspot_answer(reports.hotspots(
                       c, scope, query, inference="permutation", progress=progress)), key=key)

    state = jobs.start(engine, key, "hotspots", work)
    return {"state": state["state"], "progress": state["progress"],
            "error": state.get("error"), "result": None, "refinement": state}
