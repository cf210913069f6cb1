"""The files people exchange with gridgis: reading uploaded point tables (CSV in UTF-8 or
GBK/GB18030, GeoJSON points; for incident imports also GeoPackage, zipped Shapefiles and
GeoParquet) into plain string columns with clear errors saying what is wrong and where; file
digests; CSV for spreadsheets; downloads handed to the interfaces."""
from __future__ import annotations

import codecs
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gis.errors import InputError

# Column read_table and read_points fill with a per-row problem found while reading (e.g. a
# feature whose geometry is not a Point); validate_table reports it through its row errors.
READ_ERROR = "_read_error"
CSV_ENCODINGS = ("utf-8-sig", "gb18030")  # GB18030 is a superset of GBK and GB2312


READ_CHUNK = 200_000  # CSV rows parsed at a time, so progress moves on big files

# What read_points reads: a .zip holds a Shapefile (a folder of one is what an upload unpacks to)
POINT_SUFFIXES = (".csv", ".geojson", ".json", ".gpkg", ".zip", ".shp", ".parquet")
LAYERED = (".gpkg", ".zip", ".shp")


@dataclass
class PointTable:
    """A point table as read: string columns (lon/lat from point geometries, READ_ERROR for
    rows whose geometry is not a point), the CRS the file declares (None when it declares
    none) and the layer read (GeoPackage, Shapefile)."""
    frame: pd.DataFrame
    crs: str | None = None
    layer: str | None = None


def read_table(path: str | Path, progress=None) -> pd.DataFrame:
    """Read a CSV (UTF-8, with or without BOM, or GBK/GB18030) or GeoJSON file of incidents
    into plain string columns. Files that are empty, binary, in neither encoding, or not
    well-formed raise InputError saying what is wrong and where. progress(rows) is called as
    CSV rows are parsed."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist", field="path")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, progress)
    if suffix in (".geojson", ".json"):
        return _read_geojson(path)[0]
    raise InputError(f"{path.name}: unsupported file type; use .csv or .geojson", field="path")


def read_points(path: str | Path, *, layer: str | None = None, progress=None) -> PointTable:
    """Read a point table: CSV or GeoJSON (as read_table), a GeoPackage (the layer named, else
    its first point layer), a Shapefile (.shp, a .zip holding one, or the folder an uploaded
    zip unpacked to; the layer named, else the first point layer) or a Parquet file
    (GeoParquet, or a plain table with lon/lat columns). Point geometries become lon/lat text
    columns; a MultiPoint of one point counts as a point; any other geometry is a per-row
    problem (READ_ERROR). The declared CRS (GeoPackage, .prj, GeoParquet, GeoJSON's legacy
    "crs" member) comes back as PointTable.crs. A Shapefile's .dbf without a .cpg or code page
    is read as UTF-8 when it decodes as UTF-8, else as GB18030/GBK."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist", field="path")
    suffix = "" if path.is_dir() else path.suffix.lower()
    if layer is not None and suffix not in LAYERED and not path.is_dir():
        raise InputError(f"{path.name} has no layers; a layer can be named for a GeoPackage "
                         "or a (zipped) Shapefile", field="layer")
    if suffix == ".csv":
        return PointTable(_read_csv(path, progress))
    if suffix in (".geojson", ".json"):
        frame, crs = _read_geojson(path)
        return PointTable(frame, crs)
    if suffix == ".gpkg":
        table = _read_geopackage(path, layer)
    elif suffix == ".zip":
        table = _read_zipped_shapefile(path, layer)
    elif suffix == ".shp" or path.is_dir():
        table = _read_shapefile_folder(path, layer)
    elif suffix == ".parquet":
        table = _read_parquet(path)
    else:
        raise InputError(f"{path.name}: unsupported file type; use .csv, .geojson, .gpkg, "
                         ".zip (a zipped Shapefile), .shp or .parquet", field="path")
    if progress:
        progress(len(table.frame))
    return table


