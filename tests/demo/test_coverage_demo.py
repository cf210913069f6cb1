"""Synthetic coverage demo data (gis/coverage/demo.py) on the Anda demo boundaries: no database.

Checks the published staff totals and the deliberate gaps, camera, post and road geometry
against the boundaries, determinism, and the import files written by write_files.
"""
from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from gis.demo.coverage import synthesize, write_files
from gis.geo.measure import local_metric_crs

GPKG = Path(__file__).resolve().parents[2] / "data" / "boundaries" / "anda" / "anda.gpkg"
SUBDISTRICT_PREFIXES = {"231281001", "231281002", "231281003", "231281004"}


@pytest.fixture(scope="module")
def layers():
    return (gpd.read_file(GPKG, layer="grid", engine="pyogrio"),
            gpd.read_file(GPKG, layer="township", engine="pyogrio"))


@pytest.fixture(scope="module")
def data(layers):
    return synthesize(*layers)


@pytest.fixture(scope="module")
def metric(layers):
    grids, towns = layers
    minx, miny, maxx, maxy = towns.total_bounds
    crs = local_metric_crs([minx, maxx], [miny, maxy])
    towns_m = towns.to_crs(crs)
    core = shapely.union_all(towns_m.geometry[towns_m["kind"] == "subdistrict"].to_numpy())
    return {"crs": crs, "grids": grids.to_crs(crs), "towns": towns_m, "core": core,
            "outline": shapely.union_all(towns_m.geometry.to_numpy())}


def points_m(frame: pd.DataFrame, crs) -> gpd.GeoSeries:
    pts = gpd.points_from_xy(frame["lon"], frame["lat"])
    return gpd.GeoSeries(pts, crs="EPSG:4326").to_crs(crs)


def footprints(cameras: pd.DataFrame, crs) -> list:
    """Discs for domes, sectors (compass bearing, full fov) for directional cameras."""
    pts = points_m(cameras, crs)
    out = []
    for p, r, d, f in zip(pts, cameras["range_m"], cameras["direction_deg"], cameras["fov_deg"]):
        if np.isnan(d):
            out.append(p.buffer(r, quad_segs=16))
        else:
            t = np.radians(np.linspace(d - f / 2, d + f / 2, 25))
            arc = zip(p.x + r * np.sin(t), p.y + r * np.cos(t))
            out.append(shapely.Polygon([(p.x, p.y), *arc]))
    return out


def worker_load(staff: pd.DataFrame, grids: pd.DataFrame) -> pd.DataFrame:
    """Per grid: heads, workers and FTE, a person of k grids counting 1/k in each."""
    rows = staff.assign(code=staff["grids"].str.split(";")).explode("code")
    k = rows.groupby("external_id")["code"].transform("size")
    rows["fte"] = np.select([rows["role"] == "full_time", rows["role"] == "part_time"],
                            [1.0 / k, 0.5 / k], 0.0)
    out = pd.DataFrame({"code": grids["code"], "households": grids["households"]})
    out["heads"] = out["code"].map(rows[rows["role"] == "grid_head"].groupby("code").size())
    out["workers"] = out["code"].map(rows[rows["role"] != "grid_head"].groupby("code").size())
    out["fte"] = out["code"].map(rows.groupby("code")["fte"].sum())
    return out.fillna(0)


def test_same_seed_same_data_other_seed_other_data(layers, data):
    again = synthesize(*layers)
    for key in ("staff", "cameras", "posts"):
        pd.testing.assert_frame_equal(data[key], again[key])
    pd.testing.assert_frame_equal(data["roads"].drop(columns="geometry"),
                                  again["roads"].drop(columns="geometry"))
    assert (shapely.to_wkb(data["roads"].geometry.to_numpy())
            == shapely.to_wkb(again["roads"].geometry.to_numpy())).all()

    other = synthesize(*layers, seed=7)
    assert not data["staff"]["name"].equals(other["staff"]["name"])
    assert not data["cameras"][["lon", "lat"]].equals(other["cameras"][["lon", "lat"]])
    assert len(other["staff"]) == len(data["staff"])


def test_staff_totals_match_published_figures_minus_documented_vacancies(layers, data):
    grids, _ = layers
    staff = data["staff"]
    counts = staff["role"].value_counts()
    load = worker_load(staff, grids)
    vacant = int((load["heads"] == 0).sum())
    # documented: one head per grid except the vacancies, so 1,011 - 15 = 996 heads
    assert vacant == 15
    assert counts["grid_head"] == 1011 - vacant == 996
    assert counts["full_time"] == 999
    assert counts["part_time"] == 1219
    assert set(counts.index) == {"grid_head", "full_time", "part_time"}
    assert (load["heads"] <= 1).all()

    assert staff["external_id"].is_unique
    assert staff["external_id"].str.fullmatch(r"S\d{6}").all()
    assert staff["phone"].is_unique
    assert staff["phone"].str.fullmatch(r"1990000\d{4}").all()
    assert staff["name"].str.fullmatch(r"[\u4e00-\u9fff]{2,3}").all()
    assert staff["name"].nunique() > len(staff) / 3


