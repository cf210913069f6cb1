"""Synthetic coverage data for the Anda demo: staff, cameras, police posts and streets.

EVERY RECORD MADE HERE IS SYNTHETIC DEMO DATA. The staff are invented people with invented
names and fake phone numbers (19900000000, 19900000001, ... in record order); the cameras,
police posts, patrol stations and streets are generated, not surveyed: none of them is a real
person, device, station or street of Anda, and the street names are made up. Only the
headline staff totals follow Anda's published figures. Nothing here reads or writes a database.

`synthesize(grids, townships, seed)` builds everything from the demo boundaries
(data/boundaries/anda/anda.gpkg: layers `grid` and `township`), deterministically for a seed
(numpy default_rng; geometry is built in `local_metric_crs` of the townships and returned in
EPSG:4326, lon/lat rounded to 6 decimals). `write_files(data, folder)` writes the import files.

Staff (published for Anda: 1,011 grids, 1,011 grid heads, 999 full-time and 1,219 part-time
grid workers):

- Grid heads: one per grid except about 1.5 % of the grids, left vacant on purpose (15 of the
  1,011 demo grids), so the head count is the published figure minus the vacancies: 1,011 - 15
  = 996 heads. (Every staff record belongs to at least one grid, so a vacancy cannot be kept
  at 1,011 heads.)
- Workers: exactly 999 full-time and 1,219 part-time. About 2.5 % of the grids (25) get no
  worker at all; every other grid gets at least one, and the rest are spread in proportion to
  the grid's households times a random factor per village and per grid (the largest load
  first), so most grids stay under 150 households per full-time equivalent (part-time = 0.5)
  and some, in the unlucky villages, go over it. Community grids (15-digit codes) are staffed by
  full-time workers first; hamlet grids mostly by part-time ones. About 4 % of the part-time
  workers also cover an adjacent grid of the same village (same 12-digit prefix); grids lists
  their codes joined by ";".

Streets (`roads`): the main town is the union of the 4 subdistricts plus 1 km into 安达镇,
clipped to the city. A street grid rotated by a few degrees: main roads every 800-1,000 m
(the central one and its neighbour on either side 'primary' 40 km/h, the others 'secondary'
30 km/h), minor
streets ('residential', 20 km/h) every ~300 m between them, every vertex jittered by tens of
metres; about 10 % of the minor blocks in the core and 30 % outside it are left out. Streets
cross each other (crossings are not noded) and form one connected network. Four roads ('secondary', 60 km/h, named 安X公路)
continue main roads from the edge of the main town (sharing the main road's end vertex) to the
nearest town seats (representative points of the towns not bordering the core, so not
安达镇). Names: the central roads
中央大街 / 中华路 and named avenues outwards, minor streets numbered from the centre (铁西三路,
新兴五街, ...). About 90-100 lines, 400-420 km, 230 km of them in the urban core.

Cameras: in the urban core, 360-degree domes at nearly every street crossing (range 50-80 m,
direction and fov NaN) and directional cameras looking along the
streets (range 50-150 m, fov 60-120 degrees, direction = compass bearing of the street, 0 =
north, clockwise), placed along each street segment until a random share of it (45-80 %)
is in view. About 27 % of the core street segments get no directional camera, and 5 core grids
are blind spots holding no camera at all. A handful (3-6) of cameras stand at each town seat
(the representative point of every non-subdistrict township). With the default seed: about
1,000 cameras, a third of them domes; about two thirds of the core's street length lies in a
camera's view (camera footprints as sectors and discs), under 1 % of the main town's streets
outside the core. (Ranges of at most 150 m on ~230 km of core streets: fewer cameras could
not keep 60 % of them in view.)

Posts: one police post per township-level unit (18), at its representative point, moved onto
the nearest street when that point lies in the main town; plus 4 patrol stations, one per
subdistrict, at main-road crossings away from the police post.
"""
from __future__ import annotations

import heapq
import itertools
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod
from scipy import sparse
from scipy.sparse import csgraph
from shapely.geometry import LineString, Point
from shapely.ops import nearest_points

