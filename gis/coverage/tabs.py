"""The coverage tabs (staffing, cameras, response areas, blind spots) as answers a page shell
asks for, cached in PostgreSQL (gis.results.cache) by generation, jurisdiction and the coverage
data version (and the incidents version for blind spots), so a write anywhere they read makes
the next request compute afresh.

A tab's result holds the panel (figures, legend, notes and the per-township and per-village
tables, whole: the CSV downloads read them too) and, as values, the class of every grid that
grid tiles draw (`/tiles/grids/{z}/{x}/{y}.mvt?result=<key>`). A second result (`villages`)
holds the class of every village for the zooms below the grids
(`/tiles/villages/...?result=<villages>`). Response areas and blind spots also store shapes
(land outside every 5-minute area, land in no grid) under negative ids, which no grid or unit
has; `/tiles/blind_spots/...?result=<key>&kind=...` draws them. Figures: gis.coverage.report.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.access.roles import Principal
from gis.access.scope import Scope
from gis.coverage import report
from gis.coverage.response import MINUTES
from gis.domain import LEVEL_NUMBER
from gis.errors import InputError, NotFound
from gis.files import Download, frame_csv_bytes
from gis.results.cache import Computed, cached, plain
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import coverage as cstore
from gis.store import features
from gis.store.db import Connection
from gis.store.tiles import SHAPE_CELL_ZOOM, shape_id

THEMES = report.THEMES                 # staffing, cameras, response, blind-spots
SCHEMA = "5"                           # bump when what a tab's result holds changes
UNIT_LEVELS = ("township", "village")
UNIT_ROWS = 500                        # table rows an answer lists (the CSV has them all)
DEPENDS = {"staffing": ("coverage",), "cameras": ("coverage",), "response": ("coverage",),
           "blind-spots": ("coverage", "incidents")}
TITLES = {"staffing": "人员配备 Grid staffing", "cameras": "视频覆盖 Camera coverage",
          "response": "1-3-5分钟快速反应圈 1-3-5 minute response circles",
          "blind-spots": "盲区 Blind spots"}

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
GAP_CLASSES = ((0.0, "#f7f7f7", "0%"), (0.25, "#fcbba1", "0–25%"), (0.5, "#fb6a4a", "25–50%"),
               (0.75, "#de2d26", "50–75%"), (1.01, "#a50f15", "75–100%"))
REACH_SHARE = 0.5   # a grid is "within m minutes" when at least half of it is
REACH_CLASSES = ((1, "#006d2c", "多半在1分钟内可达 Mostly within 1 minute"),
                 (3, "#41ab5d", "多半在3分钟内可达 Mostly within 3 minutes"),
                 (5, "#a1d99b", "多半在5分钟内可达 Mostly within 5 minutes"),
                 (None, "#fdae6b", "多半在5分钟圈外 Mostly beyond 5 minutes"))
BLIND_CLASSES = (("both", "#67000d", "无人员且无视频 No staff and no camera coverage"),
                 ("no_staff", "#e6550d", "无网格长和网格员 No grid head and no worker"),
                 ("no_camera", "#636363", "无视频覆盖 No camera coverage"))
SHAPE_LABELS = {"ungridded": "未划入网格的土地 Land in no grid",
                "roads_covered": "视频覆盖内的街道 Street within camera view",
                "roads_uncovered": "视频覆盖外的街道 Street outside every camera view",
                "outside_5min": "5分钟响应圈外 Outside every 5-minute circle",
                **{f"reach_{m}": f"{m}分钟可达 Reachable within {m} min" for m in MINUTES}}
SHAPE_COLOURS = {"ungridded": "#7a0177", "outside_5min": "#cb181d",
                 "roads_covered": "#1a9850", "roads_uncovered": "#d73027",
                 "reach_1": "#08519c", "reach_3": "#3182bd", "reach_5": "#6baed6"}
SYNTHETIC_LABELS = {"staff": "网格人员 staff", "cameras": "摄像头 cameras",
                    "posts": "派出所/巡逻站 posts", "roads": "道路 roads"}

_STAFF_COLUMNS = [("grids", "网格 Grids"), ("heads", "网格长 Heads"),
                  ("worker_fte", "网格员(折合) Workers (FTE)"),
                  ("households_per_worker", "户/人 Households per worker"),
                  ("no_head", "无网格长 No head"), ("no_worker", "无网格员 No worker"),
                  ("over_target", "超标 Over target")]
_CAMERA_COLUMNS = [("grids", "网格 Grids"), ("cameras", "摄像头 Cameras"),
                   ("area_share", "面积覆盖 Area covered"), ("road_km", "道路 Roads (km)"),
                   ("road_share", "道路覆盖 Streets covered"),
                   ("grids_without_camera", "无覆盖网格 Grids without camera")]
_RESPONSE_COLUMNS = [("grids", "网格 Grids"), ("households", "户数 Households"),
                     *((f"household_share_{m}", f"{m}分钟户数 Households {m} min")
                       for m in MINUTES),
                     *((f"area_share_{m}", f"{m}分钟面积 Area {m} min") for m in MINUTES)]
_BLIND_COLUMNS = [("ungridded_km2", "未划网格 km² Land in no grid"),
                  ("uncovered_incidents", "网格外事件 Incidents outside grids"),
                  ("grids", "网格 Grids"), ("grids_without_staff", "无人员 Without staff"),
                  ("grids_without_camera", "无视频 Without cameras"),
                  ("outside_5min_km2", "5分钟圈外 km² Outside 5 min"),
                  ("households_outside_5min", "圈外户数 Households outside 5 min")]
COLUMNS = {"staffing": _STAFF_COLUMNS, "cameras": _CAMERA_COLUMNS,
           "response": _RESPONSE_COLUMNS, "blind-spots": _BLIND_COLUMNS}
SHARE_COLUMNS = {"cameras": ("area_share", "road_share"),
                 "response": tuple(c for c, _ in _RESPONSE_COLUMNS if "share" in c)}
DECIMALS = {"blind-spots": {"ungridded_km2": 2, "outside_5min_km2": 1,
                            "households_outside_5min": 0}}
UNIT_LABELS = {"township": "乡镇/街道 Township", "village": "村/社区 Village"}


def levels_of(theme: str) -> tuple[str, ...]:
    """The unit levels a theme's table comes in (blind spots: townships only)."""
    return ("township",) if theme == "blind-spots" else UNIT_LEVELS


