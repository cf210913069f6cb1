"""Edit operations on draft plans (gis.planning.edits), the change record, renumbering and the plan index.

Examples for every operation (a passing and a failing request), then property-based tests over
the exact factory set: edits never change the land the grids cover, never create overlap or
gaps, preserve household and population totals, and undo exactly.
"""
from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Polygon, box

from gis.errors import Conflict, InputError, UnprocessableError
from gis.geo.measure import area_m2
from gis.planning import edits as editing
from gis.planning.checks import check_edit, check_plan
from gis.planning.edits import (
    Change,
    add_grid,
    apportion,
    merge,
    move_area,
    redraw,
    reshape,
    retire,
    split_by_line,
    split_equal,
)
from gis.planning.index import PlanIndex
from gis.planning.renumber import next_codes, renumber
from tests.helpers import factory

# Leaf 231281102001 (community) is 125.2..125.4 E x 46.0..46.2 N with grids ...001 (south half)
# and ...002 (north half); hamlet 231281101001001 is 125.0..125.1 x 46.0..46.2, likewise.
LEAF = "231281102001"
SOUTH, NORTH = LEAF + "001", LEAF + "002"
HAMLET = "231281101001001"
TOPOLOGY_RULES = {"overlap", "gap", "outside_parent", "invalid_geometry", "duplicate_code",
                  "bad_code", "unknown_parent", "bad_count"}


PLAN, UNITS = factory.plan_and_units()


def grid(plan, code):
    return plan.loc[plan["code"] == code].iloc[0]


def union_m2_difference(a, b) -> float:
    ua = shapely.union_all(a.geometry.values)
    ub = shapely.union_all(b.geometry.values)
    return float(area_m2(shapely.symmetric_difference(ua, ub))[0])


def assert_sound_edit(before, after, change, units=UNITS):
    """The invariants every edit keeps."""
    assert union_m2_difference(before, after) < 1.0
    assert not after["code"].duplicated().any()
    for col in ("households", "population"):
        assert after[col].sum() == before[col].sum()
        assert (after[col] >= 0).all()
        assert after[col].dtype.kind == "i"
        # land never leaves its unit, so neither do people
        assert after.groupby("parent_code")[col].sum().to_dict() == \
            before.groupby("parent_code")[col].sum().to_dict()
    report = check_plan(after, units)
    assert [p for p in report.errors if p.rule in TOPOLOGY_RULES] == []
    # planar lon/lat areas: no overlap means the parts add up to the union (1e-10 deg² ~ 1 m²)
    total = float(shapely.area(after.geometry.values).sum())
    assert total - shapely.union_all(after.geometry.values).area < 1e-10
    undone = change.revert(after)
    assert undone.reset_index(drop=True).equals(before.sort_values("code").reset_index(drop=True))
    assert change.apply(undone).equals(after)
    # The incremental check sees exactly what the full check sees within its scope.
    index = PlanIndex.from_plan(before)
    index.apply(change)
    local = check_edit(after, units, change, index)
    assert list(local.problems) == [p for p in report.problems if local.covers(p)]
    assert set(change.after["code"]) <= local.grids


# ---- examples: split by a line ----

def test_split_by_line_cuts_a_grid_in_two_and_shares_people_by_area():
    line = LineString([(125.25, 45.9), (125.25, 46.3)])  # runs beyond the grid on both sides
    after, change = split_by_line(PLAN, SOUTH, line)
    assert change.op == "split_by_line"
    assert change.changed == [SOUTH] and change.added == [LEAF + "003"] and change.removed == []
    kept, new = grid(after, SOUTH), grid(after, LEAF + "003")
    # the east part is three times the west part: it keeps the code, the west gets 1/4
    assert kept.geometry.bounds == pytest.approx((125.25, 46.0, 125.4, 46.1))
    assert new.geometry.bounds == pytest.approx((125.2, 46.0, 125.25, 46.1))
    assert (kept["households"], new["households"]) == (225, 75)
    assert (kept["population"], new["population"]) == (600, 200)
    assert new["name"] == f"{grid(PLAN, SOUTH)['name']}-2" and new["parent_code"] == LEAF
    assert_sound_edit(PLAN, after, change)


