"""Reading boundary sets: one layer per level (city, township, village, hamlet) plus grids.

A boundary set file is a GeoPackage, a GeoJSON/Shapefile folder or a single GeoJSON per layer:
- GeoPackage: layers named city, township, village, hamlet (optional), grid.
- A folder: files named city.geojson / city.shp, township.*, ... grid.*.
Every layer is reprojected to EPSG:4326; geometries become MultiPolygons.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely.geometry import MultiPolygon
from pyproj import CRS
from pyproj.exceptions import CRSError

from gis.crs import STORAGE_CRS, normalise_crs_name
from gis.errors import InputError

LAYERS = ("city", "township", "village", "hamlet", "grid")
REQUIRED_COLUMNS = {
    "city": ("code", "name"),
    "township": ("code", "name", "parent_code"),
    "village": ("code", "name", "parent_code"),
    "hamlet": ("code", "name", "parent_code"),
    "grid": ("code", "name", "parent_code"),
}
DEFAULT_KIND = {"city": "city", "township": "township", "village": "village", "hamlet": "hamlet"}
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp")


@dataclass
class BoundarySet:
    layers: dict[str, gpd.GeoDataFrame]
    source: str
    sha256: str
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(self.layers.get(name, ())) for name in LAYERS}


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _layer_sources(path: Path) -> dict[str, tuple[Path, str | None]]:
    if not path.exists():
        raise InputError(f"{path} does not exist", field="path")
    if path.is_dir():
        found = {}
        for name in LAYERS:
            for suffix in (".gpkg", ".geojson", ".json", ".shp"):
                candidate = path / f"{name}{suffix}"
                if candidate.exists():
                    found[name] = (candidate, None)
                    break
        return found
    if path.suffix.lower() not in VECTOR_SUFFIXES:
        raise InputError(f"{path.name}: unsupported file type; use .gpkg, .geojson or .shp",
                         field="path")
    try:
        available = [row[0] for row in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise InputError(f"{path.name} cannot be read as a vector file: {exc}", field="path")
    return {name: (path, name) for name in LAYERS if name in available}


def _read_layer(source: Path, layer: str | None, name: str, assume_crs: str | None):
    try:
        frame = pyogrio.read_dataframe(source, layer=layer)
    except Exception as exc:
        raise InputError(f"layer {name} in {source.name} cannot be read: {exc}", field=name)
    if frame.crs is None:
        if not assume_crs:
            raise InputError(f"layer {name} has no coordinate reference system; pass --crs",
                             field=name)
        frame = frame.set_crs(_pyproj_crs(assume_crs))
    if frame.crs != CRS.from_user_input(STORAGE_CRS):
        frame = frame.to_crs(STORAGE_CRS)
    return frame


def _pyproj_crs(name: str) -> CRS:
    canonical = normalise_crs_name(name)
    if canonical in ("GCJ02", "BD09"):
        raise InputError("boundary files must be in a real CRS; convert GCJ-02/BD-09 first",
                         field="crs")
    try:
        return CRS.from_user_input(canonical)
    except CRSError:
        raise InputError(f"unknown coordinate reference system {name!r}", field="crs")


def _normalise(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    missing = [c for c in REQUIRED_COLUMNS[name] if c not in frame.columns]
    if missing:
        raise InputError(f"layer {name} lacks column(s) {', '.join(missing)}", field=name)
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


def read_boundary_set(path: str | Path, assume_crs: str | None = None) -> BoundarySet:
    """Read every layer of a boundary set, reprojected to EPSG:4326 (no validation here)."""
    path = Path(path)
    if assume_crs:
        _pyproj_crs(assume_crs)
    sources = _layer_sources(path)
    for required in ("city", "township", "village", "grid"):
        if required not in sources:
            raise InputError(f"{path.name} has no '{required}' layer; expected layers "
                             f"{', '.join(LAYERS)} (hamlet optional)", field="path")
    layers = {name: _normalise(_read_layer(src, layer, name, assume_crs), name)
              for name, (src, layer) in sources.items()}
    return BoundarySet(layers=layers, source=path.name, sha256=file_digest(path))


def to_multipolygons(geoms) -> list:
    """Promote Polygons to MultiPolygons, the storage type."""
    return [MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in geoms]
