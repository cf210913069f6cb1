"""Coverage core (gis.coverage): camera footprints, shares, road network, response areas and
staffing, against hand-computed values. No database."""
from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString, MultiLineString, Point, box

from gis.coverage.cameras import footprints
from gis.coverage.network import (
    build_network,
    node_costs,
    reachable_lines,
    service_area,
    snap_to_node,
)
from gis.coverage.response import network_area, speed_buffer
from gis.coverage.shares import area_shares, line_coverage, split_lines, weighted_share
from gis.coverage.staffing import grid_staffing, unit_gaps
from gis.errors import InputError

METRIC = "EPSG:32651"
SQUARE = box(0, 0, 400, 400)
CX = CY = 200.0


def roads(*geoms, names=None, kinds=None):
    data = {"name": names or [f"r{i}" for i in range(len(geoms))]}
    if kinds is not None:
        data["kind"] = kinds
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=METRIC)


def bearing(dx, dy):
    return math.degrees(math.atan2(dx, dy)) % 360


# --- cameras and area shares -------------------------------------------------------------------

def test_full_disc_share_of_a_grid():
    (disc,) = footprints(CX, CY, 100)
    assert disc.area == pytest.approx(math.pi * 100**2, rel=0.005)
    (share,) = area_shares([SQUARE], disc)
    assert share == pytest.approx(math.pi * 100**2 / 160000, rel=0.005)


def test_camera_at_the_corner_covers_a_quarter_disc():
    cover = shapely.union_all(footprints(0, 0, 100))
    (share,) = area_shares([SQUARE], cover)
    assert share == pytest.approx(math.pi * 100**2 / 4 / 160000, rel=0.005)


def test_sector_facing_east():
    (sector,) = footprints(CX, CY, 100, direction_deg=90, fov_deg=90)
    assert sector.area == pytest.approx(math.pi * 100**2 / 4, rel=0.005)
    c = sector.centroid
    # Centroid of a sector of half-angle a: 2 r sin(a) / (3 a) from the apex.
    expected = 2 * 100 * math.sin(math.pi / 4) / (3 * math.pi / 4)
    assert c.x - CX == pytest.approx(expected, abs=0.5)
    assert abs(c.y - CY) < 1e-6
    assert sector.bounds[0] == pytest.approx(CX)  # nothing behind the camera


def test_sector_facing_north_and_straddling_north():
    north, straddle = footprints(CX, CY, 100, direction_deg=[0, 350], fov_deg=[60, 40])
    assert north.centroid.y > CY + 50 and abs(north.centroid.x - CX) < 1e-6
    c = straddle.centroid
    assert bearing(c.x - CX, c.y - CY) == pytest.approx(350, abs=0.01)
    xs = shapely.get_coordinates(straddle)[:, 0]
    assert xs.min() < CX < xs.max()  # arc from 330 to 10 degrees crosses north
    arc = shapely.get_coordinates(straddle)[1:-1]
    angles = np.array([bearing(x - CX, y - CY) for x, y in arc])
    assert angles[0] == pytest.approx(330) and angles[-1] == pytest.approx(10)


def test_arc_vertices_no_farther_apart_than_the_step():
    (sector,) = footprints(0, 0, 50, direction_deg=45, fov_deg=40, arc_step_deg=7)
    arc = shapely.get_coordinates(sector)[1:-1]
    assert len(arc) == 7  # ceil(40 / 7) = 6 steps of 6.67 degrees
    gaps = np.diff([bearing(x, y) for x, y in arc])
    assert np.allclose(gaps, 40 / 6)
    assert np.allclose(np.hypot(arc[:, 0], arc[:, 1]), 50)


def test_missing_direction_or_fov_and_full_fov_give_discs():
    polys = footprints([0, 0, 0, 0], [0, 0, 0, 0], 10,
                       direction_deg=[None, 90, 90, np.nan], fov_deg=[90, None, 360, 90])
    for p in polys:
        assert p.area == pytest.approx(math.pi * 100, rel=0.005)
        assert p.centroid.distance(Point(0, 0)) < 1e-6


def test_camera_validation_names_rows():
    with pytest.raises(InputError) as err:
        footprints([0, 0, 0], [0, 0, 0], [10, -5, np.nan])
    assert err.value.details == {"rows": [1, 2]}
    with pytest.raises(InputError) as err:
        footprints([0, 0], [0, 0], 10, direction_deg=[90, 90], fov_deg=[0, 90])
    assert err.value.details == {"rows": [0]}
    with pytest.raises(InputError) as err:
        footprints([0, 0, 0], [0, 0, 0], 10, direction_deg=[360, 90, -1], fov_deg=90)
    assert err.value.details == {"rows": [0, 2]}
    with pytest.raises(InputError):
        footprints(0, 0, 10, direction_deg=0, fov_deg=400)