def test_split_by_line_crossing_twice_makes_three_grids_and_accepts_geojson():
    line = {"type": "LineString",
            "coordinates": [(125.25, 45.9), (125.25, 46.2), (125.35, 46.2), (125.35, 45.9)]}
    after, change = split_by_line(PLAN, SOUTH, line)
    assert len(change.added) == 2
    assert after.loc[after["parent_code"] == LEAF, "households"].sum() == 610
    assert_sound_edit(PLAN, after, change)


@pytest.mark.parametrize("line", [
    LineString([(125.25, 45.9), (125.25, 46.05)]),   # ends inside the grid
    LineString([(125.0, 45.9), (125.0, 46.3)]),      # misses it
    LineString([(125.2, 45.9), (125.2, 46.3)]),      # runs along its border
])
def test_split_by_line_that_does_not_cut_is_refused(line):
    with pytest.raises(UnprocessableError) as err:
        split_by_line(PLAN, SOUTH, line)
    assert err.value.details["code"] == SOUTH and err.value.status == 422


def test_split_by_line_rejects_bad_input():
    with pytest.raises(InputError) as err:
        split_by_line(PLAN, SOUTH, box(0, 0, 1, 1))
    assert err.value.field == "line" and err.value.status == 400
    with pytest.raises(UnprocessableError) as err:
        split_by_line(PLAN, "231281102001999", LineString([(125.25, 45.9), (125.25, 46.3)]))
    assert err.value.details == {"code": "231281102001999"}


# ---- split into k parts ----

def test_split_equal_gives_parts_of_equal_area_across_the_long_axis():
    after, change = split_equal(PLAN, SOUTH, 4)
    parts = after[after["parent_code"] == LEAF]
    parts = parts[parts["code"] != NORTH]
    areas = area_m2(parts.geometry.values)
    assert len(parts) == 4 and max(areas) / min(areas) < 1.001
    # the grid is 0.2 deg (15 km) wide and 0.1 deg (11 km) tall: cuts run north-south
    for g in parts.geometry.values:
        assert g.bounds[1] == pytest.approx(46.0) and g.bounds[3] == pytest.approx(46.1)
    assert sorted(parts["households"]) == [75, 75, 75, 75]
    assert_sound_edit(PLAN, after, change)


def test_split_equal_along_a_given_direction():
    after, change = split_equal(PLAN, SOUTH, 2, angle=90)  # cuts perpendicular to north
    g = grid(after, SOUTH).geometry
    assert g.bounds[0] == pytest.approx(125.2) and g.bounds[2] == pytest.approx(125.4)
    assert_sound_edit(PLAN, after, change)


def test_split_equal_keeps_parts_of_a_concave_grid_in_one_piece():
    u_shape = box(125.2, 46.0, 125.4, 46.1).difference(box(125.25, 46.03, 125.35, 46.1))
    rest = box(125.2, 46.0, 125.4, 46.2).difference(u_shape)
    plan = PLAN.copy()
    plan.loc[plan["code"] == SOUTH, "geometry"] = u_shape
    plan.loc[plan["code"] == NORTH, "geometry"] = rest
    after, change = split_equal(plan, SOUTH, 2, angle=90)  # a horizontal cut meets the U twice
    parts = after[after["code"].isin(change.after["code"])]
    assert (shapely.get_num_geometries(parts.geometry.values) == 1).all()
    assert_sound_edit(plan, after, change)


@pytest.mark.parametrize("k", [1, 0, 2.5, True, 1000])
def test_split_equal_rejects_bad_k(k):
    with pytest.raises(InputError) as err:
        split_equal(PLAN, SOUTH, k)
    assert err.value.field == "k"


# ---- merge ----

