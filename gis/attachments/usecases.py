"""Attachment use cases: add photos and documents to an incident (or to one of its events), list
them, read their bytes. An attachment is visible exactly where its incident is (the incident's
jurisdiction, gis.store.lifecycle.load); adding is all or nothing and audited
("attachment_add") in its transaction."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gis.access.roles import Principal
from gis.access.scope import not_visible
from gis.attachments import content
from gis.errors import Forbidden, NotFound, UnprocessableError
from gis.store import attachments as astore
from gis.store import audit
from gis.store import lifecycle as lstore
from gis.store.db import Connection

ADD_PERMISSIONS = ("incident.create", "incident.manage")


@dataclass(frozen=True)
class Served:
    """Bytes to answer with: the attachment or its thumbnail. inline: an image, shown in the
    browser; documents are downloaded."""
    data: bytes
    content_type: str
    filename: str
    sha256: str
    inline: bool


def _require_incident(conn: Connection, actor: Principal, incident_id: int, *,
                      lock: bool = False) -> None:
    if lstore.load(conn, incident_id, actor.scope, lock=lock,
                   account_id=actor.account_id) is None:
        raise not_visible(actor.scope, "incident", incident_id)


def meta_json(row: dict) -> dict:
    gps = None if row["gps_lon"] is None else {"lon": row["gps_lon"], "lat": row["gps_lat"]}
    return {"id": row["id"], "incident_id": row["incident_id"], "event_id": row["event_id"],
            "kind": row["kind"], "filename": row["filename"],
            "content_type": row["content_type"], "size_bytes": row["size_bytes"],
            "sha256": row["sha256"], "width": row["width"], "height": row["height"],
            "gps_suggestion": gps, "created_at": row["created_at"].isoformat(),
            "username": row["username"], "has_thumbnail": row["has_thumbnail"]}


def add(conn: Connection, actor: Principal, incident_id: int,
        files: list[tuple[str | None, bytes]], event_id: int | None = None,
        origin: dict | None = None) -> dict:
    """Store files ((filename, bytes) pairs) on a visible incident, optionally on one of its
    events: every file is checked and prepared first, and one refused file stores none.
    Returns {"attachments": [metadata, ...]}."""
    if not any(actor.can(p) for p in ADD_PERMISSIONS):
        raise Forbidden(f"role {actor.role} may not add attachments "
                        f"({' or '.join(ADD_PERMISSIONS)})")
    _require_incident(conn, actor, incident_id)
    if event_id is not None and event_id not in {e["id"] for e in
                                                 lstore.events(conn, incident_id)}:
        raise UnprocessableError(f"event {event_id} is not an event of incident {incident_id}",
                                 field="event_id")
    content.check_count(astore.count(conn, incident_id), len(files))
    prepared = [content.prepare(name, data) for name, data in files]
    _require_incident(conn, actor, incident_id, lock=True)  # one upload at a time counts
    content.check_count(astore.count(conn, incident_id), len(files))
    rows = astore.insert(conn, incident_id, [
        {"kind": p.kind, "filename": p.filename, "content_type": p.content_type,
         "size_bytes": p.size_bytes, "sha256": p.sha256, "data": p.data,
         "thumbnail": p.thumbnail, "width": p.width, "height": p.height,
         "gps_lon": p.gps[0] if p.gps else None, "gps_lat": p.gps[1] if p.gps else None}
        for p in prepared], event_id=event_id, account_id=actor.account_id,
        username=actor.username)
    audit.record(conn, actor, "attachment_add", f"incident/{incident_id}", details={
        "event_id": event_id,
        "attachments": [{k: r[k] for k in ("id", "kind", "filename", "size_bytes", "sha256")}
                        for r in rows]}, **(origin or {}))
    return {"attachments": [meta_json(r) for r in rows]}


def list_for(conn: Connection, actor: Principal, incident_id: int) -> dict:
    """{"attachments": [...]}: the metadata of a visible incident's attachments, oldest first."""
    _require_incident(conn, actor, incident_id)
    return {"attachments": [meta_json(r) for r in astore.for_incident(conn, incident_id)]}


def get(conn: Connection, actor: Principal, attachment_id: int,
        thumbnail: bool = False) -> Served:
    """The stored bytes of a visible attachment, or its JPEG thumbnail (images only)."""
    row = astore.get(conn, attachment_id)
    if row is None or lstore.load(conn, row["incident_id"], actor.scope,
                                  account_id=actor.account_id) is None:
        raise not_visible(actor.scope, "attachment", attachment_id)
    if not thumbnail:
        return Served(astore.content(conn, attachment_id), row["content_type"],
                      row["filename"], row["sha256"], inline=row["kind"] == "photo")
    data = astore.content(conn, attachment_id, thumbnail=True)
    if data is None:
        raise NotFound(f"attachment {attachment_id} is a {row['kind']} and has no thumbnail")
    stem = row["filename"].rsplit(".", 1)[0]
    return Served(data, "image/jpeg", f"{stem}-thumbnail.jpg",
                  hashlib.sha256(data).hexdigest(), inline=True)
