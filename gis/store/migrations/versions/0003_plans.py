"""Planners' draft plans: a working copy of grids for one unit, an edit log that is also the
undo/redo stack, optimistic locking by version; re-assignments of past incidents under other
generations (the original assignment on the incident row never changes).

Revision ID: 0003
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
    CREATE TABLE plan_draft (
        id serial PRIMARY KEY,
        name text NOT NULL,
        note text,
        author_id integer REFERENCES account(id) ON DELETE SET NULL,
        base_generation_id integer NOT NULL REFERENCES generation(id),
        unit_code text NOT NULL,          -- the city, township or village the draft covers
        version integer NOT NULL DEFAULT 1,
        status text NOT NULL DEFAULT 'open'
            CONSTRAINT plan_draft_status CHECK (status IN ('open', 'published', 'discarded')),
        published_generation_id integer REFERENCES generation(id),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE plan_grid (
        draft_id integer NOT NULL REFERENCES plan_draft(id) ON DELETE CASCADE,
        code text NOT NULL,
        name text NOT NULL,
        parent_code text NOT NULL,
        households integer NOT NULL DEFAULT 0 CHECK (households >= 0),
        population integer NOT NULL DEFAULT 0 CHECK (population >= 0),
        geom geometry(MultiPolygon, 4326) NOT NULL,
        PRIMARY KEY (draft_id, code)
    );
    CREATE INDEX plan_grid_geom_gist ON plan_grid USING gist (geom);

    -- Applied edits in order; undone ones stay (redo) until a new edit discards them.
    CREATE TABLE plan_edit (
        id bigserial PRIMARY KEY,
        draft_id integer NOT NULL REFERENCES plan_draft(id) ON DELETE CASCADE,
        seq integer NOT NULL,
        op text NOT NULL,
        change jsonb NOT NULL,
        author_id integer REFERENCES account(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        undone boolean NOT NULL DEFAULT false,
        CONSTRAINT plan_edit_seq UNIQUE (draft_id, seq)
    );

    CREATE TABLE incident_assignment (
        incident_id bigint NOT NULL REFERENCES incident(id) ON DELETE CASCADE,
        generation_id integer NOT NULL REFERENCES generation(id) ON DELETE CASCADE,
        grid_id bigint REFERENCES grid(id),
        hamlet_id bigint REFERENCES admin_area(id),
        village_id bigint REFERENCES admin_area(id),
        township_id bigint REFERENCES admin_area(id),
        city_id bigint REFERENCES admin_area(id),
        assigned_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (incident_id, generation_id)
    );
    CREATE INDEX incident_assignment_grid ON incident_assignment (generation_id, grid_id);
    """)


def downgrade():
    op.execute("DROP TABLE incident_assignment; DROP TABLE plan_edit; DROP TABLE plan_grid; "
               "DROP TABLE plan_draft;")