def test_merge_joins_adjacent_grids_into_the_smallest_code():
    after, change = merge(PLAN, [NORTH, SOUTH])
    assert change.removed == [NORTH] and change.changed == [SOUTH]
    merged = grid(after, SOUTH)
    assert merged.geometry.equals(box(125.2, 46.0, 125.4, 46.2))
    assert merged.geometry.geom_type == "Polygon"
    assert (merged["households"], merged["population"]) == (610, 1620)
    assert_sound_edit(PLAN, after, change)


def test_merge_refuses_grids_of_different_units():
    with pytest.raises(UnprocessableError, match="different units"):
        merge(PLAN, [SOUTH, "231281102002001"])


def test_merge_refuses_grids_that_only_touch_at_a_corner():
    split, _ = split_by_line(PLAN, SOUTH, LineString([(125.3, 45.9), (125.3, 46.3)]))
    split, _ = split_by_line(split, NORTH, LineString([(125.3, 45.9), (125.3, 46.3)]))
    # SOUTH is now one quarter, NORTH the diagonally opposite (or same-side) quarter
    corner = [c for c in split[split["parent_code"] == LEAF]["code"]
              if shapely.touches(grid(split, SOUTH).geometry, grid(split, c).geometry)
              and grid(split, SOUTH).geometry.intersection(grid(split, c).geometry).length == 0]
    assert len(corner) == 1
    with pytest.raises(UnprocessableError, match="shares no border") as err:
        merge(split, [SOUTH, corner[0]])
    assert err.value.details["code"] in (SOUTH, corner[0])


def test_merge_needs_two_codes():
    with pytest.raises(InputError):
        merge(PLAN, [SOUTH])


# ---- reshape ----

def test_reshape_takes_land_from_the_neighbour():
    outline = box(125.2, 46.0, 125.4, 46.15)
    after, change = reshape(PLAN, UNITS, SOUTH, outline)
    assert grid(after, SOUTH).geometry.equals(outline)
    assert grid(after, NORTH).geometry.equals(box(125.2, 46.15, 125.4, 46.2))
    # half the north grid's land, and so half its 310 households, moved south
    assert grid(after, SOUTH)["households"] == 300 + 155
    assert_sound_edit(PLAN, after, change)


def test_reshape_is_clipped_to_the_unit_and_gives_up_land_to_the_longest_border():
    # The new outline leaves the unit to the south and east, and gives up a strip in the west.
    outline = box(125.25, 45.9, 125.5, 46.1)
    after, change = reshape(PLAN, UNITS, SOUTH, outline)
    assert grid(after, SOUTH).geometry.equals(box(125.25, 46.0, 125.4, 46.1))
    assert grid(after, NORTH).geometry.equals(
        box(125.2, 46.0, 125.4, 46.2).difference(box(125.25, 46.0, 125.4, 46.1)))
    assert_sound_edit(PLAN, after, change)


def test_reshape_gives_released_land_to_the_neighbour_with_the_longest_border():
    plan, _ = split_by_line(PLAN, NORTH, LineString([(125.35, 46.0), (125.35, 46.3)]))
    # NORTH is now 125.2..125.35 (long border with SOUTH), the new grid 125.35..125.4.
    east = [c for c in plan[plan["parent_code"] == LEAF]["code"] if c not in (SOUTH, NORTH)][0]
    after, change = reshape(plan, UNITS, SOUTH, box(125.2, 46.0, 125.4, 46.05))
    assert grid(after, NORTH).geometry.covers(box(125.2, 46.05, 125.35, 46.1))
    # the released strip went to NORTH as one piece, also the part below the east grid
    assert grid(after, NORTH).geometry.covers(box(125.35, 46.05, 125.4, 46.1))
    assert grid(after, east).geometry.equals(grid(plan, east).geometry)
    assert_sound_edit(plan, after, change)


def test_reshape_removes_a_neighbour_it_swallows():
    after, change = reshape(PLAN, UNITS, SOUTH, box(125.1, 45.9, 125.5, 46.3))
    assert change.removed == [NORTH]
    assert grid(after, SOUTH)["households"] == 610
    assert_sound_edit(PLAN, after, change)


def test_reshape_outside_its_unit_is_refused():
    with pytest.raises(UnprocessableError, match="empty") as err:
        reshape(PLAN, UNITS, SOUTH, box(125.5, 46.0, 125.6, 46.1))
    assert err.value.details["code"] == SOUTH