def _position(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return f"line {line}, byte {column} of the line (byte offset {offset})"


def _not_text(data: bytes) -> str | None:
    """Name binary formats people save under .csv by mistake."""
    if data.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            names = []
        if any(n.startswith("xl/") for n in names):
            return "an Excel workbook (.xlsx)"
        return "a ZIP archive"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "an Excel 97-2003 workbook (.xls) or another OLE2 file"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 text"
    return None


def _encoding(data: bytes, name: str) -> str:
    """The first of CSV_ENCODINGS that decodes the whole file."""
    failures = []
    for encoding in CSV_ENCODINGS:
        try:
            data.decode(encoding)
            return encoding
        except UnicodeDecodeError as exc:
            bad = data[exc.start:exc.start + 4].hex(" ")
            failures.append(f"as {'UTF-8' if encoding == 'utf-8-sig' else 'GB18030/GBK'} it "
                            f"fails at {_position(data, exc.start)}, bytes {bad}")
    raise InputError(f"{name} is neither UTF-8 nor GBK/GB18030 text: {'; '.join(failures)}; "
                     "save it as CSV UTF-8", field="path")


def _read_csv(path: Path, progress=None) -> pd.DataFrame:
    data = path.read_bytes()
    if not data or data.isspace():
        size = "0 bytes" if not data else "only blank space"
        raise InputError(f"{path.name} is empty ({size})", field="path")
    if (kind := _not_text(data)):
        raise InputError(f"{path.name} is {kind}, not CSV text; save it as CSV UTF-8",
                         field="path")
    if (nul := data.find(b"\x00")) >= 0:
        raise InputError(f"{path.name} contains a NUL byte at {_position(data, nul)}: CSV is "
                         "plain text (is this a binary file or UTF-16 text without a BOM?)",
                         field="path")
    encoding = _encoding(data, path.name)
    try:
        parts = []
        with pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding=encoding,
                         chunksize=READ_CHUNK) as reader:
            for part in reader:
                parts.append(part)
                if progress:
                    progress(len(part))
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    except pd.errors.ParserError as exc:
        raise InputError(f"{path.name} is not a well-formed CSV: {exc}".strip(), field="path")
    except pd.errors.EmptyDataError:
        raise InputError(f"{path.name} is empty", field="path")
    if frame.empty:
        raise InputError(f"{path.name} has a header but no rows", field="path")
    return frame.rename(columns=lambda c: c.lstrip("\ufeff"))  # GB18030's own BOM


def _read_geojson(path: Path) -> tuple[pd.DataFrame, str | None]:
    """The features' properties, lon/lat and READ_ERROR; the CRS a legacy "crs" member names."""
    data = path.read_bytes()
    if not data or data.isspace():
        raise InputError(f"{path.name} is empty", field="path")
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path.name} is not UTF-8 text (GeoJSON must be UTF-8): it fails at "
                         f"{_position(data, exc.start)}", field="path")
    except json.JSONDecodeError as exc:
        raise InputError(f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}", field="path")
    kind = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
    if kind == "Feature":
        features = [doc]
    elif kind == "FeatureCollection" and isinstance(doc.get("features"), list):
        features = doc["features"]
    else:
        raise InputError(f"{path.name} is not a GeoJSON FeatureCollection (found {kind!r})",
                         field="path")
    if not features:
        raise InputError(f"{path.name} holds no features", field="path")
    rows = []
    for feature in features:
        props = feature.get("properties") if isinstance(feature, dict) else None
        row = {k: _cell(v) for k, v in props.items()} if isinstance(props, dict) else {}
        row["lon"], row["lat"], row[READ_ERROR] = _point(feature)
        rows.append(row)
    named = (doc.get("crs") or {}).get("properties") if kind == "FeatureCollection" else None
    crs = named.get("name") if isinstance(named, dict) else None
    return (pd.DataFrame(rows).fillna("").astype(str),
            _crs_name(crs) if isinstance(crs, str) and crs.strip() else None)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _point(feature) -> tuple[str, str, str]:
    """lon, lat and a problem (empty when none) of a GeoJSON Feature that should be a Point."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return "", "", "not a GeoJSON Feature"
    geometry = feature.get("geometry")
    if geometry is None:
        return "", "", "geometry is null, expected a Point"
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind != "Point":
        return "", "", f"geometry is a {kind or 'malformed object'}, expected a Point"
    coords = geometry.get("coordinates")
    if (not isinstance(coords, list) or len(coords) < 2
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool)
                       for c in coords[:2])):
        return "", "", "Point coordinates must be [x, y] numbers"
    return str(coords[0]), str(coords[1]), ""


# ---- GeoPackage, Shapefile, GeoParquet ----

GEOMETRY_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
                  5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}
SQLITE_MAGIC = b"SQLite format 3\x00"
PARQUET_MAGIC = b"PAR1"
DBF_SAMPLE = 1 << 20  # bytes of a .dbf's records looked at to tell UTF-8 from GB18030


def _crs_name(crs) -> str | None:
    """A declared CRS (pyproj CRS, WKT, URN or name) as 'AUTHORITY:CODE' when it has one (e.g.
    EPSG:4490, OGC:CRS84), else WKT; a name pyproj does not know is passed on as given (the
    import then says it is unknown)."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError
    if crs is None:
        return None
    try:
        crs = crs if isinstance(crs, CRS) else CRS.from_user_input(crs)
    except CRSError:
        return str(crs)
    authority = crs.to_authority()
    return ":".join(authority) if authority else crs.to_wkt()


