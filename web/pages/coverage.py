"""Coverage map pages: the grids by households with incidents outside every grid, and the tabs
for staffing gaps, camera coverage, 1/3/5-minute response areas and blind spots.

The tabs are shells: the HTML holds the map with its tile layers (cameras, fields of view,
streets, posts, response areas, incidents outside every grid), the panel and the fixed legend;
web/static/coverage.js asks /api/v1/coverage/<theme>/map for the figures (cached,
gis.coverage.tabs), fills the panel and draws the grid and village classes from tiles that carry
the answer's values. Figures: gis.coverage.report."""
from __future__ import annotations

import folium
from flask import Blueprint, render_template, request, url_for

from gis.boundaries.generations import view_scope
from gis.coverage import report, tabs
from gis.tiles import layers as tiles
from gis.tiles.layers import grid_min_zoom
from web.auth import principal, requires
from web.database import engine
from web.maps import VectorTiles, class_rule, map_parts, new_map, outline_tiles, tile_url

bp = Blueprint("coverage_pages", __name__, url_prefix="/maps")

TABS = (("staff", "人员配备 Staffing"), ("cameras", "视频覆盖 Cameras"),
        ("response", "1-3-5分钟响应圈 Response circles"), ("blind_spots", "盲区 Blind spots"))
THEME_OF = {"staff": "staffing", "cameras": "cameras", "response": "response",
            "blind_spots": "blind-spots"}
OUTSIDE_COLOUR = tabs.SHAPE_COLOURS["outside_5min"]
UNGRIDDED_COLOUR = tabs.SHAPE_COLOURS["ungridded"]
CAMERA_COLOUR = "#2171b5"
ROAD_COLOURS = {p: tabs.SHAPE_COLOURS[f"roads_{p}"] for p in ("covered", "uncovered")}
ROADS_FROM = 11                # streets from this zoom
TAB_GRID_ZOOM_AFTER = 1        # tabs draw grids from the overview's grid zoom + this
INCIDENT_COLOUR = "#c00000"

GRID_COLOURS = ("#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c")
GRID_TOOLTIP = [["code", "网格编码 Grid code"], ["name", "名称 Name"], ["parent", "所属 Unit"],
                ["households", "户数 Households"], ["population", "人口 Population"]]


def _class_legend(breaks, colours, what: str) -> list[tuple[str, str, str]]:
    """Legend rows (colour, symbol, label) of quantile classes with upper bounds `breaks`."""
    rows, low = [], 0
    for colour, high in zip(colours, breaks):
        rows.append((colour, "■", f"{what} {low:,.0f}–{high:,.0f}"))
        low = high
    return rows


@bp.get("/coverage")
@requires("view")
def coverage():
    with engine().connect() as conn:
        scope = view_scope(conn, principal().scope, request.args.get("root"))
        view = report.grid_overview(conn, scope)
        min_zoom = grid_min_zoom(conn, view["generation"]["id"])
    gen, totals = view["generation"], view["totals"]
    m = new_map(view["bounds"])
    grid_colours = GRID_COLOURS[-len(view["grid_breaks"]):] if view["grid_breaks"] else ()
    village_colours = GRID_COLOURS[-len(view["village_breaks"]):] \
        if view["village_breaks"] else ()
    VectorTiles(tile_url("villages", g=gen["id"]), "村/社区户数 Villages (households)", {
        "layer": "villages", "maxZoom": max(min_zoom - 1, 0),
        "fill": class_rule("households", view["village_breaks"], village_colours),
        "style": {"color": "#1f5fa8", "weight": 0.8, "fillOpacity": 0.55},
        "tooltip": [["code", "代码 Code"], ["name", "名称 Name"],
                    ["households", "户数 Households"]],
        "highlight": {"weight": 2, "color": "#000000"}}).add_to(m)
    VectorTiles(tile_url("grids", g=gen["id"]), "网格 Grids (户数 households)", {
        "layer": "grids", "minZoom": min_zoom,
        "fill": class_rule("households", view["grid_breaks"], grid_colours),
        "style": {"color": "#555555", "weight": 0.5, "fillOpacity": 0.65},
        "tooltip": GRID_TOOLTIP, "highlight": {"weight": 2, "color": "#000000"}}).add_to(m)
    outline_tiles(m, gen["id"], labels=view["labels"])
    VectorTiles(tile_url("uncovered", g=gen["id"]),
                f"未覆盖事件 Uncovered incidents ({totals['uncovered']})",
                _uncovered_spec("未覆盖 Uncovered")).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    stats = {"grids": totals["grids"], "households": totals["households"],
             "uncovered": totals["uncovered"], "generation": gen["name"], "city": view["city"],
             "min_zoom": min_zoom}
    legend = [(INCIDENT_COLOUR, "●", "未覆盖事件 Uncovered incident (coverage gap)"),
              ("#444444", "- -", "乡镇/街道界 Township boundary"),
              ("#1f5fa8", "—", "村/社区界 Village / community boundary")]
    legend += _class_legend(view["grid_breaks"], grid_colours, "每网格户数 Households per grid")
    return render_template("coverage/map.html", title="覆盖地图 Coverage map", page="coverage",
                           stats=stats, legend=legend, **map_parts(m))


