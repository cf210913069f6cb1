#!/usr/bin/env python
"""Synthetic city at benchmark scale, loaded through the product's ordinary imports.

Every record written here is SYNTHETIC (invented boundaries, names, people, phone numbers,
cameras and incidents; the boundary layers carry synthetic=1).

  python scripts/make_scale_data.py --grids 10000 --out /tmp/scale10k            # files only
  python scripts/make_scale_data.py --grids 10000 --incidents 1000000 --out DIR --load
  python scripts/make_scale_data.py --grids 1000 --out DIR --check               # validate, no DB

Presets: --grids 1000 | 10000 | 100000 (any integer works; 100k is "province-sized": about 300
townships and 6,000 villages). Files in --out: boundaries.gpkg (layers city, township, village,
hamlet, grid; EPSG:4326), incidents.csv, staff.csv, cameras.csv and manifest.json (parameters and
checksums: a second run with the same parameters reuses the files, --force regenerates).
--load then runs, with the environment passed through (GRIDGIS_DATABASE_URL picks the
database), the `gridgis` next to this Python:
  gridgis boundaries import DIR/boundaries.gpkg --commit --name NAME
  gridgis incidents import DIR/incidents.csv --source scale
  gridgis coverage import-staff DIR/staff.csv
  gridgis coverage import-cameras DIR/cameras.csv

How the city is built (all geometry in a local metric frame whose map to lon/lat is affine, so
the exact partition stays exact in EPSG:4326):
- grid seeds: a uniform rural background plus Gaussian urban clusters (the city core and town
  seats) inside a blob-shaped outline around 126E 46N, sized by the grid count (urban grids
  ~0.5-2 km², rural ~4-5 km²), relaxed by two Lloyd steps; grids are their Voronoi cells
  (scipy), guard seeds outside the outline keep every cell finite;
- every distinct Voronoi edge is densified and perturbed ONCE (a tapered random sine series
  across the edge, rough in the countryside, straight-ish in town) and the same points are used by
  both cells beside it, so neighbours share their border exactly: 20-200 vertices per grid;
- villages are k-means clusters of grids, townships k-means clusters of villages, some rural
  villages split into hamlets; every parent is the coverage union of its children, so parents
  tile exactly and children lie exactly inside them.

Importable: make_city(grids, seed) -> {layer: GeoDataFrame}, make_incidents(...) (chunks),
make_staff(city, seed), make_cameras(city, seed), write_all(out, ...), load_all(out, manifest).
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import resource
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from scipy.spatial import Voronoi, cKDTree
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gis.domain import CATEGORIES, SEVERITIES, STATUSES  # noqa: E402
from gis.geo.measure import metres_per_degree  # noqa: E402

CENTRE = (126.0, 46.0)                       # lon, lat of the city centre
M_PER_DEG_LON, M_PER_DEG_LAT = (float(v) for v in metres_per_degree(CENTRE[1]))
CITY_CODE = "239901000000"                   # Heilongjiang (23), fictional prefecture 99
CITY_NAME = "合成市"
RURAL_KM2 = 4.5                              # mean area of a rural grid
URBAN_PEAK_PER_KM2 = 2.0                     # grid density at the centre of the city core
SEAT_PEAK_PER_KM2 = 1.5                      # ... and of a town seat
CORE_SHARE, SEATS_SHARE = 0.12, 0.23         # shares of all grids in the core and the seats
MIN_VERTICES, MAX_VERTICES = 20, 200         # per grid
DETAIL = 26.5                                # vertices per grid ~ 3.7 * DETAIL * local factor
CHUNK = 500_000                              # incident rows per generated chunk
DEFAULT_SEED = 20261202
SCHEMA = 1                                   # bump when the output format changes

SYLLABLES = list("安宁和平兴隆丰乐福康永泰昌盛新华东西南北太阳明光长青红星双河山林江湖泉岗"
                 "营堡胜利前进友谊团结民主建设繁荣富强德善仁义春秋龙凤金银玉宝合顺吉祥")
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鑫波斌宇浩凯健俊帆")

CATEGORY_KEYS = list(CATEGORIES)
# category weights in town / in the countryside, in CATEGORY_KEYS order
CAT_URBAN = [.14, .10, .02, .08, .14, .10, .10, .10, .18, .04]
CAT_RURAL = [.16, .12, .20, .06, .02, .08, .08, .10, .12, .06]
SEVERITY_BY_CATEGORY = {"public_security": [.45, .38, .17], "petition": [.45, .38, .17],
                        "safety_hazard": [.50, .35, .15]}
SEVERITY_DEFAULT = [.68, .26, .06]
# statuses (STATUSES order) by age of the incident: < 2 days, 2-14 days, older
STATUS_BY_AGE = [[.45, .30, .15, .05, .03, .02],
                 [.08, .15, .25, .30, .05, .17],
                 [.01, .02, .05, .38, .04, .50]]
DESCRIPTIONS = {
    "dispute_neighbour": ["楼上漏水引发邻里纠纷", "噪音扰民邻居发生争执", "占用公共通道引发矛盾"],
    "dispute_family": ["老人赡养问题家庭矛盾", "夫妻感情纠纷请求调解", "兄弟分家产生分歧"],
    "dispute_land": ["承包地边界发生争议", "土地流转租金纠纷", "宅基地界址争议"],
    "dispute_labour": ["拖欠农民工工资", "劳动合同解除补偿争议", "工伤赔偿纠纷"],
    "dispute_property": ["物业费收取争议", "小区电梯长期停用", "停车位管理纠纷"],
    "traffic_accident": ["轻微交通事故赔偿纠纷", "电动车与行人碰撞", "车辆刮擦责任争议"],
    "public_security": ["夜间聚众斗殴", "盗窃电动车", "可疑人员徘徊"],
    "safety_hazard": ["燃气管道老化", "楼道堆放杂物消防隐患", "路面塌陷"],
    "hotline_12345": ["反映自来水停水未提前通知", "反映供暖温度不达标", "反映道路积水"],
    "petition": ["反映征地补偿问题", "反映低保评定问题", "反映拆迁安置问题"],
}


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def to_lonlat(x, y):
    """Local metric frame (metres from CENTRE) -> lon/lat; affine."""
    return CENTRE[0] + np.asarray(x) / M_PER_DEG_LON, CENTRE[1] + np.asarray(y) / M_PER_DEG_LAT


def to_metric(lon, lat):
    return (np.asarray(lon) - CENTRE[0]) * M_PER_DEG_LON, (np.asarray(lat) - CENTRE[1]) * M_PER_DEG_LAT


def plan_sizes(grids: int, townships: int | None = None, villages: int | None = None):
    """Townships and villages for a grid count: ~12 / 60 at 1k, 60 / 600 at 10k, 300 / 6,000
    at 100k."""
    t = townships or int(np.clip(round(12 * (grids / 1000) ** 0.7), 1, 999))
    v = villages or int(np.clip(round(grids / 16.7), t, grids))
    if grids > 999 * v or v > 999 * t:
        raise ValueError("too many grids per village or villages per township for 3-digit codes")
    return t, v


# ---- seeds ----

def _smooth_field(rng, scale_m: float, waves: int = 8):
    """A smooth random field of unit-ish variance (sum of plane waves)."""
    k = 2 * np.pi / (scale_m * rng.uniform(0.6, 1.6, waves))
    ang = rng.uniform(0, 2 * np.pi, waves)
    ph = rng.uniform(0, 2 * np.pi, waves)
    kx, ky = k * np.cos(ang), k * np.sin(ang)

    def field(x, y):
        x, y = np.asarray(x)[..., None], np.asarray(y)[..., None]
        return np.sqrt(2.0 / waves) * np.sin(x * kx + y * ky + ph).sum(-1)
    return field


def _seeds(n: int, rng):
    """Grid seeds (n, inside the outline), guard seeds, and the urban density model."""
    n_core = round(CORE_SHARE * n)
    n_seats = round(SEATS_SHARE * n)
    n_rural = n - n_core - n_seats
    r0 = np.sqrt(n_rural * RURAL_KM2 / np.pi) * 1000.0
    theta = np.linspace(0, 2 * np.pi, 721)[:-1]
    radius = np.ones_like(theta)
    for k in range(2, 8):
        radius += rng.uniform(0.02, 0.09) / k ** 0.5 * np.cos(k * theta + rng.uniform(0, 6.3))
    outline = shapely.Polygon(np.column_stack([r0 * radius * np.cos(theta),
                                               r0 * radius * np.sin(theta)]))
    shapely.prepare(outline)

    def inside(x, y):
        return shapely.contains_xy(outline, x, y)

    # town seats: spread over the outline away from the core, sizes lognormal
    t_est = plan_sizes(n)[0]
    n_seat_places = max(1, round(0.4 * t_est)) if n_seats else 0
    inner = outline.buffer(-0.1 * r0)
    seats, tries = [], 0
    while len(seats) < n_seat_places and tries < 100_000:
        tries += 1
        x, y = rng.uniform(-r0, r0, 2)
        d = np.hypot(x, y)
        if d < 0.3 * r0 or not inner.contains(shapely.Point(x, y)):
            continue
        if seats and min(np.hypot(x - sx, y - sy) for sx, sy in seats) < 0.8 * r0 / np.sqrt(
                n_seat_places + 1):
            continue
        seats.append((x, y))
    share = rng.lognormal(0, 0.6, len(seats))
    seat_n = np.floor(share / share.sum() * n_seats).astype(int) if len(seats) else np.zeros(0, int)
    n_rural += n_seats - int(seat_n.sum())
    centres = [(0.0, 0.0, n_core, URBAN_PEAK_PER_KM2)] + [
        (sx, sy, int(k), SEAT_PEAK_PER_KM2) for (sx, sy), k in zip(seats, seat_n)]
    clusters = [(cx, cy, k, np.sqrt(k / (2 * np.pi * peak)) * 1000.0)
                for cx, cy, k, peak in centres if k > 0]

    def sample(count, draw):
        out = np.empty((0, 2))
        while len(out) < count:
            x, y = draw(2 * (count - len(out)) + 16)
            ok = inside(x, y)
            out = np.vstack([out, np.column_stack([x[ok], y[ok]])])
        return out[:count]

    parts = [sample(n_rural, lambda m: (rng.uniform(-1.3 * r0, 1.3 * r0, m),
                                        rng.uniform(-1.3 * r0, 1.3 * r0, m)))]
    for cx, cy, k, sigma in clusters:
        parts.append(sample(k, lambda m, cx=cx, cy=cy, s=sigma: (rng.normal(cx, s, m),
                                                                 rng.normal(cy, s, m))))
    pts = np.vstack(parts)
    # guards: a ring of rural density around the outline, then a coarse frame
    spacing = np.sqrt(RURAL_KM2) * 1000.0
    ring = outline.buffer(4 * spacing)
    shapely.prepare(ring)
    m = int(1.5 * (ring.area - outline.area) / (RURAL_KM2 * 1e6)) + 64
    half = 1.3 * r0 + 5 * spacing
    share = (ring.area - outline.area) / (2 * half) ** 2
    guards = np.empty((0, 2))
    while len(guards) < m:
        gx, gy = rng.uniform(-half, half, (2, int(2 * m / share) + 64))
        keep = shapely.contains_xy(ring, gx, gy) & ~inside(gx, gy)
        guards = np.vstack([guards, np.column_stack([gx[keep], gy[keep]])])
    a = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    far = np.column_stack([3 * r0 * np.cos(a), 3 * r0 * np.sin(a)])
    guards = np.vstack([guards[:m], far])

    area_rural = outline.area / 1e6  # km²
    lam_rural = n_rural / area_rural

    def urban_density(x, y):
        """Urban grid density (per km²) at points."""
        total = np.zeros(np.shape(x))
        for cx, cy, k, sigma in clusters:
            s_km = sigma / 1000.0
            total += k / (2 * np.pi * s_km ** 2) * np.exp(
                -((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma ** 2))
        return total

    model = {"r0": r0, "clusters": clusters, "lam_rural": lam_rural,
             "urban_density": urban_density, "seats": seats}
    return pts, guards, model


def _regions(vor: Voronoi, idx: np.ndarray):
    """Flat vertex indices and ring offsets/lengths of the Voronoi regions of points idx."""
    regs = [vor.regions[r] for r in vor.point_region[idx]]
    lengths = np.fromiter(map(len, regs), dtype=np.int64, count=len(regs))
    flat = np.fromiter(itertools.chain.from_iterable(regs), dtype=np.int64,
                       count=int(lengths.sum()))
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    if (flat < 0).any() or (lengths < 3).any():
        raise RuntimeError("an inner Voronoi cell is unbounded: not enough guard seeds")
    return flat, offsets, lengths


def _ring_next_prev(offsets, lengths):
    total = int(lengths.sum())
    nxt = np.arange(1, total + 1)
    ends = offsets + lengths - 1
    nxt[ends] = offsets
    prv = np.arange(-1, total - 1)
    prv[offsets] = ends
    return nxt, prv


def _area_centroid(xy, flat, offsets, nxt):
    x, y = xy[flat, 0], xy[flat, 1]
    xn, yn = x[nxt], y[nxt]
    cross = x * yn - xn * y
    a = np.add.reduceat(cross, offsets) / 2
    cx = np.add.reduceat((x + xn) * cross, offsets) / (6 * a)
    cy = np.add.reduceat((y + yn) * cross, offsets) / (6 * a)
    return np.abs(a), cx, cy


# ---- grid geometry ----

def _grid_polygons(seeds, guards, model, rng, progress=None):
    """Voronoi grids with shared, densified, perturbed edges. Returns (polygons in lon/lat,
    areas m², cell centroids xy in metres, urban flags, {attempt: cells straightened})."""
    n = len(seeds)
    pts = np.vstack([seeds, guards])
    for _ in range(2):  # Lloyd relaxation of the inner seeds
        vor = Voronoi(pts)
        flat, offsets, lengths = _regions(vor, np.arange(n))
        nxt, _ = _ring_next_prev(offsets, lengths)
        _, cx, cy = _area_centroid(vor.vertices, flat, offsets, nxt)
        pts[:n] = np.column_stack([cx, cy])
    vor = Voronoi(pts)
    if progress:
        progress("voronoi")
    V = vor.vertices
    nv = len(V)
    flat, offsets, lengths = _regions(vor, np.arange(n))
    nxt, prv = _ring_next_prev(offsets, lengths)
    area, cx, cy = _area_centroid(V, flat, offsets, nxt)
    cell_of = np.repeat(np.arange(n), lengths)

    # urban share and local factors per cell
    urb = model["urban_density"](cx, cy)
    urban = urb / (urb + model["lam_rural"]) > 0.5
    detail_field = _smooth_field(rng, 4 * model["r0"] / 10 + 5000)
    rough_field = _smooth_field(rng, 4 * model["r0"] / 10 + 5000)
    detail_cell = DETAIL * np.exp(0.35 * detail_field(cx, cy)) * np.where(urban, 0.7, 1.1)
    rough_cell = np.where(urban, 0.012, 0.05) * np.exp(0.3 * rough_field(cx, cy))

    # distinct undirected edges
    a, b = flat, flat[nxt]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    uniq, inv = np.unique(lo * nv + hi, return_inverse=True)
    elo, ehi = uniq // nv, uniq % nv
    n_e = len(uniq)
    sides = np.bincount(inv, minlength=n_e)

    def mean(per_cell):  # mean over the one or two cells beside each edge
        return np.bincount(inv, weights=per_cell[cell_of], minlength=n_e) / sides

    vec = V[ehi] - V[elo]
    length = np.hypot(vec[:, 0], vec[:, 1])
    size = mean(np.sqrt(area))
    nseg = np.maximum(1, np.round(length / size * mean(detail_cell)
                                  * rng.uniform(0.7, 1.3, n_e))).astype(np.int64)
    # keep every cell within MIN_VERTICES..MAX_VERTICES (an edge serves both neighbours)
    for bound, pick in ((MIN_VERTICES, np.maximum), (MAX_VERTICES, np.minimum)):
        total = np.bincount(cell_of, weights=nseg[inv], minlength=n)
        edge_scale = np.ones(n_e)
        pick.at(edge_scale, inv, (bound / total)[cell_of])
        rounded = np.ceil(nseg * edge_scale - 1e-9) if pick is np.maximum else \
            np.floor(nseg * edge_scale + 1e-9)
        nseg = np.maximum(1, rounded).astype(np.int64)

    # smallest corner angle at either end of each edge bounds its perturbation cone
    u = V[flat[prv]] - V[flat]
    w = V[flat[nxt]] - V[flat]
    cosang = (u * w).sum(1) / np.maximum(np.hypot(*u.T) * np.hypot(*w.T), 1e-12)
    angle = np.arccos(np.clip(cosang, -1, 1))
    theta = np.full(n_e, np.pi)
    np.minimum.at(theta, inv, np.minimum(angle, angle[nxt]))
    slope = np.minimum(0.25, np.tan(theta / 3))
    rough = mean(rough_cell)

    # interior points of each distinct edge, in its canonical direction (elo -> ehi)
    inner = nseg - 1
    e_off = np.concatenate([[0], np.cumsum(inner)[:-1]])
    e_pt = np.repeat(np.arange(n_e), inner)
    j = np.arange(len(e_pt)) - e_off[e_pt] + 1
    t = j / nseg[e_pt]
    base = V[elo][e_pt] + t[:, None] * vec[e_pt]
    normal = np.column_stack([-vec[:, 1], vec[:, 0]]) / np.maximum(length, 1e-9)[:, None]
    modes = np.arange(1, 7)
    coef = rng.standard_normal((n_e, 6)) * rough[:, None] * modes ** -1.3
    coef[modes[None, :] > np.maximum(nseg, 1)[:, None] / 3] = 0.0
    disp = np.zeros(len(e_pt))
    for m in range(6):
        disp += coef[e_pt, m] * np.sin((m + 1) * np.pi * t)
    disp *= length[e_pt]
    lim = slope[e_pt] * length[e_pt] * np.minimum(t, 1 - t)
    disp = np.clip(disp, -lim, lim)

    # slots of every ring: its own vertex, then the edge's interior points in ring order
    cnt = nseg[inv]
    r_of = np.repeat(np.arange(len(flat)), cnt)
    k = np.arange(len(r_of)) - np.repeat(np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt)
    e_of = inv[r_of]
    fwd = a[r_of] == elo[e_of]
    idx = np.where(k == 0, a[r_of],
                   nv + e_off[e_of] + np.where(fwd, k - 1, nseg[e_of] - 1 - k))
    ring_id = cell_of[r_of]
    del r_of, k, fwd
    if progress:
        progress("edges")

    straightened = {}
    for attempt in range(6):
        coords = np.vstack([V, base + disp[:, None] * normal[e_pt]])
        lon, lat = to_lonlat(coords[:, 0], coords[:, 1])
        polys = shapely.polygons(shapely.linearrings(np.column_stack([lon, lat])[idx],
                                                     indices=ring_id))
        bad = np.flatnonzero(~shapely.is_valid(polys))
        if not len(bad):
            break
        # straighten every edge of an invalid cell (for both its neighbours) and rebuild
        bad_edges = np.unique(inv[np.isin(cell_of, bad)])
        disp[np.isin(e_pt, bad_edges)] = 0.0
        straightened[attempt] = len(bad)
    else:
        raise RuntimeError("could not build valid grid polygons")
    return polys, area, np.column_stack([cx, cy]), urban, straightened


# ---- hierarchy ----

def _kmeans(points, k, rng, iters=12):
    """Plain Lloyd k-means with a k-d tree; returns labels 0..k'-1 (empty clusters dropped)."""
    centres = points[rng.choice(len(points), k, replace=False)]
    for _ in range(iters):
        labels = cKDTree(centres).query(points)[1]
        counts = np.bincount(labels, minlength=k)
        has = counts > 0
        for d in range(2):
            s = np.bincount(labels, weights=points[:, d], minlength=k)
            centres[has, d] = s[has] / counts[has]
    labels = cKDTree(centres).query(points)[1]
    _, labels = np.unique(labels, return_inverse=True)
    return labels


