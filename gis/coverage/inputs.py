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


MAX_ID = 128    # characters of an external id
MAX_NAME = 200  # ... of a name
MAX_PHONE = 40


def _cap(problems, values: pd.Series, field: str, limit: int) -> None:
    """A problem for every value longer than `limit` characters."""
    problems.add(values.str.len() > limit, f"{field} is longer than {limit} characters")


def _identified(raw: pd.DataFrame, *id_columns: str) -> tuple[pd.Series, _Problems]:
    """The rows' external ids and a problem list that already holds empty, too long and
    repeated ids."""
    ids = _col(raw, *id_columns)
    problems = _Problems(ids)
    problems.add(ids.eq(""), "external_id is empty")
    _cap(problems, ids, "external_id", MAX_ID)
    dup = ids.ne("") & ids.duplicated(keep=False)
    problems.add(dup, lambda i: f"external_id {ids.iloc[i]!r} appears more than once in the file")
    return ids, problems


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values.replace("", np.nan), errors="coerce").to_numpy(dtype=float)


def read_staff(path: str | Path) -> tuple[pd.DataFrame, list[dict]]:
    """Read and check a staff file (CSV, or GeoJSON properties).

    Columns: external_id (or staff_id), name, role, grids (or grid_codes), optional phone and
    active. Roles in English or Chinese (网格长, 专职网格员, 兼职网格员); grid codes separated by ';',
    ',', '|' or spaces (Chinese '，' and '；' too). See `check_staff`.

    Parameters
    ----------
    path : str or Path
        CSV (UTF-8 with or without BOM, or GBK/GB18030) or GeoJSON file.

    Returns
    -------
    tuple of (pandas.DataFrame, list of dict)
        (good rows with grids as lists, problems), as from `check_staff`.

    Raises
    ------
    InputError
        The file cannot be read (missing, empty, binary, another type or encoding, malformed),
        or a required column is missing (field "columns").
    """
    raw = read_table(path)
    return check_staff(raw)