# ---- the tabs: shells over /api/v1/coverage/<theme>/map ----

GRID_BASE_TIP = [["code", "网格编码 Grid"], ["name", "名称 Name"], ["parent", "所属 Unit"]]
VILLAGE_BASE_TIP = [["code", "代码 Code"], ["name", "名称 Name"]]
GRID_TIPS = {
    "staffing": [*GRID_BASE_TIP, ["households", "户数 Households"], ["status", "状态 Status"],
                 ["heads", "网格长 Heads"], ["full_time", "专职 Full-time"],
                 ["part_time", "兼职 Part-time"], ["worker_fte", "折合人数 Worker FTE"],
                 ["hh_per_worker", "户/人 Households per worker"]],
    "cameras": [*GRID_BASE_TIP, ["cameras", "摄像头 Cameras"], ["area_pct", "面积覆盖 Area covered"],
                ["road_pct", "道路覆盖 Road covered"]],
    "response": [*GRID_BASE_TIP, ["households", "户数 Households"], ["reach", "响应 Reach"],
                 ["pct_1", "1分钟圈内 Inside 1 min"], ["pct_3", "3分钟圈内 Inside 3 min"],
                 ["pct_5", "5分钟圈内 Inside 5 min"]],
    "blind-spots": [*GRID_BASE_TIP, ["households", "户数 Households"], ["gap", "盲区 Gap"]],
}
VILLAGE_TIPS = {
    "staffing": [*VILLAGE_BASE_TIP, ["households", "户数 Households"], ["grids", "网格 Grids"],
                 ["gap_grids", "缺网格长或网格员 Grids without head or worker"],
                 ["gap_pct", "比例 Share"]],
    "cameras": [*VILLAGE_BASE_TIP, ["cameras", "摄像头 Cameras"],
                ["area_pct", "面积覆盖 Area covered"], ["road_pct", "道路覆盖 Road covered"],
                ["grids_without_camera", "无覆盖网格 Grids without camera"]],
    "response": [*VILLAGE_BASE_TIP, ["households", "户数 Households"], ["reach", "响应 Reach"],
                 ["pct_1", "1分钟户数 Households 1 min"], ["pct_3", "3分钟户数 Households 3 min"],
                 ["pct_5", "5分钟户数 Households 5 min"]],
    "blind-spots": [*VILLAGE_BASE_TIP, ["grids", "网格 Grids"],
                    ["gap_grids", "无人员或无视频 Without staff or cameras"],
                    ["gap_pct", "比例 Share"]],
}
GRID_LAYER_NAMES = {"staffing": "网格人员配备 Grid staffing",
                    "cameras": "网格视频覆盖率 Grid camera coverage (area)",
                    "response": "网格响应时间 Grid response time",
                    "blind-spots": "无人员或无视频的网格 Grids without staff or cameras"}
# stacking: fills at the bottom, then translucent areas, outlines, lines and points on top
Z_FILL, Z_AREA, Z_SHAPE, Z_OUTLINE, Z_LINE, Z_POINT = 2, 3, 4, 5, 6, 8


def _tiles(m, z: dict, url: str, name: str, spec: dict, at: int, show: bool = True):
    layer_ = VectorTiles(url, name, spec, show=show)
    layer_.add_to(m)
    z[layer_.get_name()] = at
    return layer_


def _outlines(m, z: dict, gen: int, labels, min_zoom: int) -> list:
    """Unit outlines (village lines only where grids are drawn: the village classes below
    outline themselves) and township names."""
    levels = ("cities", "townships", "villages")
    out = outline_tiles(m, gen, show=levels, levels=levels, labels=labels,
                        min_zooms={"villages": min_zoom})
    z.update({layer_.get_name(): Z_OUTLINE for layer_ in out})
    return out


