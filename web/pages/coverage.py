"""Coverage map pages: the grids by households with incidents outside every grid, and the tabs
for staffing gaps, camera coverage, 1/3/5-minute response areas and blind spots, each a Folium
map with a legend and a per-unit table (township or village). Figures: gis.coverage.report."""
from __future__ import annotations

import branca.colormap as cm
import folium
from flask import Blueprint, render_template, request, url_for

from gis.coverage import report
from gis.coverage.response import MINUTES
from gis.domain import CATEGORIES
from gis.errors import InputError
from gis.features.collections import outlines
from web.auth import principal, requires
from web.database import engine
from web.heavy import heavy
from web.maps import SIMPLIFY_DEG, circle, geojson, layer, map_parts, new_map, outline_layers

bp = Blueprint("coverage_pages", __name__, url_prefix="/maps")

TABS = (("staff", "人员配备 Staffing"), ("cameras", "视频覆盖 Cameras"),
        ("response", "1-3-5分钟响应圈 Response circles"), ("blind_spots", "盲区 Blind spots"))

STAFF_CLASSES = (  # (flag, colour, label): the first flag that holds colours the grid
    ("no_staff", "#67000d", "无网格长且无网格员 No head and no worker"),
    ("no_head", "#e6550d", "无网格长 No grid head"),
    ("no_worker", "#fb6a4a", "无网格员 No grid worker"),
    ("over_target", "#fdd049", "每名网格员户数超标 Households per worker over target"),
    (None, "#74c476", "配备齐全 Staffed within target"),
)
SHARE_CLASSES = ((0.0, "#f7f7f7", "0%"), (0.2, "#c6dbef", "0–20%"), (0.4, "#9ecae1", "20–40%"),
                 (0.6, "#6baed6", "40–60%"), (0.8, "#3182bd", "60–80%"),
                 (1.01, "#08519c", "80–100%"))
RESPONSE_STYLE = {1: ("#006d2c", 0.45), 3: ("#41ab5d", 0.30), 5: ("#a1d99b", 0.25)}
OUTSIDE_COLOUR = "#cb181d"
UNGRIDDED_COLOUR = "#7a0177"


def _level() -> str:
    level = request.args.get("level", "township")
    if level not in ("township", "village"):
        raise InputError("level must be township or village", field="level")
    return level


def _geojson(frame, columns) -> dict:
    """A GeoJSON FeatureCollection of a GeoDataFrame, simplified for display."""
    feats = []
    simple = frame.geometry.simplify(SIMPLIFY_DEG, preserve_topology=True)
    for (_i, row), geom in zip(frame.iterrows(), simple):
        if geom is None or geom.is_empty:
            continue
        props = {c: report.plain(row[c]) for c in columns}
        feats.append({"type": "Feature", "geometry": geom.__geo_interface__, "properties": props})
    return {"type": "FeatureCollection", "features": feats}



def _pct(v) -> str:
    return "—" if v is None or v != v else f"{v * 100:.1f}%"


def _base(conn, ctx):
    m = new_map(ctx.grids.total_bounds.tolist() if len(ctx.grids) else None)
    return m


def _finish(m, conn, ctx):
    outline_layers(m, outlines(conn, ctx.scope, ("cities", "townships", "villages")))
    folium.LayerControl(collapsed=False).add_to(m)


SYNTHETIC_LABELS = {"staff": "网格人员 staff", "cameras": "摄像头 cameras",
                    "posts": "派出所/巡逻站 posts", "roads": "道路 roads"}


def _synthetic_note(ctx) -> list[str]:
    if not ctx.synthetic:
        return []
    kinds = ", ".join(SYNTHETIC_LABELS[k] for k in ctx.synthetic)
    return [f"演示数据为合成数据，并非真实人员、设备或道路 Synthetic demo data, not real "
            f"people, devices or streets: {kinds}."]


