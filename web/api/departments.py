"""Departments API: list (the departments serving the jurisdiction or a unit above it), and
administration (create, rename, deactivate, members). Use cases: gis.departments.manage."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from gis.departments import manage
from web.auth import origin, principal, requires
from web.database import engine
from web.params import json_object
from web.spec import NULLABLE_STR, json_response, op, param

bp = Blueprint("departments_api", __name__, url_prefix="/api/v1")


@bp.get("/departments")
@requires("signed_in")
def list_departments():
    with engine().connect() as conn:
        return jsonify(manage.list_departments(
            conn, principal(), inactive=request.args.get("inactive") == "true"))


@bp.post("/departments")
@requires("account.manage")
def create_department():
    body = json_object()
    with engine().begin() as conn:
        return jsonify(manage.create(conn, principal(), body, origin=origin())), 201


@bp.patch("/departments/<int:department_id>")
@requires("account.manage")
def update_department(department_id: int):
    body = json_object()
    with engine().begin() as conn:
        return jsonify(manage.update(conn, principal(), department_id, body, origin=origin()))


_IDS = {"type": "array", "items": {"type": "integer"}}
DEPARTMENT = {"type": "object", "required": ["id", "name", "unit_code", "active"], "properties": {
    "id": {"type": "integer"}, "name": {"type": "string"},
    "unit_level": {"type": "string"}, "unit_code": {"type": "string"},
    "unit_name": NULLABLE_STR, "active": {"type": "boolean"}, "member_ids": _IDS}}
_NAME = {"type": "string", "minLength": 1, "maxLength": manage.MAX_NAME}

OPENAPI_PATHS = {
    "/departments": {
        "get": op("Departments serving your jurisdiction or a unit above it (dispatch targets)",
                  {"200": json_response({"type": "object", "required": ["departments"],
                                         "properties": {"departments": {
                                             "type": "array", "items": DEPARTMENT}}})},
                  params=[param("inactive", schema={"type": "string", "enum": ["true", "false"]})],
                  tag="departments"),
        "post": op("Create a department (administrators)", {"201": json_response(DEPARTMENT)},
                   body={"required": True, "content": {"application/json": {"schema": {
                       "type": "object", "required": ["name", "unit"], "properties": {
                           "name": _NAME, "unit": {"type": "string", "pattern": r"^\d{12}$"},
                           "member_ids": _IDS}}}}}, tag="departments")},
    "/departments/{department_id}": {"patch": op(
        "Rename, deactivate or set the members of a department (administrators)",
        {"200": json_response(DEPARTMENT)},
        params=[param("department_id", "path", {"type": "integer"})],
        body={"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"name": _NAME, "active": {"type": "boolean"},
                                             "member_ids": _IDS}}}}}, tag="departments")},
}