def check_staff(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Check staff rows read from a file or built from an API body.

    Parameters
    ----------
    raw : pandas.DataFrame
        String columns external_id (or staff_id), name, role, grids (or grid_codes), optional
        phone and active (true/false, 1/0, yes/no, 是/否, 在岗/离岗; empty means active).

    Returns
    -------
    good : pandas.DataFrame
        The rows without problems, index 0..n-1, columns external_id, name, role (grid_head,
        full_time or part_time), phone (None when empty), active (bool), grids (list of distinct
        grid codes in file order) and row (row number in the file from 1, the header being 1).
    problems : list of dict
        {"row", "external_id", "error"} per problem, sorted by row: an empty or repeated
        external_id, an empty name, an unknown role, no grid code, an active flag that is not
        true/false. Grid codes are checked against the boundaries by
        gis.coverage.imports.check_staff_grids.

    Raises
    ------
    InputError
        A required column is missing (field "columns"; details list the columns found).
    """
    _require(raw, ("external_id", "staff_id"), ("name",), ("role",), ("grids", "grid_codes"))
    ids, problems = _identified(raw, "external_id", "staff_id")
    names = _col(raw, "name")
    problems.add(names.eq(""), "name is empty")
    _cap(problems, names, "name", MAX_NAME)
    _cap(problems, _col(raw, "phone"), "phone", MAX_PHONE)
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
    """Read and check a cameras file: CSV with coordinate columns, or GeoJSON points.

    Columns: external_id (or camera_id), lon and lat (or x/y, longitude/latitude; or a GeoJSON
    Point), range_m (or range), optional name, direction_deg (or direction; compass bearing,
    0 = north, clockwise) and fov_deg (or fov; full angle). See `check_cameras`.

    Parameters
    ----------
    path : str or Path
        CSV or GeoJSON file.
    crs : str, optional
        CRS of the coordinates (EPSG:4326 by default; GCJ02, BD09 or EPSG:xxxx).

    Returns
    -------
    tuple of (pandas.DataFrame, list of dict)
        (good rows, problems), as from `check_cameras`.

    Raises
    ------
    InputError
        The file cannot be read, the CRS is unknown, or a required column is missing.
    """
    return check_cameras(read_table(path), crs)


def check_cameras(raw: pd.DataFrame, crs: str | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Check camera rows and convert their coordinates to EPSG:4326.

    Parameters
    ----------
    raw : pandas.DataFrame
        String columns as read by gis.files.read_table (see `read_cameras`).
    crs : str, optional
        CRS of the coordinates (EPSG:4326 by default; GCJ02, BD09 or EPSG:xxxx).

    Returns
    -------
    good : pandas.DataFrame
        The rows without problems, index 0..n-1, columns external_id, name (None when empty), lon
        and lat (degrees, EPSG:4326), range_m (metres, in (0, MAX_RANGE_M = 5,000]),
        direction_deg (compass degrees in [0, 360), 360 read as 0; NaN when absent), fov_deg
        (degrees in (0, 360]; NaN when absent) and row (row number in the file, header = 1).
    problems : list of dict
        {"row", "external_id", "error"} per problem, sorted by row: a feature that could not be
        read, an empty or repeated external_id, missing coordinates or coordinates outside the
        lon/lat range after conversion, a range, direction or field of view out of range.

    Raises
    ------
    InputError
        An unknown CRS (field "crs"), or a required column missing (field "columns").
    """
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
    _cap(problems, _col(raw, "name"), "name", MAX_NAME)
    good = pd.DataFrame({"external_id": ids, "name": _none_if_empty(_col(raw, "name")),
                         "lon": lon, "lat": lat, "range_m": rng, "direction_deg": direction,
                         "fov_deg": fov, "row": np.arange(len(raw)) + 2})
    return good[~problems.bad].reset_index(drop=True), problems.sorted()


def read_posts(path: str | Path, crs: str | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Police posts and patrol stations: external_id, name, kind, lon, lat (or GeoJSON).

    See `check_posts` for the columns accepted.

    Parameters
    ----------
    path : str or Path
        CSV or GeoJSON file.
    crs : str, optional
        CRS of the coordinates (EPSG:4326 by default; GCJ02, BD09 or EPSG:xxxx).

    Returns
    -------
    tuple of (pandas.DataFrame, list of dict)
        (good rows, problems), as from `check_posts`.

    Raises
    ------
    InputError
        The file cannot be read, the CRS is unknown, or a required column is missing.
    """
    return check_posts(read_table(path), crs)


def check_posts(raw: pd.DataFrame, crs: str | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Check post rows and convert their coordinates to EPSG:4326.

    Parameters
    ----------
    raw : pandas.DataFrame
        String columns external_id (or post_id), name, optional kind (police_post or
        patrol_station, or a Chinese name such as 派出所, 警务站, 巡逻站; empty means police_post)
        and lon/lat (or x/y, longitude/latitude; or a GeoJSON Point).
    crs : str, optional
        CRS of the coordinates (EPSG:4326 by default; GCJ02, BD09 or EPSG:xxxx).

    Returns
    -------
    good : pandas.DataFrame
        The rows without problems, index 0..n-1, columns external_id, name, kind (police_post
        or patrol_station), lon and lat (degrees, EPSG:4326) and row (row number in the file,
        header = 1).
    problems : list of dict
        {"row", "external_id", "error"} per problem, sorted by row: a feature that could not be
        read, an empty or repeated external_id, an empty name, an unknown kind, missing
        coordinates or coordinates outside the lon/lat range after conversion.

    Raises
    ------
    InputError
        An unknown CRS (field "crs"), or a required column missing (field "columns").
    """
    normalise_crs_name(crs)
    _require(raw, ("external_id", "post_id"), ("name",))
    if READ_ERROR not in raw.columns:
        _require(raw, ("lon", "x", "longitude"), ("lat", "y", "latitude"))
    ids, problems = _identified(raw, "external_id", "post_id")
    names = _col(raw, "name")
    problems.add(names.eq(""), "name is empty")
    _cap(problems, names, "name", MAX_NAME)
    kind_in = _col(raw, "kind")
    kinds = kind_in.str.lower().replace("", "police_post").map(POST_KINDS)
    problems.add(kinds.isna(), lambda i: f"kind {kind_in.iloc[i]!r} is not police_post or "
                                         "patrol_station (派出所, 巡逻站)")
    lon, lat = _points(raw, problems, crs)
    good = pd.DataFrame({"external_id": ids, "name": names, "kind": kinds, "lon": lon,
                         "lat": lat, "row": np.arange(len(raw)) + 2})
    return good[~problems.bad].reset_index(drop=True), problems.sorted()


def read_roads(path: str | Path, crs: str | None = None) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Read and check roads from a GeoPackage (first line layer) or GeoJSON file.

    LineString/MultiLineString features with optional name, kind (or OSM highway) and speed_kmh
    (or maxspeed). Returned in EPSG:4326 with speed_kmh filled from the kind when absent; see
    `check_roads`.

    Parameters
    ----------
    path : str or Path
        A .gpkg, .geojson or .json file.
    crs : str, optional
        CRS of the file, overriding the one it declares (needed when it declares none).

    Returns
    -------
    tuple of (geopandas.GeoDataFrame, list of dict)
        (good roads in EPSG:4326, problems), as from `check_roads`.

    Raises
    ------
    InputError
        The file does not exist, is empty, has another suffix, has no line layer or cannot be
        read (field "path"); the layer holds no features ("path"); no CRS, or an unknown or
        offset one such as GCJ02 ("crs").
    """
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
    """Check road features, convert them to EPSG:4326 and give each a speed.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Road features with optional columns name, kind (or highway, fclass) and speed_kmh (or
        maxspeed; its leading number is read as km/h).
    crs : str, optional
        CRS to set on `frame`, overriding its own; needed when it has none.

    Returns
    -------
    roads : geopandas.GeoDataFrame
        The good features in EPSG:4326, index 0..n-1, columns name and kind (lower case; None when
        empty), speed_kmh (km/h: the given speed, else SPEED_BY_KIND of the kind, else
        DEFAULT_SPEED_KMH = 25) and geometry.
    problems : list of dict
        {"feature", "error"} per problem, with feature numbers from 1, in order: an empty or null
        geometry, one that is not a LineString/MultiLineString, coordinates outside the lon/lat
        range after conversion, a speed not in (0, 150] km/h.

    Raises
    ------
    InputError
        No features (field "path"), no CRS ("crs"), or an unknown or offset CRS such as GCJ02
        ("crs").
    """
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
