"""The OpenAPI 3 document of the whole /api/v1 (built with apispec), served at
/api/v1/openapi.json. tests/test_openapi.py checks that every API route is described and runs
schemathesis against the live server."""
from __future__ import annotations

from functools import lru_cache

from apispec import APISpec
from flask import Blueprint, jsonify

from gis.access import ROLES
from gis.domain import CATEGORIES, SEVERITIES, STATUSES
from gis.store.audit import ACTIONS
from gis.store.features import COLLECTIONS

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

ERROR_STATUSES = ("400", "401", "403", "404", "409", "413", "422", "429")
NUMBER = {"type": "number"}
NULLABLE_STR = {"type": "string", "nullable": True}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "field": {"type": "string"}, "details": {}}}}},
    "Link": {"type": "object", "required": ["href", "rel"],
             "properties": {"href": {"type": "string"}, "rel": {"type": "string"},
                            "type": {"type": "string"}, "title": {"type": "string"}}},
    "Geometry": {"type": "object", "required": ["type", "coordinates"],
                 "properties": {"type": {"type": "string", "enum": [
                     "Point", "Polygon", "MultiPolygon"]}, "coordinates": {"type": "array"}}},
    "Feature": {"type": "object", "required": ["type", "geometry", "properties"],
                "properties": {"type": {"type": "string", "enum": ["Feature"]},
                               "id": {"type": "integer"},
                               "geometry": {"$ref": "#/components/schemas/Geometry"},
                               "properties": {"type": "object"},
                               "links": {"type": "array",
                                         "items": {"$ref": "#/components/schemas/Link"}}}},
    "FeatureCollection": {
        "type": "object", "required": ["type", "features", "numberMatched", "numberReturned"],
        "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                       "features": {"type": "array",
                                    "items": {"$ref": "#/components/schemas/Feature"}},
                       "numberMatched": {"type": "integer"},
                       "numberReturned": {"type": "integer"}, "timeStamp": TIME,
                       "links": {"type": "array",
                                 "items": {"$ref": "#/components/schemas/Link"}}}},
    "IncidentInput": {
        "type": "object", "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": {"type": "object", "required": ["type", "coordinates"], "properties": {
                "type": {"type": "string", "enum": ["Point"]},
                "coordinates": {"type": "array", "items": NUMBER, "minItems": 2,
                                "maxItems": 3}}},
            "crs": {"type": "object"},
            "properties": {"type": "object", "required": ["external_id", "category",
                                                          "occurred_at"], "properties": {
                "external_id": {"type": "string"}, "source": {"type": "string"},
                "category": {"type": "string", "enum": list(CATEGORIES)},
                "severity": {"type": "string", "enum": list(SEVERITIES)},
                "status": {"type": "string", "enum": list(STATUSES)},
                "occurred_at": TIME, "reported_at": TIME,
                "description": {"type": "string"}}}}},
    "Incident": {"allOf": [{"$ref": "#/components/schemas/Feature"}, {
        "type": "object", "properties": {"properties": {"type": "object", "required": [
            "external_id", "category", "status", "occurred_at", "covered"], "properties": {
                "external_id": {"type": "string"}, "source": {"type": "string"},
                "category": {"type": "string"}, "severity": {"type": "string"},
                "status": {"type": "string"}, "occurred_at": TIME, "reported_at": TIME,
                "covered": {"type": "boolean"}, "grid_code": NULLABLE_STR,
                "village_code": NULLABLE_STR, "township_code": NULLABLE_STR}}}}]},
    "Unit": {"type": "object", "nullable": True, "required": ["code", "name"],
             "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                            "kind": {"type": "string"}}},
    "Location": {
        "type": "object", "required": ["generation", "covered", "grid", "point"],
        "properties": {
            "generation": {"type": "integer"}, "covered": {"type": "boolean"},
            "grid": {"type": "object", "nullable": True, "properties": {
                "code": {"type": "string"}, "name": {"type": "string"},
                "households": {"type": "integer"}, "population": {"type": "integer"}}},
            **{k: {"$ref": "#/components/schemas/Unit"}
               for k in ("hamlet", "village", "township", "city")},
            "point": {"type": "object", "required": ["lon", "lat", "input_crs"], "properties": {
                "lon": NUMBER, "lat": NUMBER, "input_crs": {"type": "string"}}}}},
    "Account": {
        "type": "object", "required": ["id", "username", "role", "active", "units"],
        "properties": {"id": {"type": "integer"}, "username": {"type": "string"},
                       "display_name": {"type": "string"},
                       "role": {"type": "string", "enum": list(ROLES)},
                       "role_label": {"type": "string"}, "active": {"type": "boolean"},
                       "units": {"type": "array", "items": {"type": "object", "properties": {
                           "level": {"type": "string"}, "code": {"type": "string"}}}},
                       "created_at": NULLABLE_TIME, "last_sign_in_at": NULLABLE_TIME}},
    "Token": {"type": "object", "required": ["id", "account_id", "name", "prefix"],
              "properties": {"id": {"type": "integer"}, "account_id": {"type": "integer"},
                             "name": {"type": "string"}, "prefix": {"type": "string"},
                             "created_at": NULLABLE_TIME, "last_used_at": NULLABLE_TIME,
                             "revoked_at": NULLABLE_TIME}},
    "ImportReport": {"type": "object", "properties": {
        "rows": {"type": "integer"}, "inserted": {"type": "integer"},
        "duplicates": {"type": "integer"}, "uncovered": {"type": "integer"},
        "bad_rows": {"type": "array"}, "committed": {"type": "boolean"},
        "counts": {"type": "object"}, "problems": {"type": "array"},
        "generation_id": {"type": "integer", "nullable": True}}},
}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description="OK"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _geojson(schema, description="OK"):
    return {"description": description,
            "content": {"application/geo+json": {"schema": schema}}}