def columns(theme: str, level: str) -> list[tuple[str, str]]:
    """(key, label) of a theme's table at a level, the unit's name first."""
    return [("unit_name", UNIT_LABELS[level]), *COLUMNS[theme]]


def check(theme: str, level: str | None) -> str:
    """The level of a tab request (NotFound for an unknown theme, InputError a bad level)."""
    if theme not in THEMES:
        raise NotFound(f"no coverage theme {theme!r}; themes: {', '.join(THEMES)}")
    level = level or "township"
    if level not in levels_of(theme):
        raise InputError(f"level must be {' or '.join(levels_of(theme))}", field="level")
    return level


def synthetic_note(kinds) -> list[str]:
    if not kinds:
        return []
    return ["演示数据为合成数据，并非真实人员、设备或道路 Synthetic demo data, not real people, "
            "devices or streets: " + ", ".join(SYNTHETIC_LABELS[k] for k in kinds) + "."]


def frame(conn: Connection, scope: Scope) -> dict:
    """What a tab's shell needs before any figure (cheap: no geometry is loaded).

    Returns
    -------
    dict
        generation (the active generation's id), bounds ([min lon, min lat, max lon, max lat]
        of the jurisdiction's grids, or None), labels (township name points: code, name, lon,
        lat), synthetic (the coverage tables holding demo records), has_roads (a road network
        is loaded).
    """
    gen_id = bstore.require_active_generation(conn, scope)["id"]
    return {"generation": gen_id,
            "bounds": features.extent(conn, features.COLLECTIONS["grids"], gen_id, scope),
            "labels": features.label_points(conn, gen_id, scope, LEVEL_NUMBER["township"]),
            "synthetic": cstore.synthetic_kinds(conn),
            "has_roads": cstore.road_network(conn) is not None}


