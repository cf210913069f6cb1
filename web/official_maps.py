"""Officials' maps: hot spots (kernel density in metres, heat map, time slider, Getis-Ord Gi*)
and rates per unit with drill-down. Filters live in the URL (gis.filters) so every view can be
shared; everything is limited to the account's jurisdiction."""
from __future__ import annotations

import time

import folium
import numpy as np
import pandas as pd
import shapely
from flask import Blueprint, render_template, request, url_for
from folium.plugins import HeatMap, HeatMapWithTime

from gis.analysis.classes import classify
from gis.analysis.density import density_bands, kde_surface
from gis.analysis.hotspots import InsufficientData, gi_bin_legend, gi_star
from gis.analysis.rates import rate_per_1000_households
from gis.domain import CATEGORIES, LEVEL_LABELS
from gis.errors import InputError
from gis.filters import GROUPS, IncidentFilter, parse_filter
from gis.store import aggregates, features, figures
from gis.store import boundaries as bstore
from web import engine
from web.auth import principal, requires
from web.maps import SIMPLIFY_DEG, _outline_layers, map_parts, new_map
from web.params import unit_filter_scope

bp = Blueprint("officials", __name__, url_prefix="/maps")

BANDWIDTH_M = (250, 500, 1000, 2000)
QUICK_VIEW_MAX = 20_000  # points sent to the browser's heat layers
# measure: (column, decimals, legend caption)
MEASURES = {
    "rate": ("rate", 2, "每千户事件数 Incidents per 1,000 households"),
    "count": ("incidents", 0, "事件数 Incidents"),
    "resolution": ("resolution_pct", 1, "化解率 % Resolution rate"),
    "overdue": ("overdue", 0, "超期事件 Overdue incidents"),
}
DRILL = {"township": "village", "village": "grid", "hamlet": "grid"}
STATUS_LABELS = {"reported": "已上报 Reported", "accepted": "已受理 Accepted",
                 "mediating": "调解中 In mediation", "resolved": "已化解 Resolved",
                 "escalated": "已上报上级 Escalated", "closed": "已办结 Closed"}
SEVERITY_LABELS = {"low": "一般 Low", "medium": "较大 Medium", "high": "重大 High"}


def _bandwidth() -> int:
    raw = request.args.get("bandwidth") or "500"
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"bandwidth={raw!r} is not a whole number of metres", field="bandwidth")
    if not 50 <= value <= 20_000:
        raise InputError("bandwidth must be between 50 and 20,000 metres", field="bandwidth")
    return value


def _context(f: IncidentFilter) -> dict:
    return {"filters": f, "categories": CATEGORIES, "groups": GROUPS,
            "severities": SEVERITY_LABELS, "statuses": STATUS_LABELS,
            "level_labels": LEVEL_LABELS}


def _bounds(conn, gen_id, unit_scope):
    scope = principal().scope
    coll = features.COLLECTIONS["grids"]
    box = features.extent(conn, coll, gen_id, scope)
    if unit_scope is not None:
        inner = features.extent(conn, coll, gen_id, unit_scope)
        box = inner or box
    return box


def _weekly(points: pd.DataFrame) -> tuple[list, list[str]]:
    """Points grouped by ISO week (China time) for the time slider."""
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