def test_staff_grids_exist_and_gaps_are_in_the_documented_ranges(layers, data):
    grids, _ = layers
    staff = data["staff"]
    codes = set(grids["code"])
    lists = staff["grids"].str.split(";")
    assert lists.map(len).min() >= 1
    assert all(c in codes for cs in lists for c in cs)

    load = worker_load(staff, grids)
    no_head = (load["heads"] == 0).mean()
    no_worker = (load["workers"] == 0).mean()
    assert 0.01 <= no_head <= 0.02
    assert 0.02 <= no_worker <= 0.03

    per_fte = (load["households"] / load["fte"])[load["fte"] > 0]
    over = (per_fte > 150).mean()
    assert 0.03 <= over <= 0.3          # some grids over the 150-household target, most not
    assert per_fte.median() < 150


def test_shared_part_time_workers_cover_two_adjacent_grids_of_one_village(layers, data):
    grids, _ = layers
    staff = data["staff"]
    shared = staff[staff["grids"].str.contains(";")]
    assert 10 <= len(shared) <= 0.1 * 1219
    assert (shared["role"] == "part_time").all()
    geom = grids.set_index("code").geometry
    load = worker_load(staff, grids).set_index("code")
    for codes in shared["grids"].str.split(";"):
        a, b = codes
        assert a != b and a[:12] == b[:12]
        assert shapely.intersection(geom[a].boundary, geom[b].boundary).length > 0
        assert load.loc[b, "workers"] >= 1


def test_cameras_are_valid_and_inside_the_city(data, metric):
    cams = data["cameras"]
    assert cams["external_id"].is_unique
    assert cams["external_id"].str.fullmatch(r"C\d{5}").all()
    assert cams["name"].str.len().gt(0).all()
    assert (cams["range_m"] > 0).all()
    dome = cams["direction_deg"].isna()
    assert (cams["fov_deg"].isna() == dome).all()
    directional = cams[~dome]
    assert directional["direction_deg"].between(0, 360, inclusive="left").all()
    assert directional["fov_deg"].between(60, 120).all()
    assert directional["range_m"].between(50, 150).all()
    assert cams.loc[dome, "range_m"].between(30, 80).all()
    assert 0.5 < len(directional) / len(cams) < 0.9          # mostly directional
    assert (np.round(cams[["lon", "lat"]], 6) == cams[["lon", "lat"]]).all().all()

    pts = points_m(cams, metric["crs"])
    assert pts.within(metric["outline"]).all()
    in_core = pts.within(metric["core"])
    assert 500 <= in_core.sum() <= 1500
    towns = metric["towns"]
    for geom in towns.geometry[towns["kind"] != "subdistrict"]:
        assert 3 <= pts.within(geom).sum() <= 10


def test_camera_coverage_high_on_core_streets_low_elsewhere(data, metric):
    crs, core = metric["crs"], metric["core"]
    cover = shapely.union_all(footprints(data["cameras"], crs))
    roads = data["roads"].to_crs(crs)
    streets = roads.geometry[roads["speed_kmh"] < 60].to_numpy()
    in_core = shapely.intersection(streets, core)
    share_core = shapely.length(shapely.intersection(in_core, cover)).sum() / \
        shapely.length(in_core).sum()
    assert 0.6 <= share_core <= 0.85
    outside = shapely.difference(streets, core)
    share_out = shapely.length(shapely.intersection(outside, cover)).sum() / \
        shapely.length(outside).sum()
    assert share_out < 0.1

    grids = metric["grids"]
    core_grids = grids[grids["code"].str[:9].isin(SUBDISTRICT_PREFIXES)]
    pts = points_m(data["cameras"], crs)
    hit = core_grids.sindex.query(pts.to_numpy(), predicate="intersects")[1]
    without = len(core_grids) - len(np.unique(hit))
    assert 1 <= without <= 0.1 * len(core_grids)


def test_one_police_post_per_township_and_patrol_stations_in_the_core(data, metric, layers):
    posts = data["posts"]
    towns = metric["towns"]
    assert posts["external_id"].is_unique
    assert posts["external_id"].str.fullmatch(r"P\d{3}").all()
    assert set(posts["kind"]) == {"police_post", "patrol_station"}
    assert posts["name"].map(lambda s: re.fullmatch(r"[\u4e00-\u9fff]+", s) is not None).all()
    pts = points_m(posts, metric["crs"])
    assert pts.within(metric["outline"]).all()

    police = posts["kind"] == "police_post"
    assert police.sum() == len(towns) == 18
    for _, town in towns.iterrows():
        inside = pts[police.to_numpy()].within(town.geometry)
        assert inside.sum() == 1, town["name"]
        assert posts[police]["name"][inside.to_numpy()].iloc[0] == f"{town['name']}派出所"

    patrol = pts[~police.to_numpy()]
    assert 3 <= len(patrol) <= 4
    assert patrol.within(metric["core"]).all()
    assert posts.loc[~police, "name"].str.endswith("巡逻站").all()

    # posts in the core stand on a street
    roads = data["roads"].to_crs(metric["crs"])
    streets = shapely.union_all(roads.geometry.to_numpy())
    core_posts = pts[pts.within(metric["core"]).to_numpy()]
    assert len(core_posts) >= 8
    assert (core_posts.distance(streets) < 1.0).all()


