"""Partition proposals (gis.planning.proposals): balanced grids inside the unit, passing every check."""
from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from gis.demo.plans import synthetic_village
from gis.errors import InputError, UnprocessableError
from gis.geo.measure import area_m2
from gis.planning.checks import DEFAULT_TARGETS, Targets, check_plan
from gis.planning.proposals import BalanceObjective, grid_count, propose, tessellate
from gis.planning.renumber import renumber
from tests.helpers import factory

LEAF = "231281102001"
SOUTH, NORTH = LEAF + "001", LEAF + "002"


PLAN, UNITS = factory.plan_and_units()
OVERLOADED = PLAN.copy()
OVERLOADED.loc[OVERLOADED["code"] == SOUTH, ["households", "population"]] = [1400, 3900]


def land_of(plan, unit):
    return shapely.union_all(plan.loc[plan["parent_code"] == unit].geometry.values)


def assert_balanced_and_sound(before, proposal, unit, targets=DEFAULT_TARGETS):
    after = proposal.plan
    report = check_plan(after, UNITS if unit in set(UNITS["code"]) else VILLAGE_UNITS, targets)
    assert report.errors == []
    new = after[after["code"].isin(proposal.change.after["code"])]
    assert len(new) >= proposal.k
    assert new["households"].between(targets.households_min, targets.households_max).all()
    assert (shapely.get_num_geometries(new.geometry.values) == 1).all()
    for col in ("households", "population"):
        assert after[col].sum() == before[col].sum()
    sym = shapely.symmetric_difference(land_of(before, unit), land_of(after, unit))
    assert float(area_m2(sym)[0]) < 1.0


def test_grid_count_puts_the_mean_load_nearest_the_middle_of_the_range():
    assert grid_count(450) == 1
    assert grid_count(610) == 2          # 305 each
    assert grid_count(1400) == 4         # 350 beats 467 (middle 400)
    assert grid_count(1710) == 4         # 427.5
    assert grid_count(560) == 1          # no count fits: 1 x 560 is nearest 400
    assert grid_count(1000, Targets(households_min=100, households_max=200)) == 7


def test_an_overloaded_grid_is_divided_into_balanced_grids():
    proposal = propose(OVERLOADED, UNITS, SOUTH, seed=0)
    assert proposal.k == 4 and proposal.blocks >= 4 * 20
    change = proposal.change
    assert change.op == "propose" and change.changed == [SOUTH] and len(change.added) == 3
    assert change.removed == []
    new = proposal.plan[proposal.plan["code"].isin(change.after["code"])]
    assert new["households"].sum() == 1400 and new["population"].sum() == 3900
    assert new["households"].max() - new["households"].min() <= 40
    # the land of the replaced grid is exactly the land of the new ones
    old = OVERLOADED.loc[OVERLOADED["code"] == SOUTH].geometry.values[0]
    assert float(area_m2(shapely.symmetric_difference(old, shapely.union_all(
        new.geometry.values)))[0]) < 1.0
    # the neighbour is untouched
    assert proposal.plan.loc[proposal.plan["code"] == NORTH].geometry.values[0].equals(
        PLAN.loc[PLAN["code"] == NORTH].geometry.values[0])
    assert_balanced_and_sound(OVERLOADED, proposal, LEAF)


def test_a_whole_unit_is_redivided_and_numbered_by_the_rule():
    proposal = propose(OVERLOADED, UNITS, LEAF, seed=0)
    assert proposal.k == 4  # 1,710 households
    new = proposal.plan[proposal.plan["parent_code"] == LEAF]
    assert sorted(new["code"]) == [f"{LEAF}{n:03d}" for n in range(1, 5)]
    assert renumber(new)[1] == {c: c for c in new["code"]}
    report = check_plan(proposal.plan, UNITS)
    assert not [p for p in report.problems if p.code in set(new["code"]) | {LEAF}]
    assert_balanced_and_sound(OVERLOADED, proposal, LEAF)
    # undo restores the unit as it was
    back = proposal.change.revert(proposal.plan)
    assert back.equals(OVERLOADED.sort_values("code").reset_index(drop=True))