# ---- answers ----

@dataclass
class _Built:
    meta: dict
    grids: dict[int, dict] = field(default_factory=dict)      # by grid id (and shapes < 0)
    villages: dict[int, dict] = field(default_factory=dict)   # by village admin_area id


def _results(conn: Connection, scope: Scope, theme: str, guard) -> tuple[dict, Callable]:
    """The tab's main result (meta, with `result` its key) and a function naming the key of
    its villages result (computed when missing). One computation serves both."""
    gen_id = bstore.require_active_generation(conn, scope)["id"]
    memo: dict[str, _Built] = {}

    def built() -> _Built:
        if "b" not in memo:
            memo["b"] = BUILDERS[theme](conn, report.context(conn, scope))
        return memo["b"]

    params = {"schema": SCHEMA}
    main = cached(conn, f"coverage-{theme}", gen_id, scope, params,
                  lambda: Computed(built().meta, built().grids), depends=DEPENDS[theme],
                  guard=guard)

    def villages() -> str:
        return cached(conn, f"coverage-{theme}-villages", gen_id, scope, params,
                      lambda: Computed({}, built().villages), depends=DEPENDS[theme],
                      guard=guard)["result"]

    return main, villages


def answer(conn: Connection, scope: Scope, theme: str, level: str | None = None,
           guard=nullcontext) -> dict:
    """A coverage tab for the page: figures, legend, notes and one level's table, cached.

    Parameters
    ----------
    conn : Connection
        Database connection.
    scope : Scope
        The reader's jurisdiction (figures count its own land, grids and households).
    theme : str
        One of THEMES.
    level : str, optional
        "township" (default) or "village" (not for blind spots).
    guard : callable, optional
        A context manager around computing (the interface's bound on heavy work).

    Returns
    -------
    dict
        theme, level, levels, title, stats ([{id, label, value}], values as display text),
        legend and village_legend ([{colour, label}]; grid classes with their counts, village
        classes), village_caption, notes ([str]), columns ([[key, label]]), rows (display
        cells of at most UNIT_ROWS units, by code), rows_total, shapes (the kinds stored for
        /tiles/blind_spots), result (the key grid tiles take), villages (the key village
        tiles take), cached, computed_s.
    """
    level = check(theme, level)
    main, villages = _results(conn, scope, theme, guard)
    table = main["tables"][level]
    cols = columns(theme, level)
    rows = _cells(table["records"][:UNIT_ROWS], cols, SHARE_COLUMNS.get(theme, ()),
                  DECIMALS.get(theme, {}))
    out = {k: v for k, v in main.items() if k != "tables"}
    out.update({"level": level, "levels": list(levels_of(theme)),
                "columns": [list(c) for c in cols], "rows": rows,
                "rows_total": len(table["records"]), "villages": villages()})
    return out


def unit_frame(conn: Connection, scope: Scope, theme: str, level: str,
               guard=nullcontext) -> pd.DataFrame:
    """A theme's whole table per township or village from its cached result (the columns of
    gis.coverage.report.table)."""
    level = check(theme, level)
    main, _villages = _results(conn, scope, theme, guard)
    table = main["tables"][level]
    return pd.DataFrame(table["records"], columns=table["fields"])


