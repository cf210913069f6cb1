"""Incidents API: report and read incidents, import incident tables, export any filtered
selection (all within the jurisdiction)."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, jsonify, request, url_for

from gis.errors import InputError
from gis.incidents.export import export_incidents as export_selection
from gis.incidents.importing import import_incidents as import_table
from gis.incidents.parse import TableOptions, parse_pairs
from gis.incidents.submit import get_incident as incident_feature
from gis.incidents.submit import report_incident
from web.auth import origin, principal, requires
from web.database import engine
from web.heavy import heavy
from web.downloads import attachment
from web.spec import FLAG, json_response, multipart, op, param, ref
from web.uploads import flag, received_file, upload, uploaded_name

bp = Blueprint("incidents_api", __name__, url_prefix="/api/v1")
INCIDENT_SUFFIXES = (".csv", ".geojson", ".json", ".gpkg", ".zip", ".parquet")


@bp.post("/incidents")
@requires("incident.create")
def post_incident():
    """Store a GeoJSON Feature as an incident; 201 with its assignment, 200 for a repeat."""
    body = request.get_json(silent=True)
    if body is None:
        raise InputError("request body is not valid JSON (send a GeoJSON Feature with "
                         "Content-Type: application/json)")
    with engine().begin() as conn:
        feature, created = report_incident(conn, body, request.args.get("crs"),
                                           actor=principal(), origin=origin())
    response = jsonify(feature)
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("incidents_api.get_incident", incident_id=feature["id"])
    return response


@bp.get("/incidents/<int:incident_id>")
@requires("incident.read")
def get_incident(incident_id: int):
    with engine().connect() as conn:
        p = principal()
        return jsonify(incident_feature(conn, incident_id, p.scope, account_id=p.account_id))


@bp.post("/imports/incidents")
@requires("incident.import")
@upload
@heavy
def import_incidents():
    """Incident table (CSV in UTF-8 or GBK, GeoJSON, GeoPackage, zipped Shapefile or
    GeoParquet); form fields crs, source, skip_bad, dry_run, layer, and for foreign tables
    map (repeated, one FIELD=COLUMN each), category, category_map (repeated, VALUE=CODE),
    date_format, tz, generate_ids. 201 when rows were inserted, else 200 (a dry run: 200)."""
    p = principal()
    form = request.form
    options = TableOptions(columns=parse_pairs(form.getlist("map"), "map"),
                           categories=parse_pairs(form.getlist("category_map"), "category_map"),
                           category=form.get("category") or None,
                           date_format=form.get("date_format") or None,
                           tz=form.get("tz") or None, generate_ids=flag("generate_ids"))
    with received_file(INCIDENT_SUFFIXES) as path:
        report = import_table(engine(), path, crs=form.get("crs") or None,
                              skip_bad=flag("skip_bad"), scope=p.scope, actor=p, origin=origin(),
                              source=form.get("source") or None,
                              filename=uploaded_name(), options=options,
                              layer=form.get("layer") or None, dry_run=flag("dry_run"))
    return jsonify(asdict(report)), 201 if report.inserted and not report.dry_run else 200


@bp.get("/exports/incidents")
@requires("incident.export")
@heavy
def export_incidents():
    """?format=csv|geojson plus the filters of the officials' pages."""
    with engine().begin() as conn:
        download = export_selection(conn, principal(), request.args,
                                    request.args.get("format"),
                                    query=request.query_string.decode(), origin=origin())
    return attachment(download)


TEXT = {"type": "string"}
IMPORT_FIELDS = {
    "crs": {**TEXT, "description": "CRS of the coordinates; default: the file's, else "
                                   "EPSG:4326"},
    "source": TEXT, "skip_bad": FLAG,
    "dry_run": {**FLAG, "description": "check, assign and count; write nothing"},
    "layer": {**TEXT, "description": "GeoPackage or Shapefile layer; default: the first "
                                     "point layer"},
    "map": {"type": "array", "items": TEXT,
            "description": "one FIELD=COLUMN per value (repeat the field), e.g. "
                           "external_id=CaseNo"},
    "category": {**TEXT, "description": "category of rows without one"},
    "category_map": {"type": "array", "items": TEXT,
                     "description": "one VALUE=CODE per value (repeat the field)"},
    "date_format": {**TEXT, "description": "strptime format of the times, e.g. "
                                           "%m/%d/%Y %I:%M %p; default ISO 8601"},
    "tz": {**TEXT, "description": "IANA zone of times without an offset; default "
                                  "China Standard Time (+08:00)"},
    "generate_ids": {**FLAG, "description": "ids from each row's content (files whose ids "
                                            "repeat)"},
}
FILTER_PARAMS = [param("category"), param("source"), param("severity"), param("status"),
                 param("start", schema={"type": "string", "format": "date"}),
                 param("end", schema={"type": "string", "format": "date"}),
                 param("days", schema={"type": "integer", "minimum": 1, "maximum": 3660}),
                 param("unit")]
OPENAPI_PATHS = {
    "/incidents": {"post": op(
        "Report an incident (201 new, 200 repeat of the same)",
        {"200": json_response(ref("Incident")), "201": json_response(ref("Incident"), "Created")},
        params=[param("crs")],
        body={"required": True,
              "content": {"application/json": {"schema": ref("IncidentInput")}}})},
    "/incidents/{incident_id}": {"get": op(
        "One incident", {"200": json_response(ref("Incident"))},
        params=[param("incident_id", "path", {"type": "integer"})])},
    "/imports/incidents": {"post": op(
        "Import an incident table (CSV UTF-8/GBK, GeoJSON, GeoPackage, zipped Shapefile or "
        "GeoParquet), all or nothing; dry_run checks and counts without writing",
        {"200": json_response(ref("ImportReport"), "Nothing new stored, or a dry run"),
         "201": json_response(ref("ImportReport"), "Created")},
        body=multipart(IMPORT_FIELDS), tag="imports")},
    "/exports/incidents": {"get": op(
        "Export the filtered incidents inside the jurisdiction (CSV with BOM, or GeoJSON)",
        {"200": {"description": "The export", "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/geo+json": {"schema": {"type": "object"}}}}},
        params=[param("format", schema={"type": "string", "enum": ["csv", "geojson"]}),
                *FILTER_PARAMS], tag="exports")},
}