def _page(tab, title, m, *, ctx, stats, legend, table, columns, notes=(), level="township",
          csv_theme=None):
    notes = [*notes, *_synthetic_note(ctx)]
    return render_template(
        "coverage/coverage.html", title=title, page="coverage", tab=tab, tabs=TABS, stats=stats,
        legend=legend, table=table, columns=columns, notes=notes, level=level,
        csv_url=url_for("coverage_api.coverage_table", theme=csv_theme, level=level,
                        format="csv") if csv_theme else None, **map_parts(m))


@bp.get("/coverage")
@requires("view")
@heavy
def coverage():
    scope = principal().scope
    with engine().connect() as conn:
        view = report.grid_overview(conn, scope)
        context = outlines(conn, scope, ("cities", "townships", "villages", "hamlets"))
    gen, grids, uncovered = view["generation"], view["grids"], view["uncovered"]
    m = new_map(view["bounds"])
    households = [f["properties"]["households"] for f in grids["features"]] or [0]
    cmap = cm.LinearColormap(["#f7fcf5", "#74c476", "#00441b"], vmin=min(households),
                             vmax=max(households),
                             caption="每网格户数 Households per grid")
    grid_group = layer(m, "网格 Grids (户数 households)")
    geojson(grid_group, grids,
            style=lambda f: {"fillColor": cmap(f["properties"]["households"]),
                             "color": "#555555", "weight": 0.5, "fillOpacity": 0.65},
            highlight=lambda f: {"weight": 2, "color": "#000000"},
            fields=("code", "name", "parent_name", "households", "population"),
            aliases=("网格编码 Grid code", "名称 Name", "所属 Unit", "户数 Households",
                     "人口 Population"))
    cmap.add_to(m)
    outline_layers(m, context)
    gap_group = layer(m, f"未覆盖事件 Uncovered incidents ({len(uncovered)})")
    for r in uncovered:
        kind = CATEGORIES.get(r["category"], (r["category"], ""))
        circle(gap_group, r["lat"], r["lon"],
               f"未覆盖 Uncovered: {r['external_id']} {kind[0]} {kind[1]} "
               f"{r['occurred_at']:%Y-%m-%d}", radius=6, color="#c00000", fill=True,
               fill_opacity=0.9)
    folium.LayerControl(collapsed=False).add_to(m)
    stats = {
        "grids": len(grids["features"]),
        "households": sum(households),
        "uncovered": len(uncovered),
        "generation": gen["name"],
        "city": view["city"],
    }
    legend = [("#c00000", "●", "未覆盖事件 Uncovered incident (coverage gap)"),
              ("#444444", "- -", "乡镇/街道界 Township boundary"),
              ("#1f5fa8", "—", "村/社区界 Village / community boundary")]
    return render_template("coverage/map.html", title="覆盖地图 Coverage map", page="coverage",
                           stats=stats, legend=legend, **map_parts(m))


