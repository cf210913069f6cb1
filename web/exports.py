"""Exports of any filtered selection of incidents (the officials' pages link here), as CSV
(UTF-8 with BOM so Excel shows Chinese) or GeoJSON. Every export is an audit event."""
from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, request
from sqlalchemy import text

from gis.domain import CATEGORIES
from gis.errors import InputError
from gis.filters import parse_filter
from gis.store import aggregates
from gis.store import boundaries as bstore
from web import engine
from web.auth import audit_event, principal, requires
from web.openapi import _op, _param
from web.params import unit_filter_scope

bp = Blueprint("exports", __name__, url_prefix="/api/v1/exports")
MAX_ROWS = 500_000
COLUMNS = [("external_id", "编号 External id"), ("source", "来源 Source"),
           ("category", "类别 Category"), ("category_zh", "类别名称 Category name"),
           ("severity", "严重程度 Severity"), ("status", "状态 Status"),
           ("occurred_at", "发生时间 Occurred at"), ("reported_at", "上报时间 Reported at"),
           ("lon", "经度 Lon"), ("lat", "纬度 Lat"), ("grid_code", "网格 Grid"),
           ("grid_name", "网格名称 Grid name"), ("village", "村/社区 Village"),
           ("township", "乡镇/街道 Township"), ("description", "描述 Description")]


def _rows(conn, f, unit_scope, gen_id):
    sql, params = aggregates.selection(conn, principal().scope, f, unit_scope, gen_id)
    return conn.execute(text(f"""
        SELECT i.external_id, i.source, i.category, i.severity, i.status, i.occurred_at,
               i.reported_at, round(ST_X(i.geom)::numeric, 6) AS lon,
               round(ST_Y(i.geom)::numeric, 6) AS lat, g.code AS grid_code, g.name AS grid_name,
               v.name AS village, t.name AS township, i.description
        FROM ({sql}) s JOIN incident i ON i.id = s.id
        LEFT JOIN grid g ON g.id = s.grid_id
        LEFT JOIN admin_area v ON v.id = g.village_id
        LEFT JOIN admin_area t ON t.id = g.township_id
        ORDER BY i.occurred_at, i.id LIMIT :max_rows"""),
        {**params, "max_rows": MAX_ROWS + 1}).mappings().all()


@bp.get("/incidents")
@requires("incident.export")
def incidents():
    """?format=csv|geojson plus the filters of the officials' pages."""
    fmt = request.args.get("format") or "csv"
    if fmt not in ("csv", "geojson"):
        raise InputError("format must be csv or geojson", field="format")
    f = parse_filter(request.args)
    with engine().connect() as conn:
        gen = bstore.require_active_generation(conn)
        unit_scope = unit_filter_scope(conn, f)
        rows = _rows(conn, f, unit_scope, gen["id"])
    if len(rows) > MAX_ROWS:
        raise InputError(f"more than {MAX_ROWS:,} incidents match; narrow the filter")
    audit_event("export", "exports/incidents", {"query": request.query_string.decode()[:500],
                                                "format": fmt, "rows": len(rows)})
    name = "incidents-" + (f.unit or "all")
    if fmt == "geojson":
        feats = [{"type": "Feature", "geometry": {"type": "Point",
                                                  "coordinates": [float(r["lon"]), float(r["lat"])]},
                  "properties": {k: _plain(v) for k, v in r.items() if k not in ("lon", "lat")}}
                 for r in rows]
        body = json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False)
        return Response(body, mimetype="application/geo+json", headers={
            "Content-Disposition": f'attachment; filename="{name}.geojson"'})
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([label for _, label in COLUMNS])
    for r in rows:
        values = {**r, "category_zh": CATEGORIES.get(r["category"], ("",))[0]}
        writer.writerow([_plain(values[k]) for k, _ in COLUMNS])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"'})


def frame_csv(frame, filename: str) -> Response:
    """A table as a CSV download, UTF-8 with a BOM so that Excel reads the Chinese names."""
    buf = io.StringIO()
    buf.write("\ufeff")
    frame.to_csv(buf, index=False, lineterminator="\r\n")
    return Response(buf.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None:
        return ""
    return float(value) if hasattr(value, "as_tuple") else value


FILTER_PARAMS = [_param("category"), _param("severity"), _param("status"),
                 _param("start", schema={"type": "string", "format": "date"}),
                 _param("end", schema={"type": "string", "format": "date"}),
                 _param("days", schema={"type": "integer", "minimum": 1, "maximum": 3660}),
                 _param("unit")]
OPENAPI_PATHS = {
    "/exports/incidents": {"get": _op(
        "Export the filtered incidents inside the jurisdiction (CSV with BOM, or GeoJSON)",
        {"200": {"description": "The export", "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/geo+json": {"schema": {"type": "object"}}}}},
        params=[_param("format", schema={"type": "string", "enum": ["csv", "geojson"]}),
                *FILTER_PARAMS], tag="exports")},
}
