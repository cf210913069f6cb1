"""Attachments: photos and documents on incidents and their events, stored in the database
(bytes, SHA-256, a JPEG thumbnail of images, the EXIF location as a suggestion only; images are
stored re-encoded without metadata, gis.attachments.content). Deleting an incident deletes its
attachments; deleting an event keeps them on the incident.

Revision ID: 0016
"""
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
    CREATE TABLE incident_attachment (
        id bigserial PRIMARY KEY,
        incident_id bigint NOT NULL REFERENCES incident(id) ON DELETE CASCADE,
        event_id bigint REFERENCES incident_event(id) ON DELETE SET NULL,
        kind text NOT NULL CHECK (kind IN ('photo', 'document')),
        filename text NOT NULL,
        content_type text NOT NULL,
        size_bytes integer NOT NULL CHECK (size_bytes > 0),
        sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        data bytea NOT NULL,
        thumbnail bytea,
        width integer,
        height integer,
        gps_lon double precision,
        gps_lat double precision,
        account_id integer REFERENCES account(id) ON DELETE SET NULL,
        username text,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    -- photos and PDFs are compressed already: kept out of line, not compressed again
    ALTER TABLE incident_attachment ALTER COLUMN data SET STORAGE EXTERNAL,
        ALTER COLUMN thumbnail SET STORAGE EXTERNAL;
    CREATE INDEX incident_attachment_incident ON incident_attachment (incident_id);
    """)


def downgrade():
    op.execute("DROP TABLE incident_attachment;")