def test_proposals_are_deterministic_for_a_seed():
    a = propose(OVERLOADED, UNITS, SOUTH, seed=7, restarts=1)
    b = propose(OVERLOADED, UNITS, SOUTH, seed=7, restarts=1)
    assert list(a.plan["code"]) == list(b.plan["code"])
    assert all(x.equals_exact(y, 0) for x, y in zip(a.plan.geometry.values,
                                                     b.plan.geometry.values))
    assert list(a.plan["households"]) == list(b.plan["households"])


def test_a_given_k_is_used_and_bad_requests_are_refused():
    proposal = propose(OVERLOADED, UNITS, SOUTH, k=3, restarts=1)
    assert proposal.k == 3 and len(proposal.change.after) == 3
    assert_balanced_and_sound(OVERLOADED, proposal, LEAF)
    with pytest.raises(InputError):
        propose(OVERLOADED, UNITS, SOUTH, k=0)
    with pytest.raises(UnprocessableError) as err:
        propose(OVERLOADED, UNITS, "231281102001999")
    assert err.value.details["code"] == "231281102001999"
    with pytest.raises(UnprocessableError, match="too small"):
        propose(OVERLOADED, UNITS, SOUTH, k=30, blocks_per_grid=1, max_blocks=20)


def test_a_concave_village_of_irregular_grids_is_redivided():
    village = VILLAGE.copy()
    village["households"] = 120
    village["population"] = 300
    total = 120 * len(village)
    proposal = propose(village, VILLAGE_UNITS, VILLAGE_UNITS["code"].iat[0], seed=1,
                       restarts=1, blocks_per_grid=12)
    assert proposal.k == grid_count(total) and proposal.k >= 10
    assert_balanced_and_sound(village, proposal, VILLAGE_UNITS["code"].iat[0])


# A concave (L-shaped) village of Voronoi grids.
_SQUARE_PLAN, _SQUARE_UNITS = synthetic_village(50, seed=5)
_CUT = box(125.32, 46.42, 125.35, 46.45)
VILLAGE_UNITS = _SQUARE_UNITS.assign(geometry=_SQUARE_UNITS.geometry.difference(_CUT))
VILLAGE = _SQUARE_PLAN.assign(geometry=_SQUARE_PLAN.geometry.difference(_CUT))
VILLAGE = VILLAGE[~VILLAGE.geometry.is_empty].reset_index(drop=True)


def test_tessellation_tiles_the_area_in_single_polygons():
    area = VILLAGE_UNITS.geometry.values[0]
    blocks = tessellate(area, 200)
    assert 150 <= len(blocks) <= 260
    assert (shapely.get_type_id(blocks) == 3).all()
    assert float(area_m2(shapely.symmetric_difference(area, shapely.union_all(blocks)))[0]) < 1
    # no overlap: planar areas add up to the area's own
    assert float(shapely.area(blocks).sum()) == pytest.approx(area.area, rel=1e-9)


@given(st.integers(0, 10_000), st.integers(2, 4))
@settings(max_examples=20, deadline=None)
def test_balance_objective_update_is_the_change_in_the_objective(seed, k):
    rng = np.random.default_rng(seed)
    n = 12
    hh = rng.uniform(0, 100, size=(n, 1))
    dense = np.triu(rng.uniform(0, 50, size=(n, n)) * (rng.random((n, n)) < 0.4), 1)
    from scipy.sparse import csr_matrix
    borders = csr_matrix(dense + dense.T)
    labels = rng.integers(0, k, size=n)
    labels[:k] = np.arange(k)
    objective = BalanceObjective(hh.sum() / k, borders, scale_m=100.0)
    area = int(rng.integers(k, n))
    recipient = int((labels[area] + 1) % k)
    moved = labels.copy()
    moved[area] = recipient
    expected = objective(moved, hh) - objective(labels, hh)
    assert objective.update(area, recipient, labels, hh) == pytest.approx(expected, abs=1e-9)
