"""Deployments, part 2: the national ladder of levels. Areas are numbered province 1,
prefecture 2, city (the county rung) 3, township 4, village 5, hamlet 6 (the first four-level
deployments' levels move down by two); grids, incidents and re-assignments name their province
and prefecture too; a grid's units above its leaf may be absent (a ladder that skips a level).
The reference checks of migration 0009 cover the new columns; accounts may hold units of every
level.

Revision ID: 0012
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UNITS = ("hamlet", "village", "township", "city", "prefecture", "province")
NUMBER = {"province": 1, "prefecture": 2, "city": 3, "township": 4, "village": 5, "hamlet": 6}


def _functions(units, number) -> str:
    same = " AND ".join(f"g.{u}_id IS NOT DISTINCT FROM n.{u}_id" for u in units)
    values = ", ".join(f"(n.{u}_id, {number[u]})" for u in units)
    named = ", ".join(f"i.{u}_id" for u in units)
    return f"""
    CREATE OR REPLACE FUNCTION incident_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE bad record;
    BEGIN
        SELECT n.id, n.external_id, n.generation_id, n.grid_id INTO bad
        FROM new_rows n
        WHERE n.grid_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM grid g WHERE g.id = n.grid_id
                AND g.generation_id = n.generation_id AND {same})
        LIMIT 1;
        IF NOT FOUND THEN
            SELECT n.id, n.external_id, n.generation_id, n.grid_id INTO bad
            FROM new_rows n
            WHERE n.grid_id IS NULL AND (
                NOT EXISTS (SELECT 1 FROM generation ge WHERE ge.id = n.generation_id)
                OR EXISTS (
                   SELECT 1 FROM (VALUES {values}) AS u(id, level)
                   WHERE u.id IS NOT NULL AND NOT EXISTS (
                       SELECT 1 FROM admin_area a WHERE a.id = u.id AND a.level = u.level
                       AND a.generation_id = n.generation_id)))
            LIMIT 1;
        END IF;
        IF FOUND THEN
            RAISE EXCEPTION 'incident % (%) names a generation, grid or unit that does not '
                            'exist or does not match its grid (generation %, grid %)',
                            bad.id, bad.external_id, bad.generation_id, bad.grid_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$;

    CREATE OR REPLACE FUNCTION incident_referenced_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE hit bigint;
    BEGIN
        IF TG_TABLE_NAME = 'generation' THEN
            SELECT i.id INTO hit FROM incident i JOIN old_rows o ON i.generation_id = o.id
            LIMIT 1;
        ELSIF TG_TABLE_NAME = 'grid' THEN
            SELECT i.id INTO hit FROM incident i JOIN old_rows o ON i.grid_id = o.id LIMIT 1;
        ELSE  -- covered incidents name a grid, which names the area (a key) and is guarded
            SELECT i.id INTO hit FROM old_rows o JOIN incident i ON o.id IN ({named})
            WHERE i.grid_id IS NULL LIMIT 1;
        END IF;
        IF FOUND THEN
            RAISE EXCEPTION 'cannot delete from %: incident % still refers to it',
                            TG_TABLE_NAME, hit USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$;
    """


def upgrade():
    op.execute(f"""
    ALTER TABLE admin_area DROP CONSTRAINT admin_area_level;
    UPDATE admin_area SET level = level + 2;
    ALTER TABLE admin_area ADD CONSTRAINT admin_area_level CHECK (level BETWEEN 1 AND 6);
    ALTER TABLE account_unit DROP CONSTRAINT account_unit_level,
        ADD CONSTRAINT account_unit_level CHECK (level IN ('province', 'prefecture', 'city',
            'township', 'village', 'hamlet', 'grid'));

    ALTER TABLE grid ADD COLUMN province_id bigint REFERENCES admin_area(id),
                     ADD COLUMN prefecture_id bigint REFERENCES admin_area(id),
                     ALTER COLUMN village_id DROP NOT NULL,
                     ALTER COLUMN township_id DROP NOT NULL,
                     ALTER COLUMN city_id DROP NOT NULL;
    CREATE INDEX grid_province ON grid (province_id);
    CREATE INDEX grid_prefecture ON grid (prefecture_id);
    ALTER TABLE incident ADD COLUMN province_id bigint, ADD COLUMN prefecture_id bigint;
    ALTER TABLE incident_assignment ADD COLUMN province_id bigint REFERENCES admin_area(id),
                                    ADD COLUMN prefecture_id bigint REFERENCES admin_area(id);
    {_functions(UNITS, NUMBER)}
    """)


def downgrade():
    old = {"city": 1, "township": 2, "village": 3, "hamlet": 4}
    op.execute(f"""
    {_functions(UNITS[:4], old)}
    ALTER TABLE account_unit DROP CONSTRAINT account_unit_level,
        ADD CONSTRAINT account_unit_level CHECK (level IN ('city', 'township', 'village',
            'hamlet', 'grid'));
    ALTER TABLE incident_assignment DROP COLUMN province_id, DROP COLUMN prefecture_id;
    ALTER TABLE incident DROP COLUMN province_id, DROP COLUMN prefecture_id;
    DROP INDEX grid_province, grid_prefecture;
    ALTER TABLE grid DROP COLUMN province_id, DROP COLUMN prefecture_id,
                     ALTER COLUMN village_id SET NOT NULL,
                     ALTER COLUMN township_id SET NOT NULL,
                     ALTER COLUMN city_id SET NOT NULL;
    ALTER TABLE admin_area DROP CONSTRAINT admin_area_level;
    UPDATE admin_area SET level = level - 2;
    ALTER TABLE admin_area ADD CONSTRAINT admin_area_level CHECK (level BETWEEN 1 AND 4);
    """)