def _camera_layers(m, z, gen, has_roads) -> tuple[list, list]:
    made = [_tiles(m, z, tile_url("camera_views", g=gen), "摄像头视域 Camera fields of view", {
        "layer": "camera_views", "minZoom": tiles.VIEWS_FROM,
        "style": {"fill": True, "fillColor": CAMERA_COLOUR, "color": CAMERA_COLOUR,
                  "weight": 0.5, "fillOpacity": 0.25}}, Z_AREA)]
    legend = [(CAMERA_COLOUR, f"摄像头视域 Camera field of view (range, direction, angle; from "
                              f"zoom {tiles.VIEWS_FROM})")]
    if has_roads:
        legend += [(ROAD_COLOURS["covered"], "已覆盖街道 Street within camera view"),
                   (ROAD_COLOURS["uncovered"], "未覆盖街道 Street outside camera view")]
    made.append(_tiles(m, z, tile_url("cameras", g=gen), "摄像头 Cameras", {
        "layer": "cameras", "svg": True,
        "style": {"radius": 4, "color": "#08306b", "weight": 1, "fill": True,
                  "fillColor": CAMERA_COLOUR, "fillOpacity": 0.9},
        "radius": {"min": 3, "max": 12, "scale": 1.2},
        "tooltip": [["external_id", "摄像头 Camera"], ["name", "名称 Name"],
                    ["range_m", "射程 Range (m)"], ["direction_deg", "方向 Direction (°)"],
                    ["fov_deg", "视角 Field of view (°)"], ["count", "摄像头 Cameras"]]},
        Z_POINT))
    legend.append(("#08306b", f"● 摄像头 Camera (zoom {tiles.CAMERA_POINTS_FROM}+; below: "
                              f"circles sized by count)"))
    return made, legend


def _response_layers(m, z, gen) -> tuple[list, list]:
    made = []
    legend = [(tabs.SHAPE_COLOURS[f"reach_{mi}"], f"{mi}分钟响应圈 Reachable within {mi} "
                                                   f"minute(s) (nested, translucent)")
              for mi in tiles.RESPONSE_MINUTES]
    made.append(_tiles(m, z, tile_url("posts", g=gen), "派出所/巡逻站 Police posts / patrol "
                       "stations", {
                           "layer": "posts", "svg": True, "fill": {"property": "colour"},
                           "style": {"radius": 7, "color": "#ffffff", "weight": 1.5,
                                     "fillOpacity": 0.95},
                           "tooltip": [["name", "名称 Name"], ["kind_label", "类型 Kind"],
                                       ["external_id", "编号 Id"], ["method", "方法 Method"]]},
                       Z_POINT))
    legend += [(k["colour"], f"● {k['label']}") for k in tiles.POST_KINDS.values()]
    return made, legend


def _uncovered_spec(id_label: str) -> dict:
    """Incidents outside every grid: one point each when zoomed in, binned and sized by count
    below (gis.tiles.layers.INCIDENT_POINTS_FROM); `id_label` heads the tooltip."""
    return {"layer": "incidents", "svg": True,
            "style": {"radius": 6, "color": INCIDENT_COLOUR, "fill": True,
                      "fillColor": INCIDENT_COLOUR, "fillOpacity": 0.9, "weight": 1},
            "radius": {"min": 5, "max": 14, "scale": 1.5},
            "tooltip": [["external_id", id_label], ["category", "类别 Category"],
                        ["day", "日期 Date"], ["count", "事件 Incidents"]]}


def _uncovered_layer(m, z, gen) -> list:
    return [_tiles(m, z, tile_url("uncovered", g=gen), "网格外事件 Incidents outside every grid",
                   _uncovered_spec("网格外 Outside grids"), Z_POINT)]


def _shape_defs(gen: int, theme: str) -> list[dict]:
    """The shapes a theme's result stores, as tile layers the page adds once it has the key:
    translucent areas stay without events so the grids below keep their tooltips; land in no
    grid (which no grid lies under) has a tooltip. The shapes are stored in pieces cut along
    tiles (gis.store.tiles.shape_id), so they are filled without outlines, which would show
    the cuts."""
    defs = []

    def add(layer_, params, kind, name, colour, opacity, tooltip=None):
        spec = {"layer": layer_,
                "style": {"fill": True, "fillColor": colour, "stroke": False, "weight": 0,
                          "fillOpacity": opacity}}
        if tooltip:
            spec.update(svg=True, tooltip=tooltip)
        defs.append({"kind": kind, "tiles": tile_url(layer_, g=gen, **params), "spec": spec,
                     "name": name,
                     "z": Z_SHAPE if kind in ("ungridded", "outside_5min") else Z_AREA})

    if theme == "cameras":
        for part, name in (("covered", "已覆盖街道 Covered streets"),
                           ("uncovered", "未覆盖街道 Uncovered streets")):
            defs.append({"kind": f"roads_{part}", "name": name, "z": Z_LINE,
                         "tiles": tile_url("roads", g=gen, kind=part), "spec": {
                             "layer": "roads", "minZoom": ROADS_FROM,
                             "style": {"color": ROAD_COLOURS[part], "weight": 3,
                                       "opacity": 0.9, "fill": False}}})
    if theme == "response":  # one layer: 5, 3 and 1 minutes drawn in turn, each its colour
        add("response_areas", {}, "reach_5", "1-3-5分钟响应圈 1, 3 and 5-minute circles",
            tabs.SHAPE_COLOURS["reach_5"], 0.3)
        defs[-1]["spec"]["fill"] = {"property": "colour"}
    if theme in ("response", "blind-spots"):
        add("blind_spots", {"kind": "outside_5min"}, "outside_5min",
            "5分钟响应圈外 Outside every 5-minute circle", OUTSIDE_COLOUR, 0.15)
    if theme == "blind-spots":
        add("blind_spots", {"kind": "ungridded"}, "ungridded",
            "未划入网格的土地 Land in no grid", UNGRIDDED_COLOUR, 0.7,
            tooltip=[["label", "盲区 Blind spot"], ["name", "乡镇/街道 Township"],
                     ["km2", "面积 km² (乡镇合计 township total)"]])
    return defs


