"""The synthetic lifecycle history of the demo incidents is consistent and written once."""
from __future__ import annotations

from sqlalchemy import text

from gis.boundaries.importing import import_boundaries
from gis.demo.load import DEMO_INCIDENTS
from gis.incidents.importing import import_incidents
from gis.store import db
from gis.store.demo import synthesize_history


def test_history_is_consistent_with_status_and_idempotent(fresh_db):
    from gis.demo.load import DEMO_BOUNDARIES
    eng = db.engine(fresh_db)
    import_boundaries(eng, DEMO_BOUNDARIES, commit=True, name="demo")
    import_incidents(eng, DEMO_INCIDENTS, source="demo")
    with eng.begin() as conn:
        first = synthesize_history(conn)
        again = synthesize_history(conn)
        rows = conn.execute(text("""
            SELECT count(*) FILTER (WHERE status IN ('resolved', 'closed')
                                    AND (resolved_at IS NULL OR resolved_level IS NULL)) AS bad_resolved,
                   count(*) FILTER (WHERE status NOT IN ('resolved', 'closed')
                                    AND resolved_at IS NOT NULL) AS bad_open,
                   count(*) FILTER (WHERE resolved_at < reported_at OR accepted_at < reported_at)
                       AS bad_order,
                   count(*) FILTER (WHERE status = 'escalated' AND handling_level = 'grid')
                       AS bad_escalated,
                   count(DISTINCT resolved_level) AS levels,
                   count(*) FILTER (WHERE status <> 'reported') AS touched
            FROM incident WHERE source = 'demo'""")).mappings().one()
    assert first == rows["touched"] > 3000 and again == 0
    assert rows["bad_resolved"] == rows["bad_open"] == rows["bad_order"] == 0
    assert rows["bad_escalated"] == 0 and rows["levels"] == 4