from gis.geo.measure import local_metric_crs

DEFAULT_SEED = 20261123
STORAGE = "EPSG:4326"

PUBLISHED_GRIDS = 1011
PUBLISHED_HEADS = 1011
FULL_TIME = 999
PART_TIME = 1219
NO_HEAD_SHARE = 0.015      # grids left without a head
NO_WORKER_SHARE = 0.025    # grids left without any worker
SHARED_PART_TIME_SHARE = 0.04
PHONE_PREFIX = "1990000"

MARGIN_M = 1000.0
MAIN_SPACING_M = (800.0, 1000.0)
MINOR_SPACING_M = 300.0
SPEED = {"primary": 40.0, "secondary": 30.0, "residential": 20.0}
OUTWARD_SPEED = 60.0
OUTWARD_ROADS = 4
BLIND_GRIDS = 5
CORE_TARGET = (0.45, 0.8)  # per street segment: share to keep in view (when not neglected)
NEGLECTED_SEGMENTS = 0.27
DOME_CHANCE = 0.9

SURNAMES = ("王李张刘赵杨孙于陈吴高徐马郭周宋朱董田韩曹冯姜崔邢付范谷石郑胡何林梁许金尹丁曲迟"
            "苑白邵孟贾常齐方任盖关佟")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉力鹏宇浩凯丹雪梅琳颖"
         "晶婷慧博欣佳春秋冬海波峰成志东永利宏亮新立晓云凤喜福宝德彬旭淑荣金俊晨阳")

_DIGITS = "零一二三四五六七八九"
_GEOD = Geod(ellps="WGS84")

# Main roads named outwards from the centre line (index 0 is the central road).
_EW_MAIN = {0: "中央大街", 1: ["建设大街", "胜利大街", "友谊大街", "北环路", "北外环路"],
            -1: ["团结大街", "和平大街", "兴华大街", "南环路", "南外环路"]}
_NS_MAIN = {0: "中华路", 1: ["东风路", "东城大路", "兴安路", "东环路", "东外环路"],
            -1: ["铁西大路", "新华路", "富强路", "西环路", "西外环路"]}


def _cn(n: int) -> str:
    """1..99 in Chinese numerals."""
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def _main_name(names: dict, k: int) -> str:
    if k == 0:
        return names[0]
    side = names[1 if k > 0 else -1]
    return side[abs(k) - 1] if abs(k) <= len(side) else f"{side[-1][0]}郊{_cn(abs(k))}路"


def _minor_name(ns: bool, k: int) -> str:
    """Minor streets numbered outwards: 铁西/东城 N路 (north-south), 新兴/安虹 N街 (east-west)."""
    if ns:
        return f"{'东城' if k > 0 else '铁西'}{_cn(abs(k))}路"
    return f"{'新兴' if k > 0 else '安虹'}{_cn(abs(k))}街"