@bp.get("/coverage/staff")
@requires("view")
@heavy
def staff():
    level = _level()
    with engine().connect() as conn:
        ctx = report.context(conn, principal().scope)
        per_grid = report.staff_per_grid(conn, ctx)
        units = report.staff_units(conn, ctx, level)
        m = _base(conn, ctx)
        per_grid = per_grid.copy()
        per_grid["status"] = "ok"
        per_grid["colour"] = STAFF_CLASSES[-1][1]
        for flag, colour, _label in reversed(STAFF_CLASSES[:-1]):
            per_grid.loc[per_grid[flag], "colour"] = colour
            per_grid.loc[per_grid[flag], "status"] = flag
        per_grid["hh_per_worker"] = per_grid["households_per_worker"].round(0)
        group = layer(m, "网格人员配备 Grid staffing")
        geojson(group, _geojson(per_grid, ["code", "name", "village_name", "households",
                                           "heads", "full_time", "part_time", "worker_fte",
                                           "hh_per_worker", "colour"]),
                style=lambda f: {"fillColor": f["properties"]["colour"], "color": "#555",
                                 "weight": 0.5, "fillOpacity": 0.7},
                highlight=lambda f: {"weight": 2, "color": "#000"},
                fields=("code", "name", "village_name", "households", "heads", "full_time",
                        "part_time", "worker_fte", "hh_per_worker"),
                aliases=("网格编码 Grid", "名称 Name", "村/社区 Village", "户数 Households",
                         "网格长 Heads", "专职 Full-time", "兼职 Part-time",
                         "折合人数 Worker FTE", "户/人 Households per worker"))
        _finish(m, conn, ctx)
        target = ctx.settings["households_per_worker"]
    counts = {flag: int(per_grid[flag].sum()) for flag, *_ in STAFF_CLASSES[:-1]}
    stats = [("网格 Grids", len(per_grid), "stat-grids"),
             ("无网格长 No head", counts["no_head"], "stat-no-head"),
             ("无网格员 No worker", counts["no_worker"], "stat-no-worker"),
             ("超标 Over target", counts["over_target"], "stat-over-target"),
             ("目标 Target", f"{target:g} 户/人 households per worker", "stat-target")]
    counts[None] = int((per_grid["status"] == "ok").sum())
    legend = [(c, f"{label} ({counts[flag]})") for flag, c, label in STAFF_CLASSES]
    columns = [("unit_name", "单元 Unit"), ("grids", "网格 Grids"), ("heads", "网格长 Heads"),
               ("worker_fte", "网格员(折合) Workers (FTE)"),
               ("households_per_worker", "户/人 Households per worker"),
               ("no_head", "无网格长 No head"), ("no_worker", "无网格员 No worker"),
               ("over_target", "超标 Over target")]
    notes = [f"兼职网格员按0.5人计；一人负责多个网格时平均分摊。Part-time workers count 0.5; a "
             f"person serving several grids is shared equally among them. 目标 Target: "
             f"{target:g} households per worker."]
    return _page("staff", "人员配备 Grid staffing", m, ctx=ctx, stats=stats, legend=legend,
                 table=_rows(units, columns), columns=columns, notes=notes, level=level,
                 csv_theme="staffing")


@bp.get("/coverage/cameras")
@requires("view")
@heavy
def cameras():
    level = _level()
    with engine().connect() as conn:
        ctx = report.context(conn, principal().scope)
        cov = report.camera_coverage(conn, ctx)
        units = report.camera_units(conn, ctx, level)
        per_grid = cov["per_grid"].copy()
        per_grid["colour"] = [_share_colour(s) for s in per_grid["area_share"]]
        per_grid["area_pct"] = [_pct(s) for s in per_grid["area_share"]]
        per_grid["road_pct"] = [_pct(s) for s in per_grid["road_share"]]
        m = _base(conn, ctx)
        group = layer(m, "网格视频覆盖率 Grid camera coverage (area)")
        geojson(group, _geojson(per_grid, ["code", "name", "cameras", "area_pct", "road_pct",
                                           "colour"]),
                style=lambda f: {"fillColor": f["properties"]["colour"], "color": "#555",
                                 "weight": 0.5, "fillOpacity": 0.6},
                fields=("code", "name", "cameras", "area_pct", "road_pct"),
                aliases=("网格编码 Grid", "名称 Name", "摄像头 Cameras", "面积覆盖 Area covered",
                         "道路覆盖 Road covered"))
        prints = layer(m, "摄像头视域 Camera fields of view")
        geojson(prints, _geojson(cov["footprints"], ["external_id", "range_m"]),
                style=lambda f: {"fillColor": "#2171b5", "color": "#2171b5", "weight": 0.5,
                                 "fillOpacity": 0.25},
                fields=("external_id", "range_m"), aliases=("摄像头 Camera", "射程 Range (m)"))
        for key, name, colour in (("roads_covered", "已覆盖街道 Covered streets", "#1a9850"),
                                  ("roads_uncovered", "未覆盖街道 Uncovered streets", "#d73027")):
            if len(cov[key]):
                geojson(layer(m, name), _geojson(cov[key], []),
                        style=lambda f, c=colour: {"color": c, "weight": 3, "opacity": 0.9})
        _finish(m, conn, ctx)
    totals = report.camera_totals(ctx, per_grid)
    area, road = totals["area_share"], totals["road_share"]
    stats = [("摄像头 Cameras", len(cov["cameras"]), "stat-cameras"),
             ("面积覆盖 Area covered", _pct(area), "stat-area-share"),
             ("道路覆盖 Street length covered", _pct(road) if road is not None else
              "无路网 no roads loaded", "stat-road-share"),
             ("无覆盖网格 Grids without camera", int(per_grid["no_camera"].sum()),
              "stat-no-camera")]
    legend = [(c, f"网格面积覆盖 Grid area covered {label}") for _t, c, label in SHARE_CLASSES]
    legend += [("#2171b5", "摄像头视域 Camera field of view (range, direction, angle)"),
               ("#1a9850", "已覆盖街道 Street within camera range"),
               ("#d73027", "未覆盖街道 Street outside camera range")]
    columns = [("unit_name", "单元 Unit"), ("grids", "网格 Grids"), ("cameras", "摄像头 Cameras"),
               ("area_share", "面积覆盖 Area covered"), ("road_km", "道路 Roads (km)"),
               ("road_share", "道路覆盖 Streets covered"),
               ("grids_without_camera", "无覆盖网格 Grids without camera")]
    notes = ["覆盖面积与道路长度在本地横轴墨卡托投影中以米计算。Areas and street lengths are "
             "computed in metres in a local transverse Mercator projection."]
    return _page("cameras", "视频覆盖 Camera coverage", m, ctx=ctx, stats=stats, legend=legend,
                 table=_rows(units, columns, shares=("area_share", "road_share")),
                 columns=columns, notes=notes, level=level, csv_theme="cameras")