def _names(rng, n, suffixes):
    """Two-syllable place names plus suffix, without repeats while the syllables allow."""
    s = np.array(SYLLABLES)
    pairs = len(s) ** 2
    pick = rng.choice(pairs, n, replace=n > pairs)
    return np.char.add(np.char.add(s[pick // len(s)], s[pick % len(s)]),
                       np.asarray(suffixes, dtype=str))


def _dissolve(geoms, labels, n_groups):
    """Coverage union of geoms per label (0..n_groups-1)."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_groups + 1))
    out = np.empty(n_groups, dtype=object)
    for g in range(n_groups):
        part = geoms[order[bounds[g]:bounds[g + 1]]]
        merged = shapely.coverage_union_all(part)
        if not merged.is_valid or merged.is_empty:
            merged = shapely.union_all(part)
        out[g] = merged
    return out


def _codes_in_groups(parent_idx, sort_key, blocks=None):
    """Per-child 3-digit numbers within each parent, ordered by sort_key. blocks: optional
    (class array, {class: first number}) to start classes at given numbers when they fit."""
    frame = pd.DataFrame({"p": parent_idx, "k": sort_key})
    if blocks is not None:
        cls, starts = blocks
        frame["c"] = cls
        frame = frame.sort_values(["p", "c", "k"], kind="stable")
        frame["n"] = frame.groupby(["p", "c"]).cumcount()
        start = frame["c"].map(starts).to_numpy()
        num = start + frame["n"].to_numpy()
        # classes that overflow their block fall back to plain numbering 1..999
        sizes = frame.groupby(["p", "c"])["n"].transform("size").to_numpy()
        limit = frame["c"].map({c: nxt - s for c, (s, nxt) in _block_limits(starts).items()})
        over = pd.Series(sizes > limit.to_numpy()).groupby(frame["p"].to_numpy()).transform(
            "any").to_numpy()
        plain = frame.groupby("p").cumcount().to_numpy() + 1
        num = np.where(over, plain, num)
    else:
        frame = frame.sort_values(["p", "k"], kind="stable")
        num = frame.groupby("p").cumcount().to_numpy() + 1
    out = np.empty(len(parent_idx), dtype=np.int64)
    out[frame.index.to_numpy()] = num
    if out.max(initial=0) > 999:
        raise ValueError("more than 999 children in one unit")
    return out


def _block_limits(starts: dict):
    keys = sorted(starts, key=starts.get)
    return {c: (starts[c], starts[keys[i + 1]] if i + 1 < len(keys) else 1000)
            for i, c in enumerate(keys)}


def make_city(grids: int, seed: int = DEFAULT_SEED, *, townships: int | None = None,
              villages: int | None = None, hamlet_share: float = 0.5,
              progress=None) -> dict[str, gpd.GeoDataFrame]:
    """A synthetic boundary set: {city, township, village, hamlet, grid: GeoDataFrame} in
    EPSG:4326 with the columns gridgis boundaries import reads (all synthetic=1). The grid
    frame also carries urban (bool), township (index) and area_m2, dropped when written, and
    attrs["straightened"]."""
    step = progress or (lambda what: None)
    n_t, n_v = plan_sizes(grids, townships, villages)
    seeds, guards, model = _seeds(grids, _rng(seed, 1))
    step("seeds")
    polys, area, xy, urban, straightened = _grid_polygons(seeds, guards, model, _rng(seed, 2),
                                                          step)
    step("grids")
    rng = _rng(seed, 3)
    v_of = _kmeans(xy, n_v, rng)
    n_v = v_of.max() + 1
    vx = np.bincount(v_of, weights=xy[:, 0]) / np.bincount(v_of)
    vy = np.bincount(v_of, weights=xy[:, 1]) / np.bincount(v_of)
    t_of_v = _kmeans(np.column_stack([vx, vy]), min(n_t, n_v), rng)
    n_t = t_of_v.max() + 1
    t_of = t_of_v[v_of]

    # kinds: subdistricts in the core, towns at a seat, townships elsewhere
    urban_t = np.bincount(t_of, weights=urban, minlength=n_t) / np.bincount(t_of, minlength=n_t)
    tx = np.bincount(t_of, weights=xy[:, 0], minlength=n_t) / np.bincount(t_of, minlength=n_t)
    ty = np.bincount(t_of, weights=xy[:, 1], minlength=n_t) / np.bincount(t_of, minlength=n_t)
    core_sigma = model["clusters"][0][3] if model["clusters"] else 0.0
    t_kind = np.where((urban_t > 0.6) & (np.hypot(tx, ty) < 2 * core_sigma), "subdistrict",
                      "township").astype(object)
    if model["seats"]:
        seat_grid = cKDTree(xy).query(np.asarray(model["seats"]))[1]
        seat_t = np.unique(t_of[seat_grid])
        t_kind[seat_t[t_kind[seat_t] != "subdistrict"]] = "town"
    urban_v = np.bincount(v_of, weights=urban, minlength=n_v) / np.bincount(v_of, minlength=n_v)
    v_kind = np.where((urban_v > 0.5) | (t_kind[t_of_v] == "subdistrict"), "community",
                      "village").astype(object)

    # hamlets in some rural villages: small k-means of the village's grids
    leaf_of = np.full(grids, -1)
    hamlet_village, hamlet_xy = [], []
    order = np.argsort(v_of, kind="stable")
    starts = np.searchsorted(v_of[order], np.arange(n_v + 1))
    split = (v_kind == "village") & (np.diff(starts) >= 6) & (rng.random(n_v) < hamlet_share)
    for v in np.flatnonzero(split):
        members = order[starts[v]:starts[v + 1]]
        k = int(np.clip(round(len(members) / 5), 2, 6))
        lab = _kmeans(xy[members], k, rng, iters=5)
        for h in range(lab.max() + 1):
            leaf_of[members[lab == h]] = len(hamlet_village)
            hamlet_village.append(v)
            hamlet_xy.append(xy[members[lab == h]].mean(0))
    n_h = len(hamlet_village)
    hamlet_village = np.asarray(hamlet_village, dtype=np.int64)
    in_hamlet = leaf_of >= 0
    step("hierarchy")

    # codes
    t_cls = pd.Series(t_kind).map({"subdistrict": 0, "town": 1, "township": 2}).to_numpy()
    t_num = _codes_in_groups(np.zeros(n_t, int), np.hypot(tx, ty),
                             (t_cls, {0: 1, 1: 100, 2: 200}))
    t_code = np.array([f"{CITY_CODE[:6]}{k:03d}000" for k in t_num])
    v_num = _codes_in_groups(t_of_v, np.hypot(vx - tx[t_of_v], vy - ty[t_of_v]),
                             ((v_kind == "village").astype(int), {0: 1, 1: 200}))
    v_code = np.array([f"{t_code[t][:9]}{k:03d}" for t, k in zip(t_of_v, v_num)])
    hxy = np.asarray(hamlet_xy).reshape(-1, 2)
    h_num = _codes_in_groups(hamlet_village, -hxy[:, 1]) if n_h else np.zeros(0, int)
    h_code = np.array([f"{v_code[v]}{k:03d}" for v, k in zip(hamlet_village, h_num)], dtype=object)
    leaf_code = np.where(in_hamlet, h_code[np.maximum(leaf_of, 0)] if n_h else "", v_code[v_of])
    leaf_key = pd.factorize(leaf_code)[0]
    # grids numbered row by row (north to south, west to east) within their leaf
    g_num = _codes_in_groups(leaf_key, np.round(-xy[:, 1], -3) * 1e7 + xy[:, 0])
    g_code = np.char.add(leaf_code.astype(str), np.char.zfill(g_num.astype(str), 3))

    # names
    t_suffix = pd.Series(t_kind).map({"subdistrict": "街道", "town": "镇",
                                      "township": "乡"}).to_numpy()
    t_name = _names(rng, n_t, t_suffix)
    v_name = _names(rng, n_v, np.where(v_kind == "community", "社区", "村"))
    h_name = _names(rng, n_h, "屯") if n_h else np.zeros(0, dtype=str)
    leaf_name = np.where(in_hamlet, h_name[np.maximum(leaf_of, 0)] if n_h else "", v_name[v_of])
    g_name = np.char.add(np.char.add(np.char.add(leaf_name.astype(str), "第"),
                                     g_num.astype(str)), "网格")

    # households and population
    hh = np.where(urban, rng.normal(380, 60, grids), rng.normal(220, 70, grids))
    hh = np.round(np.clip(hh, 40, 700)).astype(np.int64)
    pop = np.round(hh * rng.uniform(2.3, 2.9, grids)).astype(np.int64)

    # parents: coverage unions of children
    v_geom = _dissolve(polys, v_of, n_v)
    h_geom = _dissolve(polys[in_hamlet], leaf_of[in_hamlet], n_h) if n_h else np.zeros(0, object)
    t_geom = _dissolve(v_geom, t_of_v, n_t)
    city_geom = shapely.coverage_union_all(t_geom)
    if not city_geom.is_valid:
        city_geom = shapely.union_all(t_geom)
    step("dissolve")

    crs = "EPSG:4326"
    out = {
        "city": gpd.GeoDataFrame({"code": [CITY_CODE], "name": [CITY_NAME], "kind": ["city"],
                                  "synthetic": [1]}, geometry=[city_geom], crs=crs),
        "township": gpd.GeoDataFrame({"code": t_code, "name": t_name, "parent_code": CITY_CODE,
                                      "kind": t_kind.astype(str), "synthetic": 1},
                                     geometry=t_geom, crs=crs),
        "village": gpd.GeoDataFrame({"code": v_code, "name": v_name,
                                     "parent_code": t_code[t_of_v],
                                     "kind": v_kind.astype(str), "synthetic": 1},
                                    geometry=v_geom, crs=crs),
        "hamlet": gpd.GeoDataFrame({"code": h_code.astype(str), "name": h_name,
                                    "parent_code": v_code[hamlet_village].astype(str),
                                    "kind": "hamlet", "synthetic": 1},
                                   geometry=h_geom, crs=crs),
        "grid": gpd.GeoDataFrame({"code": g_code, "name": g_name,
                                  "parent_code": leaf_code.astype(str), "households": hh,
                                  "population": pop, "synthetic": 1, "urban": urban,
                                  "township": t_of, "area_m2": area},
                                 geometry=polys, crs=crs),
    }
    for name in ("township", "village", "hamlet", "grid"):
        out[name] = out[name].sort_values("code", kind="stable").reset_index(drop=True)
    # invalid cells whose edges had to be straightened, per attempt (usually none)
    out["grid"].attrs["straightened"] = straightened
    return out


def vertex_stats(geoms) -> dict:
    """Vertices per polygon (ring closures not counted)."""
    geoms = np.asarray(geoms)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings = np.bincount(owner, weights=shapely.get_num_interior_rings(parts) + 1,
                        minlength=len(geoms))
    nv = shapely.get_num_coordinates(geoms) - rings.astype(np.int64)
    if not len(nv):
        return {"total": 0}
    p = np.percentile(nv, [1, 50, 99])
    return {"min": int(nv.min()), "p1": int(p[0]), "median": int(p[1]), "mean": round(float(
        nv.mean()), 1), "p99": int(p[2]), "max": int(nv.max()), "total": int(nv.sum())}


# ---- points inside grids ----

def _points_in(geoms, bounds, which, rng):
    """A uniform random point inside geoms[which[i]] for every i (rejection in the bbox)."""
    x = np.empty(len(which))
    y = np.empty(len(which))
    todo = np.arange(len(which))
    while len(todo):
        b = bounds[which[todo]]
        px = b[:, 0] + rng.random(len(todo)) * (b[:, 2] - b[:, 0])
        py = b[:, 1] + rng.random(len(todo)) * (b[:, 3] - b[:, 1])
        ok = shapely.contains_xy(geoms[which[todo]], px, py)
        x[todo[ok]], y[todo[ok]] = px[ok], py[ok]
        todo = todo[~ok]
    return x, y


def _iso(local: np.ndarray) -> np.ndarray:
    """datetime64[s] in China Standard Time -> ISO 8601 strings with +08:00."""
    return np.char.add(np.datetime_as_string(local, unit="s"), "+08:00")


# ---- incidents ----

def make_incidents(city: dict, n: int, seed: int = DEFAULT_SEED, *, end: date | None = None,
                   chunk: int = CHUNK, outside_share: float = 0.001):
    """Yield DataFrames of incidents (columns of data/demo/incidents.csv) in chunks of `chunk`
    rows: ~40 % in Gaussian clusters around hot spots (mostly in town), ~50 % spread by
    households, ~10 % by area, `outside_share` outside every grid (in China). occurred_at
    covers the 365 days up to `end` (CST) with seasonal, weekly and daily rhythms."""
    grid = city["grid"]
    geoms = np.asarray(grid.geometry.values)
    bounds = shapely.bounds(geoms)
    urban = grid["urban"].to_numpy(bool)
    hh = grid["households"].to_numpy(float)
    area = shapely.area(geoms)
    city_geom = city["city"].geometry.iat[0]
    shapely.prepare(city_geom)
    rng0 = _rng(seed, 10)
    w_pop = hh * np.where(urban, 1.5, 1.0)
    w_pop /= w_pop.sum()
    w_area = area / area.sum()
    # hot spots, mostly in town
    n_hot = max(5, len(grid) // 40)
    w_hot = hh * np.where(urban, 3.0, 0.4)
    hot_grid = rng0.choice(len(grid), n_hot, p=w_hot / w_hot.sum())
    hot_x, hot_y = _points_in(geoms, bounds, hot_grid, rng0)
    hot_sigma = np.where(urban[hot_grid], 250.0, 600.0) * rng0.lognormal(0, 0.4, n_hot)
    hot_w = rng0.lognormal(0, 1.0, n_hot)
    hot_w /= hot_w.sum()
    boundary = shapely.get_coordinates(shapely.get_exterior_ring(
        shapely.get_parts(city_geom)))
    # calendar: 365 days up to end, seasons, weekdays, hours
    end = end or datetime.now(timezone(timedelta(hours=8))).date()
    first_day = np.datetime64(end) - np.timedelta64(364, "D")
    days = first_day + np.arange(365).astype("timedelta64[D]")
    doy = (days - days.astype("datetime64[Y]")).astype(int)
    weekday = (days.astype(int) + 3) % 7  # 0 = Monday
    w_day = (1 + 0.25 * np.sin(2 * np.pi * (doy - 105) / 365.25)) * \
        np.array([1.0, 1.0, 1.0, 1.0, 1.05, 1.2, 1.15])[weekday]
    w_day /= w_day.sum()
    w_hour = np.array([.6, .4, .3, .25, .25, .4, .8, 1.4, 2.0, 2.3, 2.3, 2.1,
                       1.8, 1.9, 2.0, 2.0, 2.0, 2.1, 2.3, 2.4, 2.2, 1.8, 1.3, .9])
    w_hour /= w_hour.sum()
    end_ts = np.datetime64(end) + np.timedelta64(86399, "s")
    cat_p = np.array([CAT_URBAN, CAT_RURAL])
    cat_p /= cat_p.sum(1, keepdims=True)
    sev_p = np.array([SEVERITY_BY_CATEGORY.get(c, SEVERITY_DEFAULT) for c in CATEGORY_KEYS])
    status_cum = np.cumsum(STATUS_BY_AGE, axis=1)
    desc = np.array([DESCRIPTIONS[c] for c in CATEGORY_KEYS], dtype=object)
    mix = np.array([0.40, 0.50, 0.10 - outside_share, outside_share])

    for c, start in enumerate(range(0, n, chunk)):
        m = min(chunk, n - start)
        rng = _rng(seed, 11, c)
        k_hot, k_pop, k_area, k_out = rng.multinomial(m, mix / mix.sum())
        # hot spots; points that fall outside the city are redrawn by households
        h = rng.choice(n_hot, k_hot, p=hot_w)
        hx, hy = to_metric(hot_x[h], hot_y[h])
        lon_h, lat_h = to_lonlat(hx + rng.normal(0, 1, k_hot) * hot_sigma[h],
                                 hy + rng.normal(0, 1, k_hot) * hot_sigma[h])
        miss = ~shapely.contains_xy(city_geom, lon_h, lat_h)
        g_h = hot_grid[h]
        g_h[miss] = rng.choice(len(grid), int(miss.sum()), p=w_pop)
        lon_h[miss], lat_h[miss] = _points_in(geoms, bounds, g_h[miss], rng)
        g_pop = rng.choice(len(grid), k_pop, p=w_pop)
        g_area = rng.choice(len(grid), k_area, p=w_area)
        lon_b, lat_b = _points_in(geoms, bounds, np.concatenate([g_pop, g_area]), rng)
        lon_o, lat_o = _outside(city_geom, boundary, k_out, rng)
        lon = np.concatenate([lon_h, lon_b, lon_o])
        lat = np.concatenate([lat_h, lat_b, lat_o])
        is_urban = np.concatenate([urban[g_h], urban[g_pop], urban[g_area],
                                   np.ones(k_out, bool)])
        perm = rng.permutation(m)  # mix the sources within the chunk
        lon, lat, is_urban = lon[perm], lat[perm], is_urban[perm]
        # attributes
        u = rng.random(m)
        cat = (u[:, None] > np.cumsum(cat_p[np.where(is_urban, 0, 1)], axis=1)).sum(1)
        cat = np.minimum(cat, len(CATEGORY_KEYS) - 1)
        sev = (rng.random(m)[:, None] > np.cumsum(sev_p[cat], axis=1)).sum(1)
        sev = np.minimum(sev, 2)
        day = rng.choice(365, m, p=w_day)
        hour = rng.choice(24, m, p=w_hour)
        occurred = days[day].astype("datetime64[s]") + (
            hour * 3600 + rng.integers(0, 3600, m)).astype("timedelta64[s]")
        occurred = np.minimum(occurred, end_ts)
        delay = np.minimum(rng.lognormal(np.log(900), 1.2, m), 30 * 86400).astype(np.int64)
        reported = np.minimum(occurred + delay.astype("timedelta64[s]"), end_ts)
        age = (end_ts - occurred).astype(np.int64) / 86400
        bucket = np.digitize(age, [2, 14])
        status = np.minimum((rng.random(m)[:, None] > status_cum[bucket]).sum(1),
                            len(STATUSES) - 1)
        ids = start + np.arange(1, m + 1)
        yield pd.DataFrame({
            "external_id": np.char.add("SC-", np.char.zfill(ids.astype(str), 8)),
            "source": "scale",
            "category": np.asarray(CATEGORY_KEYS, dtype=object)[cat],
            "severity": np.asarray(SEVERITIES, dtype=object)[sev],
            "occurred_at": _iso(occurred),
            "reported_at": _iso(reported),
            "status": np.asarray(STATUSES, dtype=object)[status],
            "lon": np.round(lon, 6), "lat": np.round(lat, 6),
            "description": desc[cat, rng.integers(0, 3, m)],
        })


def _outside(city_geom, boundary, k, rng):
    """k points in China outside the city: half a few km off its border, half far away."""
    lon = np.empty(0)
    lat = np.empty(0)
    near = k // 2
    while len(lon) < near:
        p = boundary[rng.integers(0, len(boundary), 2 * near + 8)]
        dist = rng.uniform(300, 5000, len(p))
        ang = rng.uniform(0, 2 * np.pi, len(p))
        x, y = to_metric(p[:, 0], p[:, 1])
        ox, oy = to_lonlat(x + dist * np.cos(ang), y + dist * np.sin(ang))
        keep = ~shapely.contains_xy(city_geom, ox, oy)
        lon, lat = np.concatenate([lon, ox[keep]]), np.concatenate([lat, oy[keep]])
    far = k - near  # inland China, far from Heilongjiang: 105-118E, 26-38N
    return (np.concatenate([lon[:near], rng.uniform(105, 118, far)]),
            np.concatenate([lat[:near], rng.uniform(26, 38, far)]))


# ---- staff and cameras ----

def _person_names(rng, n):
    s, g = np.array(SURNAMES), np.array(GIVEN)
    name = np.char.add(s[rng.integers(0, len(s), n)], g[rng.integers(0, len(g), n)])
    two = rng.random(n) < 0.6
    return np.where(two, np.char.add(name, g[rng.integers(0, len(g), n)]), name)


def make_staff(city: dict, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """One grid head and 1-3 workers per grid (mostly full-time in town, part-time in the
    countryside); ~10 % of part-time workers also serve the next grid of the same leaf unit."""
    rng = _rng(seed, 20)
    grid = city["grid"]
    codes = grid["code"].to_numpy(str)
    urban = grid["urban"].to_numpy(bool)
    parent = grid["parent_code"].to_numpy(str)
    n = len(grid)
    workers = 1 + rng.binomial(2, np.where(urban, 0.45, 0.25))
    home = np.concatenate([np.arange(n), np.repeat(np.arange(n), workers)])
    head = np.concatenate([np.ones(n, bool), np.zeros(int(workers.sum()), bool)])
    order = np.argsort(home, kind="stable")
    home, head = home[order], head[order]
    full = rng.random(len(home)) < np.where(urban[home], 0.7, 0.3)
    role = np.where(head, "grid_head", np.where(full, "full_time", "part_time"))
    grids = codes[home].astype(object)
    nxt = np.minimum(home + 1, n - 1)  # grids are sorted by code: the next one in the leaf
    second = (role == "part_time") & (rng.random(len(home)) < 0.1) & (nxt != home) & \
        (parent[nxt] == parent[home])
    grids[second] = np.char.add(np.char.add(codes[home[second]], ";"), codes[nxt[second]])
    m = len(home)
    seq = np.arange(m)
    return pd.DataFrame({
        "external_id": np.char.add("SCS", np.char.zfill((seq + 1).astype(str), 7)),
        "name": _person_names(rng, m),
        "role": role,
        "phone": np.char.add("199", np.char.zfill(seq.astype(str), 8)),
        "grids": grids,
        "active": np.where(rng.random(m) < 0.02, "false", "true"),
    })


def make_cameras(city: dict, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Cameras inside grids: ~3 per urban grid, ~0.35 per rural grid; a third are domes (no
    direction, full circle)."""
    rng = _rng(seed, 30)
    grid = city["grid"]
    geoms = np.asarray(grid.geometry.values)
    urban = grid["urban"].to_numpy(bool)
    per = rng.poisson(np.where(urban, 3.0, 0.35))
    which = np.repeat(np.arange(len(grid)), per)
    lon, lat = _points_in(geoms, shapely.bounds(geoms), which, rng)
    m = len(which)
    dome = rng.random(m) < 0.33
    rank = np.arange(m) - np.repeat(np.cumsum(per) - per, per) + 1
    return pd.DataFrame({
        "external_id": np.char.add("SCC", np.char.zfill(np.arange(1, m + 1).astype(str), 7)),
        "name": np.char.add(np.char.add(grid["name"].to_numpy(str)[which], "监控"),
                            rank.astype(str)),
        "lon": np.round(lon, 6), "lat": np.round(lat, 6),
        "range_m": np.round(np.where(urban[which], rng.uniform(50, 150, m),
                                     rng.uniform(80, 250, m)), 1),
        "direction_deg": np.where(dome, np.nan, np.round(rng.uniform(0, 359.9, m), 1)),
        "fov_deg": np.where(dome, np.nan, np.round(rng.uniform(60, 120, m))),
    })


# ---- files ----

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def params_of(grids, incidents, seed, end, townships=None, villages=None,
              hamlet_share=0.5) -> dict:
    return {"schema": SCHEMA, "grids": grids, "incidents": incidents, "seed": seed,
            "end": str(end), "townships": townships, "villages": villages,
            "hamlet_share": hamlet_share,
            "generator_sha256": _sha256(Path(__file__).resolve())}


def reusable(out: Path, params: dict) -> dict | None:
    """The manifest of files already generated with these parameters, if all are intact."""
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("params") != params:
        return None
    for name, info in manifest.get("files", {}).items():
        p = out / name
        if not p.exists() or p.stat().st_size != info["bytes"] or _sha256(p) != info["sha256"]:
            return None
    return manifest


def write_boundaries(city: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    # a fixed timestamp in gpkg_contents: the same city gives the same bytes (the import
    # recognises a file it has already imported by its checksum)
    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2026-01-01T00:00:00.000Z"})
    try:
        for name in ("city", "township", "village", "hamlet", "grid"):
            frame = city[name].drop(columns=["urban", "township", "area_m2"], errors="ignore")
            if len(frame):
                pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG",
                                        promote_to_multi=True)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})
    tmp.replace(path)


