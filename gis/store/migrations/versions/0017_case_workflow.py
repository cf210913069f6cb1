"""Case handling: the full workflow (受理/退回 → 立案 → 派遣 → 处置 → 核查 → 结案 → 评价),
departments, stage time limits in working hours and the work calendar.

- New statuses: returned (退回, final), registered (立案), dispatched (派遣), verified (核查通过),
  evaluated (回访评价). `mediating` is shown as 处置中 (in hand), `resolved` as 已处置 (handled).
- public_id: a readable case number (yyyymmdd-nnnnnn, the date the system took the case in;
  more digits past 999,999),
  given to every incident (a column default, so the bulk COPY path fills it too); existing rows
  get theirs from their reporting date and id.
- Assignee, handler, verifier and reporter columns hold account and department ids without
  foreign keys (migration 0009: per-row keys cost the bulk import most); accounts are disabled,
  never deleted, and departments are deactivated.
- Stage clocks: stage_started_at / stage_yellow_at (80 %) / stage_due_at of the current stage
  (accept, dispatch, handle, verify), in working time: work_add(t, seconds) walks work_period,
  the working periods of the calendar (default Mon-Fri 08:30-12:00 and 13:30-17:30 Asia/Shanghai,
  2000-2060; an empty table means natural hours). Limits per category and stage in
  stage_limit ('' = the default of every category). A BEFORE INSERT trigger starts the clock of
  a new open incident; transitions restart it (gis.incidents.handling).

Revision ID: 0017
"""
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

STATUSES = ("'reported', 'accepted', 'mediating', 'resolved', 'escalated', 'closed', "
            "'returned', 'registered', 'dispatched', 'verified', 'evaluated'")
OLD_STATUSES = "'reported', 'accepted', 'mediating', 'resolved', 'escalated', 'closed'"
# at least 6 digits, more past 999,999 (lpad alone would cut them)
PUBLIC_ID_FUNCTION = """
    CREATE FUNCTION next_public_id() RETURNS text LANGUAGE sql VOLATILE AS $$
        SELECT to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-' ||
               lpad(n::text, greatest(6, length(n::text)), '0')
        FROM (SELECT nextval('incident_public_seq') AS n) s
    $$;
"""

# Periods of the default calendar: every Monday-Friday, two periods, local time.
DEFAULT_PERIODS = """
    INSERT INTO work_period (starts, ends)
    SELECT (d + p.s) AT TIME ZONE 'Asia/Shanghai', (d + p.e) AT TIME ZONE 'Asia/Shanghai'
    FROM generate_series(timestamp '2000-01-01', timestamp '2060-12-31', interval '1 day') d,
         (VALUES (time '08:30', time '12:00'), (time '13:30', time '17:30')) p(s, e)
    WHERE extract(isodow FROM d) < 6;
"""


