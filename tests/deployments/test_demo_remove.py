"""A clean start (issue 14, part 3): the whole demo (boundaries, incidents, coverage set, plans
drawn on it, accounts) removed in one step, other sources' incidents kept and re-assigned under
the deployment's own boundaries, refused with nothing changed when they would have nowhere to
go."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from gis.access.scope import Scope
from gis.boundaries.importing import import_boundaries
from gis.demo import accounts as demo_accounts
from gis.demo import remove as demo_remove
from gis.demo.load import load_demo
from gis.errors import Conflict, NotFound
from gis.incidents.submit import submit_incident
from gis.store import db
from tests.helpers import factory, petition

COUNTS = """SELECT (SELECT count(*) FROM generation) AS generations,
                   (SELECT count(*) FROM incident) AS incidents,
                   (SELECT count(*) FROM staff) AS staff, (SELECT count(*) FROM camera) AS cameras,
                   (SELECT count(*) FROM response_post) AS posts,
                   (SELECT count(*) FROM road) AS roads,
                   (SELECT count(*) FROM account) AS accounts,
                   (SELECT count(*) FROM department) AS departments"""


def counts(engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(text(COUNTS)).mappings().one())


@pytest.fixture
def demo(fresh_db, tmp_path, monkeypatch):
    secrets = tmp_path / "demo-accounts.json"
    monkeypatch.setattr(demo_accounts, "SECRETS", secrets)
    monkeypatch.setattr(demo_remove, "SECRETS", secrets)
    engine = db.engine(fresh_db)
    load_demo(engine, say=lambda line: None)
    demo_accounts.ensure_demo_accounts(engine)
    yield engine, fresh_db, secrets
    engine.dispose()


def test_the_demo_goes_whole_and_other_reports_stay(demo, tmp_path, monkeypatch):
    engine, url, secrets = demo
    loaded = counts(engine)
    assert loaded["incidents"] > 4000 and loaded["staff"] > 3000 and loaded["accounts"] == 8
    assert loaded["departments"] == 2
    # a report of another source, made while only the demo's boundaries exist
    with engine.begin() as conn:
        kept, _ = submit_incident(conn, petition("REAL-1", 125.1, 46.25), scope=Scope.all())
    assert kept["properties"]["source"] == "api"
    with pytest.raises(Conflict) as refused:
        demo_remove.remove_demo(engine)
    assert "api (1)" in str(refused.value) and "nothing was removed" in str(refused.value)
    assert counts(engine) == {**loaded, "incidents": loaded["incidents"] + 1}
    assert secrets.exists()
    # the deployment's own boundaries arrive; now the demo can go, from the command line
    own = import_boundaries(engine, factory.write(factory.layers(), tmp_path / "own.gpkg"),
                            commit=True, name="own city").generation_id
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", url)
    from web.cli import main
    out = CliRunner().invoke(main, ["demo", "remove", "--yes"])
    assert out.exit_code == 0, out.output
    assert "1 incidents of other sources re-assigned" in out.output
    assert counts(engine) == {"generations": 1, "incidents": 1, "staff": 0, "cameras": 0,
                              "posts": 0, "roads": 0, "accounts": 0, "departments": 0}
    assert not secrets.exists()
    with engine.connect() as conn:
        gen = conn.execute(text("SELECT id, is_active FROM generation")).one()
        moved = conn.execute(text(
            "SELECT i.generation_id, g.code FROM incident i JOIN grid g ON g.id = i.grid_id")).one()
        audit = conn.execute(text("SELECT details FROM audit_event "
                                  "WHERE action = 'demo_remove'")).scalar_one()
    assert gen == (own, True)
    assert moved == (own, "231281101002001")  # located again under the city's own grids
    assert audit["reassigned"] == 1 and audit["removed"]["incidents"] == loaded["incidents"]
    with pytest.raises(NotFound):
        demo_remove.remove_demo(engine)


def test_other_reports_may_go_too_when_asked(demo):
    engine, _, _ = demo
    with engine.begin() as conn:
        submit_incident(conn, petition("TRY-1", 125.1, 46.25), scope=Scope.all())
    out = demo_remove.remove_demo(engine, other_incidents="delete")
    assert out["activated"] is None and out["reassigned"] == 0
    assert counts(engine) == {"generations": 0, "incidents": 0, "staff": 0, "cameras": 0,
                              "posts": 0, "roads": 0, "accounts": 0, "departments": 0}
    # and the demo loads again afterwards
    load_demo(engine, say=lambda line: None)
    assert counts(engine)["incidents"] > 4000
