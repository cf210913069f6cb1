"""Scale, part 3: stored results know their family (the same analysis of the same inputs at any
data version), so that when every heavy-work slot is busy an answer can fall back to the
family's newest stored result, marked stale, instead of refusing (gis.results.cache).

Revision ID: 0010
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
    ALTER TABLE analysis_result ADD COLUMN family text;
    CREATE INDEX analysis_result_family ON analysis_result (family, created_at DESC)
        WHERE family IS NOT NULL;
    """)


def downgrade():
    op.execute("""
    DROP INDEX analysis_result_family;
    ALTER TABLE analysis_result DROP COLUMN family;
    """)
