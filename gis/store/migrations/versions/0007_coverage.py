"""Coverage: grid staff, cameras, response posts, the road network and the response areas
computed from them; pgRouting when the server has it.

Revision ID: 0007
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    # pgRouting is optional: without it, response areas fall back to speed buffers.
    op.execute("""
    DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgrouting') THEN
            CREATE EXTENSION IF NOT EXISTS pgrouting;
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'pgrouting not created: %', SQLERRM;
    END $$;
    """)
    op.execute("""
    CREATE TABLE staff (
        id serial PRIMARY KEY,
        external_id text NOT NULL CONSTRAINT staff_external_id UNIQUE,
        name text NOT NULL,
        role text NOT NULL CONSTRAINT staff_role
            CHECK (role IN ('grid_head', 'full_time', 'part_time')),
        phone text,
        active boolean NOT NULL DEFAULT true,
        synthetic boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    -- By grid code, so assignments survive a new boundary generation that keeps the code.
    CREATE TABLE staff_grid (
        staff_id integer NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
        grid_code text NOT NULL,
        PRIMARY KEY (staff_id, grid_code)
    );
    CREATE INDEX staff_grid_code ON staff_grid (grid_code);

    CREATE TABLE camera (
        id serial PRIMARY KEY,
        external_id text NOT NULL CONSTRAINT camera_external_id UNIQUE,
        name text,
        range_m double precision NOT NULL CONSTRAINT camera_range
            CHECK (range_m > 0 AND range_m <= 5000),
        direction_deg double precision CONSTRAINT camera_direction
            CHECK (direction_deg >= 0 AND direction_deg < 360),
        fov_deg double precision CONSTRAINT camera_fov CHECK (fov_deg > 0 AND fov_deg <= 360),
        synthetic boolean NOT NULL DEFAULT false,
        geom geometry(Point, 4326) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX camera_geom_gist ON camera USING gist (geom);

    CREATE TABLE response_post (
        id serial PRIMARY KEY,
        external_id text NOT NULL CONSTRAINT response_post_external_id UNIQUE,
        name text NOT NULL,
        kind text NOT NULL CONSTRAINT response_post_kind
            CHECK (kind IN ('police_post', 'patrol_station')),
        synthetic boolean NOT NULL DEFAULT false,
        geom geometry(Point, 4326) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX response_post_geom_gist ON response_post USING gist (geom);

    -- One network, replaced as a whole on import; edges noded at every crossing, nodes numbered
    -- by snapping end points, cost in seconds at the edge's speed.
    CREATE TABLE road (
        id bigserial PRIMARY KEY,
        name text,
        kind text,
        speed_kmh double precision NOT NULL CONSTRAINT road_speed
            CHECK (speed_kmh > 0 AND speed_kmh <= 150),
        length_m double precision NOT NULL CONSTRAINT road_length CHECK (length_m > 0),
        cost_s double precision NOT NULL,
        source bigint NOT NULL,
        target bigint NOT NULL,
        synthetic boolean NOT NULL DEFAULT false,
        geom geometry(LineString, 4326) NOT NULL
    );
    CREATE INDEX road_geom_gist ON road USING gist (geom);
    CREATE TABLE road_node (
        id bigint PRIMARY KEY,
        geom geometry(Point, 4326) NOT NULL
    );
    CREATE INDEX road_node_geom_gist ON road_node USING gist (geom);
    CREATE TABLE road_network (
        id boolean PRIMARY KEY DEFAULT true CONSTRAINT road_network_one CHECK (id),
        source text,
        source_sha256 text,
        imported_at timestamptz NOT NULL DEFAULT now(),
        synthetic boolean NOT NULL DEFAULT false
    );

    -- Reachable areas per post and minute mark, recomputed when posts, roads or settings change.
    CREATE TABLE response_area (
        post_id integer NOT NULL REFERENCES response_post(id) ON DELETE CASCADE,
        minutes smallint NOT NULL CONSTRAINT response_area_minutes CHECK (minutes > 0),
        method text NOT NULL CONSTRAINT response_area_method CHECK (method IN ('network', 'buffer')),
        note text,
        geom geometry(MultiPolygon, 4326) NOT NULL,
        computed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (post_id, minutes)
    );
    CREATE INDEX response_area_geom_gist ON response_area USING gist (geom);

    CREATE TABLE coverage_setting (
        key text PRIMARY KEY,
        value double precision NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by text
    );
    """)


def downgrade():
    op.execute("""
    DROP TABLE coverage_setting; DROP TABLE response_area; DROP TABLE road_network;
    DROP TABLE road_node; DROP TABLE road; DROP TABLE response_post; DROP TABLE camera;
    DROP TABLE staff_grid; DROP TABLE staff;
    """)
