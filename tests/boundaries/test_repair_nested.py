"""Repairing features whose parts nest or overlap: the repair merges the parts (their union),
keeping the area shapely.make_valid's even-odd reading would cut out; the refusal before it says
so instead of reporting the enclosed area as a gap; each repair reports its m²."""
from __future__ import annotations

import re

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import MultiPolygon, Polygon, box
from sqlalchemy import text

from gis.boundaries.importing import import_boundaries
from gis.boundaries.read import read_boundary_set
from gis.boundaries.validate import fix_geometry, repair_geometries, validate_boundary_set
from gis.geo.measure import area_m2
from gis.store import db
from tests.helpers import factory

TOWNSHIP = "231281102000"
NESTED = "231281102001"         # village 125.2-125.4 E, 46.0-46.2 N, no hamlets
OVERLAPPING = "231281102002001"  # grid 125.2-125.4 E, 46.2-46.3 N of village ...102002
VILLAGE = box(125.2, 46.0, 125.4, 46.2)
ENCLAVE = box(125.25, 46.05, 125.3, 46.08)  # drawn as a second shell inside the village
GRID = box(125.2, 46.2, 125.4, 46.3)
WEST, EAST = box(125.2, 46.2, 125.32, 46.3), box(125.28, 46.2, 125.4, 46.3)


def m2(geom) -> float:
    return float(area_m2(geom)[0])


def utm_m2(geom) -> float:
    """Area in UTM 51N, independently of gis.geo.measure's local scale."""
    return float(gpd.GeoSeries([geom], crs=4326).to_crs(32651).area.iloc[0])


def shared_in(action: str) -> float:
    return float(re.search(r"\(([\d,.]+) m² lay in more than one part", action)[1]
                 .replace(",", ""))


def frames_with(nested=True, overlapping=True):
    frames = factory.layers()
    if nested:
        villages = frames["village"]
        villages.loc[villages["code"] == NESTED, "geometry"] = MultiPolygon([VILLAGE, ENCLAVE])
    if overlapping:
        grids = frames["grid"]
        grids.loc[grids["code"] == OVERLAPPING, "geometry"] = MultiPolygon([WEST, EAST])
    return frames


def read(frames, tmp_path):
    return read_boundary_set(factory.write(frames, tmp_path / "set.gpkg"))


def by_code(repairs):
    return {r.code: r for r in repairs}


# ---- refusal ----

def test_nested_shell_is_refused_as_such_not_as_a_gap(tmp_path):
    problems = validate_boundary_set(read(frames_with(overlapping=False), tmp_path))
    assert [(p.rule, p.code) for p in problems] == [("invalid_geometry", NESTED)]
    message = problems[0].message
    assert message.startswith("Nested shells: 2 parts nest (")
    assert "--repair merges them (area kept: " in message
    assert f"{m2(VILLAGE):,.1f} m²" in message  # the area the repair keeps
    assert (problems[0].lon, problems[0].lat) is not None and problems[0].level == "village"


def test_overlapping_parts_are_refused_as_such_not_as_a_gap(tmp_path):
    problems = validate_boundary_set(read(frames_with(nested=False), tmp_path))
    assert [(p.rule, p.code) for p in problems] == [("invalid_geometry", OVERLAPPING)]
    message = problems[0].message
    assert message.startswith("Overlapping parts: 2 parts overlap (")
    shared = float(re.search(r"\(([\d,.]+) m² lie in more than one part\)", message)[1]
                   .replace(",", ""))
    assert shared == pytest.approx(m2(WEST & EAST), abs=1.0)
    assert f"area kept: {m2(GRID):,.1f} m²" in message


def test_a_gap_names_children_whose_geometry_is_unusable(tmp_path):
    frames = factory.layers()
    grids = frames["grid"]
    grids.loc[grids["code"] == OVERLAPPING, "geometry"] = None
    gaps = [p for p in validate_boundary_set(read(frames, tmp_path)) if p.rule == "gap"]
    assert [p.code for p in gaps] == [OVERLAPPING[:12]]
    found = re.fullmatch(r"([\d.]+) m² are not covered by any grid \(not counting (\d+), "
                         r"whose geometry is unusable\)", gaps[0].message)
    assert found and found[2] == OVERLAPPING
    assert float(found[1]) == pytest.approx(m2(GRID), abs=1.0)


# ---- repair ----

def test_repair_merges_nested_and_overlapping_parts_keeping_the_area(tmp_path):
    bset = read(frames_with(), tmp_path)
    repairs = by_code(repair_geometries(bset))
    assert set(repairs) == {NESTED, OVERLAPPING}
    assert validate_boundary_set(bset) == []

    nested = repairs[NESTED]
    assert nested.layer == "village"
    assert nested.action.startswith("Nested shells: merged 2 nested parts (")
    assert "counted once" in nested.action and "check the source" not in nested.action
    after = bset.layers["village"].set_index("code").geometry[NESTED]
    assert after.is_valid and shapely.equals(after, VILLAGE)
    assert nested.area_after_m2 == pytest.approx(m2(VILLAGE), abs=1.0)
    # before: what GEOS sums from the rings, the enclave counted twice; the action says how much
    assert nested.area_before_m2 == pytest.approx(m2(MultiPolygon([VILLAGE, ENCLAVE])), abs=0.1)
    assert shared_in(nested.action) == pytest.approx(
        nested.area_before_m2 - nested.area_after_m2, abs=0.2)
    assert shared_in(nested.action) == pytest.approx(utm_m2(ENCLAVE), rel=2e-3)
    # what shapely.make_valid alone made of it: the enclave cut out as a hole
    assert m2(shapely.make_valid(MultiPolygon([VILLAGE, ENCLAVE]))) == pytest.approx(
        m2(VILLAGE) - m2(ENCLAVE), rel=1e-3)

    overlapping = repairs[OVERLAPPING]
    assert overlapping.layer == "grid"
    assert overlapping.action.startswith("Overlapping parts: merged 2 overlapping parts (")
    grid = bset.layers["grid"].set_index("code").geometry[OVERLAPPING]
    assert grid.is_valid and shapely.equals(grid, GRID)
    assert overlapping.area_after_m2 == pytest.approx(m2(shapely.union_all([WEST, EAST])),
                                                      abs=1.0)
    assert shared_in(overlapping.action) == pytest.approx(m2(WEST & EAST), abs=1.0)
    assert overlapping.area_before_m2 == pytest.approx(m2(WEST) + m2(EAST), abs=1.0)