def theme_table(conn: Connection, actor: Principal, theme: str, level: str | None,
                fmt: str | None, *, origin: dict | None = None):
    """gis.coverage.report.theme_table, with the township and village tables read from the
    tab's cached result (the numbers the page shows); per grid it computes afresh."""
    if theme not in THEMES or (level or "township") not in levels_of(theme) \
            or (fmt or "json") not in ("json", "csv"):
        return report.theme_table(conn, actor, theme, level, fmt, origin=origin)
    level = level or "township"
    frame_ = unit_frame(conn, actor.scope, theme, level)
    if (fmt or "json") == "json":
        return {"theme": theme, "level": level, "settings": cstore.settings(conn),
                "rows": report.records(frame_)}
    audit.record(conn, actor, "export", f"coverage/{theme}",
                 details={"format": "csv", "level": level}, **(origin or {}))
    return Download(frame_csv_bytes(frame_), "text/csv", f"coverage-{theme}-{level}.csv")


# ---- formatting ----

def pct(v) -> str:
    return "—" if v is None or v != v else f"{v * 100:.1f}%"


def _cells(records, cols, shares=(), decimals=None) -> list[list[str]]:
    """Table cells as display text: shares as percentages, counts as integers."""
    decimals = decimals or {}
    out = []
    for r in records:
        cells = []
        for key, _label in cols:
            v = r.get(key)
            if key in shares:
                cells.append(pct(v))
            elif v is None or (isinstance(v, float) and v != v):
                cells.append("—")
            elif key in decimals:
                cells.append(f"{v:,.{decimals[key]}f}")
            elif isinstance(v, float):
                cells.append(f"{v:,.1f}" if not float(v).is_integer() else f"{int(v):,}")
            elif isinstance(v, int) and not isinstance(v, bool):
                cells.append(f"{v:,}")
            else:
                cells.append(str(v))
        out.append(cells)
    return out


def _class_of(value, classes) -> tuple[str, str]:
    """(colour, label) of a share in 0..1 by classes of (upper bound, colour, label); the first
    class holds 0 and missing values."""
    if value is None or value != value or value <= 0:
        return classes[0][1], classes[0][2]
    for top, colour, label in classes[1:]:
        if value <= top:
            return colour, label
    return classes[-1][1], classes[-1][2]


def _legend(classes, counts=None) -> list[dict]:
    return [{"colour": c, "label": label + (f" ({counts[i]:,})" if counts is not None else "")}
            for i, (_k, c, label) in enumerate(classes)]


def _stat(id_: str, label: str, value) -> dict:
    return {"id": id_, "label": label, "value": str(value)}


def _tables(conn, ctx, fn) -> dict:
    out = {}
    for level in UNIT_LEVELS:
        frame_ = fn(conn, ctx, level)
        out[level] = {"fields": [str(c) for c in frame_.columns],
                      "records": report.records(frame_)}
    return out


def _by_village(ctx, flags: np.ndarray) -> pd.DataFrame:
    """Per village id: grids and how many of them `flags` marks."""
    df = pd.DataFrame({"village_id": ctx.grids["village_id"].to_numpy(), "flag": flags})
    g = df.groupby("village_id")["flag"]
    return pd.DataFrame({"grids": g.size(), "flagged": g.sum()})


def _gap_villages(ctx, flags: np.ndarray) -> dict[int, dict]:
    per = _by_village(ctx, flags)
    out = {}
    for vid, grids, flagged in zip(per.index, per["grids"], per["flagged"]):
        share = flagged / grids if grids else 0.0
        colour, _label = _class_of(share, GAP_CLASSES)
        out[int(vid)] = {"colour": colour, "grids": int(grids), "gap_grids": int(flagged),
                         "gap_pct": pct(share)}
    return out


def _village_ids(ctx) -> dict[str, int]:
    pairs = ctx.grids[["village_code", "village_id"]].drop_duplicates("village_code")
    return dict(zip(pairs["village_code"], (int(v) for v in pairs["village_id"])))


def _units_shapes(frame_, kind: str, km2: dict, seq: dict) -> dict[int, dict]:
    """_shapes of a GeoDataFrame of units (EPSG:4326: code, name, geometry)."""
    return _shapes(zip(frame_["code"], frame_["name"], frame_.geometry), kind, km2, seq)


