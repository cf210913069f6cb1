"""`gridgis departments` against a real PostGIS: add, list, set members, deactivate; bad input
exits 1 with the reason and changes nothing."""
from __future__ import annotations

import uuid

from click.testing import CliRunner
from sqlalchemy import text

from gis.store import db
from tests.helpers import make_account
from web.cli import main


def test_departments_from_the_command_line(private_factory_db, monkeypatch):
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", private_factory_db)
    member = make_account(private_factory_db, f"cli-{uuid.uuid4().hex[:5]}", "official",
                          ["231281101000"])
    cli = CliRunner()
    out = cli.invoke(main, ["departments", "add", "派出所 Police station", "--unit",
                            "231281101000", "--members", str(member["id"])])
    assert out.exit_code == 0, out.output
    assert "派出所 Police station" in out.output and str(member["id"]) in out.output
    with db.engine(private_factory_db).connect() as conn:
        dept = conn.execute(text("SELECT id FROM department")).scalar_one()
    listed = cli.invoke(main, ["departments", "list"])
    assert listed.exit_code == 0 and "231281101000" in listed.output
    bad = cli.invoke(main, ["departments", "add", "X", "--unit", "999999999999"])
    assert bad.exit_code == 1 and "999999999999" in bad.output
    off = cli.invoke(main, ["departments", "set", str(dept), "--inactive", "--members", ""])
    assert off.exit_code == 0 and "停用 inactive" in off.output
    assert "派出所" not in cli.invoke(main, ["departments", "list"]).output
    assert "派出所" in cli.invoke(main, ["departments", "list", "--all"]).output
    with db.engine(private_factory_db).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM department_member")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM audit_event WHERE action = "
                                 "'department_update'")).scalar() == 2
