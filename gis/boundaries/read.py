"""Reading boundary sets: one layer per level of the national ladder that the set has (province,
prefecture, city, township, village, hamlet: from any of them down, skipping those the place
does not have) plus grids.

A boundary set file is a GeoPackage, a GeoJSON/Shapefile folder or a single GeoJSON per layer:
- GeoPackage: layers named after the levels (province, prefecture, city, township, village,
  hamlet), and grid.
- A folder: files named city.geojson / city.shp, township.*, ... grid.*.
The top layer present holds the set's one root unit and needs no parent_code.
Every layer is reprojected to EPSG:4326 and must then lie in CHINA_EXTENT; geometries become
MultiPolygons. Hostile files are refused here, before validation, with an InputError saying what
is wrong: unreadable or damaged files, missing layers or columns, a missing or implausible CRS,
and features or files with more vertices than the limits below.
"""
from __future__ import annotations

import json
import sqlite3
import warnings
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import shapely
from pyproj import CRS, Transformer
from shapely.errors import GEOSException

from gis.domain import BOUNDARY_LAYERS, LEVELS
from gis.errors import InputError, ValidationFailed
from gis.files import file_digest
from gis.geo.crs import STORAGE_CRS, pyproj_crs

LAYERS = BOUNDARY_LAYERS
REQUIRED_COLUMNS = ("code", "name", "parent_code")  # the top layer needs no parent_code
# Shapefile field names stop at 10 characters.
COLUMN_ALIASES = {"parent_cod": "parent_code"}
DEFAULT_KIND = {level: level for level in LEVELS}
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp")

# Vertex limits, checked as each layer is read, before reprojection and validation (whose cost
# grows with the vertex count). A folder counts as one file. The Anda demo set has at most 618
# vertices in a feature and 12,534 in all.
MAX_VERTICES_PER_FEATURE = 200_000
MAX_VERTICES_PER_FILE = 5_000_000

# Every layer must lie in this lon/lat box (EPSG:4326) after reprojection: China with a margin
# (westmost 73.5 E in the Pamirs, eastmost 135.1 E at the Heilongjiang-Ussuri confluence,
# southmost 3.8 N at Zengmu Ansha, northmost 53.6 N at Mohe).
CHINA_EXTENT = (73.0, 3.0, 136.0, 54.0)

SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass
class BoundarySet:
    layers: dict[str, gpd.GeoDataFrame]
    source: str
    sha256: str
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(self.layers[name]) for name in LAYERS if name in self.layers}


# ---- files ----

def _looks_like(head: bytes) -> str:
    """What the first bytes of a file suggest it is, for error messages."""
    if not head:
        return "an empty file (0 bytes)"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if head.startswith(SQLITE_HEADER):
        return "an SQLite database"
    if b"\x00" in head:
        return "binary data"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \r\n\t")
    if text[:1] in ("{", "["):
        return "JSON text"
    first = text.splitlines()[0] if text else ""
    kind = "text that looks like CSV" if "," in first else "plain text"
    return f"{kind} (first line {first[:60]!r})"


def _check_not_empty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is empty (0 bytes)", field="path")


