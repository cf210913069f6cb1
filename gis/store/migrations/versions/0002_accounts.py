"""Accounts with roles and jurisdictions, web sessions, API tokens, audit trail; indexes for
jurisdiction filters on incidents and grids.

Revision ID: 0002
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
    CREATE TABLE account (
        id serial PRIMARY KEY,
        username text NOT NULL,
        display_name text NOT NULL DEFAULT '',
        role text NOT NULL CONSTRAINT account_role
            CHECK (role IN ('admin', 'planner', 'official', 'grid_worker', 'client')),
        password_hash text,
        active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_sign_in_at timestamptz
    );
    CREATE UNIQUE INDEX account_username ON account (lower(username));

    -- Jurisdiction: one or more units (any level, or grids); none means the whole system.
    CREATE TABLE account_unit (
        account_id integer NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        level text NOT NULL CONSTRAINT account_unit_level
            CHECK (level IN ('city', 'township', 'village', 'hamlet', 'grid')),
        code text NOT NULL,
        PRIMARY KEY (account_id, level, code)
    );

    CREATE TABLE web_session (
        token_sha256 text PRIMARY KEY,
        account_id integer NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz,
        ip text,
        user_agent text
    );
    CREATE INDEX web_session_account ON web_session (account_id);

    CREATE TABLE api_token (
        id serial PRIMARY KEY,
        account_id integer NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        name text NOT NULL,
        prefix text NOT NULL,
        token_sha256 text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
    );
    CREATE INDEX api_token_account ON api_token (account_id);

    CREATE TABLE audit_event (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        account_id integer REFERENCES account(id) ON DELETE SET NULL,
        username text,
        action text NOT NULL,
        target text,
        ip text,
        user_agent text,
        details jsonb
    );
    CREATE INDEX audit_event_at ON audit_event (at);
    CREATE INDEX audit_event_action ON audit_event (action, at);
    CREATE INDEX audit_event_account ON audit_event (account_id, at);

    CREATE INDEX incident_township ON incident (township_id);
    CREATE INDEX incident_village ON incident (village_id);
    CREATE INDEX incident_hamlet ON incident (hamlet_id);
    CREATE INDEX incident_city ON incident (city_id);
    CREATE INDEX incident_uncovered ON incident (generation_id) WHERE grid_id IS NULL;
    CREATE INDEX grid_code_prefix ON grid (code text_pattern_ops);
    CREATE INDEX admin_area_code_prefix ON admin_area (code text_pattern_ops);
    """)


def downgrade():
    op.execute("""
    DROP INDEX admin_area_code_prefix; DROP INDEX grid_code_prefix;
    DROP INDEX incident_uncovered; DROP INDEX incident_city; DROP INDEX incident_hamlet;
    DROP INDEX incident_village; DROP INDEX incident_township;
    DROP TABLE audit_event; DROP TABLE api_token; DROP TABLE web_session;
    DROP TABLE account_unit; DROP TABLE account;
    """)
