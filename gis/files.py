"""The files people exchange with gridgis: reading uploaded point tables (CSV in UTF-8 or
GBK/GB18030, GeoJSON points) into plain string columns with clear errors saying what is wrong
and where; file digests; CSV for spreadsheets; downloads handed to the interfaces."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gis.errors import InputError

# Column read_table fills with a per-row problem found while reading (e.g. a GeoJSON feature
# whose geometry is not a Point); validate_table reports it through its row errors.
READ_ERROR = "_read_error"
CSV_ENCODINGS = ("utf-8-sig", "gb18030")  # GB18030 is a superset of GBK and GB2312


READ_CHUNK = 200_000  # CSV rows parsed at a time, so progress moves on big files


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
        return _read_geojson(path)
    raise InputError(f"{path.name}: unsupported file type; use .csv or .geojson", field="path")


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


def _read_geojson(path: Path) -> pd.DataFrame:
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
    return pd.DataFrame(rows).fillna("").astype(str)


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