def test_import_with_repair_stores_the_union(fresh_db, tmp_path):
    path = factory.write(frames_with(), tmp_path / "set.gpkg")
    report = import_boundaries(db.engine(fresh_db), path, commit=True, repair=True)
    assert report.committed
    fixes = {r["code"]: r for r in report.repairs}
    assert set(fixes) == {NESTED, OVERLAPPING}
    with db.engine(fresh_db).connect() as c:
        valid, area = c.execute(text(
            "SELECT ST_IsValid(geom), ST_Area(geom::geography) FROM admin_area "
            "WHERE code = :c"), {"c": NESTED}).one()
    assert valid and area == pytest.approx(fixes[NESTED]["area_after_m2"], rel=1e-3)


def test_cli_prints_the_merge_and_its_m2(fresh_db, tmp_path, monkeypatch):
    from web.cli import main
    path = factory.write(frames_with(overlapping=False), tmp_path / "set.gpkg")
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", fresh_db)
    refused = CliRunner().invoke(main, ["boundaries", "import", str(path)])
    assert refused.exit_code == 1 and f"[village {NESTED}] invalid_geometry" in refused.output
    assert "Nested shells" in refused.output and "gap" not in refused.output
    done = CliRunner().invoke(main, ["boundaries", "import", str(path), "--repair"])
    assert done.exit_code == 0, done.output
    line = re.search(rf"repaired \[village {NESTED}\] (.*)$", done.output, re.M)[1]
    assert line.startswith("Nested shells: merged 2 nested parts (")
    assert line.endswith(f"-> {m2(VILLAGE):,.1f} m²")


# ---- single polygons: the bow-tie as before, rings read as what they bound ----

def test_bowtie_repair_is_unchanged():
    bowtie = Polygon([(125.0, 46.0), (125.1, 46.1), (125.1, 46.0), (125.0, 46.1)])
    fix = fix_geometry(bowtie)
    assert fix.action == "Self-intersection: made valid"
    assert (fix.lon, fix.lat) == (125.05, 46.05)
    assert shapely.equals(fix.geom, shapely.make_valid(bowtie))  # both lobes
    assert fix.before_m2 < 1.0 and fix.after_m2 == pytest.approx(m2(box(125, 46, 125.1, 46.1))
                                                                 / 2, abs=1.0)
    # a bow-tie part beside a valid one: made valid, nothing merged
    multi = MultiPolygon([bowtie, box(125.2, 46.0, 125.3, 46.1)])
    fix = fix_geometry(multi)
    assert fix.action == "Self-intersection: made valid" and fix.merged == 0
    assert shapely.equals(fix.geom, shapely.make_valid(multi))


SHELL = [(125.0, 46.0), (125.1, 46.0), (125.1, 46.1), (125.0, 46.1), (125.0, 46.0)]
NOTCH = [(125.0, 46.02), (125.0, 46.04), (125.02, 46.04), (125.02, 46.02), (125.0, 46.02)]
HOLE = [(125.02, 46.02), (125.02, 46.04), (125.04, 46.04), (125.04, 46.02), (125.02, 46.02)]


@pytest.mark.parametrize("geom,expected", [
    # a hole touching its shell along an edge: a notch (make_valid alone fills it in)
    (Polygon(SHELL, [NOTCH]), Polygon(SHELL).difference(Polygon(NOTCH))),
    # a part filling another part's hole exactly (make_valid alone keeps the hole)
    (MultiPolygon([Polygon(SHELL, [HOLE]), Polygon(HOLE)]), Polygon(SHELL)),
    # the same part twice (make_valid alone keeps it once, by luck of the even-odd rule)
    (MultiPolygon([Polygon(SHELL), Polygon(SHELL)]), Polygon(SHELL)),
    # rings in swapped order: the hole covers the shell, read by the even-odd rule
    (Polygon(HOLE, [SHELL]), Polygon(SHELL, [HOLE])),
], ids=["notch", "part-fills-hole", "duplicate-part", "swapped-rings"])
def test_rings_bound_what_they_say(geom, expected):
    fix = fix_geometry(geom)
    assert fix.geom.is_valid and shapely.equals(fix.geom, expected), fix.action
    assert fix.after_m2 == pytest.approx(m2(expected), abs=1.0)
    assert "check the source" not in fix.action


def test_a_repair_that_loses_area_says_so():
    # the ring runs round its square twice: GEOS counts 2x, the repair covers it once
    wound_twice = Polygon(SHELL + SHELL[1:])
    fix = fix_geometry(wound_twice)
    assert fix.after_m2 == pytest.approx(m2(Polygon(SHELL)), abs=1.0)
    assert fix.before_m2 == pytest.approx(2 * fix.after_m2, abs=1.0)
    assert f"; {fix.after_m2:,.1f} m² (50.0 %) less than its rings enclose: check the source" \
        in fix.action
