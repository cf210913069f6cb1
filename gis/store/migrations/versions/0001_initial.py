"""Initial schema: generations, four-level areas, grids, incidents.

Revision ID: 0001
"""
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("""
    CREATE TABLE generation (
        id serial PRIMARY KEY,
        name text NOT NULL,
        note text,
        source text,
        source_sha256 text,
        is_active boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        activated_at timestamptz
    );
    CREATE UNIQUE INDEX generation_one_active ON generation (is_active) WHERE is_active;

    CREATE TABLE admin_area (
        id bigserial PRIMARY KEY,
        generation_id integer NOT NULL REFERENCES generation(id) ON DELETE CASCADE,
        level smallint NOT NULL CONSTRAINT admin_area_level CHECK (level BETWEEN 1 AND 4),
        kind text NOT NULL,
        code text NOT NULL,
        name text NOT NULL,
        parent_id bigint REFERENCES admin_area(id) ON DELETE CASCADE,
        synthetic boolean NOT NULL DEFAULT false,
        geom geometry(MultiPolygon, 4326) NOT NULL,
        CONSTRAINT admin_area_generation_code UNIQUE (generation_id, code)
    );
    CREATE INDEX admin_area_geom_gist ON admin_area USING gist (geom);
    CREATE INDEX admin_area_parent ON admin_area (parent_id);
    CREATE INDEX admin_area_generation_level ON admin_area (generation_id, level);

    CREATE TABLE grid (
        id bigserial PRIMARY KEY,
        generation_id integer NOT NULL REFERENCES generation(id) ON DELETE CASCADE,
        code text NOT NULL,
        name text NOT NULL,
        area_id bigint NOT NULL REFERENCES admin_area(id) ON DELETE CASCADE,
        hamlet_id bigint REFERENCES admin_area(id),
        village_id bigint NOT NULL REFERENCES admin_area(id),
        township_id bigint NOT NULL REFERENCES admin_area(id),
        city_id bigint NOT NULL REFERENCES admin_area(id),
        households integer NOT NULL DEFAULT 0,
        population integer NOT NULL DEFAULT 0,
        synthetic boolean NOT NULL DEFAULT false,
        geom geometry(MultiPolygon, 4326) NOT NULL,
        CONSTRAINT grid_generation_code UNIQUE (generation_id, code),
        CONSTRAINT grid_counts_nonnegative CHECK (households >= 0 AND population >= 0)
    );
    CREATE INDEX grid_geom_gist ON grid USING gist (geom);
    CREATE INDEX grid_generation ON grid (generation_id);

    CREATE TABLE incident (
        id bigserial PRIMARY KEY,
        source text NOT NULL,
        external_id text NOT NULL,
        category text NOT NULL,
        severity text NOT NULL,
        status text NOT NULL,
        occurred_at timestamptz NOT NULL,
        reported_at timestamptz NOT NULL,
        description text,
        geom geometry(Point, 4326) NOT NULL,
        input_crs text NOT NULL,
        input_x double precision NOT NULL,
        input_y double precision NOT NULL,
        generation_id integer NOT NULL REFERENCES generation(id),
        grid_id bigint REFERENCES grid(id),
        hamlet_id bigint REFERENCES admin_area(id),
        village_id bigint REFERENCES admin_area(id),
        township_id bigint REFERENCES admin_area(id),
        city_id bigint REFERENCES admin_area(id),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT incident_source_external_id UNIQUE (source, external_id)
    );
    CREATE INDEX incident_geom_gist ON incident USING gist (geom);
    CREATE INDEX incident_occurred_at ON incident (occurred_at);
    CREATE INDEX incident_grid ON incident (grid_id);
    CREATE INDEX incident_category ON incident (category);
    """)


def downgrade():
    op.execute("DROP TABLE incident; DROP TABLE grid; DROP TABLE admin_area; DROP TABLE generation;")