def _tab(key: str):
    """A coverage tab's shell."""
    theme = THEME_OF[key]
    level = tabs.check(theme, request.args.get("level"))
    with engine().connect() as conn:
        scope = view_scope(conn, principal().scope, request.args.get("root"))
        fr = tabs.frame(conn, scope)
        # one zoom later than the overview: a tab's classes need grids a few pixels wide, and
        # a tile then holds about a quarter as many (villages, with their classes, below)
        min_zoom = grid_min_zoom(conn, fr["generation"]) + TAB_GRID_ZOOM_AFTER
    gen = fr["generation"]
    m = new_map(fr["bounds"])
    z: dict[str, int] = {}
    made, legend = [], []
    if theme == "cameras":
        made, legend = _camera_layers(m, z, gen, fr["has_roads"])
    elif theme == "response":
        made, legend = _response_layers(m, z, gen)
        legend.append((OUTSIDE_COLOUR, "5分钟圈外 Outside every 5-minute circle (blind spot)"))
    elif theme == "blind-spots":
        made = _uncovered_layer(m, z, gen)
        legend = [(UNGRIDDED_COLOUR, "未划入网格的土地 Land inside the city in no grid"),
                  (INCIDENT_COLOUR, "● 网格外事件 Incident outside every grid"),
                  (OUTSIDE_COLOUR, "5分钟响应圈外 Outside every 5-minute response circle")]
    made += _outlines(m, z, gen, fr["labels"], min_zoom)
    legend += [("#444444", "- - 乡镇/街道界 Township boundary"),
               ("#1f5fa8", "— 村/社区界 Village / community boundary")]
    control = folium.LayerControl(collapsed=False)
    control.add_to(m)
    fill = {"property": "colour", "missing": "#eeeeee"}
    highlight = {"weight": 2, "color": "#000000"}
    config = {
        "theme": theme, "level": level, "map": m.get_name(), "control": control.get_name(),
        "api": url_for("coverage_api.coverage_map", theme=theme),
        "csv": url_for("coverage_api.coverage_table", theme=theme),
        "page_url": url_for(f"coverage_pages.{key}"), "z": z, "min_zoom": min_zoom,
        "grid": {"tiles": tile_url("grids", g=gen), "name": GRID_LAYER_NAMES[theme],
                 "z": Z_FILL, "spec": {
                     "layer": "grids", "minZoom": min_zoom, "fill": fill,
                     "style": {"color": "#555555", "weight": 0.5, "fillOpacity": 0.7},
                     "tooltip": GRID_TIPS[theme], "highlight": highlight}},
        "village": {"tiles": tile_url("villages", g=gen), "z": Z_FILL,
                    "name": "村/社区 Villages (低缩放级别 below grid zoom)", "spec": {
                        "layer": "villages", "maxZoom": max(min_zoom - 1, 0), "fill": fill,
                        "style": {"color": "#1f5fa8", "weight": 0.8, "fillOpacity": 0.6},
                        "tooltip": VILLAGE_TIPS[theme], "highlight": highlight}},
        "shapes": _shape_defs(gen, theme),
    }
    return render_template(
        "coverage/coverage.html", title=tabs.TITLES[theme], page="coverage", tab=key, tabs=TABS,
        theme=theme, level=level, levels=tabs.levels_of(theme),
        columns=tabs.columns(theme, level), legend=legend, min_zoom=min_zoom,
        views_from=tiles.VIEWS_FROM, roads_from=ROADS_FROM, notes=tabs.synthetic_note(fr["synthetic"]),
        csv_url=url_for("coverage_api.coverage_table", theme=theme, level=level, format="csv"),
        page_config=config, **map_parts(m, expose=(control, *made)))


@bp.get("/coverage/staff")
@requires("view")
def staff():
    return _tab("staff")


@bp.get("/coverage/cameras")
@requires("view")
def cameras():
    return _tab("cameras")


@bp.get("/coverage/response")
@requires("view")
def response():
    return _tab("response")


@bp.get("/coverage/blind-spots")
@requires("view")
def blind_spots():
    return _tab("blind_spots")