def test_area_shares_edge_cases():
    zones = [SQUARE, LineString([(0, 0), (1, 1)]), box(1000, 1000, 1100, 1100)]
    assert area_shares(zones, None).tolist() == [0.0, 0.0, 0.0]
    assert area_shares(zones, shapely.Polygon()).tolist() == [0.0, 0.0, 0.0]
    assert area_shares(zones, box(-10, -10, 500, 500)).tolist() == [1.0, 0.0, 0.0]
    assert area_shares(gpd.GeoSeries(zones), box(0, 0, 100, 400))[0] == pytest.approx(0.25)
    frame = gpd.GeoDataFrame({"code": ["a", "b", "c"]}, geometry=zones)
    assert area_shares(frame, box(0, 0, 100, 400))[0] == pytest.approx(0.25)


# --- road shares ------------------------------------------------------------------------------

def test_line_coverage_counts_length_inside_zone_and_cover():
    zones = gpd.GeoSeries([SQUARE, box(0, 400, 400, 800)])
    lines = [LineString([(-100, CY), (500, CY)])]  # 400 m inside the first zone
    (disc,) = footprints(CX, CY, 100)
    total, covered = line_coverage(zones, lines, disc)
    assert total.tolist() == pytest.approx([400.0, 0.0])
    assert covered.tolist() == pytest.approx([200.0, 0.0])
    total, covered = line_coverage(zones, lines, None)
    assert total[0] == pytest.approx(400.0) and covered[0] == 0.0


def test_line_coverage_sums_several_lines_per_zone():
    zones = [SQUARE]
    lines = [LineString([(0, 100), (400, 100)]), LineString([(100, -50), (100, 450)]),
             LineString([(900, 0), (900, 10)])]
    total, covered = line_coverage(zones, lines, box(0, 0, 100, 100))
    assert total[0] == pytest.approx(800.0)
    assert covered[0] == pytest.approx(200.0)  # 100 m of each line on the cover's border


def test_split_lines():
    (disc,) = footprints(CX, CY, 100)
    lines = [LineString([(0, CY), (400, CY)]), LineString([(0, 390), (400, 390)])]
    inside, outside = split_lines(lines, disc)
    assert shapely.length(inside).tolist() == pytest.approx([200.0, 0.0])
    assert shapely.length(outside).tolist() == pytest.approx([200.0, 400.0])
    assert inside[1].is_empty and isinstance(outside[0], MultiLineString)
    inside, outside = split_lines(lines, None)
    assert all(g.is_empty for g in inside) and outside[1].equals(lines[1])


def test_big_cover_is_cut_into_pieces_without_changing_results():
    # A 3,200-gon (> 500 vertices) is cut at its bounding box's centre line x = 200 and beyond;
    # a road right along that cut must count once, and results match a plain overlay.
    cover = Point(CX, CY).buffer(150, quad_segs=800)
    zones = shapely.box(*np.array([[x, y, x + 50, y + 50] for x in range(0, 400, 50)
                                   for y in range(0, 400, 50)], dtype=float).T)
    shares = area_shares(zones, cover)
    assert shares == pytest.approx(shapely.area(shapely.intersection(zones, cover)) / 2500)
    along_cut = LineString([(CX, 0), (CX, 400)])
    slanted = LineString([(3.3, 17.1), (211.7, 250.9), (398.2, 333.3)])
    total, covered = line_coverage([SQUARE], [along_cut, slanted], cover)
    assert total[0] == pytest.approx(400 + slanted.length)
    expected = 300 + shapely.intersection(slanted, cover).length
    assert covered[0] == pytest.approx(expected, rel=1e-9)
    inside, outside = split_lines([along_cut, slanted], cover)
    assert inside[0].length == pytest.approx(300.0)
    assert outside[1].length == pytest.approx(shapely.difference(slanted, cover).length)
    assert (shapely.length(inside) + shapely.length(outside)) == pytest.approx([400, slanted.length])


def test_weighted_share():
    assert weighted_share([1.0, 0.5, 0.0], [100, 200, 0]) == pytest.approx(200 / 300)
    assert weighted_share([1.0, 0.5], [0, 0]) == 0.0


# --- road network -----------------------------------------------------------------------------

