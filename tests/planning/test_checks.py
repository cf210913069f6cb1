"""Live checks and metrics of draft plans (gis.planning.checks): a failing and a passing case for
every rule, summary metrics against an independent projection, and the incremental check
against the full one."""
from __future__ import annotations

import math

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from gis.demo.plans import benchmark_edit_check, synthetic_village
from gis.planning.checks import (
    DEFAULT_TARGETS,
    Targets,
    check_edit,
    check_plan,
    compactness,
    plan_metrics,
)
from gis.planning.edits import merge, split_by_line, split_equal
from gis.planning.index import PlanIndex
from gis.planning.renumber import renumber
from tests.helpers import factory

LEAF = "231281102001"
# In the renumbered factory (CLEAN) LEAF's north half is ...001 and its south half ...002.
TOP, BOTTOM = LEAF + "001", LEAF + "002"


PLAN, UNITS = factory.plan_and_units()
CLEAN = renumber(PLAN)[0]   # the factory numbered by the rule: no problem at all


def with_grid(plan, which, **values):
    out = plan.copy()
    row = out["code"] == which
    for col, value in values.items():
        if col == "geometry":
            out.loc[row, "geometry"] = gpd.GeoSeries([value], crs=out.crs).values
        else:
            out.loc[row, col] = value
    return out


def problems(plan, rule, targets=DEFAULT_TARGETS):
    return [p for p in check_plan(plan, UNITS, targets).problems if p.rule == rule]


def test_the_renumbered_factory_plan_passes_every_check():
    report = check_plan(CLEAN, UNITS)
    assert report.problems == () and report.ok
    assert len(report.grids) == 10 and len(report.units) == 5


def test_overlap_is_reported_for_both_grids_where_they_overlap():
    shifted = with_grid(CLEAN, TOP, geometry=box(125.2, 46.09, 125.4, 46.19))  # 0.01 deg south
    found = problems(shifted, "overlap")
    assert sorted(p.code for p in found) == [TOP, BOTTOM]
    for p in found:
        other = ({TOP, BOTTOM} - {p.code}).pop()
        assert p.severity == "error" and f"overlaps {other}" in p.message
        assert 46.09 <= p.lat <= 46.1 and 125.2 <= p.lon <= 125.4
    gap = problems(shifted, "gap")
    assert [(p.code, p.severity) for p in gap] == [(LEAF, "error")]
    assert 46.19 <= gap[0].lat <= 46.2
    assert problems(CLEAN, "overlap") == [] and problems(CLEAN, "gap") == []


def test_gap_is_reported_once_per_uncovered_piece_with_its_area():
    hole = box(125.25, 46.02, 125.26, 46.03)
    holed = with_grid(CLEAN, BOTTOM, geometry=box(125.2, 46.0, 125.4, 46.1).difference(hole)
                      .difference(box(125.35, 46.0, 125.4, 46.01)))
    gaps = problems(holed, "gap")
    assert len(gaps) == 2 and {p.code for p in gaps} == {LEAF}
    small = [p for p in gaps if 125.25 <= p.lon <= 125.26]
    assert len(small) == 1 and 46.02 <= small[0].lat <= 46.03
    frame = gpd.GeoDataFrame(geometry=[hole], crs="EPSG:4326")
    expected = float(frame.to_crs(frame.estimate_utm_crs()).area.iloc[0])
    assert float(small[0].message.split(" m²")[0]) == pytest.approx(expected, rel=2e-3)


def test_grid_outside_its_unit_or_with_an_unknown_parent():
    wide = with_grid(CLEAN, TOP, geometry=box(125.2, 46.1, 125.45, 46.2))
    out = problems(wide, "outside_parent")
    assert [p.code for p in out] == [TOP] and out[0].lon > 125.4
    assert problems(CLEAN, "outside_parent") == []
    orphan = with_grid(CLEAN, TOP, parent_code="231281102009")
    unknown = problems(orphan, "unknown_parent")
    assert [p.code for p in unknown] == [TOP]
    assert problems(orphan, "bad_code") == []  # no parent to compare the code with
    assert [p.code for p in problems(orphan, "gap")] == [LEAF]


def test_a_grid_in_two_parts_is_not_contiguous():
    parts = MultiPolygon([box(125.2, 46.0, 125.3, 46.1), box(125.32, 46.0, 125.4, 46.05)])
    split = with_grid(CLEAN, BOTTOM, geometry=parts)
    found = problems(split, "not_contiguous")
    assert [(p.code, p.severity) for p in found] == [(BOTTOM, "error")]
    assert 125.32 <= found[0].lon <= 125.4 and found[0].lat <= 46.05  # the smaller part
    assert problems(CLEAN, "not_contiguous") == []