@bp.get("/hotspots")
@requires("view")
def hotspots():
    """Hot spots of the filtered incidents: density, heat, weekly slider, Gi* on grids."""
    started = time.perf_counter()
    f = parse_filter(request.args)
    bandwidth = _bandwidth()
    scope = principal().scope
    with engine().connect() as conn:
        gen = bstore.require_active_generation(conn)
        unit_scope = unit_filter_scope(conn, f)
        pts = aggregates.points(conn, scope, f, unit_scope, gen["id"])
        grids = aggregates.unit_counts(conn, scope, f, unit_scope, gen["id"], "grid",
                                       simplify=SIMPLIFY_DEG)
        m = new_map(_bounds(conn, gen["id"], unit_scope))
        _outline_layers(m, conn, gen["id"], show=("cities", "townships"),
                        levels=("cities", "townships", "villages"))
    legend, density_legend, hot = [], [], None
    if len(pts):
        cell = max(20.0, bandwidth / 2.5)  # display raster: fine enough for the bands
        surface = kde_surface(pts["lon"].to_numpy(), pts["lat"].to_numpy(), bandwidth,
                              cell_m=cell)
        bands = density_bands(surface, scheme="EqualInterval", k=5)
        bands = bands[~bands.geometry.is_empty]
        bands["geometry"] = shapely.simplify(bands.geometry.values, cell / 111_000 / 3)
        layer = folium.FeatureGroup(name=f"核密度 Kernel density ({bandwidth} m)", show=True)
        folium.GeoJson(bands[["label", "colour", "geometry"]].to_json(),
                       style_function=lambda ft: {"fillColor": ft["properties"]["colour"],
                                                  "color": ft["properties"]["colour"],
                                                  "weight": 0.5, "fillOpacity": 0.55},
                       tooltip=folium.GeoJsonTooltip(["label"], aliases=[
                           "事件/平方公里 Incidents per km²"])).add_to(layer)
        layer.add_to(m)
        density_legend = [(r.colour, r.label) for r in bands.itertuples()]
    # the browser-side layers get a fixed random sample of large selections (the density
    # surface and the statistics above use every incident)
    quick = pts if len(pts) <= QUICK_VIEW_MAX else pts.sample(QUICK_VIEW_MAX, random_state=0)
    sampled = f"{len(quick):,} / {len(pts):,}" if len(quick) < len(pts) else f"{len(pts):,}"
    heat = folium.FeatureGroup(name=f"热力图 Heat map, quick view ({sampled})", show=False)
    gradient = {0.2: "#2c7bb6", 0.45: "#abd9e9", 0.65: "#ffffbf", 0.85: "#fdae61", 1.0: "#d7191c"}
    HeatMap(quick[["lat", "lon"]].to_numpy().round(6).tolist(), radius=14, blur=18,
            min_opacity=0.3, gradient=gradient).add_to(heat)
    heat.add_to(m)
    weeks, index = _weekly(quick)
    if weeks:
        HeatMapWithTime(weeks, index=index, name="按周 Weekly (time slider)", radius=14,
                        auto_play=False, max_opacity=0.8, show=False).add_to(m)
    method, message, hot_rows = None, None, []
    try:
        result = gi_star(grids, "incidents", incidents=len(pts))
        method = result.method
        table = result.table
        grids = grids.join(table[["z", "p", "bin", "label_zh", "label_en", "colour"]])
        hot = folium.FeatureGroup(name="热点/冷点 Hot and cold spots (Gi*)", show=True)
        shown = grids[grids["bin"] != 0]
        if len(shown):
            folium.GeoJson(
                shown[["code", "name", "incidents", "z", "p", "label_zh", "label_en", "colour",
                       "geometry"]].round({"z": 2, "p": 4}).to_json(),
                style_function=lambda ft: {"fillColor": ft["properties"]["colour"],
                                           "color": "#333333", "weight": 0.8,
                                           "fillOpacity": 0.7},
                tooltip=folium.GeoJsonTooltip(
                    ["code", "name", "incidents", "label_zh", "label_en", "z", "p"],
                    aliases=["网格 Grid", "名称 Name", "事件 Incidents", "结果", "Result",
                             "z", "p"])).add_to(hot)
        hot.add_to(m)
        hot_rows = (grids[grids["bin"] > 0].sort_values(["bin", "z"], ascending=False)
                    [["code", "name", "parent_name", "incidents", "z", "p", "bin", "label_zh",
                      "label_en"]].head(50).to_dict("records"))
        legend = [(r["colour"], f"{r['label_zh']} {r['label_en']}") for r in gi_bin_legend()
                  if r["bin"] != 0]
    except InsufficientData as err:
        message = err.details
    folium.LayerControl(collapsed=False).add_to(m)
    stats = {"incidents": len(pts), "grids": len(grids), "bandwidth": bandwidth,
             "hot": int((grids["bin"] > 0).sum()) if "bin" in grids else 0,
             "elapsed": time.perf_counter() - started}
    return render_template("analysis.html", title="热点分析 Hot spots", page="hotspots",
                           stats=stats, legend=legend, density_legend=density_legend,
                           method=method, message=message, hot_rows=hot_rows,
                           bandwidths=BANDWIDTH_M, **_context(f), **map_parts(m))


