"""Draft plans, part 2: one row per saved version of a draft (created, imported, edit, undo,
redo, published), so that a save refused for a stale version can say what changed since.

Revision ID: 0006
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("""
    CREATE TABLE plan_save (
        draft_id integer NOT NULL REFERENCES plan_draft(id) ON DELETE CASCADE,
        version integer NOT NULL,          -- the draft's version after this save
        action text NOT NULL CONSTRAINT plan_save_action
            CHECK (action IN ('create', 'import', 'edit', 'undo', 'redo', 'publish')),
        op text,                           -- the edit made, undone or redone
        edit_seq integer,                  -- its plan_edit.seq
        summary jsonb,                     -- grid codes added, removed, changed
        author_id integer REFERENCES account(id) ON DELETE SET NULL,
        author text,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (draft_id, version)
    );
    CREATE INDEX plan_draft_unit ON plan_draft (unit_code text_pattern_ops);
    """)


def downgrade():
    op.execute("DROP INDEX plan_draft_unit; DROP TABLE plan_save;")
