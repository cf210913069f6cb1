"""Deployments, part 1: a boundary generation is recognised by its content (not by its file's
name) and knows whether it is the demo's, so the demo can be removed whole; an incident reported
from outside its reporter's jurisdiction keeps that reporter's unit, so the report is stored
(where it lies, or as uncovered) and stays visible to the unit that made it.

Revision ID: 0011
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
    ALTER TABLE generation ADD COLUMN content_sha256 text,
                           ADD COLUMN demo boolean NOT NULL DEFAULT false;
    CREATE INDEX generation_content ON generation (content_sha256);
    -- the demo loader has always named its generation so
    UPDATE generation SET demo = true WHERE name = 'Anda demo';
    ALTER TABLE incident ADD COLUMN reporter_unit text;
    CREATE INDEX incident_reporter_unit ON incident (reporter_unit)
        WHERE reporter_unit IS NOT NULL;
    """)


def downgrade():
    op.execute("""
    DROP INDEX incident_reporter_unit;
    ALTER TABLE incident DROP COLUMN reporter_unit;
    DROP INDEX generation_content;
    ALTER TABLE generation DROP COLUMN content_sha256, DROP COLUMN demo;
    """)