def _start(path: Path, magic: bytes, kind: str) -> None:
    """Refuse an empty file, or one that does not start like `kind` (naming what it is)."""
    with open(path, "rb") as f:
        head = f.read(max(len(magic), 16))
    if not head:
        raise InputError(f"{path.name} is empty (0 bytes)", field="path")
    if not head.startswith(magic):
        found = _not_text(head) if not head.startswith(b"PK\x03\x04") else "a ZIP archive"
        if found is None:
            found = "text" if _looks_like_text(head) else "something else"
        raise InputError(f"{path.name} is not {kind} (it looks like {found})", field="path")


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in head


def _ogr_error(name: str, err: Exception) -> InputError:
    """GDAL's or Arrow's complaint, with the folders of any path left out (an upload's
    temporary folder is nobody's business)."""
    reason = re.sub(r"(?:/vsizip)?/(?:[^/\s'\"]+/)+", "", str(err).strip())
    return InputError(f"{name} cannot be read: {reason or type(err).__name__}", field="path")


def _read_geopackage(path: Path, layer: str | None) -> PointTable:
    import pyogrio
    _start(path, SQLITE_MAGIC, "a GeoPackage (an SQLite database)")
    try:
        layers = [(str(n), str(t) if t is not None else None)
                  for n, t in pyogrio.list_layers(path)]
    except Exception as err:  # GDAL's DataSourceError and kin
        raise _ogr_error(path.name, err) from None
    name = _choose_layer(path.name, layers, layer)
    return _read_layer(path, name, path.name)


def _choose_layer(name: str, layers: list[tuple[str, str | None]], wanted: str | None) -> str:
    """The layer named (exactly, else the one matching without regard to case), else the first
    with point geometries, else the first of unknown geometry type."""
    listing = ", ".join(f"{n} ({t or 'no geometry'})" for n, t in layers) or "none"
    if not layers:
        raise InputError(f"{name} holds no layers", field="path")
    if wanted is not None:
        for match in ([n for n, _ in layers if n == wanted],
                      [n for n, _ in layers if n.lower() == wanted.lower()]):
            if len(match) == 1:
                return match[0]
        raise InputError(f"{name} has no layer {wanted!r}; its layers: {listing}",
                         field="layer")
    for n, kind in layers:
        if kind and "point" in kind.lower():
            return n
    for n, kind in layers:
        if kind and kind.lower() in ("unknown", "geometry", "geometrycollection"):
            return n
    raise InputError(f"{name} has no point layer; its layers: {listing}; name the one to read "
                     "(--layer)", field="layer")


def _read_zipped_shapefile(path: Path, layer: str | None) -> PointTable:
    _start(path, b"PK", "a zip archive")
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.namelist() if not m.endswith("/")]
            shapes = sorted(m for m in members if m.lower().endswith(".shp")
                            and not Path(m).name.startswith("."))
            if not shapes:
                raise InputError(f"{path.name} holds no Shapefile (.shp); it holds: "
                                 f"{', '.join(members[:20]) or 'nothing'}", field="path")
            parts = {m.lower(): m for m in members}
            sources = {}
            for shp in shapes:
                stem = shp[:-4]
                dbf = parts.get(f"{stem}.dbf".lower())
                sources[Path(stem).name] = (
                    f"/vsizip/{path.resolve()}/{shp}", _missing_parts(parts, stem),
                    f"{stem}.cpg".lower() in parts, _dbf_head(zf, dbf) if dbf else None)
    except zipfile.BadZipFile as err:
        raise InputError(f"{path.name} is not a readable zip archive ({err})", field="path")
    return _read_shapefiles(path.name, sources, layer)