def test_households_outside_the_target_range_warn_and_the_range_is_configurable():
    low = with_grid(CLEAN, TOP, households=250)
    found = problems(low, "households_range")
    assert [(p.code, p.severity) for p in found] == [(TOP, "warning")]
    assert "250" in found[0].message
    assert problems(low, "households_range", Targets(households_min=200)) == []
    assert [p.code for p in problems(CLEAN, "households_range",
                                     Targets(households_min=305, households_max=400))] == \
        sorted(CLEAN.loc[CLEAN["households"] < 305, "code"])
    assert check_plan(low, UNITS).ok  # a warning is not an error


def test_compactness_is_polsby_popper_in_metres():
    # a square in metres at 46 N: 0.01 deg of latitude is 0.01/cos(46) deg of longitude
    dx = 0.01 * 110_574 / (111_320 * math.cos(math.radians(46.005)))
    square = box(125.0, 46.0, 125.0 + dx, 46.01)
    assert compactness([square])[0] == pytest.approx(math.pi / 4, rel=2e-3)
    circle = shapely.Point(0, 0).buffer(1, 256)
    disc = shapely.affinity.scale(circle, 0.01 * 110_574 / (111_320 * math.cos(math.radians(46))),
                                  0.01, origin=(0, 0))
    disc = shapely.affinity.translate(disc, 125.0, 46.0)
    assert compactness([disc])[0] == pytest.approx(1.0, rel=2e-3)


def test_thin_grids_warn_below_the_compactness_threshold():
    strips, _ = split_equal(CLEAN, TOP, 20, angle=0)  # 20 strips of 770 m x 11 km
    found = problems(strips, "low_compactness")
    assert len(found) == 20 and all(p.severity == "warning" for p in found)
    assert problems(strips, "low_compactness", Targets(compactness_min=0.15)) == []
    assert problems(CLEAN, "low_compactness") == []


def test_codes_must_be_unique_and_extend_the_parent_code():
    dup = gpd.GeoDataFrame(pd.concat([CLEAN, CLEAN[CLEAN["code"] == TOP]], ignore_index=True),
                           crs="EPSG:4326")
    found = problems(dup, "duplicate_code")
    assert [p.code for p in found] == [TOP, TOP]
    bad = with_grid(CLEAN, TOP, code="2312811020019")
    found = problems(bad, "bad_code")
    assert [p.code for p in found] == ["2312811020019"]
    assert "plus 3 digits" in found[0].message
    assert problems(CLEAN, "duplicate_code") == [] and problems(CLEAN, "bad_code") == []


def test_codes_out_of_the_renumbering_order_warn_once_per_unit():
    found = problems(PLAN, "code_order")  # the factory numbers south before north
    assert sorted(p.code for p in found) == sorted(UNITS["code"])
    assert all(p.severity == "warning" and "renumber" in p.message for p in found)
    assert problems(CLEAN, "code_order") == []


def test_invalid_geometry_and_bad_counts_are_errors_and_do_not_stop_the_other_checks():
    bowtie = Polygon([(125.2, 46.0), (125.4, 46.1), (125.4, 46.0), (125.2, 46.1)])
    broken = with_grid(CLEAN, BOTTOM, geometry=bowtie)
    broken["population"] = broken["population"].astype(float)
    broken = with_grid(broken, TOP, households=-1, population=2.5)
    report = check_plan(broken, UNITS)
    rules = {(p.rule, p.code) for p in report.errors}
    assert ("invalid_geometry", BOTTOM) in rules
    assert [p.message.split(" must")[0] for p in report.errors
            if p.rule == "bad_count"] == ["households", "population"]
    assert ("gap", LEAF) in rules   # the invalid grid covers nothing
    assert not report.ok


def test_report_and_problem_serialise():
    report = check_plan(with_grid(CLEAN, TOP, households=100), UNITS)
    body = report.to_dict()
    assert body["ok"] is True and body["errors"] == 0 and body["warnings"] == 1
    assert set(body["problems"][0]) == {"rule", "severity", "code", "message", "lon", "lat"}


