"""Reading and checking coverage files: staff (CSV), cameras and posts (CSV or GeoJSON points),
roads (GeoPackage or GeoJSON lines). Every row is checked before anything is written; problems
come back as a list of {"row", "external_id", "error"} with 1-based row numbers as in the file
(the CSV header is row 1), the same shape as incident imports.
"""
from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.errors import InputError
from gis.files import READ_ERROR, read_table
from gis.geo.crs import normalise_crs_name, pyproj_crs, to_storage

STAFF_ROLES = {
    "grid_head": "grid_head", "head": "grid_head", "网格长": "grid_head",
    "full_time": "full_time", "full-time": "full_time", "fulltime": "full_time",
    "专职": "full_time", "专职网格员": "full_time",
    "part_time": "part_time", "part-time": "part_time", "parttime": "part_time",
    "兼职": "part_time", "兼职网格员": "part_time",
}
POST_KINDS = {
    "police_post": "police_post", "police": "police_post", "派出所": "police_post",
    "警务站": "police_post", "警务室": "police_post",
    "patrol_station": "patrol_station", "patrol": "patrol_station", "巡逻站": "patrol_station",
    "巡逻": "patrol_station", "巡逻点": "patrol_station",
}
TRUTHY = {"", "1", "true", "yes", "y", "t", "是", "在岗"}
FALSY = {"0", "false", "no", "n", "f", "否", "离岗"}
GRID_SEPARATORS = re.compile(r"[;,，；|\s]+")
MAX_RANGE_M = 5000.0

# Speeds (km/h) by road kind, OSM highway tags included, when a road has no speed of its own.
SPEED_BY_KIND = {
    "motorway": 80.0, "trunk": 60.0, "primary": 40.0, "secondary": 30.0, "tertiary": 30.0,
    "residential": 20.0, "living_street": 10.0, "service": 15.0, "unclassified": 20.0,
    "track": 15.0,
}
DEFAULT_SPEED_KMH = 25.0


def _col(raw: pd.DataFrame, *names: str) -> pd.Series:
    for name in names:
        if name in raw.columns:
            values = raw[name].astype(object)
            return values.where(values.notna(), "").astype(str).str.strip()
    return pd.Series("", index=raw.index, dtype=object)


def _none_if_empty(values: pd.Series) -> pd.Series:
    return pd.Series([v if isinstance(v, str) and v else None for v in values],
                     index=values.index, dtype=object)


def _require(raw: pd.DataFrame, *groups: tuple[str, ...]) -> None:
    missing = [g[0] for g in groups if not any(n in raw.columns for n in g)]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}", field="columns",
                         details={"columns": list(map(str, raw.columns))})


class _Problems:
    def __init__(self, ids: pd.Series):
        self.ids = ids
        self.items: list[dict] = []
        self.bad = np.zeros(len(ids), dtype=bool)

    def add(self, mask, message) -> None:
        mask = np.asarray(mask, dtype=bool)
        for i in np.flatnonzero(mask):
            text = message(i) if callable(message) else message
            self.items.append({"row": int(i) + 2, "external_id": self.ids.iloc[i] or None,
                               "error": text})
        self.bad |= mask

    def sorted(self) -> list[dict]:
        return sorted(self.items, key=lambda p: p["row"])


def _identified(raw: pd.DataFrame, *id_columns: str) -> tuple[pd.Series, _Problems]:
    """The rows' external ids and a problem list that already holds empty and repeated ids."""
    ids = _col(raw, *id_columns)
    problems = _Problems(ids)
    problems.add(ids.eq(""), "external_id is empty")
    dup = ids.ne("") & ids.duplicated(keep=False)
    problems.add(dup, lambda i: f"external_id {ids.iloc[i]!r} appears more than once in the file")
    return ids, problems


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values.replace("", np.nan), errors="coerce").to_numpy(dtype=float)


def read_staff(path: str | Path) -> tuple[pd.DataFrame, list[dict]]:
    """Staff CSV: external_id (or staff_id), name, role, grids, optional phone and active.
    Roles in English or Chinese (网格长, 专职网格员, 兼职网格员); grid codes separated by ';',
    ',' or spaces. Returns (good rows with grids as lists, problems)."""
    raw = read_table(path)
    return check_staff(raw)


