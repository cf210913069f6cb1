"""Deployments, part 3: several roots side by side. A generation belongs to its root unit (the
top unit of its set: a city, prefecture or province), and one generation is active per root,
so a city publishes its own generation without touching its neighbours.

Revision ID: 0013
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
    ALTER TABLE generation ADD COLUMN root_code text, ADD COLUMN root_level smallint;
    UPDATE generation g SET root_code = r.code, root_level = r.level
    FROM (SELECT DISTINCT ON (generation_id) generation_id, code, level FROM admin_area
          WHERE parent_id IS NULL ORDER BY generation_id, code) r
    WHERE r.generation_id = g.id;
    DROP INDEX generation_one_active;
    CREATE UNIQUE INDEX generation_one_active ON generation (root_code) WHERE is_active;
    """)


def downgrade():
    op.execute("""
    UPDATE generation SET is_active = false
    WHERE is_active AND id <> (SELECT max(id) FROM generation WHERE is_active);
    DROP INDEX generation_one_active;
    CREATE UNIQUE INDEX generation_one_active ON generation (is_active) WHERE is_active;
    ALTER TABLE generation DROP COLUMN root_code, DROP COLUMN root_level;
    """)
