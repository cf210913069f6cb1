"""OpenAPI 3 helpers (apispec): the shared schemas, the helpers every web.api module describes
its routes with (its OPENAPI_PATHS), and the document built from them (served by
web.api.openapi). tests/web/test_openapi.py checks that every API route is described and runs
schemathesis against the live server."""
from __future__ import annotations

from apispec import APISpec

from gis.access.roles import ROLES
from gis.domain import SEVERITIES, STATUSES

ERROR_STATUSES = ("400", "401", "403", "404", "409", "413", "422", "429")
NUMBER = {"type": "number"}
NULLABLE_STR = {"type": "string", "nullable": True}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": "string", "format": "date-time", "nullable": True}
FLAG = {"type": "string", "enum": ["true", "false"]}

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
                "category": {"type": "string", "description": "an active category code of "
                             "the deployment (GET /categories lists them)"},
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
        "generation_id": {"type": "integer", "nullable": True},
        "already_imported": {"type": "integer", "nullable": True},
        "already_active": {"type": "boolean", "nullable": True},
        "outside_jurisdiction": {"type": "integer"}, "dry_run": {"type": "boolean"},
        "generated_ids": {"type": "boolean"}, "input_crs": {"type": "string", "nullable": True},
        "layer": {"type": "string", "nullable": True}}},
}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(schema, description="OK"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def geojson_response(schema, description="OK"):
    return {"description": description,
            "content": {"application/geo+json": {"schema": schema}}}


def op(summary, ok: dict, *, params=(), body=None, tag="gridgis"):
    responses = dict(ok)
    for status in ERROR_STATUSES:
        responses.setdefault(status, {"$ref": f"#/components/responses/Error{status}"})
    operation = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        operation["parameters"] = list(params)
    if body:
        operation["requestBody"] = body
    return operation


def param(name, where="query", schema=None, required=False, description=""):
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema or {"type": "string"}, "description": description}


def multipart(fields: dict):
    return {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}, **fields}}}}}


PAGING = (param("limit", schema={"type": "integer", "minimum": 1, "maximum": 10000}),
          param("offset", schema={"type": "integer", "minimum": 0}))


def build_document(modules) -> dict:
    """The OpenAPI document of the API modules (each describes its routes in OPENAPI_PATHS)."""
    spec = APISpec(title="gridgis API 网格化服务管理接口", version="1", openapi_version="3.0.3",
                   info={"description": "Grids, boundaries, incidents and accounts. Every answer "
                                        "is limited to the caller's jurisdiction."},
                   servers=[{"url": "/api/v1"}])
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
    for status in ERROR_STATUSES:
        spec.components.response(f"Error{status}", json_response(ref("Error"), f"Error {status}"))
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie",
                                                 "name": "gridgis_session"})
    documented = {}
    for module in modules:
        documented.update(module.OPENAPI_PATHS)
    for path, operations in documented.items():
        spec.path(path=path, operations=operations)
    doc = spec.to_dict()
    doc["security"] = [{"bearer": []}, {"session": []}]
    return doc
