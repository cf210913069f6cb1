"""Deployments, part 5: handling levels follow the national ladder. Above the county rung
(`city`) an incident may be escalated to the prefecture and the province where a deployment has
them; deadline rules for those levels start as the city's.

Revision ID: 0015
"""
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

NEW = "('grid', 'village', 'township', 'city', 'prefecture', 'province')"
OLD = "('grid', 'village', 'township', 'city')"


def _checks(levels: str) -> str:
    return f"""
    ALTER TABLE incident DROP CONSTRAINT incident_handling_level,
        ADD CONSTRAINT incident_handling_level CHECK (handling_level IN {levels}),
        DROP CONSTRAINT incident_resolved_level,
        ADD CONSTRAINT incident_resolved_level CHECK (resolved_level IN {levels});
    ALTER TABLE deadline_rule DROP CONSTRAINT deadline_rule_level_check,
        ADD CONSTRAINT deadline_rule_level_check CHECK (level IN {levels});
    """


def upgrade():
    op.execute(_checks(NEW) + """
    INSERT INTO deadline_rule (level, accept_hours, resolve_hours)
    SELECT l, accept_hours, resolve_hours FROM deadline_rule, unnest(ARRAY['prefecture',
        'province']) AS l WHERE level = 'city'
    ON CONFLICT (level) DO NOTHING;
    """)


def downgrade():
    op.execute("""
    UPDATE incident SET handling_level = 'city' WHERE handling_level IN ('prefecture', 'province');
    UPDATE incident SET resolved_level = 'city' WHERE resolved_level IN ('prefecture', 'province');
    DELETE FROM deadline_rule WHERE level IN ('prefecture', 'province');
    """ + _checks(OLD))