def test_reshape_into_separate_parts_is_refused():
    two = box(125.2, 46.0, 125.25, 46.1).union(box(125.3, 46.0, 125.35, 46.1))
    with pytest.raises(UnprocessableError, match="separate parts"):
        reshape(PLAN, UNITS, SOUTH, two)
    with pytest.raises(InputError, match="not valid"):
        bowtie = Polygon([(125.2, 46), (125.3, 46.1), (125.3, 46), (125.2, 46.1)])
        reshape(PLAN, UNITS, SOUTH, bowtie)


# ---- move an area ----

def test_move_area_moves_the_drawn_part_and_its_people():
    area = box(125.25, 46.05, 125.31, 46.15)  # straddles the border; only SOUTH's part moves
    after, change = move_area(PLAN, SOUTH, NORTH, area)
    moved = box(125.25, 46.05, 125.31, 46.1)
    assert grid(after, NORTH).geometry.covers(moved)
    assert not grid(after, SOUTH).geometry.intersection(moved).area > 0
    # 0.15 of SOUTH's land carries 0.15 of its 300 households and 800 people
    assert grid(after, NORTH)["households"] == 310 + 45
    assert grid(after, NORTH)["population"] == 820 + 120
    assert_sound_edit(PLAN, after, change)


def test_move_a_units_outline_between_grids():
    hamlet = UNITS.loc[UNITS["code"] == HAMLET].geometry.values[0]
    a, b = HAMLET + "001", HAMLET + "002"
    with pytest.raises(UnprocessableError, match="covers all"):
        move_area(PLAN, a, b, hamlet)
    after, change = move_area(PLAN, a, b, hamlet.intersection(box(125.0, 46.0, 125.05, 46.2)))
    assert grid(after, b)["households"] == 310 + 150
    assert_sound_edit(PLAN, after, change)


@pytest.mark.parametrize("area,match", [
    (box(125.25, 46.15, 125.3, 46.18), "does not overlap"),
    (box(125.25, 46.01, 125.3, 46.05), "does not border"),
])
def test_move_area_refuses_impossible_moves(area, match):
    with pytest.raises(UnprocessableError, match=match) as err:
        move_area(PLAN, SOUTH, NORTH, area)
    assert err.value.details["code"] == SOUTH


def test_move_area_refuses_grids_of_different_units():
    with pytest.raises(UnprocessableError, match="not another grid"):
        move_area(PLAN, SOUTH, "231281102002001", box(125.2, 46.0, 125.4, 46.25))


# ---- add and retire ----

def test_add_grid_is_carved_out_of_the_units_grids():
    outline = box(125.25, 46.05, 125.35, 46.15)
    after, change = add_grid(PLAN, UNITS, outline, name="新网格")
    code = LEAF + "003"
    assert change.added == [code] and change.changed == [SOUTH, NORTH]
    new = grid(after, code)
    assert new.geometry.equals(outline) and new["name"] == "新网格"
    assert new["parent_code"] == LEAF
    # a quarter of each grid: 75 + 77.5 -> 75 + 78 (largest remainder within NORTH's 310)
    assert new["households"] == 75 + 78
    assert_sound_edit(PLAN, after, change)


def test_add_grid_is_clipped_to_the_unit_it_overlaps_most():
    outline = box(125.3, 46.05, 125.45, 46.1)  # mostly in LEAF, partly outside the city
    after, change = add_grid(PLAN, UNITS, outline)
    assert grid(after, change.added[0]).geometry.equals(box(125.3, 46.05, 125.4, 46.1))
    assert_sound_edit(PLAN, after, change)
    with pytest.raises(UnprocessableError, match="outside every unit"):
        add_grid(PLAN, UNITS, box(126.0, 46.0, 126.1, 46.1))
    with pytest.raises(UnprocessableError, match="not a leaf unit"):
        add_grid(PLAN, UNITS, outline, parent_code="231281102000")