def write_all(out: str | Path, grids: int, incidents: int | None = None,
              seed: int = DEFAULT_SEED, end: date | None = None, *, townships=None,
              villages=None, hamlet_share: float = 0.5, force: bool = False,
              check: bool = False, quiet: bool = False) -> dict:
    """Generate (or reuse) boundaries.gpkg, incidents.csv, staff.csv and cameras.csv in `out`;
    returns the manifest (parameters, files with sizes and checksums, summary, timings)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    incidents = 100 * grids if incidents is None else incidents
    end = end or datetime.now(timezone(timedelta(hours=8))).date()
    params = params_of(grids, incidents, seed, end, townships, villages, hamlet_share)
    if not force and (manifest := reusable(out, params)):
        manifest["reused"] = True
        return manifest
    (out / "manifest.json").unlink(missing_ok=True)
    times = {}
    t0 = time.perf_counter()
    stages = ["seeds", "voronoi", "edges", "grids", "hierarchy", "dissolve"]
    with tqdm(total=len(stages), desc="city", disable=quiet) as bar:
        def step(what):
            bar.set_postfix_str(what)
            bar.update(1)
        city = make_city(grids, seed, townships=townships, villages=villages,
                         hamlet_share=hamlet_share, progress=step)
    times["city"] = time.perf_counter() - t0
    t = time.perf_counter()
    write_boundaries(city, out / "boundaries.gpkg")
    times["boundaries.gpkg"] = time.perf_counter() - t
    if check:
        t = time.perf_counter()
        problems = check_boundaries(out / "boundaries.gpkg")
        times["check"] = time.perf_counter() - t
        if problems:
            raise SystemExit(f"{len(problems)} validation problem(s), first: {problems[:5]}")

    t = time.perf_counter()
    tmp = out / "incidents.csv.tmp"
    with tmp.open("w", encoding="utf-8", newline="") as f, \
            tqdm(total=incidents, desc="incidents", unit=" rows", unit_scale=True,
                 disable=quiet) as bar:
        for i, frame in enumerate(make_incidents(city, incidents, seed, end=end)):
            frame.to_csv(f, header=i == 0, index=False, float_format="%.6f")
            bar.update(len(frame))
    tmp.replace(out / "incidents.csv")
    times["incidents.csv"] = time.perf_counter() - t
    t = time.perf_counter()
    staff = make_staff(city, seed)
    staff.to_csv(out / "staff.csv", index=False, encoding="utf-8-sig")
    cams = make_cameras(city, seed)
    cams.to_csv(out / "cameras.csv", index=False, encoding="utf-8")
    times["staff+cameras"] = time.perf_counter() - t

    g = city["grid"]
    summary = {
        "counts": {**{k: len(v) for k, v in city.items()}, "incidents": incidents,
                   "staff": len(staff), "cameras": len(cams)},
        "urban_grids": int(g["urban"].sum()),
        "grid_km2": {"urban_median": round(float(g.loc[g["urban"], "area_m2"].median() / 1e6), 2)
                     if g["urban"].any() else None,
                     "rural_median": round(float(g.loc[~g["urban"], "area_m2"].median() / 1e6), 2)
                     if (~g["urban"]).any() else None,
                     "city": round(float(g["area_m2"].sum() / 1e6), 1)},
        "bounds": [round(float(v), 4) for v in city["city"].total_bounds],
        "vertices": {k: vertex_stats(v.geometry.values) for k, v in city.items()},
        "staff_roles": staff["role"].value_counts().to_dict(),
        "straightened_cells": sum(g.attrs.get("straightened", {}).values()),
    }
    summary["vertices_total"] = sum(v.get("total", 0) for v in summary["vertices"].values())
    files = {name: {"bytes": (out / name).stat().st_size, "sha256": _sha256(out / name)}
             for name in ("boundaries.gpkg", "incidents.csv", "staff.csv", "cameras.csv")}
    times["total"] = time.perf_counter() - t0
    manifest = {"params": params, "files": files, "summary": summary,
                "times_s": {k: round(v, 1) for k, v in times.items()},
                "peak_rss_mb": peak_rss_mb(), "created": datetime.now().isoformat(timespec="seconds")}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    manifest["reused"] = False
    return manifest


def check_boundaries(path: Path) -> list:
    """Validate a written boundary set in process, as the import does (no database)."""
    from gis.boundaries.read import read_boundary_set
    from gis.boundaries.validate import validate_boundary_set
    bset = read_boundary_set(path, max_vertices_per_file=10 ** 9)
    return [str(p) for p in validate_boundary_set(bset)]


def peak_rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


# ---- loading through the command line ----

def load_all(out: str | Path, manifest: dict, name: str | None = None) -> dict:
    """Load the files with the `gridgis` command next to this Python, in import order, with
    this process's environment. Returns {step: seconds}; stops at the first failing step."""
    out = Path(out)
    exe = str(Path(sys.executable).parent / "gridgis")
    summary = manifest["summary"]
    counts = summary["counts"]
    p = manifest["params"]
    name = name or f"scale-{p['grids']}-seed{p['seed']}"
    bounds_cmd = [exe, "boundaries", "import", str(out / "boundaries.gpkg"), "--commit",
                  "--name", name]
    total_vertices = summary["vertices_total"] + sum(  # the reader counts ring closures
        counts[k] for k in ("city", "township", "village", "hamlet", "grid"))
    if total_vertices > 5_000_000:  # the import's default limit per file
        bounds_cmd += ["--max-file-vertices", str(int(total_vertices * 1.05))]
    units = sum(counts[k] for k in ("city", "township", "village", "hamlet", "grid"))
    steps = [
        ("boundaries", bounds_cmd, units, "units"),
        ("incidents", [exe, "incidents", "import", str(out / "incidents.csv"),
                       "--source", "scale"], counts["incidents"], "rows"),
        ("staff", [exe, "coverage", "import-staff", str(out / "staff.csv")],
         counts["staff"], "rows"),
        ("cameras", [exe, "coverage", "import-cameras", str(out / "cameras.csv")],
         counts["cameras"], "rows"),
    ]
    times = {}
    for step, cmd, rows, unit in steps:
        print(f"\n$ {' '.join(cmd[1:])}", flush=True)
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env=os.environ.copy(), stdout=subprocess.PIPE, text=True)
        peak = _watch_peak(proc)
        for line in proc.stdout:
            print(f"  {line}", end="", flush=True)
        rc = proc.wait()
        dt = time.perf_counter() - t
        times[step] = round(dt, 1)
        print(f"  -> {step}: {dt:,.1f} s, {rows:,} {unit}, {rows / dt:,.0f} {unit}/s, "
              f"peak RSS {peak['mb']:,} MB"
              + ("" if rc == 0 else f", FAILED (exit {rc})"), flush=True)
        if rc != 0:
            raise SystemExit(rc)
    return times