def _cell_of(lon: float, lat: float) -> tuple[int, int]:
    n = 2 ** SHAPE_CELL_ZOOM
    lat = min(max(lat, -85.0511), 85.0511)
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def _cell_box(cx: int, cy: int) -> shapely.Polygon:
    n = 2 ** SHAPE_CELL_ZOOM

    def lat(row):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))
    return shapely.box(cx / n * 360 - 180, lat(cy + 1), (cx + 1) / n * 360 - 180, lat(cy))


def _shapes(rows, kind: str, km2: dict, seq: dict, lines: bool = False) -> dict[int, dict]:
    """Shapes ((code, name, geometry in EPSG:4326) rows; polygons, or lines when `lines`) cut
    along the cells of gis.store.tiles (zoom-9 tiles), one piece per unit and cell under
    tiles.shape_id (`seq` counts the pieces of each cell): code, name, label, km2 (the unit's
    total) and hex WKB."""
    keep, collect = ((1, shapely.multilinestrings) if lines else (3, shapely.multipolygons))
    out = {}
    for code, name, geom in rows:
        if geom is None or geom.is_empty:
            continue
        xmin, ymin, xmax, ymax = geom.bounds
        (cx0, cy0), (cx1, cy1) = _cell_of(xmin, ymax), _cell_of(xmax, ymin)
        for cx in range(cx0, cx1 + 1):
            for cy in range(cy0, cy1 + 1):
                piece = geom if cx0 == cx1 and cy0 == cy1 else \
                    shapely.intersection(geom, _cell_box(cx, cy))
                parts = _flat(piece)
                parts = parts[shapely.get_type_id(parts) == keep]
                if not len(parts):
                    continue
                n = seq[(cx, cy)] = seq.get((cx, cy), 0) + 1
                out[shape_id(kind, cx, cy, n)] = {
                    "code": plain(code), "name": plain(name), "label": SHAPE_LABELS[kind],
                    "colour": SHAPE_COLOURS[kind],
                    "km2": None if lines else round(float(km2.get(code, 0)), 3),
                    "wkb": shapely.to_wkb(collect(parts), hex=True)}
    return out


def _flat(geoms) -> np.ndarray:
    """The single parts (no multi-part or collection left) of a geometry or an array."""
    parts = shapely.get_parts(geoms)
    while len(parts) and (shapely.get_type_id(parts) >= 4).any():
        parts = shapely.get_parts(parts)
    return parts


def _own_land(ctx):
    """The jurisdiction's own land (its townships, cut to it) in EPSG:4326; None when it
    covers everything (nothing to cut)."""
    if ctx.scope.everything:
        return None
    return shapely.union_all(ctx.townships.geometry.to_numpy()) if len(ctx.townships) \
        else shapely.Polygon()


def _road_shapes(ctx, cov) -> dict[int, dict]:
    """The streets in and out of every camera's view (cut to the jurisdiction's land), merged
    per cell."""
    land = _own_land(ctx)
    out = {}
    for part in ("covered", "uncovered"):
        lines = cov[f"roads_{part}"].geometry.to_numpy()
        if not len(lines):
            continue
        parts = _flat(lines)
        merged = shapely.multilinestrings(parts[shapely.get_type_id(parts) == 1])
        if land is not None:
            merged = shapely.intersection(merged, land)
        out.update(_shapes([(None, None, merged)], f"roads_{part}", {}, {}, lines=True))
    return out


def _reach_shapes(ctx, union, minutes: int) -> dict[int, dict]:
    """The land reachable within `minutes` (a union in EPSG:4326) as shapes: cut to the
    jurisdiction's own land (its townships, cut to it) unless it covers everything."""
    if union is None or union.is_empty:
        return {}
    land = _own_land(ctx)
    if land is not None:
        union = shapely.intersection(union, land)
    km2 = float(gpd.GeoSeries([union], crs="EPSG:4326").to_crs(ctx.crs).area.iloc[0] / 1e6)
    return _shapes([(None, None, union)], f"reach_{minutes}", {None: km2}, {})


