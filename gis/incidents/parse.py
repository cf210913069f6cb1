"""Incident input: parsing and validating one GeoJSON Feature or a whole table of rows.

Times: ISO 8601; a time without an offset is taken as China Standard Time (+08:00).
Coordinates: converted to EPSG:4326 from the given CRS (see gis.geo.crs) before assignment.
Tables from other systems (TableOptions): their columns mapped to the fields, category values
mapped or defaulted, times in a strptime format and an IANA time zone, ids generated from
each row's content when the file has none (or when its ids repeat).
Categories: the deployment's list (gis.categories.rules.Catalogue), passed in by the use case
that loaded it: a new incident takes an active one. Without a list only the form of the code is
checked here (the caller checks the list; the database refuses codes that are not categories).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from gis.categories.rules import CODE, Catalogue
from gis.domain import SEVERITIES, STATUSES
from gis.errors import InputError, UnprocessableError
from gis.files import READ_ERROR
from gis.geo.crs import STORAGE_CRS, normalise_crs_name, to_storage
from gis.times import CST, EARLIEST, LATEST, parse_time

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


def _category(props: dict, categories: Catalogue | None) -> str:
    value = props.get("category")
    if value is None or value == "":
        raise UnprocessableError("category is required", field="category")
    if categories is None:
        if not isinstance(value, str) or not CODE.match(value):
            raise UnprocessableError(f"category {str(value)[:40]!r} is not a category code",
                                     field="category")
        return value
    problem = categories.refusal(value)
    if problem:
        raise UnprocessableError(problem, field="category")
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


def parse_feature(feature, crs: str | None = None, now: datetime | None = None,
                  categories: Catalogue | None = None) -> IncidentInput:
    """Validate a GeoJSON Feature with a Point geometry and incident properties; the category
    must be an active one of `categories` (without them, a well-formed code)."""
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
        category=_category(props, categories),
        severity=_choice(props, "severity", SEVERITIES, default="low"),
        status=_choice(props, "status", STATUSES, default="reported"),
        occurred_at=occurred, reported_at=reported,
        description=_text(props, "description", required=False),
        lon=lon, lat=lat, input_crs=crs_name, input_x=x, input_y=y)


# ---- tables (bulk import) ----

VALIDATE_CHUNK = 200_000  # rows checked at a time, so progress moves on big files
REQUIRED = ("external_id", "category", "occurred_at", "lon", "lat")
# the fields a file's columns may be mapped to (TableOptions.columns)
FIELDS = ("source", "external_id", "category", "severity", "status", "occurred_at",
          "reported_at", "description", "lon", "lat")
ID_DIGITS = 16     # hex digits of the content hash in a generated id (64 bits)
KEPT_ID = 100      # characters of an original id kept in front of its generated id
SHOWN = 40         # characters of a bad value quoted in a row's problem
LISTED = 15        # category codes a row's problem names at most


@dataclass(frozen=True)
class TableOptions:
    """How to read a table another system published.

    columns: field -> the file's column holding it (fields: FIELDS); a column can feed two
        fields; the mapped column replaces one already named like the field.
    categories: the file's category value -> a category code (values not listed stay as
        they are, and must be codes).
    category: the category of rows with none (no category column, or an empty cell).
        The codes of both must be active categories (checked by validate_table against the
        deployment's list; here only their form).
    date_format: strptime format of occurred_at and reported_at (e.g. "%m/%d/%Y %I:%M %p"),
        instead of ISO 8601; a time that does not match it is a bad row.
    tz: IANA time zone of times without an offset (default China Standard Time, +08:00);
        a time repeated by a daylight-saving change is the first (summer) one, a time the
        change skipped is a bad row.
    generate_ids: replace the file's ids by ids generated from each row's content (see
        generated_ids); done anyway when the file has no external_id column.
    """
    columns: dict = field(default_factory=dict)
    categories: dict = field(default_factory=dict)
    category: str | None = None
    date_format: str | None = None
    tz: str | None = None
    generate_ids: bool = False

    def __post_init__(self):
        unknown = [f for f in self.columns if f not in FIELDS]
        if unknown:
            raise InputError(f"map: {', '.join(map(repr, unknown))} "
                             f"{'is not a field' if len(unknown) == 1 else 'are not fields'}; "
                             f"map one of: {', '.join(FIELDS)} (as FIELD=COLUMN)", field="map")
        for value, code in self.categories.items():
            if not CODE.match(code):
                raise InputError(f"category map {value}={code}: {code!r} is not a category "
                                 "code", field="category_map")
        if self.category is not None and not CODE.match(self.category):
            raise InputError(f"category {self.category!r} is not a category code",
                             field="category")
        if self.date_format is not None:
            _check_format(self.date_format)
        if self.tz is not None:
            _zone(self.tz)

    def check_categories(self, categories: Catalogue) -> None:
        """InputError unless every code the options name is an active category."""
        for value, code in self.categories.items():
            problem = categories.refusal(code)
            if problem:
                raise InputError(f"category map {value}={code}: {problem}",
                                 field="category_map")
        if self.category is not None:
            problem = categories.refusal(self.category)
            if problem:
                raise InputError(f"category (of rows without one): {problem}",
                                 field="category")


def parse_pairs(values, what: str) -> dict[str, str]:
    """'KEY=VALUE' strings (split at the first '='; both sides stripped) as a dict; `what`
    names the option in errors."""
    pairs: dict[str, str] = {}
    for item in values or ():
        key, sep, value = str(item).partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise InputError(f"{what} {item!r}: write it as NAME=VALUE", field=what)
        if key in pairs and pairs[key] != value:
            raise InputError(f"{what}: {key!r} is given twice ({pairs[key]!r} and {value!r})",
                             field=what)
        pairs[key] = value
    return pairs


def _check_format(fmt: str) -> None:
    if "%" not in fmt:
        raise InputError(f"date format {fmt!r} has no %-directive (e.g. \"%m/%d/%Y %H:%M\")",
                         field="date_format")
    sample = datetime(2001, 11, 22, 13, 44, 55, tzinfo=CST)
    try:
        datetime.strptime(sample.strftime(fmt), fmt)
        pd.to_datetime(pd.Series([sample.strftime(fmt)]), format=fmt)
    except Exception as err:  # ValueError, re.error (a directive repeated) ...
        raise InputError(f"date format {fmt!r} cannot be used: {err}",
                         field="date_format") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, a long name
        raise InputError(f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai "
                         "or America/Chicago", field="tz") from None


def generates_ids(raw: pd.DataFrame, options: TableOptions | None = None) -> bool:
    """Whether validate_table generates the rows' ids: asked to, or the file has none."""
    options = options or TableOptions()
    return options.generate_ids or ("external_id" not in raw.columns
                                    and "external_id" not in options.columns)


def map_columns(raw: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """The table with each field taken from its mapped column (TableOptions.columns). A column
    is found by its exact name, else by the one name equal to it without regard to case.
    Missing columns: InputError naming them and the file's columns."""
    present = [c for c in raw.columns if c != READ_ERROR]
    resolved, missing = {}, []
    for target, column in columns.items():
        exact = [c for c in present if str(c).strip() == column]
        loose = [c for c in present if str(c).strip().lower() == column.lower()]
        match = exact or (loose if len(loose) == 1 else [])
        if match:
            resolved[target] = match[0]
        else:
            missing.append(column)
    if missing:
        raise InputError(f"map: the file has no column {', '.join(map(repr, missing))}; its "
                         f"columns: {_listing(present)}", field="map")
    out = raw.copy(deep=False)  # columns are added, never changed in place
    for target, column in resolved.items():
        out[target] = raw[column]
    if {"lon", "lat"} <= resolved.keys() and READ_ERROR in out.columns:
        out = out.drop(columns=READ_ERROR)  # the points come from columns, not geometries
    return out


def _listing(columns, limit: int = 60) -> str:
    shown = [str(c) for c in columns if c != READ_ERROR]
    more = f" ... ({len(shown)} in all)" if len(shown) > limit else ""
    return (", ".join(shown[:limit]) or "none") + more


def generated_ids(raw: pd.DataFrame, sources: pd.Series,
                  original: pd.Series | None = None) -> pd.Series:
    """Stable ids from each row's content: the first ID_DIGITS hex digits of SHA-256 over the
    source and every column of the file as read (name and value, columns in name order), after
    the row's original id when it has one ("CASE-17-3f9c..."). The n-th repeat of identical
    content (n >= 2) gets "-n", so identical rows are all kept and a re-import of the same
    file yields the same ids (all duplicates)."""
    columns = sorted((c for c in raw.columns if c != READ_ERROR), key=str)
    text = sources.astype(str)
    for col in columns:
        text = text + "\x1f" + str(col) + "\x1e" + raw[col].astype(str)
    digest = pd.Series([hashlib.sha256(t.encode("utf-8")).hexdigest()[:ID_DIGITS]
                        for t in text], index=raw.index, dtype=str)
    if original is not None:
        kept = original.astype(str).str.strip().str.slice(0, KEPT_ID)
        digest = digest.where(kept == "", kept + "-" + digest)
    n = digest.groupby(digest, sort=False).cumcount().to_numpy() + 1
    return digest.where(n == 1, digest + "-" + pd.Series(n, index=raw.index).astype(str))


def validate_table(raw: pd.DataFrame, crs: str | None = None, default_source: str = "import",
                   now: datetime | None = None, fixed_source: str | None = None,
                   progress=None, options: TableOptions | None = None,
                   categories: Catalogue | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Vectorised checks of every row. Returns (good rows, problems with 1-based row numbers
    as in the file, the header being row 1). progress(rows) is called after each chunk.
    options: how to read a foreign table (TableOptions); categories: the deployment's list
    (a row takes an active category; without the list, a well-formed code)."""
    options = options or TableOptions()
    if categories is not None:
        options.check_categories(categories)
    crs_name = normalise_crs_name(crs)
    table = map_columns(raw, options.columns) if options.columns else raw
    generate = generates_ids(raw, options)
    missing = [c for c in REQUIRED if c not in table.columns
               and not (c == "external_id" and generate)
               and not (c == "category" and options.category)]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}; the file's columns: "
                         f"{_listing(table.columns)}; map a column to a field with "
                         "map FIELD=COLUMN (CLI: --map)", field="columns")
    if generate:
        sources = (table["source"].astype(str).str.strip() if "source" in table.columns
                   else pd.Series("", index=table.index)).replace("", default_source)
        table = table.assign(external_id=generated_ids(
            raw, sources, table["external_id"] if "external_id" in table.columns else None))
    now = pd.Timestamp(now or datetime.now(timezone.utc))
    frames, errors = [], []
    for start in range(0, len(table) or 1, VALIDATE_CHUNK):  # an empty table: one empty part
        part = table.iloc[start:start + VALIDATE_CHUNK]
        df, err = _check_rows(part, crs_name, default_source, now, fixed_source, options,
                              categories)
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
                fixed_source: str | None, options: TableOptions,
                categories: Catalogue | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """The rows converted (lon/lat in storage CRS, times in UTC) and each row's first problem
    ("" when none); repeats across rows are the caller's check."""
    n = len(raw)
    df = pd.DataFrame(index=raw.index)
    get = lambda col, default="": raw[col].astype(str).str.strip() if col in raw.columns \
        else pd.Series(default, index=raw.index)
    df["source"] = get("source", default_source).replace("", default_source)
    df["external_id"] = get("external_id")
    category = get("category")
    if options.categories:
        category = category.replace(options.categories)
    if options.category:
        category = category.replace("", options.category)
    df["category"] = category
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
    flag(df["category"] == "", "category is empty")
    flag_categories(df["category"], categories, flag)
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
    fmt, tz = options.date_format, options.tz
    occurred_raw = get("occurred_at")
    occurred, gap = _times(occurred_raw, fmt, tz)
    flag(gap, _gap_message("occurred_at", occurred_raw, tz))
    flag(occurred.isna(), _time_message("occurred_at", occurred_raw, fmt))
    span = f"{EARLIEST.year}-{LATEST.year - 1}"
    flag((occurred < EARLIEST) | (occurred >= LATEST), f"occurred_at is outside {span}")
    reported_raw = get("reported_at")
    reported, gap = _times(reported_raw, fmt, tz)
    flag(gap, _gap_message("reported_at", reported_raw, tz))
    flag((reported_raw != "") & reported.isna(), _time_message("reported_at", reported_raw, fmt))
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


def flag_categories(values: pd.Series, categories: Catalogue | None, flag) -> None:
    """Flag rows whose category a new incident may not take: not active in `categories`
    (without them: not a well-formed code). Messages are made once per distinct value and
    name at most LISTED codes (a file may repeat a wrong value a million times)."""
    if categories is None:
        bad = ~values.str.fullmatch(CODE.pattern.strip("^$"))
        flag(bad, "'" + values.str.slice(0, SHOWN) + "' is not a category code")
        return
    bad = ~values.isin(categories.active_codes) & (values != "")
    if bad.any():
        messages = {v: categories.refusal(v, limit=LISTED) for v in values[bad].unique()}
        flag(bad, values.map(messages))


def _time_message(name: str, values: pd.Series, fmt: str | None):
    if fmt is None:
        return f"{name} is not an ISO 8601 date-time"
    return (f"{name} '" + values.str.slice(0, SHOWN) + f"' does not match the date format "
            f"'{fmt}'").where(values != "", f"{name} is empty")


def _gap_message(name: str, values: pd.Series, tz: str | None):
    return f"{name} '" + values.str.slice(0, SHOWN) + f"' does not exist in {tz} (the clocks " \
        "skipped it at a daylight-saving change)"


OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _times(values: pd.Series, fmt: str | None = None,
           tz: str | None = None) -> tuple[pd.Series, pd.Series]:
    """Parse ISO 8601 strings, or strings in the strptime format fmt, to UTC; times without an
    offset are in the IANA zone tz (default China Standard Time). Also returns the mask of
    local times that do not exist in tz (skipped by a daylight-saving change)."""
    no_gap = pd.Series(False, index=values.index)
    has_offset = values.str.contains(OFFSET, regex=True) if fmt is None else no_gap
    blank = values == ""
    if fmt is None:
        date_only = values.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
        if tz is None:  # the common case in one pass: CST as a fixed offset
            completed = values.where(has_offset | blank,
                                     values.where(~date_only, values + "T00:00:00") + "+08:00")
            return _utc(pd.to_datetime(completed.where(~blank), errors="coerce",
                                       format="ISO8601", utc=True)), no_gap
        aware = pd.to_datetime(values.where(has_offset), errors="coerce", format="ISO8601",
                               utc=True)
        # wall-clock times: parsed as if UTC (an offset the pattern missed fails), then placed
        wall = pd.to_datetime((values.where(~date_only, values + "T00:00:00") + "+00:00")
                              .where(~has_offset & ~blank), errors="coerce", format="ISO8601",
                              utc=True).dt.tz_localize(None)
    else:
        try:
            parsed = pd.to_datetime(values.where(~blank), errors="coerce", format=fmt,
                                    utc="%z" in fmt)
        except ValueError as err:  # a directive pandas does not parse
            raise InputError(f"date format {fmt!r} cannot be used: {err}",
                             field="date_format") from None
        if "%z" in fmt:
            return _utc(parsed), no_gap
        aware, wall = None, parsed
    local = wall.dt.tz_localize(_zone(tz) if tz else CST, nonexistent="NaT",
                                ambiguous=np.ones(len(wall), dtype=bool)).dt.tz_convert("UTC")
    gap = wall.notna() & local.isna()
    return _utc(local if aware is None else aware.where(has_offset, local)), gap


def _utc(times: pd.Series) -> pd.Series:
    return times.astype("datetime64[us, UTC]")
