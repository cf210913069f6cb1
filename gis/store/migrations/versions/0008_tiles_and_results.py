"""Scale, part 1: data versions that change with every write (tile ETags and caches key on
them), and analysis results stored per grid so that map tiles can draw them (hot spots, rates,
coverage figures) and the state of background work on them, shared by every app process.

Data versions are sequences, one per kind of data: incidents_version (bumped by every statement
that writes incidents, their lifecycle or their re-assignment) and coverage_version (staff,
cameras, posts, roads, response areas, settings). Statement-level triggers, so a bulk COPY bumps
once; sequences take no row lock, so concurrent writers never wait on the counter. A sequence
moves before its transaction commits: readers check that no writer of the data is still open
(gis.store.versions.writers_active) before they key anything on a version.

Revision ID: 0008
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COVERAGE_TABLES = ("staff", "staff_grid", "camera", "response_post", "road",
                   "response_area", "coverage_setting")


def upgrade():
    op.execute("""
    CREATE SEQUENCE incidents_version;
    CREATE SEQUENCE coverage_version;
    CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM nextval(TG_ARGV[0] || '_version');
        RETURN NULL;
    END $$;
    CREATE TRIGGER incident_data_version AFTER INSERT OR UPDATE OR DELETE ON incident
        FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('incidents');
    CREATE TRIGGER incident_assignment_data_version
        AFTER INSERT OR UPDATE OR DELETE ON incident_assignment
        FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('incidents');

    CREATE TABLE analysis_result (
        key text PRIMARY KEY,              -- hash of kind, generation, scope, parameters, versions
        kind text NOT NULL,
        generation_id integer NOT NULL REFERENCES generation(id) ON DELETE CASCADE,
        scope text NOT NULL,               -- the jurisdiction it was computed for
        meta jsonb,                        -- what the result says as a whole (legend, method)
        created_at timestamptz NOT NULL DEFAULT now(),
        used_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE analysis_grid_value (
        result_key text NOT NULL REFERENCES analysis_result(key) ON DELETE CASCADE,
        grid_id integer NOT NULL,
        props jsonb NOT NULL,              -- the per-grid values a tile carries (colour, ...)
        PRIMARY KEY (result_key, grid_id)
    );
    CREATE INDEX analysis_result_used ON analysis_result (used_at);
    CREATE TABLE analysis_job (            -- background work on a result (one row per key)
        key text PRIMARY KEY,
        kind text NOT NULL,
        state text NOT NULL DEFAULT 'queued'
            CHECK (state IN ('queued', 'running', 'done', 'failed')),
        progress real NOT NULL DEFAULT 0,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    """)
    for table in COVERAGE_TABLES:
        op.execute(f"""
        CREATE TRIGGER {table}_data_version AFTER INSERT OR UPDATE OR DELETE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('coverage');""")


def downgrade():
    for table in COVERAGE_TABLES:
        op.execute(f"DROP TRIGGER {table}_data_version ON {table};")
    op.execute("""
    DROP TABLE analysis_job;
    DROP TABLE analysis_grid_value;
    DROP TABLE analysis_result;
    DROP TRIGGER incident_assignment_data_version ON incident_assignment;
    DROP TRIGGER incident_data_version ON incident;
    DROP FUNCTION bump_data_version();
    DROP SEQUENCE coverage_version;
    DROP SEQUENCE incidents_version;
    """)