def method_sentence(res: dict) -> str:
    """How the response areas were computed (road network or speed buffers, and why)."""
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


def _meta(theme, ctx, stats, legend, notes, tables, village_legend, village_caption,
          shapes=()) -> dict:
    return {"theme": theme, "title": TITLES[theme], "stats": stats, "legend": legend,
            "village_legend": village_legend, "village_caption": village_caption,
            "notes": list(notes), "synthetic": list(ctx.synthetic), "tables": tables,
            "shapes": list(shapes)}


# ---- the four tabs ----

def _staffing(conn: Connection, ctx: report.Context) -> _Built:
    pg = report.staff_per_grid(conn, ctx)
    target = ctx.settings["households_per_worker"]
    colour = np.full(len(pg), STAFF_CLASSES[-1][1], dtype=object)
    status = np.full(len(pg), STAFF_CLASSES[-1][2], dtype=object)
    for flag, c, label in reversed(STAFF_CLASSES[:-1]):
        mask = pg[flag].to_numpy(bool)
        colour[mask], status[mask] = c, label
    grids = {}
    for i, r in enumerate(pg[["id", "heads", "full_time", "part_time", "worker_fte",
                              "households_per_worker"]].itertuples(index=False)):
        hpw = plain(r.households_per_worker)
        grids[int(r.id)] = {"colour": colour[i], "status": status[i], "heads": int(r.heads),
                            "full_time": int(r.full_time), "part_time": int(r.part_time),
                            "worker_fte": round(float(r.worker_fte), 2),
                            "hh_per_worker": None if hpw is None else round(hpw)}
    counts = {flag: int(pg[flag].sum()) for flag, *_ in STAFF_CLASSES[:-1]}
    ok = int((status == STAFF_CLASSES[-1][2]).sum())
    stats = [_stat("stat-grids", "网格 Grids", len(pg)),
             _stat("stat-no-head", "无网格长 No head", counts["no_head"]),
             _stat("stat-no-worker", "无网格员 No worker", counts["no_worker"]),
             _stat("stat-over-target", "超标 Over target", counts["over_target"]),
             _stat("stat-target", "目标 Target", f"{target:g} 户/人 households per worker")]
    shown = [int((colour == c).sum()) for _f, c, _l in STAFF_CLASSES[:-1]] + [ok]
    notes = [f"兼职网格员按0.5人计；一人负责多个网格时平均分摊。Part-time workers count 0.5; a "
             f"person serving several grids is shared equally among them. 目标 Target: "
             f"{target:g} households per worker."]
    gap = (pg["no_head"] | pg["no_worker"]).to_numpy(bool)
    return _Built(_meta("staffing", ctx, stats, _legend(STAFF_CLASSES, shown), notes,
                        _tables(conn, ctx, report.staff_units), _legend(GAP_CLASSES),
                        "村/社区: 无网格长或无网格员的网格比例 Villages: share of grids "
                        "without a head or a worker"),
                  grids, _gap_villages(ctx, gap))