@bp.get("/rates")
@requires("view")
def rates():
    """Incidents per unit as counts or per 1,000 households, with drill-down by level."""
    f = parse_filter(request.args)
    level = request.args.get("level") or "township"
    if level not in aggregates.UNIT_LEVELS:
        raise InputError(f"level must be one of {', '.join(aggregates.UNIT_LEVELS)}",
                         field="level")
    measure = request.args.get("measure") or "rate"
    if measure not in MEASURES:
        raise InputError(f"measure must be one of {', '.join(MEASURES)}", field="measure")
    scope = principal().scope
    with engine().connect() as conn:
        gen = bstore.require_active_generation(conn)
        unit_scope = unit_filter_scope(conn, f)
        units = aggregates.unit_counts(conn, scope, f, unit_scope, gen["id"], level,
                                       simplify=SIMPLIFY_DEG)
        table = figures.figures(conn, scope, level, f, unit_scope, gen["id"])
        m = new_map(_bounds(conn, gen["id"], unit_scope))
    units["rate"] = np.round(rate_per_1000_households(units["incidents"], units["households"]), 2)
    by_code = {r["unit_code"]: r for r in table["units"] if r["kind"] == "unit"}
    for key in ("resolution_rate", "overdue", "median_hours_to_resolve", "share_grid"):
        units[key] = [_num(by_code.get(c, {}).get(key)) for c in units["code"]]
    units["resolution_pct"] = np.round(units["resolution_rate"] * 100, 1)
    column, decimals, caption = MEASURES[measure]
    values = units[column].astype(float)
    classes = classify(values.to_numpy(), "FisherJenks", k=5, decimals=decimals)
    units["colour"] = classes.value_colours()
    child = DRILL.get(level)
    units["drill"] = [url_for("officials.rates", level=child, **f.args(unit=code))
                      if child else "" for code in units["code"]]
    layer = folium.FeatureGroup(name=f"{LEVEL_LABELS[level][0]} {LEVEL_LABELS[level][1]}",
                                show=True)
    if len(units):
        props = ["code", "name", "incidents", "households", "rate", "resolution_pct",
                 "overdue", "colour", "drill"]
        folium.GeoJson(
            units[props + ["geometry"]].to_json(),
            style_function=lambda ft: {"fillColor": ft["properties"]["colour"],
                                       "color": "#444444", "weight": 0.8, "fillOpacity": 0.7},
            highlight_function=lambda ft: {"weight": 2.5, "color": "#000000"},
            tooltip=folium.GeoJsonTooltip(
                ["code", "name", "incidents", "households", "rate", "resolution_pct", "overdue"],
                aliases=["代码 Code", "名称 Name", "事件 Incidents", "户数 Households",
                         "每千户 Per 1,000 hh", "化解率 Resolved %", "超期 Overdue"]),
            popup=folium.GeoJsonPopup(["name", "drill"], aliases=["", "下钻 Drill down"],
                                      labels=True) if child else None,
        ).add_to(layer)
    layer.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    rows = units.drop(columns="geometry").sort_values(column, ascending=False).to_dict("records")
    up = _parent_link(f, level)
    return render_template("analysis.html", title="分级事件率 Incident rates", page="rates",
                           stats={"incidents": int(units["incidents"].sum()),
                                  "units": len(units)},
                           legend=[(r["colour"], r["label"]) for r in classes.legend()],
                           legend_title=caption, level=level, measure=measure, rows=rows,
                           child=child, up=up, levels=aggregates.UNIT_LEVELS,
                           measures=MEASURES, totals=table["total"],
                           figures_csv=url_for("incidents_api.figures", level=level, format="csv",
                                               **f.raw),
                           **_context(f), **map_parts(m))


def _num(value) -> float:
    return float(value) if value is not None else float("nan")


def _parent_link(f: IncidentFilter, level: str) -> str | None:
    """One level up: from a unit's children back to the parent level."""
    if not f.unit:
        return None
    if level == "village":
        return url_for("officials.rates", level="township", **f.args(unit=None))
    if level in ("grid", "hamlet") and len(f.unit) >= 12:
        return url_for("officials.rates", level="village", **f.args(unit=f.unit[:9] + "000"))
    return None
