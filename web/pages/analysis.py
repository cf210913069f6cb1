"""Officials' maps: hot spots (kernel density in metres, heat map, time slider, Getis-Ord Gi*)
and rates per unit with drill-down. Filters live in the URL (gis.incidents.filters) so every
view can be shared; the reports (gis.analysis.reports) are limited to the jurisdiction; this
module draws them."""
from __future__ import annotations

import folium
from flask import Blueprint, render_template, request, url_for
from folium.plugins import HeatMap, HeatMapWithTime

from gis.analysis import reports
from gis.domain import CATEGORIES, LEVEL_LABELS
from gis.features.collections import outlines
from gis.incidents.filters import GROUPS, IncidentFilter
from web.auth import principal, requires
from web.database import engine
from web.heavy import heavy
from web.maps import geojson, layer, map_parts, new_map, outline_layers

bp = Blueprint("analysis_pages", __name__, url_prefix="/maps")

STATUS_LABELS = {"reported": "已上报 Reported", "accepted": "已受理 Accepted",
                 "mediating": "调解中 In mediation", "resolved": "已化解 Resolved",
                 "escalated": "已上报上级 Escalated", "closed": "已办结 Closed"}
SEVERITY_LABELS = {"low": "一般 Low", "medium": "较大 Medium", "high": "重大 High"}
HEAT_GRADIENT = {0.2: "#2c7bb6", 0.45: "#abd9e9", 0.65: "#ffffbf", 0.85: "#fdae61",
                 1.0: "#d7191c"}


def _context(f: IncidentFilter) -> dict:
    return {"filters": f, "categories": CATEGORIES, "groups": GROUPS,
            "severities": SEVERITY_LABELS, "statuses": STATUS_LABELS,
            "level_labels": LEVEL_LABELS}


@bp.get("/hotspots")
@requires("view")
@heavy
def hotspots():
    """Hot spots of the filtered incidents: density, heat, weekly slider, Gi* on grids."""
    scope = principal().scope
    with engine().connect() as conn:
        r = reports.hotspots(conn, scope, request.args)
        context = outlines(conn, scope, ("cities", "townships", "villages"))
    m = new_map(r.bounds)
    outline_layers(m, context, show=("cities", "townships"))
    density_legend = []
    if len(r.bands):
        density = layer(m, f"核密度 Kernel density ({r.bandwidth_m} m)")
        geojson(density, r.bands[["label", "colour", "geometry"]],
                style=lambda ft: {"fillColor": ft["properties"]["colour"],
                                  "color": ft["properties"]["colour"], "weight": 0.5,
                                  "fillOpacity": 0.55},
                fields=("label",), aliases=("事件/平方公里 Incidents per km²",))
        density_legend = [(b.colour, b.label) for b in r.bands.itertuples()]
    # the browser-side layers get a fixed random sample of large selections (the density
    # surface and the statistics use every incident)
    quick = r.quick
    sampled = f"{len(quick):,} / {r.incidents:,}" if len(quick) < r.incidents \
        else f"{r.incidents:,}"
    heat = layer(m, f"热力图 Heat map, quick view ({sampled})", show=False)
    HeatMap(quick[["lat", "lon"]].to_numpy().round(6).tolist(), radius=14, blur=18,
            min_opacity=0.3, gradient=HEAT_GRADIENT).add_to(heat)
    weeks, index = reports.weekly(quick)
    if weeks:
        HeatMapWithTime(weeks, index=index, name="按周 Weekly (time slider)", radius=14,
                        auto_play=False, max_opacity=0.8, show=False).add_to(m)
    if r.method is not None:
        hot = layer(m, "热点/冷点 Hot and cold spots (Gi*)")
        shown = r.grids[r.grids["bin"] != 0]
        if len(shown):
            geojson(hot, shown[["code", "name", "incidents", "z", "p", "label_zh", "label_en",
                                "colour", "geometry"]].round({"z": 2, "p": 4}),
                    style=lambda ft: {"fillColor": ft["properties"]["colour"],
                                      "color": "#333333", "weight": 0.8, "fillOpacity": 0.7},
                    fields=("code", "name", "incidents", "label_zh", "label_en", "z", "p"),
                    aliases=("网格 Grid", "名称 Name", "事件 Incidents", "结果", "Result", "z",
                             "p"))
    folium.LayerControl(collapsed=False).add_to(m)
    stats = {"incidents": r.incidents, "grids": len(r.grids), "bandwidth": r.bandwidth_m,
             "hot": r.hot, "elapsed": r.elapsed_s}
    return render_template("analysis/analysis.html", title="热点分析 Hot spots",
                           page="hotspots", stats=stats, legend=r.legend,
                           density_legend=density_legend, method=r.method, message=r.message,
                           hot_rows=r.hot_rows, bandwidths=reports.BANDWIDTH_M,
                           **_context(r.filters), **map_parts(m))


@bp.get("/rates")
@requires("view")
@heavy
def rates():
    """Incidents per unit as counts or per 1,000 households, with drill-down by level."""
    scope = principal().scope
    with engine().connect() as conn:
        r = reports.rates(conn, scope, request.args)
    f, level, units = r.filters, r.level, r.units
    m = new_map(r.bounds)
    units["drill"] = [url_for("analysis_pages.rates", level=r.child, **f.args(unit=code))
                      if r.child else "" for code in units["code"]]
    group = layer(m, f"{LEVEL_LABELS[level][0]} {LEVEL_LABELS[level][1]}")
    if len(units):
        props = ["code", "name", "incidents", "households", "rate", "resolution_pct",
                 "overdue", "colour", "drill"]
        geojson(group, units[props + ["geometry"]],
                style=lambda ft: {"fillColor": ft["properties"]["colour"],
                                  "color": "#444444", "weight": 0.8, "fillOpacity": 0.7},
                highlight=lambda ft: {"weight": 2.5, "color": "#000000"},
                fields=("code", "name", "incidents", "households", "rate", "resolution_pct",
                        "overdue"),
                aliases=("代码 Code", "名称 Name", "事件 Incidents", "户数 Households",
                         "每千户 Per 1,000 hh", "化解率 Resolved %", "超期 Overdue"),
                popup_fields=("name", "drill") if r.child else (),
                popup_aliases=("", "下钻 Drill down"))
    folium.LayerControl(collapsed=False).add_to(m)
    column = reports.MEASURES[r.measure][0]
    rows = units.drop(columns="geometry").sort_values(column, ascending=False).to_dict("records")
    return render_template("analysis/analysis.html", title="分级事件率 Incident rates",
                           page="rates",
                           stats={"incidents": int(units["incidents"].sum()),
                                  "units": len(units)},
                           legend=r.legend, legend_title=r.caption, level=level,
                           measure=r.measure, rows=rows, child=r.child, up=_parent_link(f, level),
                           levels=reports.UNIT_LEVELS, measures=reports.MEASURES,
                           totals=r.totals,
                           figures_csv=url_for("analysis_api.get_figures", level=level,
                                               format="csv", **f.raw),
                           **_context(f), **map_parts(m))


def _parent_link(f: IncidentFilter, level: str) -> str | None:
    """One level up: from a unit's children back to the parent level."""
    if not f.unit:
        return None
    if level == "village":
        return url_for("analysis_pages.rates", level="township", **f.args(unit=None))
    if level in ("grid", "hamlet") and len(f.unit) >= 12:
        return url_for("analysis_pages.rates", level="village", **f.args(unit=f.unit[:9] + "000"))
    return None