def test_plus_sign_becomes_four_edges_and_five_nodes():
    edges, nodes = build_network(
        roads(LineString([(-100, 0), (100, 0)]), LineString([(0, -100), (0, 100)])),
        speed_kmh=[36, 18])
    assert len(edges) == 4 and len(nodes) == 5
    assert sorted(nodes["id"]) == [1, 2, 3, 4, 5]
    assert edges["length_m"].tolist() == pytest.approx([100.0] * 4)
    centre = int(nodes.loc[nodes.distance(Point(0, 0)) < 1e-9, "id"].iloc[0])
    assert (edges["source"].eq(centre) | edges["target"].eq(centre)).all()
    by_name = edges.set_index("name")
    assert set(by_name.loc["r0", "speed_kmh"]) == {36.0}
    assert by_name.loc["r1", "cost_s"].tolist() == pytest.approx([20.0, 20.0])  # 100 m at 5 m/s
    assert edges["kind"].isna().all()  # no kind column in the input
    assert edges.crs == METRIC and list(edges.columns) == [
        "geometry", "source", "target", "length_m", "speed_kmh", "cost_s", "name", "kind"]
    assert edges["source"].dtype == np.int64 and edges["target"].dtype == np.int64


def test_source_is_first_coordinate_and_target_last():
    edges, nodes = build_network(
        roads(LineString([(-100, 0), (100, 0)]), LineString([(0, -100), (0, 50), (0, 100)])),
        speed_kmh=[36, 36])
    at = nodes.set_index("id").geometry
    for geom, s, t in zip(edges.geometry, edges["source"], edges["target"]):
        assert Point(geom.coords[0]).equals(at[s]) and Point(geom.coords[-1]).equals(at[t])


def test_t_junction_splits_the_through_road():
    edges, nodes = build_network(
        roads(LineString([(0, 0), (200, 0)]), LineString([(100, 0), (100, 100)]),
              names=["main", "side"], kinds=["primary", None]),
        speed_kmh=pd.Series([50.0, 30.0]))
    assert len(edges) == 3 and len(nodes) == 4
    main = edges[edges["name"] == "main"]
    assert sorted(main["length_m"]) == pytest.approx([100.0, 100.0])
    assert set(main["kind"]) == {"primary"}
    assert edges.loc[edges["name"] == "side", "kind"].isna().all()
    assert main["cost_s"].tolist() == pytest.approx([100 / (50 / 3.6)] * 2)


def test_ends_closer_than_snap_share_a_node():
    # 100.15 and 100.35 are 0.2 m apart but would round to different 0.5 m grid points.
    lines = roads(LineString([(0, 0), (100.15, 0)]), LineString([(100.35, 0), (200, 0)]))
    edges, nodes = build_network(lines, [36, 36], snap_m=0.5)
    assert len(nodes) == 3 and len(edges) == 2
    assert edges.loc[0, "target"] == edges.loc[1, "source"]
    assert edges.geometry[0].coords[-1] == edges.geometry[1].coords[0]
    edges, nodes = build_network(lines, [36, 36], snap_m=0.1)
    assert len(nodes) == 4


def test_multilines_and_short_pieces():
    multi = MultiLineString([[(0, 0), (100, 0)], [(100, 0), (100, 100)]])
    tiny = LineString([(500, 0), (500.005, 0)])
    edges, nodes = build_network(roads(multi, tiny, Point(1, 1)), [36, 36, np.nan])
    assert len(edges) == 2 and len(nodes) == 3
    assert edges["length_m"].sum() == pytest.approx(200.0)


def test_no_usable_lines_and_bad_speeds():
    with pytest.raises(InputError):
        build_network(roads(Point(0, 0), LineString()), [36, 36])
    with pytest.raises(InputError):
        build_network(roads(LineString([(0, 0), (0.001, 0)])), [36])
    with pytest.raises(InputError) as err:
        build_network(roads(LineString([(0, 0), (10, 0)]), LineString([(0, 5), (10, 5)])),
                      [36, 0])
    assert err.value.details == {"rows": [1]}


def straight_road():
    """1000 m along y=0 in two lines (0-400, 400-1000) at 36 km/h = 10 m/s."""
    return build_network(roads(LineString([(0, 0), (400, 0)]), LineString([(400, 0), (1000, 0)])),
                         [36, 36])


def node_at(nodes, x, y):
    return int(nodes.loc[nodes.distance(Point(x, y)) < 1e-6, "id"].iloc[0])