def test_retire_gives_land_to_the_longest_border_or_the_named_grid():
    after, change = retire(PLAN, SOUTH)
    assert change.removed == [SOUTH] and change.changed == [NORTH]
    assert grid(after, NORTH)["households"] == 610
    assert_sound_edit(PLAN, after, change)
    plan, _ = split_by_line(PLAN, NORTH, LineString([(125.3, 46.0), (125.3, 46.3)]))
    other = [c for c in plan[plan["parent_code"] == LEAF]["code"] if c not in (SOUTH, NORTH)][0]
    after, change = retire(plan, SOUTH, to=other)
    assert grid(after, other)["households"] == grid(plan, other)["households"] + 300
    assert_sound_edit(plan, after, change)


def test_retire_refuses_without_a_neighbour_in_the_unit():
    alone, _ = merge(PLAN, [SOUTH, NORTH])
    with pytest.raises(UnprocessableError, match="no neighbour") as err:
        retire(alone, SOUTH)
    assert err.value.details["code"] == SOUTH
    with pytest.raises(UnprocessableError, match="not another grid"):
        retire(PLAN, SOUTH, to="231281102002001")


def test_redraw_refuses_to_lose_land():
    with pytest.raises(UnprocessableError, match="without a grid"):
        redraw(PLAN, {SOUTH: box(125.2, 46.0, 125.3, 46.1)})


# ---- change records ----

def test_change_round_trips_through_a_dict_and_refuses_the_wrong_plan():
    after, change = split_by_line(PLAN, SOUTH, LineString([(125.25, 45.9), (125.25, 46.3)]))
    body = change.to_dict()
    assert body["added"] == change.added and body["before"]["type"] == "FeatureCollection"
    again = Change.from_dict(body)
    assert again.apply(PLAN).equals(after)
    assert again.revert(after).equals(PLAN.sort_values("code").reset_index(drop=True))
    with pytest.raises(Conflict):
        change.apply(after)      # already applied
    with pytest.raises(Conflict):
        change.revert(PLAN)      # not applied


def test_apportion_preserves_the_total_by_largest_remainder():
    assert list(apportion(10, [1, 1, 1])) == [4, 3, 3]
    assert list(apportion(7, [0.5, 0.25, 0.25])) == [3, 2, 2]  # 3.5, 1.75, 1.75
    assert list(apportion(0, [1, 2])) == [0, 0]
    with pytest.raises(ValueError):
        apportion(5, [0, 0])