def _short(name: str) -> str:
    for suffix in ("街道", "镇", "乡"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


# ---------------------------------------------------------------------------------------------
# frame

class _Frame:
    """The inputs in the local metric CRS and the areas derived from them."""

    def __init__(self, grids: gpd.GeoDataFrame, townships: gpd.GeoDataFrame):
        for frame, cols in ((grids, ("code", "households")), (townships, ("code", "name", "kind"))):
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise ValueError(f"missing column(s): {', '.join(missing)}")
        if grids.crs is None or townships.crs is None:
            raise ValueError("grids and townships need a CRS (EPSG:4326)")
        minx, miny, maxx, maxy = townships.to_crs(STORAGE).total_bounds
        self.crs = local_metric_crs([minx, maxx], [miny, maxy])
        self.towns = townships.to_crs(self.crs).reset_index(drop=True)
        self.grids = grids.to_crs(self.crs).reset_index(drop=True)
        self.towns["code"] = self.towns["code"].astype(str)
        self.grids["code"] = self.grids["code"].astype(str)
        sub = self.towns["kind"].astype(str).eq("subdistrict")
        if not sub.any():
            raise ValueError("no subdistrict among the townships: no urban core to build on")
        self.is_sub = sub.to_numpy()
        self.outline = shapely.union_all(self.towns.geometry.to_numpy()).buffer(0)
        self.core = shapely.union_all(self.towns.geometry[sub].to_numpy()).buffer(0)
        self.inside = self.outline.buffer(-1.0)
        self.area = self.core.buffer(MARGIN_M).intersection(self.inside)
        self.core_in = self.core.buffer(-1.0)
        self.reps = shapely.point_on_surface(self.towns.geometry.to_numpy())


def _to_lonlat(frame: _Frame, geoms) -> np.ndarray:
    out = gpd.GeoSeries(list(geoms), crs=frame.crs).to_crs(STORAGE).to_numpy()
    out = shapely.transform(out, lambda a: np.round(a, 6))
    return shapely.remove_repeated_points(out)


def _xy_lonlat(frame: _Frame, x, y) -> tuple[np.ndarray, np.ndarray]:
    pts = _to_lonlat(frame, shapely.points(np.asarray(x, float), np.asarray(y, float)))
    return shapely.get_x(pts), shapely.get_y(pts)


# ---------------------------------------------------------------------------------------------
# streets

def _positions(rng, lo: float, hi: float) -> tuple[list[float], list[tuple[float, int]]]:
    """Main positions (0 = centre, outwards every 800-1,000 m, one beyond each end) and minor
    positions between them, each with its signed number outwards from the centre."""
    mains = [0.0]
    for sign, limit in ((1, hi), (-1, -lo)):
        p = 0.0
        while p < limit:
            p += rng.uniform(*MAIN_SPACING_M)
            mains.append(sign * p)
    mains.sort()
    minors = []
    for a, b in itertools.pairwise(mains):
        k = max(2, round((b - a) / MINOR_SPACING_M))
        for j in range(1, k):
            minors.append(a + (b - a) * j / k + rng.uniform(-20, 20))
    pos = sorted(m for m in minors if m > 0)
    neg = sorted((m for m in minors if m < 0), reverse=True)
    numbered = [(m, i + 1) for i, m in enumerate(pos)] + [(m, -(i + 1)) for i, m in enumerate(neg)]
    return mains, sorted(numbered)


def _streets(frame: _Frame, rng) -> gpd.GeoDataFrame:
    core, area = frame.core, frame.area
    cx, cy = core.centroid.x, core.centroid.y
    theta = math.radians(rng.uniform(4.0, 9.0) * rng.choice([-1.0, 1.0]))
    cos_t, sin_t = math.cos(theta), math.sin(theta)

    ring = np.asarray(area.envelope.exterior.coords) - (cx, cy)
    u = ring[:, 0] * cos_t + ring[:, 1] * sin_t
    v = -ring[:, 0] * sin_t + ring[:, 1] * cos_t
    u_mains, u_minors = _positions(rng, u.min() - 100, u.max() + 100)
    v_mains, v_minors = _positions(rng, v.min() - 100, v.max() + 100)

    def back(pu, pv):
        pu, pv = np.asarray(pu), np.asarray(pv)
        return np.column_stack([cx + pu * cos_t - pv * sin_t, cy + pu * sin_t + pv * cos_t])

    rows = []

    def to_xy(family, pairs):
        """(along, across) pairs to metric x, y: NS lines run along v at u = across."""
        a = np.asarray(pairs, dtype=float)
        return back(a[:, 1], a[:, 0]) if family == "ns" else back(a[:, 0], a[:, 1])

    def add(name, kind, family, along, across, jitter, drop_inside, drop_outside):
        """A line at `across` following `along` (the other family's mains), cut into blocks;
        blocks are dropped with the given chances, consecutive kept blocks joined."""
        offs = across + rng.uniform(-jitter, jitter, len(along))
        pieces, current = [], []
        for i in range(len(along) - 1):
            seg = (along[i], along[i + 1]), (offs[i], offs[i + 1])
            mid = to_xy(family, [((seg[0][0] + seg[0][1]) / 2, (seg[1][0] + seg[1][1]) / 2)])[0]
            chance = drop_inside if core.contains(Point(mid)) else drop_outside
            if rng.random() < chance:
                if current:
                    pieces.append(current)
                current = []
                continue
            if not current:
                current = [(seg[0][0], seg[1][0])]
            current.append((seg[0][1], seg[1][1]))
        if current:
            pieces.append(current)
        rows.extend((name, kind, to_xy(family, piece)) for piece in pieces)

    for family, mains, minors, other_mains, names in (
            ("ns", u_mains, u_minors, v_mains, _NS_MAIN),
            ("ew", v_mains, v_minors, u_mains, _EW_MAIN)):
        zero = mains.index(0.0)
        for i, p in enumerate(mains):
            k = i - zero
            kind = "primary" if abs(k) <= 1 else "secondary"
            add(_main_name(names, k), kind, family, other_mains, p, 12.0, 0.0, 0.0)
        for p, k in minors:
            add(_minor_name(family == "ns", k), "residential", family, other_mains, p, 30.0,
                0.10, 0.30)

    names = [r[0] for r in rows]
    kinds = [r[1] for r in rows]
    clipped = shapely.intersection(
        np.array([LineString(r[2]) for r in rows], dtype=object), area)
    out = gpd.GeoDataFrame({"name": names, "kind": kinds}, geometry=clipped, crs=frame.crs)
    out = out.explode(index_parts=False, ignore_index=True)
    out = out[(out.geom_type == "LineString") & (out.length >= 80.0)].reset_index(drop=True)
    # keep the connected network: pieces cut off by the clipping or the dropped blocks go
    geoms = out.geometry.to_numpy()
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    link = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(geoms), len(geoms)))
    labels = csgraph.connected_components(link, directed=False)[1]
    out = out[labels == np.bincount(labels).argmax()].reset_index(drop=True)
    out["speed_kmh"] = out["kind"].map(SPEED)
    return out