def _read_shapefile_folder(path: Path, layer: str | None) -> PointTable:
    """A .shp with its sidecar files, or a folder holding Shapefiles (an unpacked upload)."""
    shapes = [path] if path.is_file() else sorted(
        p for p in path.iterdir() if p.suffix.lower() == ".shp" and not p.name.startswith("."))
    if not shapes:
        held = sorted(p.name for p in path.iterdir())
        raise InputError(f"the zip holds no Shapefile (.shp); it holds: "
                         f"{', '.join(held[:20]) or 'nothing'}", field="path")
    sources = {}
    for shp in shapes:
        parts = {p.name.lower(): p.name for p in shp.parent.iterdir()
                 if p.name.lower().startswith(shp.stem.lower() + ".")}
        dbf = parts.get(f"{shp.stem}.dbf".lower())
        head = None
        if dbf:
            with open(shp.parent / dbf, "rb") as f:
                head = f.read(DBF_SAMPLE)
        sources[shp.stem] = (str(shp), _missing_parts(parts, shp.stem),
                             f"{shp.stem}.cpg".lower() in parts, head)
    return _read_shapefiles("the zip" if path.is_dir() else path.name, sources, layer)


def _missing_parts(names: dict, stem: str) -> list[str]:
    return [f"{Path(stem).name}.{ext}" for ext in ("shx", "dbf")
            if f"{stem}.{ext}".lower() not in names]


def _dbf_head(zf: zipfile.ZipFile, member: str) -> bytes:
    with zf.open(member) as f:
        return f.read(DBF_SAMPLE)


def _read_shapefiles(name: str, sources: dict, layer: str | None) -> PointTable:
    """sources: layer name -> (path for GDAL, missing sidecar files, has a .cpg, .dbf start)."""
    import pyogrio
    kinds = {}
    for stem, (where, missing, _, _) in sources.items():
        if missing:
            raise InputError(f"{name}: {stem}.shp comes without {' and '.join(missing)}; keep "
                             "the .shp, .shx, .dbf, .prj (and .cpg) files of a Shapefile "
                             "together", field="path")
        try:
            kinds[stem] = pyogrio.read_info(where)["geometry_type"]
        except Exception as err:
            raise _ogr_error(f"{name} ({stem}.shp)", err) from None
    stem = _choose_layer(name, list(kinds.items()), layer)
    where, _, has_cpg, head = sources[stem]
    encoding = None if has_cpg or head is None else _dbf_encoding(head)
    return _read_layer(where, stem, name, encoding=encoding)


def _dbf_encoding(head: bytes) -> str | None:
    """The encoding of a .dbf that names none (no .cpg; code page byte 0, which GDAL would read
    as Latin-1): UTF-8 when its field names and records decode as UTF-8, else GB18030."""
    if len(head) < 32 or head[29] != 0:
        return None  # GDAL reads the code page byte
    header = int.from_bytes(head[8:10], "little")
    names = b"".join(head[i:i + 11].split(b"\x00")[0]
                     for i in range(32, min(header, len(head)) - 31, 32) if head[i] != 0x0D)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(names, final=True)
        decoder.reset()
        decoder.decode(head[header:], final=len(head) < DBF_SAMPLE)
    except UnicodeDecodeError:
        return "GB18030"
    return "UTF-8"


def _read_layer(where, layer: str, name: str, encoding: str | None = None) -> PointTable:
    import pyogrio
    try:
        frame = pyogrio.read_dataframe(where, layer=layer, encoding=encoding,
                                       datetime_as_string=True)
    except Exception as err:
        raise _ogr_error(name, err) from None
    if frame.empty:
        raise InputError(f"{name}: layer {layer!r} holds no features", field="path")
    return PointTable(*_as_strings(frame), layer)


def _read_parquet(path: Path) -> PointTable:
    import pyarrow.parquet as pq
    _start(path, PARQUET_MAGIC, "a Parquet file")
    with open(path, "rb") as f:
        f.seek(max(path.stat().st_size - 4, 0))
        if f.read(4) != PARQUET_MAGIC:
            raise InputError(f"{path.name} is not a complete Parquet file (cut short?)",
                             field="path")
    try:
        if b"geo" in (pq.read_schema(path).metadata or {}):
            import geopandas as gpd
            frame = gpd.read_parquet(path)
        else:
            frame = pd.read_parquet(path)
    except Exception as err:  # ArrowInvalid, geopandas' ValueError on bad geo metadata
        raise _ogr_error(path.name, err) from None
    if frame.empty:
        raise InputError(f"{path.name} holds no rows", field="path")
    return PointTable(*_as_strings(frame))