@given(st.integers(0, 100_000), st.lists(st.floats(0, 1e6), min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_apportion_sums_to_the_total_and_stays_within_one_of_the_quota(total, weights):
    w = np.array(weights)
    if w.sum() <= 0:
        w[0] = 1.0
    shares = apportion(total, w)
    assert shares.sum() == total
    assert (np.abs(shares - total * w / w.sum()) < 1 + 1e-9).all()


# ---- renumbering rule ----

def test_renumber_numbers_rows_north_to_south_then_west_to_east():
    # 2 x 2 layout in one unit, coded in a scrambled order
    cells = {"901": box(125.2, 46.0, 125.3, 46.1), "902": box(125.3, 46.1, 125.4, 46.2),
             "903": box(125.3, 46.0, 125.4, 46.1), "904": box(125.2, 46.1, 125.3, 46.2)}
    plan = gpd.GeoDataFrame({"code": [LEAF + s for s in cells], "name": list(cells),
                             "parent_code": LEAF, "households": 1, "population": 1},
                            geometry=list(cells.values()), crs="EPSG:4326")
    out, mapping = renumber(plan)
    assert mapping == {LEAF + "904": LEAF + "001", LEAF + "902": LEAF + "002",
                       LEAF + "901": LEAF + "003", LEAF + "903": LEAF + "004"}
    assert grid(out, LEAF + "001")["name"] == "904"
    again, same = renumber(out)
    assert again.equals(out) and all(k == v for k, v in same.items())


def test_renumber_of_the_factory_swaps_south_and_north():
    out, mapping = renumber(PLAN)
    assert mapping[SOUTH] == NORTH and mapping[NORTH] == SOUTH
    assert grid(out, SOUTH).geometry.equals(grid(PLAN, NORTH).geometry)
    assert set(out["code"]) == set(PLAN["code"])


def test_renumber_and_next_codes_refuse_impossible_numbering():
    dup = pd.concat([PLAN, PLAN.iloc[:1]], ignore_index=True)
    with pytest.raises(UnprocessableError, match="more than once"):
        renumber(gpd.GeoDataFrame(dup, crs="EPSG:4326"))
    assert next_codes([LEAF + "001", LEAF + "007", "x"], LEAF, 2) == [LEAF + "008", LEAF + "009"]
    with pytest.raises(UnprocessableError, match="no free grid codes"):
        next_codes([LEAF + "999"], LEAF, 1)


# ---- plan index ----

def test_plan_index_follows_edits_by_insert_and_delete():
    index = PlanIndex.from_plan(PLAN)
    assert len(index) == 10
    assert index.intersecting(box(125.25, 46.05, 125.26, 46.06)) == [SOUTH]
    assert sorted(index.intersecting(LineString([(125.25, 46.1), (125.26, 46.1)]))) == \
        [SOUTH, NORTH]
    after, change = split_by_line(PLAN, SOUTH, LineString([(125.25, 45.9), (125.25, 46.3)]))
    index.apply(change)
    assert len(index) == 11 and LEAF + "003" in index
    assert index.intersecting(box(125.21, 46.05, 125.22, 46.06)) == [LEAF + "003"]
    index.revert(change)
    assert len(index) == 10 and LEAF + "003" not in index
    assert index.intersecting(box(125.21, 46.05, 125.22, 46.06)) == [SOUTH]
    with pytest.raises(UnprocessableError):
        index.insert(SOUTH, box(0, 0, 1, 1))


# ---- properties ----

grid_codes = st.sampled_from(sorted(PLAN["code"]))
settings_ = settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


def line_through(geom, fx, fy, angle):
    minx, miny, maxx, maxy = geom.bounds
    x = minx + (0.05 + 0.9 * fx) * (maxx - minx)
    y = miny + (0.05 + 0.9 * fy) * (maxy - miny)
    d = 1.0
    return LineString([(x - d * math.cos(angle), y - d * math.sin(angle)),
                       (x + d * math.cos(angle), y + d * math.sin(angle))])


unit_floats = st.floats(0, 1)
angles = st.floats(0, math.pi)


@given(grid_codes, unit_floats, unit_floats, angles)
@settings_
def test_split_by_line_keeps_land_and_people(code, fx, fy, angle):
    line = line_through(grid(PLAN, code).geometry, fx, fy, angle)
    after, change = split_by_line(PLAN, code, line)
    assert len(change.added) == 1
    assert_sound_edit(PLAN, after, change)


@given(grid_codes, st.integers(2, 7), st.one_of(st.none(), st.floats(0, 180)))
@settings_
def test_split_equal_keeps_land_and_people(code, k, angle):
    after, change = split_equal(PLAN, code, k, angle)
    areas = area_m2(after[after["code"].isin(change.after["code"])].geometry.values)
    assert len(areas) == k and max(areas) / min(areas) < 1.01
    assert_sound_edit(PLAN, after, change)


@given(grid_codes, unit_floats, unit_floats, angles, st.data())
@settings_
def test_split_then_merge_restores_the_land(code, fx, fy, angle, data):
    split, _ = split_by_line(PLAN, code, line_through(grid(PLAN, code).geometry, fx, fy, angle))
    parent = grid(PLAN, code)["parent_code"]
    codes = sorted(split.loc[split["parent_code"] == parent, "code"])
    chosen = data.draw(st.lists(st.sampled_from(codes), min_size=2, unique=True))
    try:
        after, change = merge(split, chosen)
    except UnprocessableError as err:  # only when the chosen grids are not connected
        assert "shares no border" in err.message
        return
    assert_sound_edit(split, after, change)
    if sorted(chosen) == codes:
        merged = grid(after, codes[0]).geometry
        leaf = UNITS.loc[UNITS["code"] == parent].geometry.values[0]
        assert float(area_m2(shapely.symmetric_difference(merged, leaf))[0]) < 1.0


@given(grid_codes, st.floats(-0.08, 0.08), st.floats(-0.08, 0.08), st.floats(0.3, 1.8),
       st.floats(0.3, 1.8))
@settings_
def test_reshape_keeps_land_and_people(code, dx, dy, sx, sy):
    geom = grid(PLAN, code).geometry
    outline = shapely.affinity.translate(shapely.affinity.scale(geom, sx, sy), dx, dy)
    try:
        after, change = reshape(PLAN, UNITS, code, outline)
    except UnprocessableError as err:  # the outline moved off its unit
        assert "empty" in err.message
        assert float(area_m2(outline.intersection(
            UNITS.loc[UNITS["code"] == grid(PLAN, code)["parent_code"]].geometry.values[0]))[0]) \
            <= editing.NOISE_M2
        return
    assert_sound_edit(PLAN, after, change)


leaf_pairs = st.sampled_from(sorted(PLAN["parent_code"].unique()))


@given(leaf_pairs, st.booleans(), unit_floats, st.floats(0.05, 0.9), st.floats(0.05, 0.9))
@settings_
def test_move_area_keeps_land_and_people(leaf, southward, fx, w, h):
    south, north = leaf + "001", leaf + "002"
    minx, miny, maxx, maxy = UNITS.loc[UNITS["code"] == leaf].geometry.values[0].bounds
    mid = (miny + maxy) / 2
    x = minx + fx * (maxx - minx)
    half_w, half_h = w * (maxx - minx) / 2, h * (maxy - mid)
    area = box(x - half_w, mid - half_h, x + half_w, mid + half_h)  # straddles the border
    source, target = (north, south) if southward else (south, north)
    after, change = move_area(PLAN, source, target, area)
    assert_sound_edit(PLAN, after, change)


OPS = st.sampled_from(["split", "split_equal", "merge", "reshape", "move", "add", "retire"])


@given(st.lists(st.tuples(OPS, st.randoms(use_true_random=False)), min_size=1, max_size=6))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_sequence_of_edits_keeps_land_people_and_undoes(steps):
    plan = PLAN
    history = []
    for op, rnd in steps:
        code = rnd.choice(sorted(plan["code"]))
        row = grid(plan, code)
        geom, parent = row.geometry, row["parent_code"]
        siblings = sorted(set(plan.loc[plan["parent_code"] == parent, "code"]) - {code})
        try:
            if op == "split":
                after, change = split_by_line(plan, code, line_through(
                    geom, rnd.random(), rnd.random(), rnd.uniform(0, math.pi)))
            elif op == "split_equal":
                after, change = split_equal(plan, code, rnd.randint(2, 4))
            elif op == "merge":
                after, change = merge(plan, [code, rnd.choice(siblings or [code])])
            elif op == "reshape":
                outline = shapely.affinity.scale(geom, rnd.uniform(0.5, 1.5),
                                                 rnd.uniform(0.5, 1.5))
                after, change = reshape(plan, UNITS, code, outline)
            elif op == "move":
                target = rnd.choice(siblings or [code])
                area = grid(plan, target).geometry.buffer(0.01).intersection(geom)
                after, change = move_area(plan, code, target, area)
            elif op == "add":
                c = geom.representative_point()
                r = rnd.uniform(0.005, 0.05)
                after, change = add_grid(plan, UNITS, box(c.x - r, c.y - r, c.x + r, c.y + r))
            else:
                after, change = retire(plan, code)
        except (UnprocessableError, InputError) as err:
            assert err.status in (400, 422) and err.message
            event(f"{op} refused")
            continue
        event(f"{op} done")
        assert_sound_edit(plan, after, change)
        history.append((plan, change))
        plan = after
    for before, change in reversed(history):
        plan = change.revert(plan)
        assert plan.equals(before.sort_values("code").reset_index(drop=True))
    assert plan.equals(PLAN.sort_values("code").reset_index(drop=True))
