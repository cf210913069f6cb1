"""Plan files and GeoJSON (pure, no database): geometries sent by clients, a grid layer read as a
draft plan, drafts and generations written as GeoPackage or GeoJSON.

A plan file holds one layer of grids (GeoPackage layer `grid`, or the file's only layer; a
GeoJSON FeatureCollection; a Shapefile) with columns code, name, parent_code and optionally
households and population (missing columns count 0). Files are read with the same guards as
boundary sets (gis.boundaries: unreadable or damaged files, missing columns, CRS, vertex
limits); rows that cannot be stored (no code or parent, duplicate codes, counts that are not
whole numbers >= 0, geometry missing or not polygonal) refuse the whole file, one detail per
row. Everything else a draft may hold while work is in progress (gaps, overlaps, invalid
polygons) is left to the plan checks.
"""
from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis.boundaries.read import (
    MAX_VERTICES_PER_FEATURE,
    MAX_VERTICES_PER_FILE,
    VECTOR_SUFFIXES,
    _check_columns,
    _check_geopackage,
    _check_not_empty,
    _check_vertices,
    _read_frame,
    _to_storage,
    _unreadable,
)
from gis.errors import InputError, UnprocessableError, ValidationFailed
from gis.geo.crs import pyproj_crs
from gis.geo.shapes import to_multipolygons

PLAN_COLUMNS = ("code", "name", "parent_code", "households", "population")
MAX_INPUT_VERTICES = 100_000
_DEPTH = {"Point": 0, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}
GPKG_MIME = "application/geopackage+sqlite3"
GEOJSON_MIME = "application/geo+json"


# ---- GeoJSON in ----

def parse_geometry(value, field: str, kinds: tuple[str, ...]) -> BaseGeometry:
    """A GeoJSON geometry (or a Feature holding one, as Leaflet.draw gives) in lon/lat, with
    finite coordinates in range; the edit operations check validity themselves."""
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise UnprocessableError(f"{field} must be a GeoJSON {' or '.join(kinds)}", field=field)
    kind = value["type"]
    if kind not in kinds:
        raise UnprocessableError(f"{field} is a {kind[:40]}; expected {' or '.join(kinds)}",
                                 field=field)
    count = _check_positions(value.get("coordinates"), _DEPTH[kind], field)
    if count > MAX_INPUT_VERTICES:
        raise UnprocessableError(f"{field} has {count:,} vertices; at most "
                                 f"{MAX_INPUT_VERTICES:,}", field=field)
    try:
        return shape({"type": kind, "coordinates": value["coordinates"]})
    except Exception as exc:  # shapely: too few points in a ring or line
        raise UnprocessableError(f"{field} is not a usable {kind}: {exc}", field=field) from None


def _check_positions(node, depth: int, field: str) -> int:
    if depth == 0:
        if not isinstance(node, (list, tuple)) or len(node) not in (2, 3) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in node):
            raise UnprocessableError(f"{field}: every position must be [lon, lat]", field=field)
        lon, lat = node[0], node[1]
        if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
            raise UnprocessableError(f"{field}: position [{lon}, {lat}] is not a lon/lat in "
                                     "range", field=field)
        return 1
    if not isinstance(node, (list, tuple)) or not node:
        raise UnprocessableError(f"{field}: coordinates are missing or malformed", field=field)
    return sum(_check_positions(child, depth - 1, field) for child in node)


# ---- GeoJSON out ----

def feature_collection(frame: gpd.GeoDataFrame, columns=PLAN_COLUMNS, extra: dict | None = None
                       ) -> dict:
    """Rows as a GeoJSON FeatureCollection, each feature's id its code."""
    cols = [c for c in columns if c in frame.columns]
    sub = gpd.GeoDataFrame(frame[cols], geometry=frame.geometry.values, crs="EPSG:4326")
    body = sub.to_geo_dict(drop_id=True)
    for feat in body["features"]:
        feat["id"] = feat["properties"].get("code")
        if extra and feat["id"] in extra:
            feat["properties"].update(extra[feat["id"]])
    return body


# ---- files in ----

def read_plan_file(path: str | Path, crs: str | None = None, *,
                   max_vertices_per_feature: int = MAX_VERTICES_PER_FEATURE,
                   max_vertices_per_file: int = MAX_VERTICES_PER_FILE
                   ) -> tuple[gpd.GeoDataFrame, list[str]]:
    """(plan sorted by code, notes) from a plan file or a folder holding one."""
    path = Path(path)
    source, layer = _grid_source(path)
    notes: list[str] = []
    frame = _check_columns(_read_frame(source, layer, "grid"), "grid", source)
    _check_vertices(frame, "grid", source, max_vertices_per_feature, max_vertices_per_file, 0)
    frame = _to_storage(frame, "grid", source, pyproj_crs(crs) if crs else None, notes)
    return _plan_rows(frame), notes