def _cameras(conn: Connection, ctx: report.Context) -> _Built:
    cov = report.camera_coverage(conn, ctx)
    pg = cov["per_grid"]
    grids, shown = {}, [0] * len(SHARE_CLASSES)
    colours = [c for _t, c, _l in SHARE_CLASSES]
    for gid, cams, area, road in zip(pg["id"], pg["cameras"], pg["area_share"],
                                     pg["road_share"]):
        colour, _label = _class_of(area, SHARE_CLASSES)
        shown[colours.index(colour)] += 1
        grids[int(gid)] = {"colour": colour, "cameras": int(cams), "area_pct": pct(area),
                           "road_pct": None if road != road else pct(road)}
    totals = report.camera_totals(ctx, pg)
    area, road = totals["area_share"], totals["road_share"]
    on_land = cstore.points_on_land(conn, "camera", ctx.generation["id"], ctx.scope)
    stats = [_stat("stat-cameras", "摄像头 Cameras", on_land),
             _stat("stat-area-share", "面积覆盖 Area covered", pct(area)),
             _stat("stat-road-share", "道路覆盖 Street length covered",
                   pct(road) if road is not None else "无路网 no roads loaded"),
             _stat("stat-no-camera", "无覆盖网格 Grids without camera",
                   int(pg["no_camera"].sum()))]
    notes = ["覆盖面积与道路长度在本地横轴墨卡托投影中以米计算。Areas and street lengths are "
             "computed in metres in a local transverse Mercator projection."]
    if not ctx.scope.everything:
        notes.append("覆盖率计入辖区外5公里内摄像头的视域；地图只显示辖区内的摄像头。Coverage "
                     "counts the views of cameras up to 5 km outside the jurisdiction; the map "
                     "shows the cameras on its own land.")
    tables = _tables(conn, ctx, report.camera_units)
    ids = _village_ids(ctx)
    villages = {}
    for r in tables["village"]["records"]:
        colour, _label = _class_of(r["area_share"], SHARE_CLASSES)
        villages[ids[r["unit_code"]]] = {
            "colour": colour, "cameras": r["cameras"], "area_pct": pct(r["area_share"]),
            "road_pct": None if r["road_share"] is None else pct(r["road_share"]),
            "grids_without_camera": r["grids_without_camera"]}
    legend = [{"colour": c, "label": f"网格面积覆盖 Grid area covered {label} ({n:,})"}
              for (_t, c, label), n in zip(SHARE_CLASSES, shown)]
    roads = _road_shapes(ctx, cov)
    grids.update(roads)
    kinds = sorted({p for p in ("covered", "uncovered") if len(cov[f"roads_{p}"])})
    return _Built(_meta("cameras", ctx, stats, legend, notes, tables,
                        [{"colour": c, "label": label} for _t, c, label in SHARE_CLASSES],
                        "村/社区: 面积覆盖 Villages: area covered",
                        shapes=[f"roads_{k}" for k in kinds]),
                  grids, villages)


def _reach(shares: dict[int, float]) -> tuple[str, str]:
    """(colour, label) of the first minute mark covering at least REACH_SHARE."""
    for m, colour, label in REACH_CLASSES[:-1]:
        v = shares.get(m)
        if v is not None and v == v and v >= REACH_SHARE:
            return colour, label
    return REACH_CLASSES[-1][1], REACH_CLASSES[-1][2]


def _response(conn: Connection, ctx: report.Context) -> _Built:
    res = report.response_coverage(conn, ctx)
    pg = res["per_grid"]
    grids, shown = {}, {c: 0 for _m, c, _l in REACH_CLASSES}
    share_cols = [pg[f"share_{m}"].to_numpy(float) for m in MINUTES]
    for i, gid in enumerate(pg["id"]):
        shares = {m: share_cols[k][i] for k, m in enumerate(MINUTES)}
        colour, label = _reach(shares)
        shown[colour] += 1
        grids[int(gid)] = {"colour": colour, "reach": label,
                           **{f"pct_{m}": pct(shares[m]) for m in MINUTES}}
    outside = res["outside"]
    km2 = dict(zip(outside["code"], res["outside_km2"])) if len(outside) else {}
    shapes = _units_shapes(outside, "outside_5min", km2, {})
    for m in MINUTES:
        shapes.update(_reach_shapes(ctx, res["unions"][m], m))
    grids.update(shapes)
    posts = cstore.points_on_land(conn, "response_post", ctx.generation["id"], ctx.scope)
    stats = [_stat("stat-posts", "派出所/巡逻站 Posts", posts)]
    for m, share in report.household_shares(pg).items():
        stats.append(_stat(f"stat-households-{m}", f"{m}分钟圈内户数 Households within {m} min",
                           pct(share)))
    stats.append(_stat("stat-outside-km2", "5分钟圈外面积 Land outside 5 min",
                       f"{float(np.sum(res['outside_km2'])):,.1f} km²"))
    tables = _tables(conn, ctx, report.response_units)
    ids = _village_ids(ctx)
    villages = {}
    for r in tables["village"]["records"]:
        shares = {m: r[f"household_share_{m}"] for m in MINUTES}
        colour, label = _reach(shares)
        villages[ids[r["unit_code"]]] = {"colour": colour, "reach": label,
                                         **{f"pct_{m}": pct(shares[m]) for m in MINUTES}}
    legend = [{"colour": c, "label": f"网格 Grid: {label} ({shown[c]:,})"}
              for _m, c, label in REACH_CLASSES]
    return _Built(_meta("response", ctx, stats, legend, [method_sentence(res)], tables,
                        [{"colour": c, "label": label} for _m, c, label in REACH_CLASSES],
                        "村/社区: 按户数 Villages: by households",
                        shapes=("outside_5min", *(f"reach_{m}" for m in MINUTES))),
                  grids, villages)


