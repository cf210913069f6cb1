"""Categories as data: a deployment's list of incident categories (table category: code,
Chinese and English name, parent class, active, sort order, optional deadlines), seeded with
the ten categories of earlier revisions. The optional CJ/T 214 set is loaded on demand
(gis.categories.sets; `gridgis categories load-set cjt214`).

- incident.category stays text with no row-level foreign key (migration 0009: per-row keys
  cost the bulk import most). A statement-level trigger checks the categories of inserted
  rows exist (their distinct values against the table: about 40 ms per 200,000 rows, against
  about 8 s for importing them; SQLSTATE 23503 like a key), and
  deleting a category that incidents carry fails the same way; codes never change. Whether a
  category is active is checked where incidents come in (gis.incidents.parse).
- Codes already carried by incidents but not among the ten are kept as deactivated
  categories named by their code, so every stored incident stays valid.
- Due times of a new incident: the category's accept_hours / resolve_hours where set, else the
  hours of the handling level's rule (incident_due_times is replaced; the bulk insert in
  gis.store.incidents computes the same in its INSERT ... SELECT). Escalations and reopening
  keep the level rules (gis.incidents.lifecycle).
- Writes to category move the incidents data version (stored figures and tiles carry
  category names and the "dispute" group).

Revision ID: 0014
"""
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# (code, Chinese, English, parent class): gis.domain.CATEGORIES as of this revision
SEED = (
    ("dispute_neighbour", "邻里纠纷", "Neighbour dispute", "矛盾纠纷"),
    ("dispute_family", "婚姻家庭纠纷", "Family dispute", "矛盾纠纷"),
    ("dispute_land", "土地纠纷", "Land dispute", "矛盾纠纷"),
    ("dispute_labour", "劳资纠纷", "Labour dispute", "矛盾纠纷"),
    ("dispute_property", "物业纠纷", "Property-management dispute", "矛盾纠纷"),
    ("traffic_accident", "交通事故纠纷", "Traffic accident", "治安安全"),
    ("public_security", "治安事件", "Public-security event", "治安安全"),
    ("safety_hazard", "公共安全隐患", "Safety hazard", "治安安全"),
    ("hotline_12345", "12345热线诉求", "12345 hotline complaint", "群众诉求"),
    ("petition", "信访", "Petition", "群众诉求"),
)

DUE_TIMES_0005 = """
    CREATE OR REPLACE FUNCTION incident_due_times() RETURNS trigger LANGUAGE plpgsql AS $$
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
"""


def upgrade():
    seed = ",\n        ".join(f"('{c}', '{zh}', '{en}', '{p}', {10 * (i + 1)})"
                              for i, (c, zh, en, p) in enumerate(SEED))
    op.execute(f"""
    CREATE TABLE category (
        code text PRIMARY KEY CHECK (code <> ''),
        name_zh text NOT NULL CHECK (name_zh <> ''),
        name_en text NOT NULL CHECK (name_en <> ''),
        parent_class text,
        active boolean NOT NULL DEFAULT true,
        sort_order integer NOT NULL DEFAULT 0,
        -- NULL: the handling level's rule (deadline_rule)
        accept_hours numeric CHECK (accept_hours > 0 AND accept_hours <= 8760),
        resolve_hours numeric CHECK (resolve_hours > 0 AND resolve_hours <= 8760),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT category_hours_order CHECK (accept_hours <= resolve_hours)
    );
    INSERT INTO category (code, name_zh, name_en, parent_class, sort_order) VALUES
        {seed};
    INSERT INTO category (code, name_zh, name_en, active, sort_order)
    SELECT used.category, used.category, used.category, false, 9000
    FROM (SELECT DISTINCT category FROM incident) used
    WHERE used.category <> ''
      AND NOT EXISTS (SELECT 1 FROM category c WHERE c.code = used.category);

    -- the distinct categories first: about 0.2 us per row (a row-wise anti-join: 0.8 us)
    CREATE FUNCTION incident_check_category() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE code text; bad record;
    BEGIN
        SELECT n.category INTO code FROM (SELECT DISTINCT category FROM new_rows) n
        WHERE NOT EXISTS (SELECT 1 FROM category c WHERE c.code = n.category) LIMIT 1;
        IF FOUND THEN
            SELECT n.id, n.external_id INTO bad FROM new_rows n WHERE n.category = code
            LIMIT 1;
            RAISE EXCEPTION 'incident % (%) has category %, which is not a category',
                            bad.id, bad.external_id, code
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER incident_category_insert AFTER INSERT ON incident
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION incident_check_category();

    CREATE FUNCTION category_in_use_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE hit text;
    BEGIN
        SELECT o.code INTO hit FROM old_rows o
        WHERE EXISTS (SELECT 1 FROM incident i WHERE i.category = o.code) LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'cannot delete category %: incidents carry it (deactivate it)', hit
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER category_in_use AFTER DELETE ON category
        REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION category_in_use_guard();

    CREATE FUNCTION category_code_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'category codes do not change (% to %): incidents carry them',
                        OLD.code, NEW.code USING ERRCODE = 'foreign_key_violation';
    END $$;
    CREATE TRIGGER category_code_fixed BEFORE UPDATE OF code ON category FOR EACH ROW
        WHEN (OLD.code IS DISTINCT FROM NEW.code) EXECUTE FUNCTION category_code_fixed();

    CREATE TRIGGER category_data_version AFTER INSERT OR UPDATE OR DELETE ON category
        FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('incidents');

    CREATE OR REPLACE FUNCTION incident_due_times() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE accept_h numeric; resolve_h numeric;
    BEGIN
        IF NEW.accept_due_at IS NULL OR NEW.resolve_due_at IS NULL THEN
            SELECT coalesce(c.accept_hours, r.accept_hours),
                   coalesce(c.resolve_hours, r.resolve_hours)
            INTO accept_h, resolve_h
            FROM (SELECT NEW.handling_level AS level, NEW.category AS code) n
            LEFT JOIN deadline_rule r ON r.level = n.level
            LEFT JOIN category c ON c.code = n.code;
            IF accept_h IS NOT NULL THEN
                NEW.accept_due_at := coalesce(NEW.accept_due_at,
                    NEW.reported_at + make_interval(secs => accept_h * 3600));
            END IF;
            IF resolve_h IS NOT NULL THEN
                NEW.resolve_due_at := coalesce(NEW.resolve_due_at,
                    NEW.reported_at + make_interval(secs => resolve_h * 3600));
            END IF;
        END IF;
        RETURN NEW;
    END $$;
    """)


def downgrade():
    op.execute(f"""
    {DUE_TIMES_0005}
    DROP TRIGGER category_data_version ON category;
    DROP TRIGGER incident_category_insert ON incident;
    DROP FUNCTION incident_check_category();
    DROP TABLE category;
    DROP FUNCTION category_in_use_guard();
    DROP FUNCTION category_code_fixed();
    """)
