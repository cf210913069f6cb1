"""Incident input: parsing and validating one GeoJSON Feature or a whole table of rows.

Times: ISO 8601; a time without an offset is taken as China Standard Time (+08:00).
Coordinates: converted to EPSG:4326 from the given CRS (see gis.geo.crs) before assignment.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from gis.domain import CATEGORIES, SEVERITIES, STATUSES
from gis.errors import InputError, UnprocessableError
from gis.files import READ_ERROR
from gis.geo.crs import STORAGE_CRS, normalise_crs_name, to_storage
from gis.times import EARLIEST, LATEST, parse_time

MAX_ID_LENGTH = 128
MAX_DESCRIPTION = 5000  # characters of free text per incident
COLUMNS = ("source", "external_id", "category", "severity", "status", "occurred_at",
           "reported_at", "description", "lon", "lat", "input_crs", "input_x", "input_y")


@dataclass
class IncidentInput:
    source: str
    external_id: str
    category: str
    severity: str
    status: str
    occurred_at: datetime
    reported_at: datetime
    description: str | None
    lon: float
    lat: float
    input_crs: str
    input_x: float
    input_y: float

    def as_row(self) -> dict:
        return {c: getattr(self, c) for c in COLUMNS}


def _choice(props: dict, field: str, allowed, default=None) -> str:
    value = props.get(field, default)
    if value is None:
        raise UnprocessableError(f"{field} is required", field=field)
    if value not in allowed:
        raise UnprocessableError(f"{field} {value!r} is not one of {', '.join(allowed)}",
                                 field=field)
    return value


def _text(props: dict, field: str, default=None, required=True) -> str | None:
    value = props.get(field, default)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise UnprocessableError(f"{field} is required", field=field)
        return None
    if not isinstance(value, (str, int)):
        raise UnprocessableError(f"{field} must be a string", field=field)
    value = str(value).strip()
    limit = MAX_DESCRIPTION if field == "description" else MAX_ID_LENGTH
    if len(value) > limit:
        raise UnprocessableError(f"{field} is longer than {limit} characters", field=field)
    return value


def feature_crs(feature: dict) -> str | None:
    crs = feature.get("crs")
    if isinstance(crs, dict):
        return (crs.get("properties") or {}).get("name")
    props = feature.get("properties") or {}
    return props.get("crs")


def convert_point(x: float, y: float, crs: str | None) -> tuple[float, float, str]:
    """Convert one point to EPSG:4326 with range checks; returns lon, lat, canonical CRS name."""
    name = normalise_crs_name(crs)
    if name in (STORAGE_CRS, "GCJ02", "BD09"):
        _check_range(x, y)
    lon, lat = to_storage(x, y, name)
    lon, lat = float(lon), float(lat)
    _check_range(lon, lat)
    return lon, lat, name


def _check_range(lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise UnprocessableError("coordinates must be finite numbers", field="geometry")
    if not -180.0 <= lon <= 180.0:
        raise UnprocessableError(f"longitude {lon} is outside -180..180", field="geometry")
    if not -90.0 <= lat <= 90.0:
        raise UnprocessableError(f"latitude {lat} is outside -90..90", field="geometry")


def parse_feature(feature, crs: str | None = None, now: datetime | None = None) -> IncidentInput:
    """Validate a GeoJSON Feature with a Point geometry and incident properties."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise InputError("body must be a GeoJSON Feature ({\"type\": \"Feature\", ...})")
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        raise UnprocessableError("geometry must be a GeoJSON Point", field="geometry")
    coords = geometry.get("coordinates")
    if (not isinstance(coords, list) or len(coords) < 2
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool)
                       for c in coords[:2])):
        raise UnprocessableError("Point coordinates must be [x, y] numbers", field="geometry")
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise UnprocessableError("properties must be an object", field="properties")
    x, y = float(coords[0]), float(coords[1])
    lon, lat, crs_name = convert_point(x, y, crs or feature_crs(feature))
    now = now or datetime.now(timezone.utc)
    occurred = parse_time(props.get("occurred_at"), "occurred_at")
    reported = parse_time(props["reported_at"], "reported_at") if props.get("reported_at") \
        else now
    if reported < occurred:
        raise UnprocessableError("reported_at is earlier than occurred_at", field="reported_at")
    return IncidentInput(
        source=_text(props, "source", default="api"),
        external_id=_text(props, "external_id"),
        category=_choice(props, "category", list(CATEGORIES)),
        severity=_choice(props, "severity", SEVERITIES, default="low"),
        status=_choice(props, "status", STATUSES, default="reported"),
        occurred_at=occurred, reported_at=reported,
        description=_text(props, "description", required=False),
        lon=lon, lat=lat, input_crs=crs_name, input_x=x, input_y=y)


# ---- tables (bulk import) ----

VALIDATE_CHUNK = 200_000  # rows checked at a time, so progress moves on big files