def _share_colour(share) -> str:
    if share is None or share != share or share <= 0:
        return SHARE_CLASSES[0][1]
    for top, colour, _label in SHARE_CLASSES[1:]:
        if share <= top:
            return colour
    return SHARE_CLASSES[-1][1]


@bp.get("/coverage/response")
@requires("view")
@heavy
def response():
    level = _level()
    with engine().connect() as conn:
        ctx = report.context(conn, principal().scope)
        res = report.response_coverage(conn, ctx)
        units = report.response_units(conn, ctx, level)
        m = _base(conn, ctx)
        per_grid = res["per_grid"].copy()
        for mi in MINUTES:
            per_grid[f"pct_{mi}"] = [_pct(s) for s in per_grid[f"share_{mi}"]]
        grids = layer(m, "网格 Grids (圈内比例 share inside)")
        geojson(grids, _geojson(per_grid, ["code", "name", "households",
                                           *(f"pct_{mi}" for mi in MINUTES)]),
                style=lambda f: {"fill": True, "fillOpacity": 0, "color": "#777",
                                 "weight": 0.4},
                fields=("code", "name", "households", *(f"pct_{mi}" for mi in MINUTES)),
                aliases=("网格编码 Grid", "名称 Name", "户数 Households",
                         *(f"{mi}分钟圈内 Inside {mi} min" for mi in MINUTES)))
        outside = layer(m, "5分钟圈外 Outside every 5-minute circle")
        geojson(outside, _geojson(res["outside"], ["name"]),
                style=lambda f: {"fillColor": OUTSIDE_COLOUR, "color": OUTSIDE_COLOUR,
                                 "weight": 0.5, "fillOpacity": 0.18},
                fields=("name",), aliases=("5分钟圈外 Outside 5 min",))
        for mi in sorted(MINUTES, reverse=True):
            colour, opacity = RESPONSE_STYLE.get(mi, ("#31a354", 0.3))
            circle_layer = layer(m, f"{mi}分钟响应圈 {mi}-minute circle")
            union = res["unions"][mi]
            if not union.is_empty:
                geojson(circle_layer, {"type": "FeatureCollection", "features": [
                    {"type": "Feature", "properties": {},
                     "geometry": union.simplify(SIMPLIFY_DEG).__geo_interface__}]},
                    style=lambda f, c=colour, o=opacity: {"fillColor": c, "color": c,
                                                          "weight": 1, "fillOpacity": o},
                    text=f"{mi}分钟可达 Reachable in {mi} min")
        method = dict(zip(res["areas"]["post_id"], res["areas"]["method"]))
        posts = layer(m, "派出所/巡逻站 Police posts / patrol stations")
        for p in res["posts"].itertuples():
            is_post = p.kind == "police_post"
            how = {"network": "路网 road network", "buffer": "速度缓冲 speed buffer"}.get(
                method.get(p.id), "未计算 not computed")
            circle(posts, p.lat, p.lon,
                   f"{p.name} · {'派出所 Police post' if is_post else '巡逻站 Patrol station'}"
                   f" · 方法 Method: {how}", radius=7 if is_post else 5,
                   color="#08306b" if is_post else "#54278f", fill=True, fill_opacity=0.95)
        _finish(m, conn, ctx)
    stats = [("派出所/巡逻站 Posts", len(res["posts"]), "stat-posts")]
    for mi, share in report.household_shares(per_grid).items():
        stats.append((f"{mi}分钟圈内户数 Households within {mi} min", _pct(share),
                      f"stat-households-{mi}"))
    stats.append(("5分钟圈外面积 Land outside 5 min",
                  f"{float(res['outside_km2'].sum()) if len(res['outside_km2']) else 0:,.1f} km²",
                  "stat-outside-km2"))
    notes = [_method_sentence(res)]
    legend = [(RESPONSE_STYLE[mi][0], f"{mi}分钟响应圈 Reachable within {mi} minute(s)")
              for mi in MINUTES]
    legend += [(OUTSIDE_COLOUR, "5分钟圈外 Outside every 5-minute circle (blind spot)"),
               ("#08306b", "● 派出所 Police post"), ("#54278f", "● 巡逻站 Patrol station")]
    columns = [("unit_name", "单元 Unit"), ("grids", "网格 Grids"), ("households", "户数 Households"),
               *((f"household_share_{mi}", f"{mi}分钟户数 Households {mi} min") for mi in MINUTES),
               *((f"area_share_{mi}", f"{mi}分钟面积 Area {mi} min") for mi in MINUTES)]
    share_cols = tuple(c for c, _ in columns if "share" in c)
    return _page("response", "1-3-5分钟快速反应圈 1-3-5 minute response circles", m,
                 ctx=ctx, stats=stats, legend=legend, table=_rows(units, columns, shares=share_cols),
                 columns=columns, notes=notes, level=level, csv_theme="response")