def upgrade():
    op.execute(f"""
    ALTER TABLE incident DROP CONSTRAINT incident_status,
        ADD CONSTRAINT incident_status CHECK (status IN ({STATUSES}));

    CREATE TABLE department (
        id serial PRIMARY KEY,
        name text NOT NULL CHECK (name <> ''),
        unit_level text NOT NULL,
        unit_code text NOT NULL,
        active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX department_name ON department (unit_code, lower(name));
    CREATE TABLE department_member (
        department_id integer NOT NULL REFERENCES department(id) ON DELETE CASCADE,
        account_id integer NOT NULL REFERENCES account(id) ON DELETE CASCADE,
        PRIMARY KEY (department_id, account_id)
    );
    CREATE INDEX department_member_account ON department_member (account_id);

    CREATE SEQUENCE incident_public_seq;
    ALTER TABLE incident
        ADD COLUMN public_id text,
        ADD COLUMN reported_by integer,
        ADD COLUMN returned_at timestamptz,
        ADD COLUMN registered_at timestamptz,
        ADD COLUMN dispatched_at timestamptz,
        ADD COLUMN verified_at timestamptz,
        ADD COLUMN evaluated_at timestamptz,
        ADD COLUMN assignee_account_id integer,
        ADD COLUMN assignee_department_id integer,
        ADD COLUMN resolved_by integer,
        ADD COLUMN verified_by integer,
        ADD COLUMN verify_method text CONSTRAINT incident_verify_method
            CHECK (verify_method IN ('on_site', 'phone')),
        ADD COLUMN satisfaction text CONSTRAINT incident_satisfaction
            CHECK (satisfaction IN ('satisfied', 'basic', 'unsatisfied')),
        ADD COLUMN rework_count integer NOT NULL DEFAULT 0,
        ADD COLUMN remind_count integer NOT NULL DEFAULT 0,
        ADD COLUMN stage_started_at timestamptz,
        ADD COLUMN stage_yellow_at timestamptz,
        ADD COLUMN stage_due_at timestamptz;
    UPDATE incident SET public_id = to_char(reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD')
        || '-' || lpad(id::text, greatest(6, length(id::text)), '0');
    SELECT setval('incident_public_seq', coalesce((SELECT max(id) FROM incident), 0) + 1);
    {PUBLIC_ID_FUNCTION}
    ALTER TABLE incident ALTER COLUMN public_id SET DEFAULT next_public_id(),
        ALTER COLUMN public_id SET NOT NULL;
    CREATE UNIQUE INDEX incident_public_id ON incident (public_id);
    CREATE INDEX incident_assignee_account ON incident (assignee_account_id)
        WHERE assignee_account_id IS NOT NULL;
    CREATE INDEX incident_assignee_department ON incident (assignee_department_id)
        WHERE assignee_department_id IS NOT NULL;
    -- the order supervision reads carded cases in (longest past due first)
    CREATE INDEX incident_stage_due ON incident (stage_due_at, id);
    CREATE INDEX incident_reported_at ON incident (reported_at, id);

    ALTER TABLE incident_event ADD COLUMN details jsonb;
    CREATE INDEX incident_event_account ON incident_event (account_id, at);
    ALTER TABLE account ADD COLUMN tasks_seen_at timestamptz;

    CREATE TABLE stage_limit (
        category text NOT NULL DEFAULT '',
        stage text NOT NULL CHECK (stage IN ('accept', 'dispatch', 'handle', 'verify')),
        hours numeric NOT NULL CHECK (hours > 0 AND hours <= 8760),
        PRIMARY KEY (category, stage)
    );
    INSERT INTO stage_limit (category, stage, hours) VALUES
        ('', 'accept', 4), ('', 'dispatch', 4), ('', 'handle', 40), ('', 'verify', 8);

    CREATE TABLE work_calendar (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        config jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO work_calendar (config) VALUES ('{{"timezone": "Asia/Shanghai",
        "periods": [["08:30", "12:00"], ["13:30", "17:30"]], "weekdays": [1, 2, 3, 4, 5],
        "holidays": [], "workdays": [], "first_year": 2000, "last_year": 2060}}');
    CREATE TABLE work_period (
        starts timestamptz PRIMARY KEY,
        ends timestamptz NOT NULL,
        cum float8 NOT NULL DEFAULT 0,  -- working seconds before starts
        CHECK (ends > starts)
    );
    {DEFAULT_PERIODS}
    UPDATE work_period p SET cum = c.cum FROM (
        SELECT starts, coalesce(sum(extract(epoch FROM ends - starts))
            OVER (ORDER BY starts ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS cum
        FROM work_period) c WHERE c.starts = p.starts;
    CREATE INDEX work_period_cum ON work_period (cum);

    -- t plus `secs` seconds of working time (natural time when the calendar has no periods
    -- or the result lies past its last period)
    CREATE FUNCTION work_add(t timestamptz, secs float8) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
        WITH here AS (
            SELECT coalesce((SELECT p.cum + greatest(extract(epoch FROM least(t, p.ends)
                                                             - p.starts), 0)
                             FROM work_period p WHERE p.starts <= t
                             ORDER BY p.starts DESC LIMIT 1), 0) + secs AS target)
        SELECT coalesce(
            (SELECT CASE WHEN p.starts + make_interval(secs => h.target - p.cum) <= p.ends
                         THEN greatest(p.starts + make_interval(secs => h.target - p.cum), t)
                    END
             FROM work_period p, here h WHERE p.cum < h.target
             ORDER BY p.cum DESC LIMIT 1),
            t + make_interval(secs => secs))
    $$;

    CREATE FUNCTION incident_stage_times() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE st text; h numeric;
    BEGIN
        IF NEW.stage_due_at IS NULL THEN
            st := CASE WHEN NEW.status IN ('reported', 'escalated') THEN 'accept'
                       WHEN NEW.status IN ('accepted', 'registered') THEN 'dispatch'
                       WHEN NEW.status IN ('dispatched', 'mediating') THEN 'handle'
                       WHEN NEW.status = 'resolved' THEN 'verify' END;
            IF st IS NOT NULL THEN
                SELECT hours INTO h FROM stage_limit WHERE stage = st
                    AND category IN (NEW.category, '') ORDER BY category DESC LIMIT 1;
                IF h IS NOT NULL THEN
                    NEW.stage_started_at := NEW.reported_at;
                    NEW.stage_yellow_at := work_add(NEW.reported_at, h * 3600 * 0.8);
                    NEW.stage_due_at := work_add(NEW.reported_at, h * 3600);
                END IF;
            END IF;
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER incident_stage_times BEFORE INSERT ON incident
        FOR EACH ROW EXECUTE FUNCTION incident_stage_times();
    -- open incidents of earlier revisions: their current stage's clock from its start
    UPDATE incident i SET stage_started_at = s.t0,
        stage_yellow_at = work_add(s.t0, s.h * 3600 * 0.8), stage_due_at = work_add(s.t0, s.h * 3600)
    FROM (SELECT i2.id, CASE WHEN i2.status IN ('reported', 'escalated')
                             THEN coalesce(i2.escalated_at, i2.reported_at)
                             WHEN i2.status = 'accepted' THEN i2.accepted_at
                             ELSE coalesce(i2.mediated_at, i2.accepted_at) END AS t0,
                 (SELECT l.hours FROM stage_limit l WHERE l.category IN (i2.category, '')
                    AND l.stage = CASE WHEN i2.status IN ('reported', 'escalated') THEN 'accept'
                                       WHEN i2.status = 'accepted' THEN 'dispatch'
                                       ELSE 'handle' END
                  ORDER BY l.category DESC LIMIT 1) AS h
          FROM incident i2 WHERE i2.status IN ('reported', 'escalated', 'accepted', 'mediating'))
         s WHERE s.id = i.id AND s.t0 IS NOT NULL;
    """)