def _op(summary, ok: dict, *, params=(), body=None, tag="gridgis"):
    responses = dict(ok)
    for status in ERROR_STATUSES:
        responses.setdefault(status, {"$ref": f"#/components/responses/Error{status}"})
    op = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        op["parameters"] = list(params)
    if body:
        op["requestBody"] = body
    return op


def _param(name, where="query", schema=None, required=False, description=""):
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema or {"type": "string"}, "description": description}


def _multipart(fields: dict):
    return {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}, **fields}}}}}


COLLECTION_ID = _param("collection_id", "path", {"type": "string", "enum": list(COLLECTIONS)})
PAGING = (_param("limit", schema={"type": "integer", "minimum": 1, "maximum": 10000}),
          _param("offset", schema={"type": "integer", "minimum": 0}))
FLAG = {"type": "string", "enum": ["true", "false"]}


def paths() -> dict:
    return {
        "/": {"get": _op("Landing page (OGC API - Features)", {"200": _json({"type": "object"})},
                         tag="features")},
        "/conformance": {"get": _op("Conformance classes", {"200": _json({
            "type": "object", "required": ["conformsTo"],
            "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}}})},
            tag="features")},
        "/collections": {"get": _op("Feature collections", {"200": _json({
            "type": "object", "required": ["collections"],
            "properties": {"collections": {"type": "array", "items": {"type": "object"}}}})},
            tag="features")},
        "/collections/{collection_id}": {"get": _op(
            "One collection", {"200": _json({"type": "object", "required": ["id"]})},
            params=[COLLECTION_ID], tag="features")},
        "/collections/{collection_id}/items": {"get": _op(
            "Features inside the jurisdiction", {"200": _geojson(_ref("FeatureCollection"))},
            params=[COLLECTION_ID, *PAGING,
                    _param("bbox", description="minLon,minLat,maxLon,maxLat"),
                    _param("datetime", description="RFC 3339 instant or interval a/b"),
                    _param("category", schema={"type": "string", "enum": list(CATEGORIES)})],
            tag="features")},
        "/collections/{collection_id}/items/{fid}": {"get": _op(
            "One feature", {"200": _geojson(_ref("Feature"))},
            params=[COLLECTION_ID, _param("fid", "path", {"type": "integer"})],
            tag="features")},
        "/locate": {"get": _op("Grid and units at a point", {"200": _json(_ref("Location"))},
                               params=[_param("lon", schema=NUMBER, required=True),
                                       _param("lat", schema=NUMBER, required=True),
                                       _param("crs", description="EPSG:4326 (default), "
                                              "EPSG:4490, GCJ02, BD09 or EPSG:<code>")])},
        "/incidents": {"post": _op(
            "Report an incident (201 new, 200 repeat of the same)",
            {"200": _json(_ref("Incident")), "201": _json(_ref("Incident"), "Created")},
            params=[_param("crs")],
            body={"required": True,
                  "content": {"application/json": {"schema": _ref("IncidentInput")}}})},
        "/incidents/{incident_id}": {"get": _op(
            "One incident", {"200": _json(_ref("Incident"))},
            params=[_param("incident_id", "path", {"type": "integer"})])},
        "/me": {"get": _op("The signed-in account", {"200": _json(_ref("Account"))},
                           tag="accounts")},
        "/tokens": {
            "get": _op("My API tokens", {"200": _json({
                "type": "object", "required": ["tokens"],
                "properties": {"tokens": {"type": "array", "items": _ref("Token")}}})},
                tag="accounts"),
            "post": _op("Create an API token (the secret is shown once)", {"201": _json({
                "type": "object", "required": ["token", "secret"],
                "properties": {"token": _ref("Token"), "secret": {"type": "string"}}},
                "Created")}, body={"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string"}, "account_id": {"type": "integer"}}}}}},
                tag="accounts")},
        "/tokens/{token_id}": {"delete": _op(
            "Revoke a token", {"200": _json({"type": "object", "required": ["token"],
                                             "properties": {"token": _ref("Token")}})},
            params=[_param("token_id", "path", {"type": "integer"})], tag="accounts")},
        "/accounts": {
            "get": _op("All accounts (administrators)", {"200": _json({
                "type": "object", "required": ["accounts"],
                "properties": {"accounts": {"type": "array", "items": _ref("Account")}}})},
                tag="accounts"),
            "post": _op("Create an account (administrators)",
                        {"201": _json(_ref("Account"), "Created")},
                        body={"required": True, "content": {"application/json": {"schema": {
                            "type": "object", "required": ["username", "role", "password"],
                            "properties": {"username": {"type": "string"},
                                           "role": {"type": "string", "enum": list(ROLES)},
                                           "password": {"type": "string"},
                                           "display_name": {"type": "string"},
                                           "units": {"type": "array",
                                                     "items": {"type": "string"}}}}}}},
                        tag="accounts")},
        "/accounts/{account_id}": {"patch": _op(
            "Change an account (administrators)", {"200": _json(_ref("Account"))},
            params=[_param("account_id", "path", {"type": "integer"})],
            body={"required": True, "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "role": {"type": "string", "enum": list(ROLES)},
                    "active": {"type": "boolean"}, "password": {"type": "string"},
                    "display_name": {"type": "string"},
                    "units": {"type": "array", "items": {"type": "string"}}}}}}},
            tag="accounts")},
        "/audit": {"get": _op("Audit trail, newest first (administrators)", {"200": _json({
            "type": "object", "required": ["events", "total"], "properties": {
                "events": {"type": "array", "items": {"type": "object", "required": [
                    "id", "at", "action"], "properties": {
                    "id": {"type": "integer"}, "at": TIME, "action": {"type": "string"},
                    "username": NULLABLE_STR, "target": NULLABLE_STR, "ip": NULLABLE_STR}}},
                "total": {"type": "integer"}, "limit": {"type": "integer"},
                "offset": {"type": "integer"}}})},
            params=[_param("action", schema={"type": "string", "enum": list(ACTIONS)}),
                    _param("username"), _param("since", schema=TIME),
                    _param("until", schema=TIME), *PAGING], tag="accounts")},
        "/imports/incidents": {"post": _op(
            "Import an incident table (CSV UTF-8/GBK or GeoJSON), all or nothing",
            {"200": _json(_ref("ImportReport")), "201": _json(_ref("ImportReport"), "Created")},
            body=_multipart({"crs": {"type": "string"}, "source": {"type": "string"},
                             "skip_bad": FLAG}), tag="imports")},
        "/imports/boundaries": {"post": _op(
            "Validate (and with commit=true publish) a boundary set (GeoPackage or zip)",
            {"200": _json(_ref("ImportReport")), "201": _json(_ref("ImportReport"), "Created")},
            body=_multipart({"commit": FLAG, "repair": FLAG, "name": {"type": "string"},
                             "crs": {"type": "string"}}), tag="imports")},
        "/openapi.json": {"get": {"summary": "This document", "tags": ["gridgis"],
                                  "security": [],
                                  "responses": {"200": _json({"type": "object"})}}},
    }


@lru_cache(maxsize=1)
def build_document() -> dict:
    spec = APISpec(title="gridgis API 网格化服务管理接口", version="1", openapi_version="3.0.3",
                   info={"description": "Grids, boundaries, incidents and accounts. Every answer "
                                        "is limited to the caller's jurisdiction."},
                   servers=[{"url": "/api/v1"}])
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
    for status in ERROR_STATUSES:
        spec.components.response(f"Error{status}", _json(_ref("Error"), f"Error {status}"))
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie",
                                                 "name": "gridgis_session"})
    from web import blueprint_modules
    documented = paths()
    for module in blueprint_modules():  # modules may describe their own routes
        documented.update(getattr(module, "OPENAPI_PATHS", {}))
    for path, operations in documented.items():
        spec.path(path=path, operations=operations)
    doc = spec.to_dict()
    doc["security"] = [{"bearer": []}, {"session": []}]
    return doc


@bp.get("/openapi.json")
def document():
    return jsonify(build_document())
