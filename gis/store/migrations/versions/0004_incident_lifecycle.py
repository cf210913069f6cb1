"""Incident lifecycle: the level handling an incident (grid, village, township, city), due times
to accept and to resolve at that level, the times of each state, an event log (who, when, what),
and configurable deadlines per level.

Revision ID: 0004
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
    ALTER TABLE incident
        ADD COLUMN handling_level text NOT NULL DEFAULT 'grid'
            CONSTRAINT incident_handling_level
            CHECK (handling_level IN ('grid', 'village', 'township', 'city')),
        ADD COLUMN accepted_at timestamptz,
        ADD COLUMN resolved_at timestamptz,
        ADD COLUMN closed_at timestamptz,
        ADD COLUMN escalated_at timestamptz,
        ADD COLUMN accept_due_at timestamptz,
        ADD COLUMN resolve_due_at timestamptz,
        ADD COLUMN resolved_level text,
        ADD COLUMN version integer NOT NULL DEFAULT 1;
    ALTER TABLE incident ADD CONSTRAINT incident_status
        CHECK (status IN ('reported', 'accepted', 'mediating', 'resolved', 'escalated', 'closed'));
    CREATE INDEX incident_status_level ON incident (status, handling_level);
    CREATE INDEX incident_due ON incident (resolve_due_at) WHERE status NOT IN ('resolved', 'closed');

    CREATE TABLE incident_event (
        id bigserial PRIMARY KEY,
        incident_id bigint NOT NULL REFERENCES incident(id) ON DELETE CASCADE,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        action text NOT NULL,
        from_status text,
        to_status text NOT NULL,
        from_level text,
        to_level text NOT NULL,
        account_id integer REFERENCES account(id) ON DELETE SET NULL,
        username text,
        note text
    );
    CREATE INDEX incident_event_incident ON incident_event (incident_id, at);

    CREATE TABLE deadline_rule (
        level text PRIMARY KEY CHECK (level IN ('grid', 'village', 'township', 'city')),
        accept_hours numeric NOT NULL CHECK (accept_hours > 0),
        resolve_hours numeric NOT NULL CHECK (resolve_hours > 0)
    );
    INSERT INTO deadline_rule VALUES ('grid', 24, 72), ('village', 24, 168),
                                     ('township', 48, 360), ('city', 72, 720);

    -- Incidents stored before this revision: due times from their reporting time.
    UPDATE incident i SET
        accept_due_at = i.reported_at + make_interval(secs => r.accept_hours * 3600),
        resolve_due_at = i.reported_at + make_interval(secs => r.resolve_hours * 3600)
    FROM deadline_rule r WHERE r.level = 'grid';
    """)


def downgrade():
    op.execute("""
    DROP TABLE deadline_rule; DROP TABLE incident_event;
    DROP INDEX incident_due; DROP INDEX incident_status_level;
    ALTER TABLE incident DROP CONSTRAINT incident_status,
        DROP COLUMN handling_level, DROP COLUMN accepted_at, DROP COLUMN resolved_at,
        DROP COLUMN closed_at, DROP COLUMN escalated_at, DROP COLUMN accept_due_at,
        DROP COLUMN resolve_due_at, DROP COLUMN resolved_level, DROP COLUMN version;
    """)
