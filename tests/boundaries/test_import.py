"""Boundary import: validation rules, dry run, all-or-nothing commit, CRS handling."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from shapely.geometry import Point, Polygon, box
from sqlalchemy import text

from gis.boundaries.importing import import_boundaries
from gis.boundaries.read import read_boundary_set
from gis.boundaries.validate import validate_boundary_set
from gis.errors import InputError, ValidationFailed
from gis.store import db
from tests.helpers import factory


def problems_for(tmp_path, frames):
    return validate_boundary_set(read_boundary_set(factory.write(frames, tmp_path / "s.gpkg")))


def rules(problems):
    return {(p.rule, p.code) for p in problems}


def test_factory_set_is_valid(tmp_path):
    assert problems_for(tmp_path, factory.layers()) == []


def test_overlapping_grids(tmp_path):
    frames = factory.layers()
    frames["grid"].loc[0, "geometry"] = box(125.0, 46.0, 125.1, 46.12)
    found = problems_for(tmp_path, frames)
    overlap = [p for p in found if p.rule == "overlap"]
    assert [p.code for p in overlap] == ["231281101001001001"]
    assert "231281101001001002" in overlap[0].message
    assert 125.0 < overlap[0].lon < 125.1 and 46.1 < overlap[0].lat < 46.12


def test_gap_between_grids_is_a_blind_spot(tmp_path):
    frames = factory.layers()
    frames["grid"].loc[0, "geometry"] = box(125.0, 46.0, 125.09, 46.1)
    found = problems_for(tmp_path, frames)
    assert ("gap", "231281101001001") in rules(found)
    gap = next(p for p in found if p.rule == "gap")
    assert 125.09 < gap.lon < 125.1 and gap.level == "leaf unit"


def test_unit_outside_its_parent(tmp_path):
    frames = factory.layers()
    frames["village"].loc[0, "geometry"] = box(125.0, 46.0, 125.25, 46.2)
    found = rules(problems_for(tmp_path, frames))
    assert ("outside_parent", "231281101001") in found
    assert ("overlap", "231281101001") in found


def test_invalid_and_non_polygon_geometry(tmp_path):
    frames = factory.layers()
    bowtie = Polygon([(125.0, 46.0), (125.1, 46.1), (125.1, 46.0), (125.0, 46.1)])
    frames["grid"].loc[0, "geometry"] = bowtie
    frames["grid"].loc[1, "geometry"] = Point(125.05, 46.15)
    found = problems_for(tmp_path, frames)
    invalid = next(p for p in found if p.rule == "invalid_geometry")
    assert invalid.code == "231281101001001001" and "Self-intersection" in invalid.message
    assert ("not_polygonal", "231281101001001002") in rules(found)


@pytest.mark.parametrize("layer,row,code,rule", [
    ("village", 3, "231281999002", "bad_code"),      # does not extend its township
    ("grid", 9, "23128110200201", "bad_code"),       # parent + 2 digits
    ("township", 1, "231281101000", "duplicate_code"),
    ("city", 0, "231281000001", "bad_code"),
])
def test_codes_must_be_unique_and_extend_parents(tmp_path, layer, row, code, rule):
    frames = factory.layers()
    frames[layer].loc[row, "code"] = code
    assert (rule, code) in rules(problems_for(tmp_path, frames))


def test_grid_must_sit_in_hamlet_when_village_has_hamlets(tmp_path):
    frames = factory.layers()
    frames["grid"].loc[0, "parent_code"] = "231281101001"
    frames["grid"].loc[0, "code"] = "231281101001009"
    found = rules(problems_for(tmp_path, frames))
    assert ("parent_not_leaf", "231281101001009") in found


def test_unknown_parent_and_bad_households(tmp_path):
    frames = factory.layers()
    frames["village"].loc[0, "parent_code"] = "231281199000"
    frames["grid"].loc[2, "households"] = -3
    found = rules(problems_for(tmp_path, frames))
    assert ("unknown_parent", "231281101001") in found
    assert ("bad_count", frames["grid"].loc[2, "code"]) in found


def test_projected_input_is_reprojected(tmp_path, fresh_db):
    frames = {k: v.to_crs(32651) for k, v in factory.layers().items()}
    path = factory.write(frames, tmp_path / "utm.gpkg")
    bset = read_boundary_set(path)
    assert bset.layers["city"].crs.to_epsg() == 4326
    xmin, ymin, xmax, ymax = bset.layers["city"].total_bounds
    assert abs(xmin - 125.0) < 1e-6 and abs(ymax - 46.4) < 1e-6
    report = import_boundaries(db.engine(fresh_db), path, commit=True, tolerance_m2=5.0)
    assert report.committed


def test_missing_crs_and_unknown_crs(tmp_path):
    path = tmp_path / "nocrs"
    path.mkdir()
    for name, frame in factory.layers().items():
        gj = json.loads(frame.to_json())
        gj.pop("crs", None)
        (path / f"{name}.geojson").write_text(json.dumps(gj))
    # GeoJSON without crs member is CRS84 by the standard, so a folder reads fine:
    assert read_boundary_set(path).counts()["grid"] == 10
    with pytest.raises(InputError, match="unknown coordinate reference system"):
        read_boundary_set(path, assume_crs="EPSG:123456789")


def test_malformed_files(tmp_path):
    bad = tmp_path / "broken.gpkg"
    bad.write_bytes(b"this is not a geopackage")
    with pytest.raises(InputError, match="cannot be read"):
        read_boundary_set(bad)
    with pytest.raises(InputError, match="unsupported file type"):
        read_boundary_set(tmp_path / "x.txt") if (tmp_path / "x.txt").write_text("x") else None
    frames = factory.layers()
    del frames["grid"]
    with pytest.raises(InputError, match="no 'grid' layer"):
        read_boundary_set(factory.write(frames, tmp_path / "no-grids.gpkg"))


def test_a_missing_level_leaves_its_children_without_parents(tmp_path):
    """Levels may be skipped, but the villages still name townships that are not in the set."""
    frames = factory.layers()
    del frames["township"]
    found = problems_for(tmp_path, frames)
    orphans = {p.code for p in found if p.rule == "unknown_parent"}
    assert orphans == set(frames["village"]["code"])


def counts(url):
    with db.engine(url).connect() as c:
        return c.execute(text("SELECT (SELECT count(*) FROM generation), "
                              "(SELECT count(*) FROM admin_area), (SELECT count(*) FROM grid)")
                         ).one()


def test_dry_run_writes_nothing_and_commit_is_idempotent(fresh_db, factory_gpkg):
    engine = db.engine(fresh_db)
    report = import_boundaries(engine, factory_gpkg)
    assert not report.committed and counts(fresh_db) == (0, 0, 0)
    report = import_boundaries(engine, factory_gpkg, commit=True, name="v1")
    assert report.committed and counts(fresh_db) == (1, 9, 10)
    again = import_boundaries(engine, factory_gpkg, commit=True)
    assert again.already_imported == report.generation_id and counts(fresh_db) == (1, 9, 10)


def test_invalid_set_writes_nothing(fresh_db, tmp_path):
    frames = factory.layers()
    frames["grid"].loc[5, "geometry"] = box(125.0, 46.0, 125.3, 46.3)
    path = factory.write(frames, tmp_path / "bad.gpkg")
    with pytest.raises(ValidationFailed) as err:
        import_boundaries(db.engine(fresh_db), path, commit=True)
    assert err.value.details and all("rule" in d for d in err.value.details)
    assert counts(fresh_db) == (0, 0, 0)


def test_failure_during_write_rolls_back(fresh_db, factory_gpkg, monkeypatch):
    """A database error half-way through the write leaves nothing behind."""
    from gis.store import boundaries as bstore
    real = bstore.activate_generation

    def explode(conn, gen_id):
        real(conn, gen_id)
        conn.execute(text("SELECT 1/0"))
    monkeypatch.setattr(bstore, "activate_generation", explode)
    with pytest.raises(Exception, match="division by zero"):
        import_boundaries(db.engine(fresh_db), factory_gpkg, commit=True)
    assert counts(fresh_db) == (0, 0, 0)


def test_new_generation_becomes_active_and_old_stays(fresh_db, factory_gpkg, tmp_path):
    engine = db.engine(fresh_db)
    first = import_boundaries(engine, factory_gpkg, commit=True).generation_id
    frames = factory.layers()
    frames["grid"].loc[0, "households"] = 999
    second = import_boundaries(engine, factory.write(frames, tmp_path / "v2.gpkg"),
                               commit=True).generation_id
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, is_active FROM generation ORDER BY id")).all()
        assert rows == [(first, False), (second, True)]
        assert c.execute(text("SELECT count(*) FROM grid WHERE generation_id = :g"),
                         {"g": first}).scalar() == 10


def test_cli_reports_problems_with_codes_and_places(fresh_db, tmp_path, monkeypatch):
    from web.cli import main
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", fresh_db)
    frames = factory.layers()
    frames["grid"].loc[0, "geometry"] = box(125.0, 46.0, 125.09, 46.1)
    path = factory.write(frames, tmp_path / "gap.gpkg")
    result = CliRunner().invoke(main, ["boundaries", "import", str(path), "--commit"])
    assert result.exit_code == 1
    assert "nothing was written" in result.output
    assert "[leaf unit 231281101001001] gap" in result.output and " at 125.09" in result.output
    ok = CliRunner().invoke(main, ["boundaries", "import", str(tmp_path / "gap.gpkg"),
                                   "--tolerance", "1e12"])
    assert ok.exit_code == 0 and "dry run" in ok.output
    assert counts(fresh_db) == (0, 0, 0)
