"""The officials' analysis reports that the map pages draw: hot spots (kernel density bands in
metres, a sample for the browser's heat layers, weekly groups for the time slider, Getis-Ord Gi*
on the grids) and incident rates per unit with drill-down. Everything is limited to the
account's jurisdiction and the filters in the URL (gis.incidents.filters)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.access.scope import Scope
from gis.analysis.classes import classify
from gis.analysis.density import density_bands, kde_surface
from gis.analysis.hotspots import InsufficientData, gi_bin_legend, gi_star
from gis.analysis.rates import rate_per_1000_households
from gis.domain import LEVEL_OF_NUMBER
from gis.errors import InputError
from gis.incidents.filters import IncidentFilter
from gis.incidents.selection import read_filter
from gis.incidents.selection import unit_scope as filter_unit_scope
from gis.store import aggregates, features, figures
from gis.store import boundaries as bstore
from gis.store.db import Connection

BANDWIDTH_M = (250, 500, 1000, 2000)
DEFAULT_BANDWIDTH_M = 500
QUICK_VIEW_MAX = 20_000  # points sent to the browser's heat layers
# measure: (column, decimals, legend caption)
MEASURES = {
    "rate": ("rate", 2, "每千户事件数 Incidents per 1,000 households"),
    "count": ("incidents", 0, "事件数 Incidents"),
    "resolution": ("resolution_pct", 1, "化解率 % Resolution rate"),
    "overdue": ("overdue", 0, "超期事件 Overdue incidents"),
}
UNIT_LEVELS = aggregates.UNIT_LEVELS
DRILL = {"province": "prefecture", "prefecture": "city", "city": "township",
         "township": "village", "village": "grid", "hamlet": "grid"}


def parse_bandwidth(raw: str | None) -> int:
    """Kernel bandwidth in metres from a URL parameter (default 500)."""
    raw = raw or str(DEFAULT_BANDWIDTH_M)
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"bandwidth={raw!r} is not a whole number of metres", field="bandwidth")
    if not 50 <= value <= 20_000:
        raise InputError("bandwidth must be between 50 and 20,000 metres", field="bandwidth")
    return value


def bounds(conn: Connection, scope: Scope, gen_id: int, unit_scope: Scope | None):
    """Lon/lat box to show: the unit filter's grids, else the jurisdiction's."""
    coll = features.COLLECTIONS["grids"]
    box = features.extent(conn, coll, gen_id, scope)
    if unit_scope is not None:
        box = features.extent(conn, coll, gen_id, unit_scope) or box
    return box


DENSITY_CELLS = 1_000_000  # display raster of the density bands, at most about this many cells


def density_cell_m(box, bandwidth_m: int) -> float:
    """Cell size of the density raster over a lon/lat box: a 2.5th of the bandwidth (fine
    enough for the bands), coarser when the box would need more than DENSITY_CELLS cells, never
    coarser than the bandwidth (InputError: choose a larger bandwidth)."""
    west, south, east, north = box
    mid = math.radians((south + north) / 2)
    pad = 8 * bandwidth_m
    area = ((east - west) * 111_320 * math.cos(mid) + pad) * ((north - south) * 110_574 + pad)
    cell = max(20.0, bandwidth_m / 2.5, math.sqrt(area / DENSITY_CELLS))
    if cell > bandwidth_m:
        raise InputError(f"a {bandwidth_m} m bandwidth is too fine for an area this large; "
                         "choose a larger bandwidth or a unit", field="bandwidth")
    return cell


WIDER_BANDWIDTH_M = (1000, 2000, 5000, 10_000, 20_000)  # tried in turn for large areas


def fitting_bandwidth(box, bandwidth_m: int, chosen: bool) -> int:
    """The bandwidth of a density over `box`: the one chosen (InputError when it is too fine
    for the area, said before any work), or without a choice the default widened in steps
    until the raster fits (a province at once is mapped with kilometres, not 500 m)."""
    tried = [bandwidth_m]
    if not chosen:
        tried += [w for w in WIDER_BANDWIDTH_M if w > bandwidth_m]
    for value in tried[:-1]:
        try:
            density_cell_m(box, value)
            return value
        except InputError:
            continue
    density_cell_m(box, tried[-1])  # InputError when even the last one is too fine
    return tried[-1]


def weekly(points: pd.DataFrame) -> tuple[list, list[str]]:
    """Points grouped by ISO week (China time) for the time slider: ([[lat, lon], ...] per week,
    week start dates)."""
    if points.empty:
        return [], []
    local = pd.to_datetime(points["occurred_at"], utc=True).dt.tz_convert("Asia/Shanghai")
    week = local.dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time
    frame = pd.DataFrame({"week": week, "lat": points["lat"], "lon": points["lon"]})
    data, index = [], []
    for start, group in frame.groupby("week", sort=True):
        data.append(group[["lat", "lon"]].to_numpy().round(6).tolist())
        index.append(f"{start:%Y-%m-%d}")
    return data, index


@dataclass
class HotspotReport:
    """Hot spots of the filtered incidents.

    Attributes
    ----------
    filters : IncidentFilter
    generation_id : int
    bounds : list of float or None
        Lon/lat box to show.
    bandwidth_m : int
        Kernel bandwidth in metres.
    incidents : int
        Incidents selected (every statistic uses all of them).
    bands : GeoDataFrame
        Density isobands (label, colour, geometry) in incidents per km², EPSG:4326.
    quick : DataFrame
        lon, lat, occurred_at of at most QUICK_VIEW_MAX incidents (a fixed random sample) for
        the browser's heat layers.
    grids : GeoDataFrame
        Grids with their incident counts and, when Gi* ran, z, p, bin and labels.
    method : dict or None
        Gi* method and parameters; None when there were too few incidents (see `message`).
    message : dict or None
        Why Gi* was not computed (Chinese and English).
    hot_rows : list of dict
        Hot grids, strongest first (at most 50).
    legend : list of (colour, label)
        Gi* classes shown.
    """
    filters: IncidentFilter
    generation_id: int
    bounds: list | None
    bandwidth_m: int
    incidents: int
    bands: gpd.GeoDataFrame
    quick: pd.DataFrame
    grids: gpd.GeoDataFrame
    method: dict | None = None
    message: dict | None = None
    hot_rows: list = field(default_factory=list)
    legend: list = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def hot(self) -> int:
        return int((self.grids["bin"] > 0).sum()) if "bin" in self.grids else 0


def hotspots(conn: Connection, scope: Scope, args, *, inference: str = "analytic",
             progress=lambda fraction: None) -> HotspotReport:
    """The hot-spot report for URL parameters `args` (filters and bandwidth); Gi* p-values by
    `inference` ("analytic", the normal approximation, or "permutation", 9,999 conditional
    permutations); `progress(fraction)` hears how far it got."""
    started = time.perf_counter()
    f = read_filter(conn, args)
    bandwidth = parse_bandwidth(args.get("bandwidth"))
    gen = bstore.require_active_generation(conn, scope, root=args.get("root"))
    unit_scope = filter_unit_scope(conn, scope, f)
    box = bounds(conn, scope, gen["id"], unit_scope)
    if box is not None:
        bandwidth = fitting_bandwidth(box, bandwidth, chosen=bool(args.get("bandwidth")))
    pts = aggregates.points(conn, scope, f, unit_scope, gen["id"])
    progress(0.2)
    # exact geometries: simplifying each grid alone would drop neighbour links
    grids = aggregates.unit_counts(conn, scope, f, unit_scope, gen["id"], "grid")
    progress(0.4)
    bands = gpd.GeoDataFrame({"label": [], "colour": []}, geometry=[], crs="EPSG:4326")
    if len(pts):
        area = box or [pts["lon"].min(), pts["lat"].min(), pts["lon"].max(), pts["lat"].max()]
        cell = density_cell_m(area, bandwidth)
        surface = kde_surface(pts["lon"].to_numpy(), pts["lat"].to_numpy(), bandwidth,
                              cell_m=cell, bounds=area)
        bands = density_bands(surface, scheme="EqualInterval", k=5)
        bands = bands[~bands.geometry.is_empty]
        bands["geometry"] = shapely.simplify(bands.geometry.values, cell / 111_000 / 3)
    quick = pts if len(pts) <= QUICK_VIEW_MAX else pts.sample(QUICK_VIEW_MAX, random_state=0)
    report = HotspotReport(f, gen["id"], box, bandwidth, len(pts), bands, quick, grids)
    progress(0.5)
    try:
        result = gi_star(grids, "incidents", incidents=len(pts), inference=inference,
                         weights_key=(gen["id"], str(gen["created_at"]), "grid", scope,
                                      unit_scope))
        report.method = result.method
        report.grids = grids.join(result.table[["z", "p", "bin", "label_zh", "label_en",
                                                "colour"]])
        g = report.grids
        report.hot_rows = (g[g["bin"] > 0].sort_values(["bin", "z"], ascending=False)
                           [["code", "name", "parent_name", "incidents", "z", "p", "bin",
                             "label_zh", "label_en"]].head(50).to_dict("records"))
        report.legend = [(r["colour"], f"{r['label_zh']} {r['label_en']}")
                         for r in gi_bin_legend() if r["bin"] != 0]
    except InsufficientData as err:
        report.message = err.details
    report.elapsed_s = time.perf_counter() - started
    return report


def _num(value) -> float:
    return float(value) if value is not None else float("nan")


@dataclass
class RatesReport:
    """Incidents per unit at one level, with the figures and the classes of one measure.

    Attributes
    ----------
    filters : IncidentFilter
    level : str
        township, village, hamlet or grid.
    measure : str
        A key of MEASURES.
    units : DataFrame
        Units (id, code, name, parent) with incidents, households, rate (per 1,000
        households), resolution_pct, overdue, median_hours_to_resolve, share_grid and colour;
        no geometry (the map draws the units from tiles).
    legend : list of (colour, label)
    caption : str
        What the legend measures.
    totals : dict
        The figures' total row.
    bounds : list of float or None
    """
    filters: IncidentFilter
    level: str
    measure: str
    child: str | None
    units: gpd.GeoDataFrame
    legend: list
    caption: str
    totals: dict
    bounds: list | None


def levels_below_root(conn: Connection, gen: dict) -> list[str]:
    """The levels a generation has under its root unit, top down, hamlets left out (the rates
    view drills from the first of them down to grids)."""
    present = features.levels_present(conn, gen["id"])
    return [LEVEL_OF_NUMBER[n] for n in sorted(present)
            if n > (gen.get("root_level") or 0) and LEVEL_OF_NUMBER[n] != "hamlet"]


def first_level(below: list[str]) -> str:
    """The level a rates view starts at: the first under the root (grids when none)."""
    return below[0] if below else "grid"


def rates(conn: Connection, scope: Scope, args) -> RatesReport:
    """The rates report for URL parameters `args` (filters, level, measure)."""
    f = read_filter(conn, args)
    gen = bstore.require_active_generation(conn, scope, root=args.get("root"))
    below = levels_below_root(conn, gen)
    level = args.get("level") or first_level(below)
    if level not in UNIT_LEVELS:
        raise InputError(f"level must be one of {', '.join(UNIT_LEVELS)}", field="level")
    measure = args.get("measure") or "rate"
    if measure not in MEASURES:
        raise InputError(f"measure must be one of {', '.join(MEASURES)}", field="measure")
    unit_scope = filter_unit_scope(conn, scope, f)
    # no geometries: the map draws the units from tiles that carry these values
    units = aggregates.unit_counts(conn, scope, f, unit_scope, gen["id"], level,
                                   geometry=False)
    table = figures.figures(conn, scope, level, f, unit_scope, gen["id"])
    box = bounds(conn, scope, gen["id"], unit_scope)
    units["rate"] = np.round(rate_per_1000_households(units["incidents"], units["households"]), 2)
    by_code = {r["unit_code"]: r for r in table["units"] if r["kind"] == "unit"}
    for key in ("resolution_rate", "overdue", "median_hours_to_resolve", "share_grid"):
        units[key] = [_num(by_code.get(c, {}).get(key)) for c in units["code"]]
    units["resolution_pct"] = np.round(units["resolution_rate"] * 100, 1)
    column, decimals, caption = MEASURES[measure]
    classes = classify(units[column].astype(float).to_numpy(), "FisherJenks", k=5,
                       decimals=decimals)
    units["colour"] = classes.value_colours()
    drill = below[below.index(level) + 1] if level in below[:-1] else \
        "grid" if level in below else DRILL.get(level)
    return RatesReport(f, level, measure, drill, units,
                       [(r["colour"], r["label"]) for r in classes.legend()], caption,
                       table["total"], box)