def _method_sentence(res) -> str:
    methods = res["methods"]
    net, buf = methods.get("network", 0), methods.get("buffer", 0)
    parts = []
    if net:
        parts.append(f"{net} 个沿路网计算 along the road network "
                     f"({', '.join(res['engines'])})")
    if buf:
        parts.append(f"{buf} 个按速度缓冲区 as speed buffers at {res['buffer_speed_kmh']:g} km/h "
                     f"({'; '.join(res['buffer_reasons'])})")
    if not parts:
        return "尚无响应区 No response areas yet: import police posts (gridgis coverage " \
               "import-posts)."
    return ("计算方法 Method: " + "; ".join(parts) + ". 户数按网格面积均匀分布估计 Households "
            "are assumed spread evenly over each grid.")


@bp.get("/coverage/blind-spots")
@requires("view")
@heavy
def blind_spots():
    with engine().connect() as conn:
        ctx = report.context(conn, principal().scope)
        blind = report.blind_spots(conn, ctx)
        layers = blind["layers"]
        m = _base(conn, ctx)
        _area_layer(m, layers["outside_5min"], "5分钟响应圈外 Outside every 5-minute circle",
                    OUTSIDE_COLOUR, 0.15)
        _area_layer(m, layers["grids_without_camera"], "无视频覆盖的网格 Grids without cameras",
                    "#636363", 0.35)
        _area_layer(m, layers["grids_without_staff"], "无人员的网格 Grids without staff",
                    "#e6550d", 0.6)
        _area_layer(m, layers["ungridded"], "未划入网格的土地 Land in no grid",
                    UNGRIDDED_COLOUR, 0.7)
        incidents = layers["uncovered_incidents"]
        group = layer(m, f"网格外事件 Incidents outside every grid ({len(incidents)})")
        for r in incidents.itertuples():
            kind = CATEGORIES.get(r.category, (r.category, ""))
            circle(group, r.lat, r.lon, f"网格外 Outside grids: {r.external_id} {kind[0]} "
                   f"{kind[1]}", radius=6, color="#c00000", fill=True, fill_opacity=0.9)
        _finish(m, conn, ctx)
    table = blind["table"]
    stats = [("未划网格土地 Land in no grid", f"{table['ungridded_km2'].sum():,.2f} km²",
              "stat-ungridded"),
             ("网格外事件 Incidents outside grids", int(table["uncovered_incidents"].sum()),
              "stat-uncovered"),
             ("无人员网格 Grids without staff", int(table["grids_without_staff"].sum()),
              "stat-no-staff"),
             ("无视频网格 Grids without cameras", int(table["grids_without_camera"].sum()),
              "stat-no-camera"),
             ("5分钟圈外 Outside 5 min", f"{table['outside_5min_km2'].sum():,.1f} km²",
              "stat-outside")]
    legend = [(UNGRIDDED_COLOUR, "未划入网格的土地 Land inside the city in no grid"),
              ("#c00000", "● 网格外事件 Incident outside every grid"),
              ("#e6550d", "无网格长和网格员的网格 Grid with no head and no worker"),
              ("#636363", "无视频覆盖的网格 Grid with no camera coverage"),
              (OUTSIDE_COLOUR, "5分钟响应圈外 Outside every 5-minute response circle")]
    columns = [("unit_name", "乡镇/街道 Township"), ("ungridded_km2", "未划网格 km² Land in no grid"),
               ("uncovered_incidents", "网格外事件 Incidents outside grids"),
               ("grids", "网格 Grids"), ("grids_without_staff", "无人员 Without staff"),
               ("grids_without_camera", "无视频 Without cameras"),
               ("outside_5min_km2", "5分钟圈外 km² Outside 5 min"),
               ("households_outside_5min", "圈外户数 Households outside 5 min")]
    notes = ["全覆盖、不留死角 Full coverage, no blind spots: every count here should be zero. "
             + _method_sentence(blind["response"])]
    return _page("blind_spots", "盲区 Blind spots", m, ctx=ctx, stats=stats, legend=legend,
                 table=_rows(table, columns, decimals={"ungridded_km2": 2,
                                                       "outside_5min_km2": 1,
                                                       "households_outside_5min": 0}),
                 columns=columns, notes=notes, csv_theme="blind-spots")


def _area_layer(m, frame, name, colour, opacity):
    group = layer(m, f"{name} ({len(frame)})")
    if len(frame):
        cols = [c for c in ("code", "name") if c in frame.columns]
        geojson(group, _geojson(frame, cols),
                style=lambda f: {"fillColor": colour, "color": colour, "weight": 1,
                                 "fillOpacity": opacity},
                fields=cols, aliases=[{"code": "代码 Code", "name": "名称 Name"}[c] for c in cols],
                text=None if cols else name)


def _rows(frame, columns, shares=(), decimals=None) -> list[list[str]]:
    """Table cells as display strings: shares as percentages, flags and counts as integers."""
    decimals = decimals or {}
    out = []
    for r in frame.to_dict("records"):
        cells = []
        for key, _label in columns:
            v = r.get(key)
            if key in shares:
                cells.append(_pct(v))
            elif v is None or (isinstance(v, float) and v != v):
                cells.append("—")
            elif key in decimals:
                cells.append(f"{v:,.{decimals[key]}f}")
            elif isinstance(v, float):
                cells.append(f"{v:,.1f}" if not float(v).is_integer() else f"{int(v):,}")
            else:
                cells.append(str(v))
        out.append(cells)
    return out