def _outward_roads(frame: _Frame, streets: gpd.GeoDataFrame, rng) -> gpd.GeoDataFrame:
    """Straight-ish roads to the nearest town seats (not 安达镇), each continuing the main road
    whose end at the edge of the main town is nearest to where the way to the seat leaves it:
    the road starts at that end's exact coordinates (a shared vertex)."""
    towns = frame.towns
    c = frame.core.centroid
    majors = streets[streets["kind"] != "residential"].geometry.to_numpy()
    ends = [Point(xy) for line in majors for xy in (line.coords[0], line.coords[-1])]
    edge = frame.area.boundary
    ends = [p for p in ends if edge.distance(p) < 5.0]
    candidates = []
    for i in np.flatnonzero(~frame.is_sub):
        seat = frame.reps[i]
        if frame.area.contains(seat) or towns.geometry[i].distance(frame.core) < 1.0:
            continue                      # a town around the core (安达镇) is served by it
        candidates.append((frame.core.distance(seat), i))
    names, geoms, used = [], [], set()
    for _, i in sorted(candidates):
        if len(geoms) == OUTWARD_ROADS or not ends:
            break
        seat = frame.reps[i]
        exits = shapely.get_parts(edge.intersection(LineString([c, seat])))
        if len(exits) == 0:
            continue
        exit_pt = min(exits, key=lambda p: p.distance(seat))
        free = [k for k in range(len(ends)) if k not in used]
        if not free:
            break
        k = min(free, key=lambda k: ends[k].distance(exit_pt))
        start = ends[k]
        sx, sy, ex, ey = start.x, start.y, seat.x, seat.y
        length = math.hypot(ex - sx, ey - sy)
        n = max(2, int(length // 2000))
        t = np.linspace(0, 1, n + 1)
        off = np.r_[0.0, rng.uniform(-150, 150, n - 1), 0.0]
        nx, ny = -(ey - sy) / length, (ex - sx) / length
        xy = np.column_stack([sx + t * (ex - sx) + off * nx, sy + t * (ey - sy) + off * ny])
        xy[0] = (sx, sy)
        line = LineString(xy)
        if not frame.inside.contains(line):
            continue
        used.add(k)
        names.append(f"安{_short(str(towns['name'][i]))[0]}公路")
        geoms.append(line)
    return gpd.GeoDataFrame({"name": names, "kind": "secondary", "speed_kmh": OUTWARD_SPEED},
                            geometry=geoms, crs=frame.crs)


# ---------------------------------------------------------------------------------------------
# cameras

def _merged(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _covered(intervals, length: float) -> float:
    return sum(min(b, length) - max(a, 0.0) for a, b in _merged(intervals) if b > 0 and a < length)


def _largest_gap(intervals, length: float) -> tuple[float, float] | None:
    """The longest stretch of [0, length] outside the intervals (None if under 1 m)."""
    gaps, s = [], 0.0
    for a, b in _merged(intervals):
        if a > s:
            gaps.append((s, min(a, length)))
        s = max(s, b)
    if s < length:
        gaps.append((s, length))
    best = max(gaps, key=lambda g: g[1] - g[0], default=None)
    return best if best is not None and best[1] - best[0] >= 1.0 else None


def _cameras(frame: _Frame, streets: gpd.GeoDataFrame, rng) -> pd.DataFrame:
    core_lines = shapely.intersection(streets.geometry.to_numpy(), frame.core_in)
    noded = shapely.get_parts(shapely.union_all(shapely.get_parts(core_lines)))
    edges = [e for e in noded if e.geom_type == "LineString" and e.length > 0.5]
    tree = shapely.STRtree(streets.geometry.to_numpy())
    mids = shapely.line_interpolate_point(np.asarray(edges, dtype=object), 0.5, normalized=True)
    source = tree.query_nearest(mids, all_matches=False)[1]
    edge_name = streets["name"].to_numpy()[source]
    edge_major = streets["kind"].to_numpy()[source] != "residential"

    # crossings: edge ends shared by 3 or more edges
    ends: dict[tuple[float, float], list[tuple[int, int]]] = {}
    for i, e in enumerate(edges):
        coords = e.coords
        for side, xy in ((0, coords[0]), (1, coords[-1])):
            ends.setdefault((round(xy[0], 2), round(xy[1], 2)), []).append((i, side))

    grids = frame.grids
    core_grid = np.flatnonzero(grids.geometry.within(frame.core.buffer(1.0)).to_numpy())
    blind_idx = rng.choice(core_grid, size=min(BLIND_GRIDS, len(core_grid)), replace=False)
    blind = shapely.union_all(grids.geometry.to_numpy()[np.sort(blind_idx)])

    cams = []  # x, y, range, direction (metric bearing, NaN), fov (NaN), name
    cover: list[list[tuple[float, float]]] = [[] for _ in edges]
    for key in sorted(ends):
        incident = ends[key]
        if len(incident) < 3:
            continue
        majors = sum(bool(edge_major[i]) for i, _ in incident)
        chance = 0.97 if majors >= 3 else DOME_CHANCE
        if rng.random() >= chance:
            continue
        pt = Point(key)
        if blind.covers(pt):
            continue
        r = rng.uniform(60, 80) if majors >= 3 else rng.uniform(50, 80)
        for i, side in incident:
            length = edges[i].length
            cover[i].append((0.0, r) if side == 0 else (length - r, length))
        streets_here = list(dict.fromkeys(edge_name[i] for i, _ in incident))
        label = "与".join(streets_here[:2]) + ("交口" if len(streets_here) > 1 else "")
        cams.append((pt.x, pt.y, r, np.nan, np.nan, f"{label}球机"))

    directional_count: dict[str, int] = {}
    for i, edge in enumerate(edges):
        length = edge.length
        if rng.random() < NEGLECTED_SEGMENTS:
            continue
        target = rng.uniform(*CORE_TARGET) * length
        skipped: list[tuple[float, float]] = []
        while _covered(cover[i], length) < target:
            gap = _largest_gap(cover[i] + skipped, length)
            if gap is None:
                break
            r = rng.uniform(100, 150) if edge_major[i] else rng.uniform(70, 150)
            forward = rng.random() < 0.6
            s = gap[0] if forward else gap[1]
            pt = edge.interpolate(s)
            if blind.covers(pt):
                skipped.append(gap)
                continue
            ahead = edge.interpolate(min(s + 5.0, length) if forward else max(s - 5.0, 0.0))
            if ahead.equals(pt):
                skipped.append(gap)
                continue
            bearing = math.degrees(math.atan2(ahead.x - pt.x, ahead.y - pt.y)) % 360.0
            cover[i].append((s, s + r) if forward else (s - r, s))
            name = str(edge_name[i])
            directional_count[name] = directional_count.get(name, 0) + 1
            cams.append((pt.x, pt.y, r, bearing, rng.uniform(60, 120),
                         f"{name}枪机{directional_count[name]:02d}"))

    for i in np.flatnonzero(~frame.is_sub):
        seat, town = frame.reps[i], frame.towns.geometry[i]
        town_name = str(frame.towns["name"][i])
        cams.append((seat.x, seat.y, rng.uniform(40, 80), np.nan, np.nan, f"{town_name}中心球机"))
        for k in range(int(rng.integers(2, 6))):
            for _ in range(20):
                d, a = 300 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
                pt = Point(seat.x + d * math.cos(a), seat.y + d * math.sin(a))
                if town.buffer(-1.0).contains(pt):
                    break
            else:
                continue
            cams.append((pt.x, pt.y, rng.uniform(50, 150), rng.uniform(0, 360),
                         rng.uniform(60, 120), f"{town_name}枪机{k + 1:02d}"))

    x = np.array([c[0] for c in cams])
    y = np.array([c[1] for c in cams])
    r = np.array([c[2] for c in cams])
    direction = np.array([c[3] for c in cams])
    lon, lat = _xy_lonlat(frame, x, y)
    # bearings in the metric frame differ from true bearings by the grid convergence: measure
    # them again on the ellipsoid between the camera and a point 100 m ahead
    has_dir = np.isfinite(direction)
    rad = np.radians(np.nan_to_num(direction))
    alon, alat = _xy_lonlat(frame, x + 100 * np.sin(rad), y + 100 * np.cos(rad))
    true_dir = np.asarray(_GEOD.inv(lon, lat, alon, alat)[0]) % 360.0
    direction = np.where(has_dir, np.round(true_dir, 1) % 360.0, np.nan)
    fov = np.array([c[4] for c in cams])
    return pd.DataFrame({
        "external_id": [f"C{i + 1:05d}" for i in range(len(cams))],
        "name": [c[5] for c in cams],
        "lon": lon, "lat": lat,
        "range_m": np.round(r, 1),
        "direction_deg": direction,
        "fov_deg": np.where(np.isfinite(fov), np.round(fov), np.nan),
    })


# ---------------------------------------------------------------------------------------------
# posts

def _posts(frame: _Frame, streets: gpd.GeoDataFrame, rng) -> pd.DataFrame:
    towns = frame.towns
    lines = streets.geometry.to_numpy()
    rows = []  # name, kind, x, y
    post_xy = {}
    for i in range(len(towns)):
        rep, town = frame.reps[i], towns.geometry[i]
        pt = rep
        if frame.area.contains(rep):
            here = shapely.intersection(lines, town.buffer(-2.0))
            here = shapely.union_all(here[~shapely.is_empty(here)])
            if not here.is_empty:
                pt = nearest_points(rep, here)[1]
        post_xy[i] = pt
        rows.append((f"{towns['name'][i]}派出所", "police_post", pt.x, pt.y))

    majors = streets[streets["kind"] != "residential"].geometry.to_numpy()
    crossings = shapely.get_parts(shapely.union_all(
        [a.intersection(b) for j, a in enumerate(majors) for b in majors[j + 1:]
         if a.intersects(b)] or [Point()]))
    crossings = [p for p in crossings if p.geom_type == "Point"]
    for i in np.flatnonzero(frame.is_sub):
        town = towns.geometry[i].buffer(-2.0)
        inside = [p for p in crossings if town.contains(p)]
        far = [p for p in inside if p.distance(post_xy[i]) >= 600.0] or inside
        if not far:
            continue
        far.sort(key=lambda p: (round(p.x, 3), round(p.y, 3)))
        pt = far[int(rng.integers(len(far)))]
        rows.append((f"{_short(str(towns['name'][i]))}巡逻站", "patrol_station", pt.x, pt.y))

    lon, lat = _xy_lonlat(frame, [r[2] for r in rows], [r[3] for r in rows])
    return pd.DataFrame({"external_id": [f"P{i + 1:03d}" for i in range(len(rows))],
                         "name": [r[0] for r in rows], "kind": [r[1] for r in rows],
                         "lon": lon, "lat": lat})


# ---------------------------------------------------------------------------------------------
# staff

def _names(rng, n: int) -> list[str]:
    weights = 1.0 / (np.arange(len(SURNAMES)) + 4.0)
    surnames = rng.choice(list(SURNAMES), size=n, p=weights / weights.sum())
    first = rng.choice(list(GIVEN), size=n)
    second = rng.choice(list(GIVEN), size=n)
    two = rng.random(n) < 0.65
    return [s + f + (g if t and g != f else "") for s, f, g, t in zip(surnames, first, second, two)]


def _neighbours(grids: gpd.GeoDataFrame) -> dict[int, list[int]]:
    """Adjacent grids (sharing more than a point) of the same village."""
    geoms = grids.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    village = grids["code"].str[:12].to_numpy()
    out: dict[int, list[int]] = {}
    for a, b in zip(left, right):
        if a < b and village[a] == village[b]:
            shared = shapely.intersection(geoms[a].boundary, geoms[b].boundary).length
            if shared > 1.0:
                out.setdefault(int(a), []).append(int(b))
                out.setdefault(int(b), []).append(int(a))
    return out


def _staff(frame: _Frame, rng) -> pd.DataFrame:
    grids = frame.grids
    codes = grids["code"].to_numpy()
    n = len(grids)
    households = pd.to_numeric(grids["households"], errors="coerce").fillna(0).to_numpy(float)
    households = np.maximum(households, 1.0)

    no_head = np.zeros(n, dtype=bool)
    no_head[rng.choice(n, size=round(n * NO_HEAD_SHARE), replace=False)] = True
    no_worker = np.zeros(n, dtype=bool)
    no_worker[rng.choice(n, size=round(n * NO_WORKER_SHARE), replace=False)] = True
    staffed = np.flatnonzero(~no_worker)

    # load factor: villages and grids that are luckier or unluckier than their households say
    village = grids["code"].str[:12]
    villages = sorted(village.unique())
    v_factor = dict(zip(villages, np.exp(rng.normal(0.0, 0.22, len(villages)))))
    weight = households * village.map(v_factor).to_numpy() * np.exp(rng.normal(0.0, 0.12, n))

    # half-FTE units: a part-time worker is one, a full-time worker two
    units = np.zeros(n, dtype=int)
    total = 2 * FULL_TIME + PART_TIME
    if len(staffed) > total:
        raise ValueError("more grids to staff than workers")
    units[staffed] = 1
    heap = [(-weight[i], int(i)) for i in staffed]
    heapq.heapify(heap)
    for _ in range(total - len(staffed)):
        _, i = heapq.heappop(heap)
        units[i] += 1
        heapq.heappush(heap, (-weight[i] / units[i], i))

    community = np.array([len(c) == 15 for c in codes])
    full = np.where(community, units // 2, 0)
    keep_part = community & (units >= 4) & (rng.random(n) < 0.5)
    full[keep_part] -= 1
    if full.sum() > FULL_TIME:
        order = rng.permutation(np.flatnonzero(full > 0))
        for i in order[: full.sum() - FULL_TIME]:
            full[i] -= 1
    rural = rng.permutation(np.flatnonzero(units >= 2))
    while full.sum() < FULL_TIME:
        room = [i for i in rural if full[i] < units[i] // 2]
        if not room:
            raise ValueError("cannot place the full-time workers")
        for i in room[: FULL_TIME - full.sum()]:
            full[i] += 1
    part = units - 2 * full

    people = []  # role, grids
    for i in range(n):
        if not no_head[i]:
            people.append(("grid_head", [codes[i]]))
    for i in range(n):
        people.extend(("full_time", [codes[i]]) for _ in range(full[i]))
    part_rows = []
    for i in range(n):
        for _ in range(part[i]):
            part_rows.append(len(people))
            people.append(("part_time", [codes[i]]))

    # some part-time workers also look after an adjacent, staffed grid of the same village
    neighbours = _neighbours(grids)
    index = {c: i for i, c in enumerate(codes)}
    load = households / np.maximum(units, 1)
    candidates = [p for p in part_rows
                  if any(not no_worker[j] for j in neighbours.get(index[people[p][1][0]], []))]
    chosen = rng.choice(candidates, size=min(len(candidates), round(PART_TIME *
                                                                     SHARED_PART_TIME_SHARE)),
                        replace=False)
    for p in sorted(chosen):
        home = index[people[p][1][0]]
        options = [j for j in neighbours[home] if not no_worker[j]]
        other = max(options, key=lambda j: (load[j], codes[j]))
        people[p] = (people[p][0], [codes[home], codes[other]])

    names = _names(rng, len(people))
    return pd.DataFrame({
        "external_id": [f"S{i + 1:06d}" for i in range(len(people))],
        "name": names,
        "role": [p[0] for p in people],
        "phone": [f"{PHONE_PREFIX}{i:04d}" for i in range(len(people))],
        "grids": [";".join(p[1]) for p in people],
    })


# ---------------------------------------------------------------------------------------------

def synthesize(grids: gpd.GeoDataFrame, townships: gpd.GeoDataFrame,
               seed: int = DEFAULT_SEED) -> dict:
    """Synthetic staff, cameras, posts and roads for the demo boundaries (see the module text).

    grids: GeoDataFrame with code, households and geometry (name is not needed); townships:
    GeoDataFrame with code, name, kind ('subdistrict' or other) and geometry; any CRS (EPSG:4326
    expected). Returns {"staff", "cameras", "posts": DataFrame, "roads": GeoDataFrame in
    EPSG:4326}. The same inputs and seed give the same output.
    """
    frame = _Frame(grids, townships)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    streets = _streets(frame, streams[0])
    outward = _outward_roads(frame, streets, streams[0])
    roads_m = pd.concat([streets, outward], ignore_index=True)
    cameras = _cameras(frame, streets, streams[1])
    posts = _posts(frame, streets, streams[2])
    staff = _staff(frame, streams[3])
    roads = gpd.GeoDataFrame({"name": roads_m["name"].to_numpy(),
                              "kind": roads_m["kind"].to_numpy(),
                              "speed_kmh": roads_m["speed_kmh"].astype(float).to_numpy()},
                             geometry=_to_lonlat(frame, roads_m.geometry.to_numpy()),
                             crs=STORAGE)
    return {"staff": staff, "cameras": cameras, "posts": posts, "roads": roads}


def write_files(data: dict, folder) -> dict[str, Path]:
    """Write the import files: staff.csv (UTF-8 with BOM), cameras.csv, posts.csv (UTF-8) and
    roads.geojson (LineStrings with name, kind, speed_kmh). Returns {key: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"staff": folder / "staff.csv", "cameras": folder / "cameras.csv",
             "posts": folder / "posts.csv", "roads": folder / "roads.geojson"}
    data["staff"].to_csv(paths["staff"], index=False, encoding="utf-8-sig")
    data["cameras"].to_csv(paths["cameras"], index=False, encoding="utf-8")
    data["posts"].to_csv(paths["posts"], index=False, encoding="utf-8")
    roads = gpd.GeoDataFrame(data["roads"][["name", "kind", "speed_kmh", "geometry"]],
                             geometry="geometry").to_crs(STORAGE)
    paths["roads"].unlink(missing_ok=True)
    roads.to_file(paths["roads"], driver="GeoJSON", engine="pyogrio",
                  layer_options={"COORDINATE_PRECISION": 6, "RFC7946": "YES"})
    return paths