def test_roads_are_streets_of_the_main_town_plus_roads_to_town_seats(data, metric):
    roads = data["roads"]
    assert roads.crs.to_epsg() == 4326
    assert list(roads.columns) == ["name", "kind", "speed_kmh", "geometry"]
    assert (roads.geom_type == "LineString").all()
    assert roads.geometry.is_valid.all() and not roads.geometry.is_empty.any()
    assert roads["name"].str.len().gt(0).all()
    assert set(roads["kind"]) == {"primary", "secondary", "residential"}
    speeds = {"primary": {40.0}, "secondary": {30.0, 60.0}, "residential": {20.0}}
    assert all(s in speeds[k] for k, s in zip(roads["kind"], roads["speed_kmh"]))
    coords = shapely.get_coordinates(roads.geometry.to_numpy())
    assert (np.round(coords, 6) == coords).all()

    crs, core = metric["crs"], metric["core"]
    roads_m = roads.to_crs(crs)
    streets = roads_m[roads_m["speed_kmh"] < 60]
    main_town = core.buffer(1000.0 + 5.0)
    assert streets.within(main_town).all()
    assert roads_m.within(metric["outline"]).all()
    # a street grid, not just the core: ~230 km in the core, some in the 1 km margin
    core_km = streets.intersection(core).length.sum() / 1000
    assert 150 < core_km < 350
    assert streets.difference(core.buffer(10.0)).length.sum() / 1000 > 30
    assert 60 <= len(streets) <= 300

    # one network: every line meets another, and all hang together
    geoms = roads_m.geometry.to_numpy()
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    link = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(len(geoms), len(geoms)))
    assert csgraph.connected_components(link, directed=False)[0] == 1

    outward = roads_m[roads_m["speed_kmh"] == 60]
    assert 3 <= len(outward) <= 5
    vertices = {tuple(xy) for xy in shapely.get_coordinates(
        roads.geometry[roads["speed_kmh"] < 60].to_numpy())}
    for i, line in outward.geometry.items():
        assert line.length > 3000
        assert not core.buffer(1000.0).covers(shapely.Point(line.coords[-1]))
        # each starts at a street's vertex: connected to the town's network
        assert tuple(roads.geometry[i].coords[0]) in vertices


def test_write_files_round_trip(data, tmp_path):
    paths = write_files(data, tmp_path / "demo")
    assert set(paths) == {"staff", "cameras", "posts", "roads"}
    assert {p.name for p in paths.values()} == {"staff.csv", "cameras.csv", "posts.csv",
                                                "roads.geojson"}
    assert paths["staff"].read_bytes().startswith(b"\xef\xbb\xbf")

    staff = pd.read_csv(paths["staff"], encoding="utf-8-sig", dtype=str)
    assert list(staff.columns) == ["external_id", "name", "role", "phone", "grids"]
    assert len(staff) == len(data["staff"])
    assert staff["grids"].equals(data["staff"]["grids"])
    assert staff["phone"].equals(data["staff"]["phone"])

    cams = pd.read_csv(paths["cameras"], encoding="utf-8")
    assert list(cams.columns) == ["external_id", "name", "lon", "lat", "range_m",
                                  "direction_deg", "fov_deg"]
    assert len(cams) == len(data["cameras"])
    assert cams["direction_deg"].isna().sum() == data["cameras"]["direction_deg"].isna().sum()
    np.testing.assert_allclose(cams[["lon", "lat"]], data["cameras"][["lon", "lat"]])

    posts = pd.read_csv(paths["posts"], encoding="utf-8")
    assert list(posts.columns) == ["external_id", "name", "kind", "lon", "lat"]
    assert posts["name"].equals(data["posts"]["name"])

    roads = gpd.read_file(paths["roads"], engine="pyogrio")
    assert len(roads) == len(data["roads"])
    assert {"name", "kind", "speed_kmh"} <= set(roads.columns)
    assert (roads.geom_type == "LineString").all()
    assert roads.crs.to_epsg() == 4326
    np.testing.assert_allclose(shapely.get_coordinates(roads.geometry.to_numpy()),
                               shapely.get_coordinates(data["roads"].geometry.to_numpy()))

    again = write_files(data, tmp_path / "demo")       # overwrites
    assert len(gpd.read_file(again["roads"], engine="pyogrio")) == len(data["roads"])
