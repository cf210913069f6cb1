"""Officials' maps: hot spots (kernel density in metres, heat map, time slider, Getis-Ord Gi*)
and rates per unit with drill-down. Filters live in the URL (gis.incidents.filters) so every
view can be shared; the reports (gis.analysis.reports) are limited to the jurisdiction; this
module draws them."""
from __future__ import annotations

import folium
from flask import Blueprint, render_template, request, url_for

from gis.analysis import reports, results
from gis.categories.manage import catalogue
from gis.categories.rules import Catalogue
from gis.domain import LEVEL_LABELS, LEVEL_PLURAL
from gis.incidents.filters import IncidentFilter, parse_filter
from gis.incidents.lifecycle import STATUS_LABELS
from gis.tiles.layers import grid_min_zoom
from web.auth import principal, requires
from web.database import engine
from web.maps import map_parts, new_map, outline_tiles, tile_url

bp = Blueprint("analysis_pages", __name__, url_prefix="/maps")

SEVERITY_LABELS = {"low": "一般 Low", "medium": "较大 Medium", "high": "重大 High"}
HEAT_GRADIENT = {0.2: "#2c7bb6", 0.45: "#abd9e9", 0.65: "#ffffbf", 0.85: "#fdae61",
                 1.0: "#d7191c"}


GI_TOOLTIP = [["code", "网格 Grid"], ["name", "名称 Name"], ["parent", "所属 Unit"],
              ["incidents", "事件 Incidents"], ["label_zh", "结果"], ["label_en", "Result"],
              ["z", "z"], ["p", "p"]]


@bp.get("/hotspots")
@requires("view")
def hotspots():
    """The hot-spot map's shell: the map, the filters and an empty panel; density, heat and
    Gi* come from /api/v1/analysis/hotspots, the Gi* grids from tiles carrying its values."""
    f, cats = _filter()
    bandwidth = reports.parse_bandwidth(request.args.get("bandwidth"))
    m, control, gen, min_zoom = _report_map(f)
    gi = {"layer": "grids", "fill": {"property": "colour", "missing": "#eeeeee"},
          "style": {"color": "#333333", "weight": 0.8, "fillOpacity": 0.7},
          "minZoom": max(min_zoom - 2, 0), "tooltip": GI_TOOLTIP,
          "highlight": {"weight": 2.5, "color": "#000000"}}
    config = {"page": "hotspots", "api": url_for("analysis_api.analysis_hotspots"),
              "page_url": url_for("analysis_pages.hotspots"), "map": m.get_name(),
              "control": control.get_name(), "keep": [],
              "layers": {"grid": {"tiles": tile_url("grids", g=gen), "spec": gi,
                                  "name": "热点/冷点 Hot and cold spots (Gi*)"}},
              "heat_gradient": {str(k): v for k, v in HEAT_GRADIENT.items()}}
    return render_template("analysis/hotspots.html", title="热点分析 Hot spots",
                           page="hotspots", bandwidth=bandwidth, bandwidths=reports.BANDWIDTH_M,
                           default_bandwidth=reports.DEFAULT_BANDWIDTH_M,
                           args_inference=request.args.get("inference", ""),
                           page_config=config, page_url=config["page_url"], **_form(f, cats),
                           **map_parts(m, expose=(control,)))


RATE_TOOLTIP = [["code", "代码 Code"], ["name", "名称 Name"], ["incidents", "事件 Incidents"],
                ["households", "户数 Households"], ["rate", "每千户 Per 1,000 hh"],
                ["resolution_pct", "化解率 Resolved %"], ["overdue", "超期 Overdue"]]
RATE_LAYERS = {**LEVEL_PLURAL, "grid": "grids"}


@bp.get("/rates")
@requires("view")
def rates():
    """The rates map's shell: the map, the filters and an empty panel; the figures come from
    /api/v1/analysis/rates and the units from tiles carrying the answer's values."""
    with engine().connect() as conn:
        default = results.default_rates_level(conn, principal().scope, request.args)
    level, measure = results.rates_choice(request.args, default)
    f, cats = _filter()
    m, control, gen, min_zoom = _report_map(f)
    layers = {}
    for lv, name in RATE_LAYERS.items():
        spec = {"layer": name, "fill": {"property": "colour", "missing": "#eeeeee"},
                "style": {"color": "#444444", "weight": 0.8, "fillOpacity": 0.7},
                "tooltip": RATE_TOOLTIP, "highlight": {"weight": 2.5, "color": "#000000"}}
        if lv == "grid":
            spec["minZoom"] = min_zoom
        layers[lv] = {"tiles": tile_url(name, g=gen), "spec": spec}
    config = {"page": "rates", "api": url_for("analysis_api.analysis_rates"),
              "page_url": url_for("analysis_pages.rates"), "map": m.get_name(),
              "control": control.get_name(), "layers": layers, "keep": ["level"],
              "level_labels": {k: list(v) for k, v in LEVEL_LABELS.items()}}
    return render_template("analysis/rates.html", title="分级事件率 Incident rates",
                           page="rates", level=level, measure=measure,
                           default_level=default,
                           measures=reports.MEASURES, page_config=config,
                           page_url=config["page_url"], **_form(f, cats),
                           **map_parts(m, expose=(control,)))


def _report_map(f: IncidentFilter) -> tuple[folium.Map, folium.LayerControl, int, int]:
    """The map a report shell starts from: the filter's unit (else the jurisdiction) in view,
    city and township outlines with township names, a layer control; with the active
    generation's id and the zoom from which its grids are drawn."""
    with engine().connect() as conn:
        frame = results.frame(conn, principal().scope, f)
        min_zoom = grid_min_zoom(conn, frame["generation"])
    gen = frame["generation"]
    m = new_map(frame["bounds"])
    outline_tiles(m, gen, show=("cities", "townships"), levels=("cities", "townships"),
                  labels=frame["labels"])
    control = folium.LayerControl(collapsed=False)
    control.add_to(m)
    return m, control, gen, min_zoom


def _filter() -> tuple[IncidentFilter, Catalogue]:
    """The page's filter over the deployment's categories, and the categories."""
    with engine().connect() as conn:
        cats = catalogue(conn)
    return parse_filter(request.args, categories=cats), cats


def _form(f: IncidentFilter, cats: Catalogue) -> dict:
    # the form offers every category by parent class (deactivated ones for past incidents)
    return {"args": f.raw, "filter_args": f.args(),
            "category_groups": cats.parent_classes(active_only=False),
            "severities": SEVERITY_LABELS, "statuses": STATUS_LABELS,
            "level_labels": LEVEL_LABELS}