def test_straight_road_reachable_in_sixty_seconds():
    edges, nodes = straight_road()
    start = node_at(nodes, 0, 0)
    costs = node_costs(edges, [start], 60)[start]
    assert costs == pytest.approx({start: 0.0, node_at(nodes, 400, 0): 40.0})  # x=1000 is 100 s
    lines = reachable_lines(edges, costs, 60)
    assert shapely.length(lines).sum() == pytest.approx(600.0)
    assert shapely.union_all(lines).bounds == pytest.approx((0, 0, 600, 0))


def test_y_graph_partial_branches():
    # Stem (0,0)-(0,300) at 10 m/s: 30 s. Branches of 500 m: left at 10 m/s, right at 5 m/s.
    edges, nodes = build_network(
        roads(LineString([(0, 0), (0, 300)]), LineString([(0, 300), (-300, 700)]),
              LineString([(0, 300), (300, 700)])), [36, 36, 18])
    start = node_at(nodes, 0, 0)
    costs = node_costs(edges, [start], 60)[start]
    assert costs[node_at(nodes, 0, 300)] == pytest.approx(30.0)
    assert len(costs) == 2
    lines = reachable_lines(edges, costs, 60)
    # 30 s left: 300 m of the left branch (0.6), 150 m of the right one (0.3).
    assert sorted(shapely.length(lines)) == pytest.approx([150.0, 300.0, 300.0])
    ends = {tuple(np.round(line.coords[-1], 6)) for line in lines}
    assert (-180.0, 540.0) in ends and (90.0, 420.0) in ends


def test_pieces_from_both_ends():
    edges = gpd.GeoDataFrame({"source": [1], "target": [2], "length_m": [100.0],
                              "cost_s": [10.0]}, geometry=[LineString([(0, 0), (100, 0)])])
    (whole,) = reachable_lines(edges, {1: 0.0, 2: 4.0}, 8)  # 0.8 + 0.4 >= 1
    assert whole.equals(edges.geometry[0])
    a, b = reachable_lines(edges, {1: 0.0, 2: 5.0}, 7)  # 70 m from x=0, 20 m back from x=100
    assert a.bounds == pytest.approx((0, 0, 70, 0)) and b.bounds == pytest.approx((80, 0, 100, 0))
    assert len(reachable_lines(edges, {1: 7.0}, 7)) == 0  # zero-length piece dropped
    assert len(reachable_lines(edges, {}, 7)) == 0


def test_node_costs_takes_the_cheaper_parallel_edge_and_is_undirected():
    edges = pd.DataFrame({"source": [1, 2, 2, 3], "target": [2, 1, 3, 4],
                          "cost_s": [10.0, 4.0, 5.0, 100.0]})
    costs = node_costs(edges, [3, 1], 20)
    assert costs[3] == pytest.approx({3: 0.0, 2: 5.0, 1: 9.0})
    assert costs[1] == pytest.approx({1: 0.0, 2: 4.0, 3: 9.0})


def test_service_area_of_a_straight_line():
    area = service_area([LineString([(0, 0), (600, 0)])], 50)
    assert area.area == pytest.approx(600 * 100 + math.pi * 50**2, rel=0.005)
    with_start = service_area([LineString([(0, 0), (600, 0)])], 50, start=Point(0, 500))
    assert with_start.area == pytest.approx(area.area + math.pi * 50**2, rel=0.005)
    empty = service_area([], 50)
    assert empty.is_empty and empty.geom_type == "Polygon"


def test_snap_to_node():
    _, nodes = straight_road()
    node, d = snap_to_node(nodes, Point(390, 30), 300)
    assert node == node_at(nodes, 400, 0) and d == pytest.approx(math.hypot(10, 30))
    node, d = snap_to_node(nodes, Point(0, 400), 300)
    assert node is None and d == pytest.approx(400)


# --- response areas ---------------------------------------------------------------------------

def test_speed_buffer_one_minute_at_thirty():
    disc = speed_buffer(1000, 2000, 1)
    assert disc.area == pytest.approx(math.pi * 500**2, rel=0.005)
    assert disc.bounds[2] - 1000 == pytest.approx(500)
    assert speed_buffer(0, 0, 3, speed_kmh=60).bounds[2] == pytest.approx(3000)
    with pytest.raises(InputError):
        speed_buffer(0, 0, 0)