def validate_table(raw: pd.DataFrame, crs: str | None = None, default_source: str = "import",
                   now: datetime | None = None, fixed_source: str | None = None,
                   progress=None) -> tuple[pd.DataFrame, list[dict]]:
    """Vectorised checks of every row. Returns (good rows, problems with 1-based row numbers
    as in the file, the header being row 1). progress(rows) is called after each chunk."""
    crs_name = normalise_crs_name(crs)
    missing = [c for c in ("external_id", "category", "occurred_at", "lon", "lat")
               if c not in raw.columns]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}", field="columns")
    now = pd.Timestamp(now or datetime.now(timezone.utc))
    frames, errors = [], []
    for start in range(0, len(raw) or 1, VALIDATE_CHUNK):  # an empty table: one empty part
        part = raw.iloc[start:start + VALIDATE_CHUNK]
        df, err = _check_rows(part, crs_name, default_source, now, fixed_source)
        frames.append(df)
        errors.append(err)
        if progress:
            progress(len(part))
    df = pd.concat(frames) if len(frames) > 1 else frames[0]
    errors = pd.concat(errors) if len(errors) > 1 else errors[0]
    repeated = (df["source"] + "\x00" + df["external_id"]).duplicated(keep="first")
    errors = errors.where(~repeated | (errors != ""), "external_id repeated within the file")
    bad = errors != ""
    problems = [{"row": int(pos) + 2, "external_id": df["external_id"].iat[pos], "error": msg}
                for pos, msg in zip(np.flatnonzero(bad.to_numpy()), errors[bad])]
    return df[~bad].reset_index(drop=True), problems


def _check_rows(raw: pd.DataFrame, crs_name: str, default_source: str, now: pd.Timestamp,
                fixed_source: str | None) -> tuple[pd.DataFrame, pd.Series]:
    """The rows converted (lon/lat in storage CRS, times in UTC) and each row's first problem
    ("" when none); repeats across rows are the caller's check."""
    n = len(raw)
    df = pd.DataFrame(index=raw.index)
    get = lambda col, default="": raw[col].astype(str).str.strip() if col in raw.columns \
        else pd.Series(default, index=raw.index)
    df["source"] = get("source", default_source).replace("", default_source)
    df["external_id"] = get("external_id")
    df["category"] = get("category")
    df["severity"] = get("severity", "low").replace("", "low")
    df["status"] = get("status", "reported").replace("", "reported")
    df["description"] = get("description").replace("", None)
    errors = pd.Series("", index=raw.index)

    def flag(mask, message):
        nonlocal errors
        errors = errors.where(~mask | (errors != ""), message)

    flag(df["external_id"] == "", "external_id is empty")
    flag(df["external_id"].str.len() > MAX_ID_LENGTH, "external_id is too long")
    flag(df["source"].str.len() > MAX_ID_LENGTH, "source is too long")
    if fixed_source is not None:  # a scoped account's rows are its own
        flag(df["source"] != fixed_source, f"source is set by your account: {fixed_source!r}")
    flag(df["description"].fillna("").str.len() > MAX_DESCRIPTION,
         f"description is longer than {MAX_DESCRIPTION} characters")
    flag(~df["category"].isin(list(CATEGORIES)), "unknown category")
    flag(~df["severity"].isin(SEVERITIES), "unknown severity")
    flag(~df["status"].isin(STATUSES), "unknown status")
    x = pd.to_numeric(get("lon"), errors="coerce")
    y = pd.to_numeric(get("lat"), errors="coerce")
    if READ_ERROR in raw.columns:
        for message in raw.loc[raw[READ_ERROR] != "", READ_ERROR].unique():
            flag(raw[READ_ERROR] == message, message)
    flag(x.isna() | y.isna(), "lon/lat are not numbers")
    if crs_name in (STORAGE_CRS, "GCJ02", "BD09"):
        flag((x.abs() > 180) | (y.abs() > 90), "lon/lat out of range")
    occurred = _times(get("occurred_at"))
    flag(occurred.isna(), "occurred_at is not an ISO 8601 date-time")
    span = f"{EARLIEST.year}-{LATEST.year - 1}"
    flag((occurred < EARLIEST) | (occurred >= LATEST), f"occurred_at is outside {span}")
    reported_raw = get("reported_at")
    reported = _times(reported_raw)
    flag((reported_raw != "") & reported.isna(), "reported_at is not an ISO 8601 date-time")
    reported = reported.fillna(now)
    flag((reported < EARLIEST) | (reported >= LATEST), f"reported_at is outside {span}")
    flag(reported < occurred, "reported_at is earlier than occurred_at")
    ok = (errors == "").to_numpy() & x.notna().to_numpy() & y.notna().to_numpy()
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if ok.any():
        lon[ok], lat[ok] = to_storage(x[ok].to_numpy(), y[ok].to_numpy(), crs_name)
    bad_after = ok & ((np.abs(lon) > 180) | (np.abs(lat) > 90) | ~np.isfinite(lon))
    flag(pd.Series(bad_after, index=raw.index), "coordinates out of range after conversion")
    df["occurred_at"], df["reported_at"] = occurred, reported
    df["lon"], df["lat"] = lon, lat
    df["input_crs"], df["input_x"], df["input_y"] = crs_name, x, y
    return df, errors


def _times(values: pd.Series) -> pd.Series:
    """Parse ISO 8601 strings to UTC; strings without an offset are China Standard Time."""
    has_offset = values.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
    date_only = values.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    completed = values.where(has_offset | (values == ""),
                             values.where(~date_only, values + "T00:00:00") + "+08:00")
    return pd.to_datetime(completed.where(completed != ""), errors="coerce", format="ISO8601",
                          utc=True).astype("datetime64[us, UTC]")
