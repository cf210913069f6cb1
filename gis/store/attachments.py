"""Incident attachments in PostGIS (table incident_attachment, migration 0016): the only SQL for
it. Visibility is the caller's (gis.attachments.usecases checks the incident first)."""
from __future__ import annotations

from sqlalchemy import Connection, text

META = ("id", "incident_id", "event_id", "kind", "filename", "content_type", "size_bytes",
        "sha256", "width", "height", "gps_lon", "gps_lat", "account_id", "username",
        "created_at")
SELECT = (f"SELECT {', '.join(META)}, thumbnail IS NOT NULL AS has_thumbnail "
          "FROM incident_attachment")


def count(conn: Connection, incident_id: int) -> int:
    return int(conn.execute(text(
        "SELECT count(*) FROM incident_attachment WHERE incident_id = :i"),
        {"i": incident_id}).scalar_one())


def insert(conn: Connection, incident_id: int, rows: list[dict], *, event_id: int | None,
           account_id: int | None, username: str | None) -> list[dict]:
    """Store attachments (dicts with kind, filename, content_type, size_bytes, sha256, data,
    thumbnail, width, height, gps_lon, gps_lat); returns their metadata in the same order."""
    stmt = text(
        "INSERT INTO incident_attachment (incident_id, event_id, kind, filename, content_type, "
        "size_bytes, sha256, data, thumbnail, width, height, gps_lon, gps_lat, account_id, "
        "username) VALUES (:incident_id, :event_id, :kind, :filename, :content_type, "
        ":size_bytes, :sha256, :data, :thumbnail, :width, :height, :gps_lon, :gps_lat, "
        f":account_id, :username) RETURNING {', '.join(META)}, "
        "thumbnail IS NOT NULL AS has_thumbnail")
    common = {"incident_id": incident_id, "event_id": event_id, "account_id": account_id,
              "username": username}
    return [dict(conn.execute(stmt, {**row, **common}).mappings().one()) for row in rows]


def for_incident(conn: Connection, incident_id: int) -> list[dict]:
    """Metadata of an incident's attachments, oldest first."""
    return [dict(r) for r in conn.execute(text(
        f"{SELECT} WHERE incident_id = :i ORDER BY id"), {"i": incident_id}).mappings()]


def get(conn: Connection, attachment_id: int) -> dict | None:
    """Metadata of one attachment, or None."""
    row = conn.execute(text(f"{SELECT} WHERE id = :id"), {"id": attachment_id}).mappings().first()
    return dict(row) if row else None


def content(conn: Connection, attachment_id: int, *, thumbnail: bool = False) -> bytes | None:
    """The stored bytes (or the thumbnail) of an attachment; None when there are none."""
    column = "thumbnail" if thumbnail else "data"
    value = conn.execute(text(f"SELECT {column} FROM incident_attachment WHERE id = :id"),
                         {"id": attachment_id}).scalar()
    return bytes(value) if value is not None else None