def test_network_area_subtracts_the_approach():
    edges, nodes = build_network(roads(LineString([(0, 0), (2000, 0)])), [36])
    costs = lambda s, lim: node_costs(edges, [s], lim)[s]
    area, info = network_area(edges, nodes, 0, 30, 1, costs, access_m=100)
    # 30 m at 30 km/h is 3.6 s; 56.4 s at 10 m/s reach x = 564, plus 100 m access.
    assert info["start_node"] == node_at(nodes, 0, 0)
    assert info["approach_m"] == pytest.approx(30.0)
    assert info["budget_s"] == pytest.approx(56.4)
    assert area.bounds[2] == pytest.approx(664.0, abs=0.01)
    assert area.covers(Point(0, 129))  # the post's own 100 m disc
    area, info = network_area(edges, nodes, 0, 400, 1, costs, snap_m=300)
    assert area is None and "reason" in info


def test_network_area_when_the_approach_uses_up_the_budget():
    edges, nodes = build_network(roads(LineString([(0, 0), (2000, 0)])), [36])
    area, info = network_area(edges, nodes, 0, 300, 0.5, lambda s, lim: {s: 0.0}, snap_m=400)
    assert info["budget_s"] < 0
    assert area.area == pytest.approx(math.pi * 100**2, rel=0.005)


# --- staffing ---------------------------------------------------------------------------------

GRIDS = pd.DataFrame({"code": ["G1", "G2", "G3", "G4"], "households": [300, 100, 50, 0],
                      "village": ["V1", "V1", "V2", "V2"]}, index=[10, 11, 12, 13])
ASSIGNMENTS = pd.DataFrame([
    ("h1", "G1", "grid_head", True), ("h1", "G2", "grid_head", True),
    ("w1", "G1", "full_time", True), ("w1", "G2", "full_time", True),
    ("w2", "G1", "full_time", True),
    ("p1", "G3", "part_time", True),
    ("w3", "G3", "full_time", False),   # inactive
    ("w4", "G9", "full_time", True),    # not a known grid
    ("w5", "G4", "full_time", None),    # active unknown: not counted
], columns=["staff_id", "grid_code", "role", "active"])


def test_grid_staffing():
    out = grid_staffing(GRIDS, ASSIGNMENTS, target=150)
    assert out.index.tolist() == [10, 11, 12, 13]
    assert out["village"].tolist() == GRIDS["village"].tolist()
    assert out["heads"].tolist() == [1, 1, 0, 0]
    assert out["full_time"].tolist() == [2, 1, 0, 0]
    assert out["part_time"].tolist() == [0, 0, 1, 0]
    assert out["worker_fte"].tolist() == pytest.approx([1.5, 0.5, 0.5, 0.0])
    hpw = out["households_per_worker"]
    assert hpw.iloc[:3].tolist() == pytest.approx([200.0, 200.0, 100.0]) and np.isnan(hpw.iloc[3])
    assert out["no_head"].tolist() == [False, False, True, True]
    assert out["no_worker"].tolist() == [False, False, False, True]
    assert out["no_staff"].tolist() == [False, False, False, True]
    assert out["over_target"].tolist() == [True, True, False, False]
    assert grid_staffing(GRIDS, ASSIGNMENTS, target=250)["over_target"].sum() == 0


def test_part_time_weight_and_people_in_several_roles():
    a = pd.DataFrame([("x", "G1", "grid_head", True), ("x", "G2", "part_time", True)],
                     columns=["staff_id", "grid_code", "role", "active"])
    out = grid_staffing(GRIDS, a, part_time_weight=0.4).set_index("code")
    # x is tied to two grids: a fifth of an FTE (0.4 x 1/2) in G2, and G1's head.
    assert out.loc["G2", "worker_fte"] == pytest.approx(0.2)
    assert not out.loc["G1", "no_head"] and out.loc["G1", "no_worker"]


def test_unknown_role_is_refused():
    a = ASSIGNMENTS.assign(role=["grid_head"] * 8 + ["boss"])
    with pytest.raises(InputError) as err:
        grid_staffing(GRIDS, a)
    assert err.value.details == {"rows": [8]}


def test_unit_gaps():
    gaps = unit_gaps(grid_staffing(GRIDS, ASSIGNMENTS, target=150), "village").set_index("village")
    assert gaps.index.tolist() == ["V1", "V2"]
    assert gaps.loc["V1"].to_dict() == pytest.approx({
        "grids": 2, "households": 400, "heads": 2, "worker_fte": 2.0,
        "households_per_worker": 200.0, "no_head": 0, "no_worker": 0, "no_staff": 0,
        "over_target": 2})
    v2 = gaps.loc["V2"]
    assert (v2["grids"], v2["households"], v2["heads"]) == (2, 50, 0)
    assert v2["households_per_worker"] == pytest.approx(100.0)
    assert (v2["no_head"], v2["no_worker"], v2["no_staff"], v2["over_target"]) == (2, 1, 1, 0)