def test_metrics_summarise_households_and_compactness():
    m = plan_metrics(CLEAN)
    assert m["grids"] == 10 and m["households_total"] == 3050 and m["population_total"] == 8100
    assert (m["households_min"], m["households_max"], m["households_mean"]) == (300, 310, 305)
    assert m["households_std"] == 5.0
    assert m["households_within_range_share"] == 1.0
    assert plan_metrics(CLEAN, Targets(households_min=305))["households_within_range_share"] \
        == 0.5
    # independent path: geopandas' own UTM estimate and its area/length
    utm = CLEAN.to_crs(CLEAN.estimate_utm_crs())
    expected = 4 * math.pi * utm.area / utm.length ** 2
    assert m["compactness_mean"] == pytest.approx(expected.mean(), abs=2e-3)
    assert m["compactness_min"] == pytest.approx(expected.min(), abs=2e-3)


# ---- incremental checks ----

VILLAGE, VILLAGE_UNITS = synthetic_village(50, seed=3)


def test_synthetic_village_is_a_clean_tiling():
    report = check_plan(VILLAGE, VILLAGE_UNITS)
    assert report.errors == [] and len(VILLAGE) == 50
    assert {p.rule for p in report.warnings} <= {"households_range", "low_compactness"}


def test_check_edit_looks_at_the_edit_and_its_neighbours_only():
    code = VILLAGE["code"].iat[20]
    geom = VILLAGE.geometry.values[20]
    c = geom.centroid
    after, change = split_by_line(VILLAGE, code, LineString([(c.x - 1, c.y), (c.x + 1, c.y)]))
    index = PlanIndex.from_plan(VILLAGE)
    index.apply(change)
    local = check_edit(after, VILLAGE_UNITS, change, index)
    full = check_plan(after, VILLAGE_UNITS)
    assert set(change.after["code"]) <= local.grids and len(local.grids) < 20
    neighbours = {c2 for c2, g in zip(VILLAGE["code"], VILLAGE.geometry.values)
                  if g.intersects(geom)}
    assert neighbours <= local.grids
    assert list(local.problems) == [p for p in full.problems if local.covers(p)]
    assert any(p.rule == "code_order" for p in local.problems)  # new code out of order
    # without an index one is built: same answer
    assert check_edit(after, VILLAGE_UNITS, change).problems == local.problems


def test_check_edit_finds_problems_the_edit_made():
    # a hand-made change that pushes a grid into its neighbour
    code = VILLAGE["code"].iat[10]
    grown = VILLAGE.geometry.values[10].buffer(0.002)
    from gis.planning.edits import Change
    before = VILLAGE[VILLAGE["code"] == code]
    after_rows = before.copy()
    after_rows["geometry"] = gpd.GeoSeries([grown], crs="EPSG:4326").values
    change = Change("hand", before, after_rows)
    after = change.apply(VILLAGE)
    index = PlanIndex.from_plan(VILLAGE)
    index.apply(change)
    local = check_edit(after, VILLAGE_UNITS, change, index)
    overlaps = [p for p in local.errors if p.rule == "overlap"]
    assert code in {p.code for p in overlaps} and len({p.code for p in overlaps}) >= 3
    full = check_plan(after, VILLAGE_UNITS)
    assert list(local.problems) == [p for p in full.problems if local.covers(p)]


@given(st.integers(0, 49), st.floats(0, math.pi), st.integers(0, 49))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_check_edit_agrees_with_check_plan_after_any_split_and_merge(i, angle, j):
    code = VILLAGE["code"].iat[i]
    c = VILLAGE.geometry.values[i].centroid
    line = LineString([(c.x - math.cos(angle), c.y - math.sin(angle)),
                       (c.x + math.cos(angle), c.y + math.sin(angle))])
    after, change = split_by_line(VILLAGE, code, line)
    index = PlanIndex.from_plan(VILLAGE)
    index.apply(change)
    local = check_edit(after, VILLAGE_UNITS, change, index)
    assert list(local.problems) == \
        [p for p in check_plan(after, VILLAGE_UNITS).problems if local.covers(p)]
    other = VILLAGE["code"].iat[j]
    try:
        merged, change2 = merge(after, [code, other])
    except Exception as err:  # not adjacent, or the same grid
        assert getattr(err, "status", None) in (400, 422)
        return
    index.apply(change2)
    local = check_edit(merged, VILLAGE_UNITS, change2, index)
    assert list(local.problems) == \
        [p for p in check_plan(merged, VILLAGE_UNITS).problems if local.covers(p)]


def test_benchmark_one_edit_in_a_village_of_50_grids_checks_well_under_300_ms():
    result = benchmark_edit_check(n_grids=50, repeats=8, seed=1)
    assert result["grids"] == 50 and result["repeats"] == 8
    assert result["grids_checked_median"] < 25
    assert result["incremental_check_ms"]["median"] < 300
    assert 0 < result["edit_ms"]["median"] and 0 < result["full_check_ms"]["median"]
