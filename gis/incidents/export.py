"""Exports of any filtered selection of incidents (the officials' pages link here), as CSV
(UTF-8 with BOM so that Excel shows Chinese) or GeoJSON, with each incident's source and its
category's names and parent class from the deployment's list. Every export is an audit
event."""
from __future__ import annotations

import json

import pandas as pd

from gis.access.roles import Principal
from gis.errors import InputError
from gis.files import Download, frame_csv_bytes
from gis.categories.manage import catalogue
from gis.incidents.filters import parse_filter
from gis.incidents.selection import unit_scope
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import incidents as istore
from gis.store.db import Connection

MAX_ROWS = 500_000
FORMATS = ("csv", "geojson")
COLUMNS = [("external_id", "编号 External id"), ("source", "来源 Source"),
           ("category", "类别 Category"), ("category_zh", "类别名称 Category name"),
           ("category_en", "英文类别名称 Category name (English)"),
           ("parent_class", "大类 Parent class"),
           ("severity", "严重程度 Severity"), ("status", "状态 Status"),
           ("occurred_at", "发生时间 Occurred at"), ("reported_at", "上报时间 Reported at"),
           ("lon", "经度 Lon"), ("lat", "纬度 Lat"), ("grid_code", "网格 Grid"),
           ("grid_name", "网格名称 Grid name"), ("village", "村/社区 Village"),
           ("township", "乡镇/街道 Township"), ("description", "描述 Description")]


CATEGORY_NAMES = ("category_zh", "category_en", "parent_class")


def plain(value):
    """A database value as JSON/CSV text: ISO times, floats for decimals, '' for null."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None:
        return ""
    return float(value) if hasattr(value, "as_tuple") else value


def export_incidents(conn: Connection, actor: Principal, args, fmt: str | None, *,
                     query: str = "", origin: dict | None = None) -> Download:
    """The incidents the filter in `args` selects inside the account's jurisdiction."""
    fmt = fmt or "csv"
    if fmt not in FORMATS:
        raise InputError("format must be csv or geojson", field="format")
    categories = catalogue(conn)
    f = parse_filter(args, categories=categories)
    gen = bstore.require_active_generation(conn, actor.scope, root=args.get("root"))
    rows = istore.export_rows(conn, actor.scope, f, unit_scope(conn, actor.scope, f), gen["id"],
                              limit=MAX_ROWS + 1)
    if len(rows) > MAX_ROWS:
        raise InputError(f"more than {MAX_ROWS:,} incidents match; narrow the filter")
    names = {c.code: (c.name_zh, c.name_en, c.parent_class or "")
             for c in categories.categories}
    for r in rows:
        r.update(zip(CATEGORY_NAMES, names.get(r["category"], ("", "", ""))))
    audit.record(conn, actor, "export", "exports/incidents",
                 details={"query": query[:500], "format": fmt, "rows": len(rows)},
                 **(origin or {}))
    name = "incidents-" + (f.unit or "all")
    if fmt == "geojson":
        feats = [{"type": "Feature",
                  "geometry": {"type": "Point", "coordinates": [float(r["lon"]), float(r["lat"])]},
                  "properties": {k: plain(v) for k, v in r.items() if k not in ("lon", "lat")}}
                 for r in rows]
        body = json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False)
        return Download(body.encode("utf-8"), "application/geo+json", f"{name}.geojson")
    table = pd.DataFrame(
        [[plain(r[k]) for k, _ in COLUMNS] for r in rows],
        columns=[label for _, label in COLUMNS])
    return Download(frame_csv_bytes(table), "text/csv", f"{name}.csv")