def _watch_peak(proc: subprocess.Popen) -> dict:
    """Follow a child's peak resident memory (VmHWM, Linux) until it ends; {"mb": int}.
    (getrusage would count the memory of this process, which the child starts as.)"""
    peak = {"mb": 0}
    status = Path(f"/proc/{proc.pid}/status")

    def watch():
        while proc.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak["mb"] = max(peak["mb"], int(line.split()[1]) // 1024)
            except (OSError, ValueError):
                pass
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    return peak


# ---- command line ----

def _mb(n: int) -> str:
    return f"{n / 2 ** 20:,.1f} MB"


def print_summary(manifest: dict, out: Path) -> None:
    s = manifest["summary"]
    c = s["counts"]
    print(f"\n{out}: {'reused (same parameters)' if manifest.get('reused') else 'generated'}")
    print("counts: " + ", ".join(f"{k} {v:,}" for k, v in c.items()))
    print(f"urban grids {s['urban_grids']:,}; median grid km² urban "
          f"{s['grid_km2']['urban_median']} rural {s['grid_km2']['rural_median']}; "
          f"city {s['grid_km2']['city']:,} km²; bounds {s['bounds']}; cells straightened "
          f"for validity {s.get('straightened_cells', 0)}")
    for layer, v in s["vertices"].items():
        if v.get("total"):
            print(f"vertices {layer:8s} min {v['min']:>6,} median {v['median']:>7,} "
                  f"mean {v['mean']:>9,.1f} max {v['max']:>7,} total {v['total']:>11,}")
    print(f"vertices all layers {s['vertices_total']:,}")
    print("files: " + ", ".join(f"{k} {_mb(v['bytes'])}" for k, v in manifest["files"].items()))
    print("generation times (s): " + ", ".join(f"{k} {v}" for k, v in manifest["times_s"].items())
          + f"; peak RSS {manifest['peak_rss_mb']:,} MB"
          + (" (when generated)" if manifest.get("reused") else ""))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grids", type=int, default=10_000, help="1000 | 10000 | 100000 (any)")
    ap.add_argument("--incidents", type=int, help="rows (default 100 x grids)")
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--end", type=date.fromisoformat,
                    help="last day of the incident year (default today, CST)")
    ap.add_argument("--townships", type=int, help="override the township count")
    ap.add_argument("--villages", type=int, help="override the village count")
    ap.add_argument("--hamlet-share", type=float, default=0.5,
                    help="share of rural villages (6+ grids) split into hamlets")
    ap.add_argument("--force", action="store_true", help="regenerate even if files match")
    ap.add_argument("--check", action="store_true",
                    help="validate the boundary set in process (gis.boundaries.validate) after writing")
    ap.add_argument("--load", action="store_true", help="load the files through gridgis")
    ap.add_argument("--name", help="boundary generation name (default scale-GRIDS-seedSEED)")
    args = ap.parse_args(argv)
    manifest = write_all(args.out, args.grids, args.incidents, args.seed, args.end,
                         townships=args.townships, villages=args.villages,
                         hamlet_share=args.hamlet_share, force=args.force, check=args.check)
    print_summary(manifest, args.out)
    if args.load:
        times = load_all(args.out, manifest, args.name)
        print("\nload times (s): " + ", ".join(f"{k} {v}" for k, v in times.items())
              + f"; total {sum(times.values()):,.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
