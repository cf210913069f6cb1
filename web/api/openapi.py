"""The OpenAPI document of the whole /api/v1, served at /api/v1/openapi.json (public)."""
from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, jsonify

from web.spec import build_document, json_response

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

OPENAPI_PATHS = {
    "/openapi.json": {"get": {"summary": "This document", "tags": ["gridgis"], "security": [],
                              "responses": {"200": json_response({"type": "object"})}}},
}


@lru_cache(maxsize=1)
def document_body() -> dict:
    from web import api
    return build_document(api.MODULES)


@bp.get("/openapi.json")
def document():
    return jsonify(document_body())