def check_staff(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    _require(raw, ("external_id", "staff_id"), ("name",), ("role",), ("grids", "grid_codes"))
    ids, problems = _identified(raw, "external_id", "staff_id")
    names = _col(raw, "name")
    problems.add(names.eq(""), "name is empty")
    role_in = _col(raw, "role")
    roles = role_in.str.lower().map(STAFF_ROLES)
    problems.add(roles.isna(), lambda i: f"role {role_in.iloc[i]!r} is not one of grid_head, "
                                         "full_time, part_time (网格长, 专职网格员, 兼职网格员)")
    grids = _col(raw, "grids", "grid_codes").map(
        lambda s: list(dict.fromkeys(c for c in GRID_SEPARATORS.split(s) if c)))
    problems.add(grids.map(len).eq(0), "no grid codes: a staff member belongs to at least one grid")
    active_in = _col(raw, "active").str.lower()
    unknown = ~active_in.isin(TRUTHY | FALSY)
    problems.add(unknown, lambda i: f"active {active_in.iloc[i]!r} is not true/false")
    good = pd.DataFrame({"external_id": ids, "name": names, "role": roles,
                         "phone": _none_if_empty(_col(raw, "phone")),
                         "active": ~active_in.isin(FALSY), "grids": grids,
                         "row": np.arange(len(raw)) + 2})
    return good[~problems.bad].reset_index(drop=True), problems.sorted()


def _points(raw: pd.DataFrame, problems: _Problems, crs: str | None) -> tuple[np.ndarray, ...]:
    if READ_ERROR in raw.columns:
        err = raw[READ_ERROR].astype(str)
        problems.add(err.ne(""), lambda i: err.iloc[i])
    x = _numbers(_col(raw, "lon", "x", "longitude"))
    y = _numbers(_col(raw, "lat", "y", "latitude"))
    pending = ~problems.bad
    missing = pending & ~(np.isfinite(x) & np.isfinite(y))
    problems.add(missing, "lon/lat missing or not numbers")
    ok = ~problems.bad
    lon = np.full(len(raw), np.nan)
    lat = np.full(len(raw), np.nan)
    if ok.any():
        lon[ok], lat[ok] = to_storage(x[ok], y[ok], crs)
    out = ok & ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    problems.add(out, lambda i: f"coordinates ({x[i]}, {y[i]}) are outside the lon/lat range "
                                "after conversion: wrong CRS?")
    return lon, lat


def read_cameras(path: str | Path, crs: str | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Cameras: external_id, lon, lat (or a GeoJSON Point), range_m, optional name,
    direction_deg (compass bearing, 0 = north, clockwise) and fov_deg (full angle)."""
    return check_cameras(read_table(path), crs)


def check_cameras(raw: pd.DataFrame, crs: str | None = None) -> tuple[pd.DataFrame, list[dict]]:
    normalise_crs_name(crs)
    _require(raw, ("external_id", "camera_id"), ("range_m", "range"))
    if READ_ERROR not in raw.columns:
        _require(raw, ("lon", "x", "longitude"), ("lat", "y", "latitude"))
    ids, problems = _identified(raw, "external_id", "camera_id")
    lon, lat = _points(raw, problems, crs)
    range_in = _col(raw, "range_m", "range")
    rng = _numbers(range_in)
    problems.add(~(rng > 0) | ~(rng <= MAX_RANGE_M),
                 lambda i: f"range_m {range_in.iloc[i]!r} must be a number of metres in "
                           f"(0, {MAX_RANGE_M:g}]")
    dir_in = _col(raw, "direction_deg", "direction")
    direction = _numbers(dir_in)
    problems.add(dir_in.ne("") & ~((direction >= 0) & (direction <= 360)),
                 lambda i: f"direction_deg {dir_in.iloc[i]!r} must be a bearing in [0, 360]")
    direction = np.where(direction == 360, 0.0, direction)
    fov_in = _col(raw, "fov_deg", "fov")
    fov = _numbers(fov_in)
    problems.add(fov_in.ne("") & ~((fov > 0) & (fov <= 360)),
                 lambda i: f"fov_deg {fov_in.iloc[i]!r} must be an angle in (0, 360]")
    good = pd.DataFrame({"external_id": ids, "name": _none_if_empty(_col(raw, "name")),
                         "lon": lon, "lat": lat, "range_m": rng, "direction_deg": direction,
                         "fov_deg": fov, "row": np.arange(len(raw)) + 2})
    return good[~problems.bad].reset_index(drop=True), problems.sorted()


def read_posts(path: str | Path, crs: str | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Police posts and patrol stations: external_id, name, kind, lon, lat (or GeoJSON)."""
    return check_posts(read_table(path), crs)


def check_posts(raw: pd.DataFrame, crs: str | None = None) -> tuple[pd.DataFrame, list[dict]]:
    normalise_crs_name(crs)
    _require(raw, ("external_id", "post_id"), ("name",))
    if READ_ERROR not in raw.columns:
        _require(raw, ("lon", "x", "longitude"), ("lat", "y", "latitude"))
    ids, problems = _identified(raw, "external_id", "post_id")
    names = _col(raw, "name")
    problems.add(names.eq(""), "name is empty")
    kind_in = _col(raw, "kind")
    kinds = kind_in.str.lower().replace("", "police_post").map(POST_KINDS)
    problems.add(kinds.isna(), lambda i: f"kind {kind_in.iloc[i]!r} is not police_post or "
                                         "patrol_station (派出所, 巡逻站)")
    lon, lat = _points(raw, problems, crs)
    good = pd.DataFrame({"external_id": ids, "name": names, "kind": kinds, "lon": lon,
                         "lat": lat, "row": np.arange(len(raw)) + 2})
    return good[~problems.bad].reset_index(drop=True), problems.sorted()


def read_roads(path: str | Path, crs: str | None = None) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Roads from a GeoPackage (first line layer) or GeoJSON: LineString/MultiLineString
    features with optional name, kind (or OSM highway) and speed_kmh (or maxspeed). Returned in
    EPSG:4326 with speed_kmh filled from the kind when absent."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist", field="path")
    if path.suffix.lower() not in (".gpkg", ".geojson", ".json"):
        raise InputError(f"{path.name}: unsupported file type; use .gpkg or .geojson",
                         field="path")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is empty (0 bytes)", field="path")
    import pyogrio
    try:
        layers = pyogrio.list_layers(path)
        layer = next((name for name, kind in layers
                      if kind and "LineString" in str(kind)), None)
        if layer is None:
            raise InputError(f"{path.name} has no line layer (found: "
                             f"{', '.join(f'{n} ({k})' for n, k in layers) or 'none'})",
                             field="path")
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except InputError:
        raise
    except Exception as exc:  # GDAL's errors name the driver problem; keep its first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path.name} cannot be read as GeoPackage/GeoJSON: {first}",
                         field="path") from None
    return check_roads(frame, crs)


