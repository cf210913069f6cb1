"""A small, exact boundary set built in code, with knobs to break it for validation tests.

City: the square 125.0..125.4 E x 46.0..46.4 N (code 231281000000), two townships split at
125.2 E, each with two villages split at 46.2 N. Village ...101001 has two hamlets split at
125.1 E; the other villages have none. Every leaf holds two grids split at its middle latitude.
"""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.geometry import box

CITY = "231281000000"


def layers() -> dict[str, gpd.GeoDataFrame]:
    rows = {"city": [], "township": [], "village": [], "hamlet": [], "grid": []}
    rows["city"].append({"code": CITY, "name": "安达市", "geometry": box(125.0, 46.0, 125.4, 46.4)})
    leaves = []
    for t, (x0, x1) in enumerate([(125.0, 125.2), (125.2, 125.4)]):
        tcode = f"231281{101 + t:03d}000"
        kind = "township" if t == 0 else "subdistrict"
        rows["township"].append({"code": tcode, "name": f"镇{t + 1}", "parent_code": CITY,
                                 "kind": kind, "geometry": box(x0, 46.0, x1, 46.4)})
        for v, (y0, y1) in enumerate([(46.0, 46.2), (46.2, 46.4)]):
            vcode = f"{tcode[:9]}{v + 1:03d}"
            vkind = "village" if t == 0 else "community"
            rows["village"].append({"code": vcode, "name": f"村{t + 1}-{v + 1}",
                                    "parent_code": tcode, "kind": vkind,
                                    "geometry": box(x0, y0, x1, y1)})
            if vcode == "231281101001":
                for h, (hx0, hx1) in enumerate([(x0, 125.1), (125.1, x1)]):
                    hcode = f"{vcode}{h + 1:03d}"
                    rows["hamlet"].append({"code": hcode, "name": f"屯{h + 1}",
                                           "parent_code": vcode,
                                           "geometry": box(hx0, y0, hx1, y1)})
                    leaves.append((hcode, box(hx0, y0, hx1, y1)))
            else:
                leaves.append((vcode, box(x0, y0, x1, y1)))
    for code, geom in leaves:
        minx, miny, maxx, maxy = geom.bounds
        mid = (miny + maxy) / 2
        for g, (gy0, gy1) in enumerate([(miny, mid), (mid, maxy)]):
            rows["grid"].append({"code": f"{code}{g + 1:03d}", "name": f"网格{code[-3:]}-{g + 1}",
                                 "parent_code": code, "households": 300 + 10 * g,
                                 "population": 800 + 20 * g, "geometry": box(minx, gy0, maxx, gy1)})
    return {k: gpd.GeoDataFrame(v, crs="EPSG:4326") for k, v in rows.items()}


def write(frames: dict[str, gpd.GeoDataFrame], path: Path) -> Path:
    for name, frame in frames.items():
        if len(frame):
            frame.to_file(path, layer=name, driver="GPKG")
    return path


def plan_and_units():
    """The factory's grids as a draft plan, and the leaf units (hamlets, villages without
    hamlets) its grids must tile."""
    import pandas as pd
    frames = layers()
    plan = frames["grid"]
    leaves = pd.concat([frames["hamlet"], frames["village"]])[["code", "name", "geometry"]]
    units = gpd.GeoDataFrame(leaves[leaves["code"].isin(set(plan["parent_code"]))],
                             crs="EPSG:4326").reset_index(drop=True)
    return plan, units


PREFECTURE = "230100000000"
DISTRICTS = ("230102000000", "230103000000")


def prefecture_layers() -> dict[str, gpd.GeoDataFrame]:
    """A prefecture-level city (230100000000, the square 126.0..126.4 E x 45.6..46.0 N) with two
    districts split at 126.2 E (230102, 230103), two subdistricts each split at 45.8 N, two
    communities per subdistrict split at their middle longitude, two grids per community split
    at its middle latitude: 5 levels, 16 grids."""
    rows = {"prefecture": [], "city": [], "township": [], "village": [], "grid": []}
    rows["prefecture"].append({"code": PREFECTURE, "name": "哈尔滨市", "kind": "prefecture_city",
                               "geometry": box(126.0, 45.6, 126.4, 46.0)})
    for d, (x0, x1) in enumerate([(126.0, 126.2), (126.2, 126.4)]):
        dcode = DISTRICTS[d]
        rows["city"].append({"code": dcode, "name": ["道里区", "南岗区"][d], "kind": "district",
                             "parent_code": PREFECTURE, "geometry": box(x0, 45.6, x1, 46.0)})
        for t, (y0, y1) in enumerate([(45.6, 45.8), (45.8, 46.0)]):
            tcode = f"{dcode[:6]}{t + 1:03d}000"
            rows["township"].append({"code": tcode, "name": f"街道{d + 1}-{t + 1}",
                                     "kind": "subdistrict", "parent_code": dcode,
                                     "geometry": box(x0, y0, x1, y1)})
            xm = (x0 + x1) / 2
            for v, (vx0, vx1) in enumerate([(x0, xm), (xm, x1)]):
                vcode = f"{tcode[:9]}{v + 1:03d}"
                rows["village"].append({"code": vcode, "name": f"社区{d + 1}-{t + 1}-{v + 1}",
                                        "kind": "community", "parent_code": tcode,
                                        "geometry": box(vx0, y0, vx1, y1)})
                ym = (y0 + y1) / 2
                for g, (gy0, gy1) in enumerate([(y0, ym), (ym, y1)]):
                    rows["grid"].append({"code": f"{vcode}{g + 1:03d}",
                                         "name": f"网格{vcode[-6:]}-{g + 1}",
                                         "parent_code": vcode, "households": 200 + 10 * g,
                                         "population": 500, "geometry": box(vx0, gy0, vx1, gy1)})
    return {k: gpd.GeoDataFrame(v, crs="EPSG:4326") for k, v in rows.items()}


def neighbour_layers(prefix: str = "231282", dx: float = 0.5) -> dict[str, gpd.GeoDataFrame]:
    """The factory city moved `dx` degrees east under another county code (a neighbour side by
    side: 125.5..125.9 E by default, code 231282000000)."""
    from shapely import affinity
    out = {}
    for name, frame in layers().items():
        frame = frame.copy()
        for col in ("code", "parent_code"):
            if col in frame.columns:
                frame[col] = frame[col].map(lambda c: prefix + c[6:] if isinstance(c, str)
                                            else c)
        frame["geometry"] = frame.geometry.map(lambda g: affinity.translate(g, xoff=dx))
        frame["name"] = "邻" + frame["name"]
        out[name] = gpd.GeoDataFrame(frame, crs="EPSG:4326")
    return out
