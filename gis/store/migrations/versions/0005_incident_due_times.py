"""Incident lifecycle, part 2: due times for every new incident from deadline_rule (a BEFORE
INSERT trigger, so single inserts and the bulk COPY path agree), the time mediation started,
and the resolved level restricted to the four handling levels.

Due times count from the reporting time, at the level the incident is inserted at (default
'grid'); explicit due times in the INSERT are kept.

Revision ID: 0005
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
    ALTER TABLE incident
        ADD COLUMN mediated_at timestamptz,
        ADD CONSTRAINT incident_resolved_level
            CHECK (resolved_level IN ('grid', 'village', 'township', 'city'));

    CREATE FUNCTION incident_due_times() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE r deadline_rule%ROWTYPE;
    BEGIN
        IF NEW.accept_due_at IS NULL OR NEW.resolve_due_at IS NULL THEN
            SELECT * INTO r FROM deadline_rule WHERE level = NEW.handling_level;
            IF FOUND THEN
                NEW.accept_due_at := coalesce(NEW.accept_due_at,
                    NEW.reported_at + make_interval(secs => r.accept_hours * 3600));
                NEW.resolve_due_at := coalesce(NEW.resolve_due_at,
                    NEW.reported_at + make_interval(secs => r.resolve_hours * 3600));
            END IF;
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER incident_due_times BEFORE INSERT ON incident
        FOR EACH ROW EXECUTE FUNCTION incident_due_times();

    CREATE INDEX incident_accept_due ON incident (accept_due_at)
        WHERE status IN ('reported', 'escalated');
    """)


def downgrade():
    op.execute("""
    DROP INDEX incident_accept_due;
    DROP TRIGGER incident_due_times ON incident;
    DROP FUNCTION incident_due_times();
    ALTER TABLE incident DROP CONSTRAINT incident_resolved_level, DROP COLUMN mediated_at;
    """)
