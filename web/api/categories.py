"""Incident categories API: the deployment's list (any signed-in account), and its changes
(administrators: add, change or deactivate a category, load a shipped set). Use cases:
gis.categories.manage."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from gis.categories import manage
from gis.categories.rules import CODE, MAX_HOURS, MAX_NAME, MAX_SORT
from gis.categories.sets import SETS
from web.auth import origin, principal, requires
from web.database import engine
from web.params import json_object
from web.spec import FLAG, NULLABLE_STR, json_response, op, param

bp = Blueprint("categories_api", __name__, url_prefix="/api/v1")


@bp.get("/categories")
@requires("signed_in")
def list_categories():
    """The active categories in display order (?inactive=true: the deactivated ones too)."""
    with engine().connect() as conn:
        return jsonify(manage.list_categories(
            conn, inactive=request.args.get("inactive") == "true"))


@bp.post("/categories")
@requires("category.manage")
def create_category():
    body = json_object()
    with engine().begin() as conn:
        return jsonify(manage.create(conn, principal(), body, origin=origin())), 201


@bp.patch("/categories/<code>")
@requires("category.manage")
def update_category(code: str):
    body = json_object()
    with engine().begin() as conn:
        return jsonify(manage.update(conn, principal(), code, body, origin=origin()))


@bp.post("/categories/sets/<name>")
@requires("category.manage")
def load_set(name: str):
    """Add the categories of a shipped set that are not there yet (idempotent)."""
    with engine().begin() as conn:
        return jsonify(manage.load_set(conn, principal(), name, origin=origin()))


_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME}
_HOURS = {"type": "number", "nullable": True, "exclusiveMinimum": True, "minimum": 0,
          "maximum": MAX_HOURS, "description": "null: the handling level's rule"}
_NULLABLE_NUM = {"type": "number", "nullable": True}
CATEGORY = {"type": "object", "required": ["code", "name_zh", "name_en", "active"],
            "properties": {
                "code": {"type": "string"}, "name_zh": {"type": "string"},
                "name_en": {"type": "string"}, "label": {"type": "string"},
                "parent_class": NULLABLE_STR, "parent_class_en": NULLABLE_STR,
                "active": {"type": "boolean"}, "dispute": {"type": "boolean"},
                "sort_order": {"type": "integer"}, "accept_hours": _NULLABLE_NUM,
                "resolve_hours": _NULLABLE_NUM,
                "changed": {"type": "array", "items": {"type": "string"}}}}
_FIELDS = {"name_zh": _NAME, "name_en": _NAME,
           "parent_class": {**_NAME, "nullable": True,
                            "description": "major class, e.g. 矛盾纠纷 or 市容环境"},
           "active": {"type": "boolean"},
           "sort_order": {"type": "integer", "minimum": 0, "maximum": MAX_SORT},
           "accept_hours": _HOURS, "resolve_hours": _HOURS}
OPENAPI_PATHS = {
    "/categories": {
        "get": op("The deployment's incident categories (active ones; inactive=true: all), with "
                  "their names, parent class and deadlines", {"200": json_response({
                      "type": "object", "required": ["categories", "parent_classes"],
                      "properties": {
                          "categories": {"type": "array", "items": CATEGORY},
                          "parent_classes": {"type": "array", "items": {
                              "type": "object", "properties": {
                                  "parent_class": NULLABLE_STR, "label": {"type": "string"},
                                  "codes": {"type": "array",
                                            "items": {"type": "string"}}}}}}})},
                  params=[param("inactive", schema=FLAG)], tag="categories"),
        "post": op("Add a category (administrators); 409 when the code exists",
                   {"201": json_response(CATEGORY, "Created")},
                   body={"required": True, "content": {"application/json": {"schema": {
                       "type": "object", "required": ["code", "name_zh", "name_en"],
                       "properties": {"code": {"type": "string", "pattern": CODE.pattern},
                                      **_FIELDS}}}}},
                   tag="categories")},
    "/categories/{code}": {"patch": op(
        "Change a category (administrators): names, parent class, order, deadlines, active "
        "(false: no new incidents; categories are never deleted)",
        {"200": json_response(CATEGORY)}, params=[param("code", "path")],
        body={"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": _FIELDS}}}}, tag="categories")},
    "/categories/sets/{name}": {"post": op(
        "Load a shipped category set (administrators): cjt214, the CJ/T 214 urban-management "
        "events, or default; categories already there stay as they are",
        {"200": json_response({"type": "object", "required": ["set", "added", "present"],
                               "properties": {"set": {"type": "string"},
                                              "label": {"type": "string"},
                                              "added": {"type": "array",
                                                        "items": {"type": "string"}},
                                              "present": {"type": "integer"}}})},
        params=[param("name", "path", {"type": "string", "enum": list(SETS)})],
        tag="categories")},
}