def _blind_spots(conn: Connection, ctx: report.Context) -> _Built:
    blind = report.blind_spots(conn, ctx)
    table, layers = blind["table"], blind["layers"]
    no_staff = report.staff_per_grid(conn, ctx)["no_staff"].to_numpy(bool)
    no_camera = report.camera_coverage(conn, ctx)["per_grid"]["no_camera"].to_numpy(bool)
    kind = np.where(no_staff & no_camera, 0, np.where(no_staff, 1, np.where(no_camera, 2, -1)))
    grids = {}
    for gid, k in zip(ctx.grids["id"], kind):
        if k >= 0:
            _key, colour, label = BLIND_CLASSES[k]
            grids[int(gid)] = {"colour": colour, "gap": label}
    by_code = table.set_index("unit_code") if len(table) else None
    ungridded_km2 = {} if by_code is None else by_code["ungridded_km2"].to_dict()
    outside_km2 = {} if by_code is None else by_code["outside_5min_km2"].to_dict()
    shapes = _units_shapes(layers["ungridded"], "ungridded", ungridded_km2, {})
    shapes.update(_units_shapes(layers["outside_5min"], "outside_5min", outside_km2, {}))
    grids.update(shapes)
    stats = [_stat("stat-ungridded", "未划网格土地 Land in no grid",
                   f"{table['ungridded_km2'].sum():,.2f} km²"),
             _stat("stat-uncovered", "网格外事件 Incidents outside grids",
                   int(table["uncovered_incidents"].sum())),
             _stat("stat-no-staff", "无人员网格 Grids without staff",
                   int(table["grids_without_staff"].sum())),
             _stat("stat-no-camera", "无视频网格 Grids without cameras",
                   int(table["grids_without_camera"].sum())),
             _stat("stat-outside", "5分钟圈外 Outside 5 min",
                   f"{table['outside_5min_km2'].sum():,.1f} km²")]
    notes = ["全覆盖、不留死角 Full coverage, no blind spots: every count here should be zero. "
             + method_sentence(blind["response"])]
    frame_ = report.records(table)
    tables = {"township": {"fields": [str(c) for c in table.columns], "records": frame_}}
    shown = [int((kind == k).sum()) for k in range(len(BLIND_CLASSES))]
    return _Built(_meta("blind-spots", ctx, stats, _legend(BLIND_CLASSES, shown), notes, tables,
                        _legend(GAP_CLASSES), "村/社区: 无人员或无视频的网格比例 Villages: "
                        "share of grids without staff or cameras",
                        shapes=("ungridded", "outside_5min")),
                  grids, _gap_villages(ctx, kind >= 0))


BUILDERS = {"staffing": _staffing, "cameras": _cameras, "response": _response,
            "blind-spots": _blind_spots}