def _as_strings(frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """A (Geo)DataFrame as plain string columns like the CSV reader's (missing values as "",
    whole floats without ".0" as ids that NaNs made floats, times in ISO 8601), its active
    point geometry as lon/lat with READ_ERROR for any other geometry; and its CRS."""
    import geopandas as gpd
    geo = isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame.columns
    active = frame._geometry_column_name if geo else None
    out = {}
    for col in frame.columns:
        if col == active:
            continue
        series = frame[col]
        if isinstance(series.dtype, gpd.array.GeometryDtype):  # a second geometry column
            series = gpd.GeoSeries(series).to_wkt()
        out[str(col)] = _text_column(series)
    table = pd.DataFrame(out, index=frame.index)
    crs = None
    if geo:
        lon, lat, problem = _points(np.asarray(frame.geometry.array, dtype=object))
        table["lon"], table["lat"], table[READ_ERROR] = lon, lat, problem
        crs = _crs_name(frame.crs) if frame.crs is not None else None
    return table.reset_index(drop=True), crs


def _text_column(series: pd.Series) -> pd.Series:
    """One column as text ("" for missing values)."""
    missing = series.isna().to_numpy()
    if pd.api.types.is_bool_dtype(series):
        text = series.map({True: "true", False: "false"})
    elif pd.api.types.is_float_dtype(series):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        whole = np.isfinite(values) & (np.mod(values, 1) == 0) & (np.abs(values) < 2 ** 53)
        text = np.where(whole, np.where(whole, values, 0).astype("int64").astype(str),
                        values.astype(str))
    elif pd.api.types.is_integer_dtype(series):
        text = series.astype(str)
    elif pd.api.types.is_datetime64_any_dtype(series):
        text = series.map(lambda v: v.isoformat() if not pd.isna(v) else "")
    elif pd.api.types.is_string_dtype(series) and series.dtype != object:
        text = series
    else:  # objects: dates, bytes, lists ...
        text = series.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else
                          v.hex() if isinstance(v, bytes) else str(v))
    return pd.Series(np.where(missing, "", np.asarray(text, dtype=object)),
                     index=series.index).astype(str)


def _points(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lon, lat (text) and a problem ("" when none) per geometry that should be a point."""
    import shapely
    types = shapely.get_type_id(geoms)
    single = (types == 4) & (shapely.get_num_geometries(geoms) == 1)
    points = np.where(single, shapely.get_geometry(geoms, 0), geoms)
    kinds = np.where(single, 0, types)
    empty = shapely.is_empty(points) & (kinds >= 0)
    ok = (kinds == 0) & ~empty
    x = np.where(ok, shapely.get_x(np.where(ok, points, None)), np.nan)
    y = np.where(ok, shapely.get_y(np.where(ok, points, None)), np.nan)
    problem = np.full(len(geoms), "", dtype=object)
    problem[kinds < 0] = "geometry is null, expected a Point"
    problem[empty] = "geometry is empty, expected a Point"
    for kind in np.unique(kinds[(kinds > 0) & ~empty]):
        problem[(kinds == kind) & ~empty] = \
            f"geometry is a {GEOMETRY_NAMES.get(int(kind), 'geometry')}, expected a Point"
    return (np.where(ok, x.astype(str), ""), np.where(ok, y.astype(str), ""),
            problem.astype(str))


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (of a folder's files, in name order, with their names)."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with every text cell that a spreadsheet would run as a formula (starting with
    = + - @, a tab or a carriage return) prefixed with an apostrophe, which shows it as text.
    Numbers are left alone."""
    out = frame.copy()
    out.columns = [f"'{c}" if isinstance(c, str) and c.startswith(FORMULA_START) else c
                   for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: f"'{v}" if isinstance(v, str)
                                    and v.startswith(FORMULA_START) else v)
    return out


def frame_csv_bytes(frame: pd.DataFrame) -> bytes:
    """A table as CSV for spreadsheets: UTF-8 with a BOM (so that Excel reads Chinese), CRLF
    line ends, formula-like text neutralised (spreadsheet_safe)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    spreadsheet_safe(frame).to_csv(buf, index=False, lineterminator="\r\n")
    return buf.getvalue().encode("utf-8")


@dataclass(frozen=True)
class Download:
    """A file a use case hands to the interface: its bytes, media type and file name."""
    data: bytes
    mimetype: str
    filename: str
