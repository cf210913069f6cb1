"""Scale, part 2: what a bulk insert of incidents pays for, per row, cut to what it needs.

Measured on 300,000 rows into an empty table (INSERT ... SELECT from staging): 22.5 s with six
foreign keys, 12 indexes and the due-times trigger; 12.0 s without the keys; 5.6 s without the
12 secondary indexes as well; the trigger alone 2.4 s. After this migration: 8.4 s. So:

- References (generation, grid, hamlet, village, township, city) are checked once per
  statement instead of once per row and reference (below).
- The incident table loses its indexes per level (hamlet, village, township, city) and on
  category: jurisdiction finds covered incidents through their grid (gis.store.scope), and the
  grid table, small, gets those indexes instead.
- The due-times trigger fires only for rows that arrive without due times (WHEN, evaluated
  without calling the function); the bulk path computes them in its INSERT ... SELECT.

The reference triggers read transition tables (about 0.6 s for 300,000 rows, most of it
capturing the rows): one set-based query per INSERT or UPDATE checks every new row, and it checks more than
the keys did: a covered incident's grid belongs to the incident's generation and carries the
same hamlet, village, township and city; an uncovered incident's units exist at their level in
that generation. Deleting a generation, grid or area that an incident still names fails, as the
keys' NO ACTION did (a generation's grids and areas go with it, so its incidents block it; an
area's covered incidents are guarded through its grids, which name it).
Violations raise SQLSTATE 23503 (foreign_key_violation), like the keys.

Revision ID: 0009
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

KEYS = {"generation_id": "generation", "grid_id": "grid", "hamlet_id": "admin_area",
        "village_id": "admin_area", "township_id": "admin_area", "city_id": "admin_area"}


# transition tables allow one event per trigger: one checking trigger per event
CHECKED_EVENTS = ("insert", "update")
GUARDED = ("generation", "grid", "admin_area")


def upgrade():
    drops = ", ".join(f"DROP CONSTRAINT incident_{col}_fkey" for col in KEYS)
    checks = "\n    ".join(
        f"CREATE TRIGGER incident_references_{event} AFTER {event.upper()} ON incident "
        "REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION incident_check_references();"
        for event in CHECKED_EVENTS)
    guards = "\n    ".join(
        f"CREATE TRIGGER {table}_incident_guard AFTER DELETE ON {table} "
        "REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION incident_referenced_guard();" for table in GUARDED)
    op.execute(f"""
    ALTER TABLE incident {drops};

    CREATE FUNCTION incident_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE bad record;
    BEGIN
        SELECT n.id, n.external_id, n.generation_id, n.grid_id INTO bad
        FROM new_rows n
        WHERE n.grid_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM grid g WHERE g.id = n.grid_id
                AND g.generation_id = n.generation_id
                AND g.hamlet_id IS NOT DISTINCT FROM n.hamlet_id
                AND g.village_id = n.village_id AND g.township_id = n.township_id
                AND g.city_id = n.city_id)
        LIMIT 1;
        IF NOT FOUND THEN
            SELECT n.id, n.external_id, n.generation_id, n.grid_id INTO bad
            FROM new_rows n
            WHERE n.grid_id IS NULL AND (
                NOT EXISTS (SELECT 1 FROM generation ge WHERE ge.id = n.generation_id)
                OR EXISTS (
                   SELECT 1 FROM (VALUES (n.hamlet_id, 4), (n.village_id, 3),
                                         (n.township_id, 2), (n.city_id, 1)) AS u(id, level)
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
    {checks}

    CREATE FUNCTION incident_referenced_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE hit bigint;
    BEGIN
        IF TG_TABLE_NAME = 'generation' THEN
            SELECT i.id INTO hit FROM incident i JOIN old_rows o ON i.generation_id = o.id
            LIMIT 1;
        ELSIF TG_TABLE_NAME = 'grid' THEN
            SELECT i.id INTO hit FROM incident i JOIN old_rows o ON i.grid_id = o.id LIMIT 1;
        ELSE  -- covered incidents name a grid, which names the area (a key) and is guarded
            SELECT i.id INTO hit FROM old_rows o JOIN incident i
                ON o.id IN (i.hamlet_id, i.village_id, i.township_id, i.city_id)
            WHERE i.grid_id IS NULL LIMIT 1;
        END IF;
        IF FOUND THEN
            RAISE EXCEPTION 'cannot delete from %: incident % still refers to it',
                            TG_TABLE_NAME, hit USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$;
    {guards}

    DROP INDEX incident_hamlet, incident_village, incident_township, incident_city,
               incident_category;
    CREATE INDEX grid_hamlet ON grid (hamlet_id);
    CREATE INDEX grid_village ON grid (village_id);
    CREATE INDEX grid_township ON grid (township_id);
    CREATE INDEX grid_city ON grid (city_id);

    DROP TRIGGER incident_due_times ON incident;
    CREATE TRIGGER incident_due_times BEFORE INSERT ON incident FOR EACH ROW
        WHEN (NEW.accept_due_at IS NULL OR NEW.resolve_due_at IS NULL)
        EXECUTE FUNCTION incident_due_times();
    """)


def downgrade():
    adds = ", ".join(f"ADD CONSTRAINT incident_{col}_fkey FOREIGN KEY ({col}) "
                     f"REFERENCES {table}(id)" for col, table in KEYS.items())
    drops = "\n    ".join([*(f"DROP TRIGGER {t}_incident_guard ON {t};" for t in GUARDED),
                             "DROP FUNCTION incident_referenced_guard();",
                             *(f"DROP TRIGGER incident_references_{e} ON incident;"
                               for e in CHECKED_EVENTS)])
    op.execute(f"""
    DROP TRIGGER incident_due_times ON incident;
    CREATE TRIGGER incident_due_times BEFORE INSERT ON incident
        FOR EACH ROW EXECUTE FUNCTION incident_due_times();
    DROP INDEX grid_hamlet, grid_village, grid_township, grid_city;
    CREATE INDEX incident_hamlet ON incident (hamlet_id);
    CREATE INDEX incident_village ON incident (village_id);
    CREATE INDEX incident_township ON incident (township_id);
    CREATE INDEX incident_city ON incident (city_id);
    CREATE INDEX incident_category ON incident (category);
    {drops}
    DROP FUNCTION incident_check_references();
    ALTER TABLE incident {adds};
    """)