def downgrade():
    op.execute(f"""
    DROP TRIGGER incident_stage_times ON incident;
    DROP FUNCTION incident_stage_times();
    DROP FUNCTION work_add(timestamptz, float8);
    DROP TABLE work_period, work_calendar, stage_limit;
    ALTER TABLE account DROP COLUMN tasks_seen_at;
    DROP INDEX incident_event_account;
    DROP INDEX incident_reported_at;
    ALTER TABLE incident_event DROP COLUMN details;
    UPDATE incident SET status = CASE status WHEN 'returned' THEN 'closed'
        WHEN 'registered' THEN 'accepted' WHEN 'dispatched' THEN 'mediating'
        WHEN 'verified' THEN 'resolved' WHEN 'evaluated' THEN 'closed' ELSE status END;
    ALTER TABLE incident DROP CONSTRAINT incident_status,
        ADD CONSTRAINT incident_status CHECK (status IN ({OLD_STATUSES}));
    ALTER TABLE incident DROP COLUMN public_id, DROP COLUMN reported_by,
        DROP COLUMN returned_at, DROP COLUMN registered_at, DROP COLUMN dispatched_at,
        DROP COLUMN verified_at, DROP COLUMN evaluated_at, DROP COLUMN assignee_account_id,
        DROP COLUMN assignee_department_id, DROP COLUMN resolved_by, DROP COLUMN verified_by,
        DROP COLUMN verify_method, DROP COLUMN satisfaction, DROP COLUMN rework_count,
        DROP COLUMN remind_count, DROP COLUMN stage_started_at, DROP COLUMN stage_yellow_at,
        DROP COLUMN stage_due_at;
    DROP FUNCTION next_public_id();
    DROP SEQUENCE incident_public_seq;
    DROP TABLE department_member, department;
    """)