def _check_geopackage(path: Path) -> None:
    """A GeoPackage is an SQLite database: refuse other content and damaged or truncated files
    here, with a plain message, rather than with whatever GDAL says half-way through."""
    with path.open("rb") as f:
        head = f.read(64)
    if not head.startswith(SQLITE_HEADER):
        raise InputError(f"{path.name} cannot be read: it is not a GeoPackage but "
                         f"{_looks_like(head)}", field="path")
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as con:
            result = [row[0] for row in con.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        result = [str(exc)]
    if result != ["ok"]:
        raise InputError(f"{path.name} cannot be read: the GeoPackage is truncated or damaged "
                         f"(SQLite reports: {'; '.join(result)}); copy or export it again",
                         field="path")


def _layer_sources(path: Path) -> dict[str, tuple[Path, str | None]]:
    if not path.exists():
        raise InputError(f"{path} does not exist", field="path")
    if path.is_dir():
        found = {}
        for name in LAYERS:
            for suffix in VECTOR_SUFFIXES:
                candidate = path / f"{name}{suffix}"
                if candidate.exists():
                    _check_not_empty(candidate)
                    if suffix == ".gpkg":
                        _check_geopackage(candidate)
                    found[name] = (candidate, None)
                    break
        return found
    if path.suffix.lower() not in VECTOR_SUFFIXES:
        raise InputError(f"{path.name}: unsupported file type; use .gpkg, .geojson or .shp",
                         field="path")
    _check_not_empty(path)
    if path.suffix.lower() == ".gpkg":
        _check_geopackage(path)
    try:
        available = [row[0] for row in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise InputError(_unreadable(path, exc), field="path") from None
    return {name: (path, name) for name in LAYERS if name in available}


def _unreadable(source: Path, exc: Exception) -> str:
    if source.suffix.lower() in (".geojson", ".json"):
        try:
            json.loads(source.read_bytes())
        except json.JSONDecodeError as err:
            return (f"{source.name} is not valid JSON: {err.msg} at line {err.lineno}, "
                    f"column {err.colno}")
        except UnicodeDecodeError as err:
            return f"{source.name} is not UTF-8 text (byte offset {err.start})"
    with source.open("rb") as f:
        head = f.read(64)
    reason = str(exc).split("; It might help")[0]  # drop GDAL's advice on driver prefixes
    return f"{source.name} cannot be read as a vector file ({_looks_like(head)}): {reason}"


def _read_frame(source: Path, layer: str | None, name: str) -> gpd.GeoDataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's notes on unclosed rings
        try:
            return pyogrio.read_dataframe(source, layer=layer)
        except GEOSException:
            _raise_undecodable(source, layer, name)
        except Exception as exc:
            raise InputError(f"layer {name}: {_unreadable(source, exc)}", field=name) from None


def _raise_undecodable(source: Path, layer: str | None, name: str):
    """Name the features whose geometry GEOS cannot even build (unclosed rings, rings of
    fewer than four points)."""
    attrs = pyogrio.read_dataframe(source, layer=layer, read_geometry=False)
    codes = attrs["code"].astype(str) if "code" in attrs else pd.Series(
        [f"row {i + 1}" for i in range(len(attrs))])
    _, _, wkb, _ = pyogrio.raw.read(source, layer=layer, columns=[])
    details = []
    for code, blob in zip(codes, wkb):
        try:
            shapely.from_wkb(blob)
        except GEOSException as exc:
            details.append({"level": name, "code": code, "rule": "unreadable_geometry",
                            "message": str(exc), "lon": None, "lat": None})
    first = details[0] if details else {"code": "?", "message": "unknown"}
    raise InputError(f"layer {name} in {source.name}: {len(details)} geometr"
                     f"{'y' if len(details) == 1 else 'ies'} cannot be decoded, first "
                     f"{first['code']}: {first['message']}; fix them in the source data",
                     field=name, details=details)


# ---- limits ----

def _check_vertices(frame: gpd.GeoDataFrame, name: str, source: Path, per_feature: int,
                    per_file: int, used: int) -> int:
    """Refuse features over per_feature vertices, and the file once the layers read so far
    (used vertices before this one) hold over per_file. Returns the new count used."""
    counts = shapely.get_num_coordinates(np.asarray(frame.geometry.values))
    over = np.flatnonzero(counts > per_feature)
    if len(over):
        details = [{"level": name, "code": str(frame["code"].iat[i]), "rule": "too_many_vertices",
                    "message": f"{counts[i]:,} vertices; the limit is {per_feature:,} per feature",
                    "lon": None, "lat": None} for i in over]
        raise ValidationFailed(
            f"layer {name} in {source.name}: feature {details[0]['code']} has "
            f"{counts[over[0]]:,} vertices, over the limit of {per_feature:,} per feature "
            f"({len(over)} feature(s) over it); simplify the geometry or raise the limit "
            "(--max-vertices); nothing was written", field=name, details=details)
    used += int(counts.sum())
    if used > per_file:
        raise ValidationFailed(
            f"{source.name} holds more than {per_file:,} vertices, the limit per file "
            f"({used:,} in the layers up to {name}); simplify the geometries or raise the limit "
            "(--max-file-vertices); nothing was written", field=name,
            details=[{"level": "set", "code": "", "rule": "too_many_vertices",
                      "message": f"{used:,} vertices up to layer {name}; the limit is "
                                 f"{per_file:,} per file", "lon": None, "lat": None}])
    return used


# ---- coordinate reference systems ----

def _label(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name


def _same_crs(a: CRS, b: CRS) -> bool:
    lonlat = {4326, 4490}  # CGCS2000 is treated as WGS84 (gis.geo.crs)
    return a.equals(b, ignore_axis_order=True) or (a.to_epsg() in lonlat and b.to_epsg() in lonlat)


def _in_china(lon, lat) -> bool:
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    xmin, ymin, xmax, ymax = CHINA_EXTENT
    return bool(np.all(np.isfinite(lon) & np.isfinite(lat)) and lon.min() >= xmin
                and lon.max() <= xmax and lat.min() >= ymin and lat.max() <= ymax)


def _corners(bounds):
    minx, miny, maxx, maxy = bounds
    return [minx, maxx, minx, maxx, (minx + maxx) / 2], [miny, miny, maxy, maxy, (miny + maxy) / 2]


def crs_candidates(bounds) -> list[str]:
    """CRSs common in Chinese data under which coordinates with these bounds lie in China:
    lon/lat degrees, Web Mercator, and the CGCS2000 Gauss-Krüger zone named by a zone-number
    prefix of the easting (6-degree zones 13-23, 3-degree zones 25-45)."""
    names = ["EPSG:4326", "EPSG:3857"]
    zone = int(bounds[0] // 1_000_000) if np.isfinite(bounds[0]) else 0
    if 13 <= zone <= 23:
        names.append(f"EPSG:{4491 + zone - 13}")
    if 25 <= zone <= 45:
        names.append(f"EPSG:{4513 + zone - 25}")
    xs, ys = _corners(bounds)
    fits = []
    for name in names:
        if name == STORAGE_CRS:
            lon, lat = xs, ys
        else:
            lon, lat = Transformer.from_crs(name, STORAGE_CRS, always_xy=True).transform(xs, ys)
        if _in_china(lon, lat):
            fits.append(name)
    return fits


def _crs_advice(bounds) -> str:
    minx, miny, maxx, maxy = bounds
    fits = crs_candidates(bounds)
    if STORAGE_CRS in fits:
        advice = ("The numbers look like longitude/latitude in degrees: if they are, pass "
                  "--crs EPSG:4326 (or EPSG:4490 for CGCS2000).")
    elif fits:
        names = " or ".join(f"{n} ({CRS.from_user_input(n).name})" for n in fits)
        advice = f"The numbers fit {names}: if that is what they are, pass --crs {fits[0]}."
    elif _in_china([miny, maxy], [minx, maxx]):
        return "Longitude and latitude look swapped: fix the axis order in the source data."
    elif max(abs(minx), abs(maxx), abs(miny), abs(maxy)) > 1000:
        advice = ("The numbers look like metres of a projected CRS without a zone prefix, e.g. "
                  "a UTM zone (EPSG:32643-32653) or a CGCS2000 Gauss-Krüger zone by central "
                  "meridian (EPSG:4534-4554, EPSG:4502-4512): ask the supplier which one and "
                  "pass it with --crs.")
    else:
        advice = "Pass the CRS the coordinates are really in with --crs."
    return advice + " --crs overrides the CRS a file declares."


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100_000 else f"{v:.6g}"


def _span(bounds, x="x", y="y") -> str:
    minx, miny, maxx, maxy = bounds
    return f"{x} {_num(minx)}..{_num(maxx)}, {y} {_num(miny)}..{_num(maxy)}"


def _to_storage(frame: gpd.GeoDataFrame, name: str, source: Path, assumed: CRS | None,
                notes: list[str]) -> gpd.GeoDataFrame:
    raw_bounds = frame.total_bounds
    known = bool(np.isfinite(raw_bounds).all())  # false when every geometry is missing/empty
    declared = frame.crs
    if assumed is not None:
        if declared is not None and not _same_crs(declared, assumed):
            notes.append(f"layer {name} declares {_label(declared)}; read as {_label(assumed)} "
                         "(--crs)")
        frame = frame.set_crs(assumed, allow_override=True)
    elif declared is None:
        span = f"; its coordinates span {_span(raw_bounds)}. {_crs_advice(raw_bounds)}" \
            if known else "; pass --crs"
        raise InputError(f"layer {name} in {source.name} declares no coordinate reference "
                         f"system{span}", field="crs")
    read_as = frame.crs
    if read_as.to_epsg() != 4326:
        frame = frame.to_crs(STORAGE_CRS)
    if known:
        bounds = frame.total_bounds
        if not _in_china(bounds[[0, 2]], bounds[[1, 3]]):
            how = "was read as" if assumed is not None else "declares"
            lonlat = "" if read_as.to_epsg() == 4326 else \
                f", which is {_span(bounds, 'lon', 'lat')}"
            xmin, ymin, xmax, ymax = CHINA_EXTENT
            raise InputError(
                f"layer {name} in {source.name} does not lie in China: it {how} "
                f"{_label(read_as)} and its coordinates span {_span(raw_bounds)}{lonlat}; "
                f"boundaries must lie within {xmin:g}..{xmax:g} E, {ymin:g}..{ymax:g} N. "
                f"{_crs_advice(raw_bounds)}", field="crs")
    return frame


# ---- attributes ----

def _check_columns(frame: gpd.GeoDataFrame, name: str, source: Path,
                   top: bool = False) -> gpd.GeoDataFrame:
    frame = frame.rename(columns={k: v for k, v in COLUMN_ALIASES.items()
                                  if k in frame.columns and v not in frame.columns})
    required = REQUIRED_COLUMNS[:2] if top else REQUIRED_COLUMNS
    missing = [c for c in required if c not in frame.columns]
    if missing:
        found = [c for c in frame.columns if c != frame.geometry.name]
        raise InputError(f"layer {name} in {source.name} lacks column(s) {', '.join(missing)} "
                         f"(found: {', '.join(found) or 'none'})", field=name)
    return frame


def _normalise(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    out = gpd.GeoDataFrame(
        {
            "code": frame["code"].astype("string").str.strip(),
            "name": frame["name"].astype("string").fillna("").str.strip(),
        },
        geometry=frame.geometry.values, crs=STORAGE_CRS)
    out["parent_code"] = (frame["parent_code"].astype("string").str.strip()
                          if "parent_code" in frame.columns else pd.NA)
    if name == "grid":
        for col in ("households", "population"):
            raw = frame[col] if col in frame.columns else 0
            out[col] = pd.to_numeric(raw, errors="coerce")
    else:
        kind = frame["kind"].astype("string") if "kind" in frame.columns else None
        out["kind"] = kind.fillna(DEFAULT_KIND[name]) if kind is not None else DEFAULT_KIND[name]
    out["synthetic"] = (frame["synthetic"].fillna(0).astype(bool)
                        if "synthetic" in frame.columns else False)
    out["source_row"] = range(1, len(out) + 1)
    return out


def read_boundary_set(path: str | Path, assume_crs: str | None = None, *,
                      max_vertices_per_feature: int = MAX_VERTICES_PER_FEATURE,
                      max_vertices_per_file: int = MAX_VERTICES_PER_FILE) -> BoundarySet:
    """Read every layer of a boundary set, reprojected to EPSG:4326 (no validation here).

    assume_crs is the CRS the coordinates are in; it overrides what the file declares (noted
    in BoundarySet.notes). Raises InputError for unreadable files, missing layers or columns,
    a missing or implausible CRS, and ValidationFailed for features or files over the vertex
    limits (checked layer by layer as read, before any reprojection or validation)."""
    path = Path(path)
    assumed = pyproj_crs(assume_crs) if assume_crs else None
    sources = _layer_sources(path)
    levels = [lv for lv in LEVELS if lv in sources]
    for required, present in (("grid", "grid" in sources), ("area", bool(levels))):
        if not present:
            what = "'grid' layer" if required == "grid" else "area layer"
            raise InputError(f"{path.name} has no {what}; expected layers named after the "
                             f"levels it has ({', '.join(LEVELS)}) and grid", field="path")
    layers, notes = {}, []
    used = 0
    for name, (src, layer) in sources.items():
        frame = _check_columns(_read_frame(src, layer, name), name, src, top=name == levels[0])
        used = _check_vertices(frame, name, path, max_vertices_per_feature,
                               max_vertices_per_file, used)
        frame = _to_storage(frame, name, src, assumed, notes)
        layers[name] = _normalise(frame, name)
    return BoundarySet(layers=layers, source=path.name, sha256=file_digest(path), notes=notes)