def _grid_source(path: Path) -> tuple[Path, str | None]:
    if not path.exists():
        raise InputError(f"{path} does not exist", field="path")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in VECTOR_SUFFIXES)
        named = [p for p in files if p.stem.lower() == "grid"]
        if named:
            files = named
        if len(files) != 1:
            raise InputError(f"{path.name} holds {len(files)} vector files; expected one grid "
                             "layer (grid.gpkg, grid.geojson or grid.shp)", field="file")
        path = files[0]
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        raise InputError(f"{path.name}: unsupported file type; use .gpkg, .geojson or .shp",
                         field="file")
    _check_not_empty(path)
    if suffix == ".gpkg":
        _check_geopackage(path)
    try:
        layers = [row[0] for row in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio's DataSourceError and friends
        raise InputError(_unreadable(path, exc), field="file") from None
    if "grid" in layers:
        return path, "grid"
    if len(layers) == 1:
        return path, layers[0]
    raise InputError(f"{path.name} has layers {', '.join(layers)}; name the grid layer 'grid'",
                     field="file")


def _plan_rows(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    def text(col):
        return frame[col].astype("string").str.strip() if col in frame.columns else \
            pd.Series(pd.NA, index=frame.index, dtype="string")

    out = pd.DataFrame({"code": text("code"), "name": text("name").fillna(""),
                        "parent_code": text("parent_code")})
    problems = []
    for col in ("households", "population"):
        out[col] = pd.to_numeric(frame[col], errors="coerce") if col in frame.columns else 0
    geoms = np.asarray(frame.geometry.values, dtype=object)
    for n in range(len(out)):
        code, parent = out["code"].iat[n], out["parent_code"].iat[n]
        errors = []
        if pd.isna(code) or not code:
            errors.append("code is missing")
        if pd.isna(parent) or not parent:
            errors.append("parent_code is missing")
        for col in ("households", "population"):
            v = out[col].iat[n]
            if pd.isna(v) or v < 0 or v != int(v) or v > 2**31 - 1:
                errors.append(f"{col} must be a whole number >= 0, got {frame[col].iat[n]!r}")
        g = geoms[n]
        if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
            errors.append("geometry is missing, empty or not a polygon")
        problems += [{"row": n + 1, "code": None if pd.isna(code) else code, "error": e}
                     for e in errors]
    dup = out["code"][out["code"].notna() & out["code"].duplicated()]
    for code in sorted(set(dup)):
        rows = [int(i) + 1 for i in np.flatnonzero(out["code"] == code)]
        problems.append({"row": rows[1], "code": code,
                         "error": f"code {code} is used by rows {', '.join(map(str, rows))}"})
    if problems:
        raise ValidationFailed(f"{len(problems)} problem(s) in the plan file; nothing was "
                               "imported", details=problems)
    for col in ("households", "population"):
        out[col] = out[col].astype(np.int64)
    plan = gpd.GeoDataFrame(out.astype({"code": object, "name": object, "parent_code": object}),
                            geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")
    return plan.sort_values("code", kind="stable").reset_index(drop=True)


# ---- files out ----

def geopackage_bytes(layers: dict[str, gpd.GeoDataFrame]) -> bytes:
    """Layers (in order) written to one GeoPackage, as bytes; geometries as MultiPolygons."""
    with tempfile.TemporaryDirectory(prefix="gridgis-export-") as tmp:
        path = Path(tmp) / "export.gpkg"
        for name, frame in layers.items():
            frame = gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name),
                                     geometry=to_multipolygons(frame.geometry.values) if len(frame)
                                     else [], crs="EPSG:4326")
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG",
                                    geometry_type="MultiPolygon",
                                    append=path.exists())
        return path.read_bytes()


def geojson_bytes(frame: gpd.GeoDataFrame, columns) -> bytes:
    return json.dumps(feature_collection(frame, columns), ensure_ascii=False).encode()


def plan_layers(plan: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    return {"grid": gpd.GeoDataFrame(plan[list(PLAN_COLUMNS)], geometry=plan.geometry.values,
                                     crs="EPSG:4326")}