def check_roads(frame: gpd.GeoDataFrame, crs: str | None = None
                ) -> tuple[gpd.GeoDataFrame, list[dict]]:
    if len(frame) == 0:
        raise InputError("the road layer holds no features", field="path")
    if crs:
        frame = frame.set_crs(pyproj_crs(crs), allow_override=True)
    if frame.crs is None:
        raise InputError("the road layer has no CRS; give one with crs (e.g. EPSG:4326)",
                         field="crs")
    ids = pd.Series([str(i + 1) for i in range(len(frame))], index=frame.index)
    problems = _Problems(ids)
    geoms = frame.geometry.to_numpy()
    kind_of = shapely.get_type_id(geoms)
    problems.add(pd.isna(geoms) | shapely.is_empty(geoms), "geometry is empty or null")
    problems.add(~problems.bad & ~np.isin(kind_of, (1, 5)),
                 lambda i: f"geometry is a {geoms[i].geom_type}, expected a LineString or "
                           "MultiLineString")
    frame = frame.to_crs("EPSG:4326")
    bounds = frame.geometry.bounds.to_numpy()
    problems.add(~problems.bad & ~((np.abs(bounds[:, [0, 2]]) <= 180).all(1)
                                   & (np.abs(bounds[:, [1, 3]]) <= 90).all(1)),
                 "coordinates outside the lon/lat range: wrong CRS?")
    kinds = _col(frame, "kind", "highway", "fclass").str.lower()
    speed_in = _col(frame, "speed_kmh", "maxspeed")
    speed = _numbers(speed_in.str.extract(r"^\s*([\d.]+)", expand=False).fillna(""))
    given = speed_in.ne("").to_numpy()
    problems.add(given & ~((speed > 0) & (speed <= 150)),
                 lambda i: f"speed {speed_in.iloc[i]!r} must be km/h in (0, 150]")
    fill = kinds.map(SPEED_BY_KIND).fillna(DEFAULT_SPEED_KMH).to_numpy(dtype=float)
    speed = np.where(given, speed, fill)
    out = gpd.GeoDataFrame({"name": _none_if_empty(_col(frame, "name")).to_numpy(),
                            "kind": _none_if_empty(kinds).to_numpy(),
                            "speed_kmh": speed},
                           geometry=frame.geometry.to_numpy(), crs="EPSG:4326")
    out = out[~problems.bad].reset_index(drop=True)
    # features count from 1 (no header row)
    found = [{"feature": p["row"] - 1, "error": p["error"]} for p in problems.sorted()]
    return out, found
