"""Coordinate systems accepted by gridgis and conversion to the storage CRS (EPSG:4326).

Storage and every API answer use WGS84 longitude/latitude (EPSG:4326). Input may also come in
CGCS2000 (EPSG:4490, treated as identical to WGS84: they differ by centimetres), in GCJ-02 (the
obfuscated system of Amap and Tencent maps) or BD-09 (Baidu), or in any CRS pyproj knows.

GCJ-02 and BD-09 are not datums pyproj knows: they are published offset formulas. The forward
GCJ-02 and BD-09 transforms are closed-form; their inverses are solved by fixed-point
iteration to below 1e-9 deg.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

from gis.errors import InputError

STORAGE_CRS = "EPSG:4326"

WGS84_ALIASES = {"EPSG:4326", "WGS84", "CRS84", "OGC:CRS84", "EPSG:4490", "CGCS2000"}
GCJ02_ALIASES = {"GCJ02", "GCJ-02", "AMAP", "TENCENT"}
BD09_ALIASES = {"BD09", "BD-09", "BAIDU"}

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0


def normalise_crs_name(name: str | None) -> str:
    """Return the canonical name of an input CRS: 'EPSG:4326', 'GCJ02', 'BD09' or 'EPSG:n'.

    Raises InputError for a CRS pyproj does not know.
    """
    if name is None or str(name).strip() == "":
        return STORAGE_CRS
    raw = str(name).strip()
    key = raw.upper().replace("_", "-")
    if key.startswith("HTTP://WWW.OPENGIS.NET/DEF/CRS/OGC/1.3/CRS84"):
        return STORAGE_CRS
    if key in WGS84_ALIASES:
        return STORAGE_CRS
    if key in GCJ02_ALIASES or key.replace("-", "") in GCJ02_ALIASES:
        return "GCJ02"
    if key in BD09_ALIASES or key.replace("-", "") in BD09_ALIASES:
        return "BD09"
    try:
        crs = CRS.from_user_input(raw)
    except CRSError:
        raise InputError(
            f"unknown coordinate reference system {raw!r}; use EPSG:4326, EPSG:4490, GCJ02, "
            "BD09 or another EPSG code",
            field="crs",
        ) from None
    epsg = crs.to_epsg()
    if epsg in (4326, 4490):
        return STORAGE_CRS
    name = f"EPSG:{epsg}" if epsg else crs.to_wkt()
    try:
        _transformer(name)
    except ProjError as err:
        raise InputError(f"coordinates in {raw!r} cannot be converted to WGS84: {err}",
                         field="crs") from None
    return name


def _outside_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common
            + (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * math.pi) + 320.0 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common
            + (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * math.pi)
    outside = _outside_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon, lat):
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def _invert(forward, lon, lat, start, iterations: int = 30):
    """Solve forward(x, y) == (lon, lat) by fixed-point iteration from `start` (the offsets are
    small and smooth, so each step shrinks the error by orders of magnitude)."""
    tlon = np.asarray(lon, dtype=float)
    tlat = np.asarray(lat, dtype=float)
    x, y = start
    for _ in range(iterations):
        flon, flat = forward(x, y)
        elon, elat = flon - tlon, flat - tlat
        x, y = x - elon, y - elat
        if np.all(np.abs(elon) < 1e-10) and np.all(np.abs(elat) < 1e-10):
            break
    return x, y


def gcj02_to_wgs84(lon, lat):
    """Exact inverse of wgs84_to_gcj02."""
    start = (np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return _invert(wgs84_to_gcj02, lon, lat, start)


def gcj02_to_bd09(lon, lat):
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02_approx(lon, lat):
    """The published closed-form inverse (about 0.1 m off)."""
    x = np.asarray(lon, dtype=float) - 0.0065
    y = np.asarray(lat, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02(lon, lat):
    """Exact inverse of gcj02_to_bd09, refined from the closed form."""
    return _invert(gcj02_to_bd09, lon, lat, bd09_to_gcj02_approx(lon, lat))


def bd09_to_wgs84(lon, lat):
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def pyproj_crs(name: str) -> CRS:
    """A real CRS for a file's geometries (GCJ-02 and BD-09 are point offsets, not CRSs)."""
    canonical = normalise_crs_name(name)
    if canonical in ("GCJ02", "BD09"):
        raise InputError("boundary files must be in a real CRS; convert GCJ-02/BD-09 first",
                         field="crs")
    try:
        return CRS.from_user_input(canonical)
    except CRSError:
        raise InputError(f"unknown coordinate reference system {name!r}", field="crs")


@lru_cache(maxsize=64)
def _transformer(src: str) -> Transformer:
    return Transformer.from_crs(src, STORAGE_CRS, always_xy=True)


def to_storage(lon, lat, crs: str | None = None):
    """Convert coordinates (scalars or arrays) from `crs` to EPSG:4326 lon/lat arrays."""
    name = normalise_crs_name(crs)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if name == STORAGE_CRS:
        return lon, lat
    if name == "GCJ02":
        return gcj02_to_wgs84(lon, lat)
    if name == "BD09":
        return bd09_to_wgs84(lon, lat)
    x, y = _transformer(name).transform(lon, lat)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
