"""Attachments API: photos and documents on incidents (multipart uploads, one or more files in
the field 'file'), their list, and their bytes and thumbnails, inside the jurisdiction. Use
cases: gis.attachments.usecases."""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request, url_for

from gis.attachments import content, usecases
from gis.errors import InputError
from web.auth import origin, principal, requires
from web.database import engine
from web.heavy import heavy
from web.spec import NULLABLE_STR, TIME, json_response, op, param
from web.uploads import upload

bp = Blueprint("attachments_api", __name__, url_prefix="/api/v1")


def _with_urls(body: dict) -> dict:
    for item in body["attachments"]:
        item["url"] = url_for("attachments_api.attachment", attachment_id=item["id"])
        item["thumbnail_url"] = url_for("attachments_api.thumbnail", attachment_id=item["id"]) \
            if item.pop("has_thumbnail") else None
    return body


def _event_id() -> int | None:
    raw = (request.form.get("event_id") or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InputError(f"event_id={raw!r} is not an integer", field="event_id")


@bp.post("/incidents/<int:incident_id>/attachments")
@requires("incident.read")  # and incident.create or incident.manage: checked by the use case
@upload
@heavy
def add(incident_id: int):
    """Attach photos or PDF documents (multipart field 'file', repeated); optional form field
    event_id: the event of the incident they document. 201 with their metadata."""
    event_id = _event_id()
    files = []
    for item in request.files.getlist("file"):
        data = item.stream.read(content.MAX_FILE_BYTES + 1)  # enough to know it is too large
        if item.filename or data:
            files.append((item.filename, data))
    with engine().begin() as conn:
        body = usecases.add(conn, principal(), incident_id, files, event_id=event_id,
                            origin=origin())
    return jsonify(_with_urls(body)), 201


@bp.get("/incidents/<int:incident_id>/attachments")
@requires("incident.read")
def list_attachments(incident_id: int):
    with engine().connect() as conn:
        return jsonify(_with_urls(usecases.list_for(conn, principal(), incident_id)))


def _served(served: usecases.Served) -> Response:
    """The bytes with their type, never sniffed; images inline, documents as downloads; cached
    only by the browser, which revalidates (the access check runs each time; 304 when the
    ETag, the SHA-256, still matches)."""
    res = Response(served.data, mimetype=served.content_type)
    name = served.filename
    fallback = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    disposition = f'{"inline" if served.inline else "attachment"}; filename="{fallback}"'
    if fallback != name:
        disposition += f"; filename*=UTF-8''{quote(name)}"
    res.headers["Content-Disposition"] = disposition
    res.headers["X-Content-Type-Options"] = "nosniff"
    res.set_etag(served.sha256)
    res.cache_control.private = True
    res.cache_control.no_cache = True
    return res.make_conditional(request)


@bp.get("/attachments/<int:attachment_id>")
@requires("incident.read")
def attachment(attachment_id: int):
    with engine().connect() as conn:
        return _served(usecases.get(conn, principal(), attachment_id))


@bp.get("/attachments/<int:attachment_id>/thumbnail")
@requires("incident.read")
def thumbnail(attachment_id: int):
    with engine().connect() as conn:
        return _served(usecases.get(conn, principal(), attachment_id, thumbnail=True))


# ---- OpenAPI (merged into /api/v1/openapi.json by web.spec) ----

_INT = {"type": "integer"}
_NULLABLE_INT = {"type": "integer", "nullable": True}
_META = {"type": "object", "required": ["id", "kind", "filename", "content_type", "size_bytes",
                                        "sha256", "url"], "properties": {
    "id": _INT, "incident_id": _INT, "event_id": _NULLABLE_INT,
    "kind": {"type": "string", "enum": list(content.KINDS)}, "filename": {"type": "string"},
    "content_type": {"type": "string", "enum": [t[1] for t in content.TYPES.values()]},
    "size_bytes": _INT, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "width": _NULLABLE_INT, "height": _NULLABLE_INT,
    "gps_suggestion": {"type": "object", "nullable": True, "required": ["lon", "lat"],
                       "description": "where the photo's EXIF says it was taken (WGS84); a "
                                      "suggestion only, removed from the stored image",
                       "properties": {"lon": {"type": "number"}, "lat": {"type": "number"}}},
    "created_at": TIME, "username": NULLABLE_STR, "url": {"type": "string"},
    "thumbnail_url": NULLABLE_STR}}
_LIST = {"type": "object", "required": ["attachments"],
         "properties": {"attachments": {"type": "array", "items": _META}}}
_BINARY = {"type": "string", "format": "binary"}
_CACHED = {"304": {"description": "Not modified (If-None-Match matched the ETag)"}}
_IF_NONE_MATCH = param("If-None-Match", "header", description="the ETag (SHA-256) you have")
_ATTACHMENT_ID = param("attachment_id", "path", _INT)
_INCIDENT_ID = param("incident_id", "path", _INT)

OPENAPI_PATHS = {
    "/incidents/{incident_id}/attachments": {
        "post": op(
            f"Attach photos (JPEG, PNG, WebP, GIF) or PDF documents to an incident inside your "
            f"jurisdiction: type checked by content, at most {content.MAX_FILE_BYTES // 2**20} "
            f"MiB each and {content.MAX_FILES} per incident, all or nothing; images are stored "
            "without EXIF (the EXIF location comes back as gps_suggestion)",
            {"201": json_response(_LIST, "Created")}, params=[_INCIDENT_ID],
            body={"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "properties": {
                    "file": {"type": "array", "items": _BINARY, "minItems": 1,
                             "maxItems": content.MAX_FILES},
                    "event_id": {**_INT, "description": "the incident's event the files "
                                                        "document (GET .../events)"}}}}}},
            tag="attachments"),
        "get": op("An incident's attachments, oldest first", {"200": json_response(_LIST)},
                  params=[_INCIDENT_ID], tag="attachments")},
    "/attachments/{attachment_id}": {"get": op(
        "The stored bytes of an attachment (images inline, PDF as a download; ETag: SHA-256)",
        {"200": {"description": "The file", "content": {
            t[1]: {"schema": _BINARY} for t in content.TYPES.values()}}, **_CACHED},
        params=[_ATTACHMENT_ID, _IF_NONE_MATCH], tag="attachments")},
    "/attachments/{attachment_id}/thumbnail": {"get": op(
        f"A JPEG thumbnail of an image attachment ({content.THUMB_SIDE} px at most)",
        {"200": {"description": "The thumbnail", "content": {"image/jpeg": {"schema": _BINARY}}},
         **_CACHED}, params=[_ATTACHMENT_ID, _IF_NONE_MATCH], tag="attachments")},
}
