"""Boundary generations recognised by content and made active again (issue 14, part 3): the same
set under another file name or format is "already imported"; an older generation is activated
again (audited) and new incidents are assigned under it; only administrators may."""
from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from gis.boundaries.generations import activate
from gis.boundaries.importing import import_boundaries
from gis.errors import NotFound
from gis.incidents.submit import submit_incident
from gis.access.scope import Scope
from gis.store import boundaries as bstore
from tests.helpers import client_for, factory, make_account, petition, unique


def renamed_grid_set():
    frames = factory.layers()
    frames["grid"].loc[0, "name"] = "改名的网格"
    return frames


def test_same_content_under_another_name_or_format_is_recognised(factory_engine, tmp_path):
    with factory_engine.connect() as conn:
        first = bstore.active_generation(conn)["id"]
    copy = factory.write(factory.layers(), tmp_path / "another-name.gpkg")
    report = import_boundaries(factory_engine, copy, commit=True)
    assert report.already_imported == first and report.already_active is True
    assert not report.committed
    # the same layers as a folder of GeoJSON files
    folder = tmp_path / "geojson"
    folder.mkdir()
    for name, frame in factory.layers().items():
        if len(frame):
            frame.to_file(folder / f"{name}.geojson", driver="GeoJSON")
    assert import_boundaries(factory_engine, folder, commit=True).already_imported == first
    # different content is a new generation
    changed = factory.write(renamed_grid_set(), tmp_path / "changed.gpkg")
    second = import_boundaries(factory_engine, changed, commit=True)
    assert second.committed and second.generation_id != first


def test_an_older_generation_is_activated_again(factory_engine, tmp_path):
    with factory_engine.connect() as conn:
        first = bstore.active_generation(conn)["id"]
    second = import_boundaries(factory_engine, factory.write(renamed_grid_set(),
                                                             tmp_path / "b.gpkg"),
                               commit=True).generation_id
    again = import_boundaries(factory_engine, factory.write(factory.layers(), tmp_path / "a.gpkg"),
                              commit=True)
    assert again.already_imported == first and again.already_active is False
    with factory_engine.begin() as conn:
        out = activate(conn, first)
    assert out["changed"] and out["previous"] == second and out["generation"]["is_active"]
    with factory_engine.begin() as conn:
        body, _ = submit_incident(conn, petition(unique("a"), 125.1, 46.25), scope=Scope.all())
        assert body["properties"]["generation_id"] == first
        assert [g["id"] for g in bstore.list_generations(conn) if g["is_active"]] == [first]
        audit = conn.execute(text("SELECT target, details->>'previous' FROM audit_event "
                                  "WHERE action = 'boundary_activate'")).all()
    assert audit == [(f"generation/{first}", str(second))]
    with factory_engine.begin() as conn:  # activating the active one changes and records nothing
        assert activate(conn, first)["changed"] is False
        assert conn.execute(text("SELECT count(*) FROM audit_event "
                                 "WHERE action = 'boundary_activate'")).scalar() == 1
        with pytest.raises(NotFound):
            activate(conn, 999_999)


def test_activation_over_http_and_the_command_line(factory_engine, tmp_path, monkeypatch):
    url = factory_engine.url.render_as_string(hide_password=False)
    with factory_engine.connect() as conn:
        first = bstore.active_generation(conn)["id"]
    second = import_boundaries(factory_engine, factory.write(renamed_grid_set(),
                                                             tmp_path / "b.gpkg"),
                               commit=True).generation_id
    official = client_for(url, make_account(url, "gen-official", "official",
                                            ["231281000000"])["token"])
    admin = client_for(url, make_account(url, "gen-admin", "admin")["token"])
    path = f"/api/v1/generations/{first}/activate"
    assert official.post(path).status_code == 403
    res = admin.post(path)
    assert res.status_code == 200 and res.get_json()["previous"] == second
    listed = {g["id"]: g["is_active"] for g in admin.get("/api/v1/generations")
              .get_json()["generations"]}
    assert listed == {first: True, second: False}
    assert admin.post("/api/v1/generations/999999/activate").status_code == 404
    # the original file uploaded under another name: the generation it made, not a new one
    data = factory.write(factory.layers(), tmp_path / "upload.gpkg").read_bytes()
    res = admin.post("/api/v1/imports/boundaries", content_type="multipart/form-data",
                     data={"file": (io.BytesIO(data), "城市边界-v2.gpkg"), "commit": "true"})
    assert res.status_code == 200 and res.get_json()["already_imported"] == first
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", url)
    from web.cli import main
    out = CliRunner().invoke(main, ["boundaries", "activate", str(second)])
    assert out.exit_code == 0 and f"generation {second}" in out.output and "now active" in out.output
    out = CliRunner().invoke(main, ["boundaries", "import", str(factory.write(
        factory.layers(), tmp_path / "again.gpkg")), "--commit"])
    assert out.exit_code == 0, out.output
    assert f"same content as generation {first}" in out.output
    assert f"gridgis boundaries activate {first}" in out.output
