"""Gi* and Local Moran hot spots on a 32 x 32 lattice of square grids, against esda itself."""
from __future__ import annotations

import json

import esda
import geopandas as gpd
import numpy as np
import pytest
from libpysal.weights import lat2W
from shapely.geometry import box

from gis.analysis.hotspots import InsufficientData, gi_bin_legend, gi_star, local_moran
from gis.analysis.weights import spatial_weights
from gis.errors import InputError, UnprocessableError

N = 32
CELL = 0.01   # degrees: about 770 m east-west and 1,110 m north-south at 46.4 N
HOT = (slice(5, 10), slice(5, 10))
COLD = (slice(20, 26), slice(20, 26))


def lattice(values: np.ndarray, column: str = "count") -> gpd.GeoDataFrame:
    """N x N squares, row-major from the south-west corner (the order of libpysal's lat2W)."""
    geoms = [box(125 + c * CELL, 46 + r * CELL, 125 + (c + 1) * CELL, 46 + (r + 1) * CELL)
             for r in range(N) for c in range(N)]
    return gpd.GeoDataFrame({column: np.asarray(values, dtype=float).ravel()}, geometry=geoms,
                            index=[f"g{i:04d}" for i in range(N * N)], crs="EPSG:4326")


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(7)
    y = rng.poisson(5, (N, N)).astype(float)
    y[HOT] += rng.poisson(10, (5, 5))
    y[COLD] = rng.poisson(1, (6, 6))
    return y


def near(region, margin):
    mask = np.zeros((N, N), dtype=bool)
    rows, cols = region
    mask[max(rows.start - margin, 0):rows.stop + margin,
         max(cols.start - margin, 0):cols.stop + margin] = True
    return mask


@pytest.mark.filterwarnings("ignore:The alternative hypothesis:DeprecationWarning")
def test_z_and_p_are_esda_on_the_same_data_and_seed(planted):
    result = gi_star(lattice(planted), "count", permutations=999, seed=42)
    direct = esda.G_Local(planted.ravel(), lat2W(N, N, rook=False), transform="B", star=True,
                          permutations=999, seed=42, n_jobs=1, keep_simulations=False)
    assert np.allclose(result.table["z"], direct.Zs, rtol=1e-12)
    assert np.allclose(result.table["p"], np.minimum(1, 2 * direct.p_sim), rtol=1e-12)
    normal = gi_star(lattice(planted), "count", inference="normal")
    assert np.allclose(normal.table["p"], 2 * direct.p_norm, rtol=1e-12)

    moran = local_moran(lattice(planted), "count", permutations=999, seed=42)
    direct = esda.Moran_Local(planted.ravel(), lat2W(N, N, rook=False), transformation="r",
                              permutations=999, seed=42, n_jobs=1, keep_simulations=False)
    assert np.allclose(moran.table["I"], direct.Is, rtol=1e-12)
    assert np.allclose(moran.table["p"], np.minimum(1, 2 * direct.p_sim), rtol=1e-12)


def test_planted_hot_and_cold_clusters_are_found(planted):
    table, method = gi_star(lattice(planted), "count")
    bins = table["bin"].to_numpy().reshape(N, N)
    assert (bins[6:9, 6:9] == 3).all()            # the hot cluster's inner cells, 99 %
    assert (bins[21:25, 21:25] == -3).all()       # the cold cluster's inner cells
    # with FDR, false discoveries (away from the planted clusters) are a small share
    significant = bins != 0
    false = significant & ~near(HOT, 2) & ~near(COLD, 2)
    assert significant.sum() > 40 and false.sum() <= 0.05 * significant.sum()
    assert (bins[near(HOT, 2)] >= 0).all() and (bins[near(COLD, 2)] <= 0).all()
    assert method["counts"][3] == (bins == 3).sum() and method["tested"] == N * N
    hot = table.loc["g0231"]                      # row 7, column 7: the cluster's centre
    assert (hot["label_zh"], hot["label_en"]) == ("热点（99% 置信度）", "Hot spot, 99% confidence")
    assert hot["colour"] == gi_bin_legend()[0]["colour"]
    assert list(table.columns) == ["z", "p", "bin", "label_zh", "label_en", "colour", "status"]

    moran = local_moran(lattice(planted), "count").table["cluster"].to_numpy().reshape(N, N)
    assert (moran[6:9, 6:9] == "HH").all() and (moran[21:25, 21:25] == "LL").all()


def test_random_field_has_almost_no_significant_units_with_fdr():
    y = np.random.default_rng(11).poisson(5, (N, N))
    with_fdr = gi_star(lattice(y), "count").table["bin"]
    assert (with_fdr != 0).mean() <= 0.01
    # the correction matters: without it about 10 % come out significant at 90 %
    without = gi_star(lattice(y), "count", fdr=False).table["bin"]
    assert 0.05 < (without != 0).mean() < 0.16


def test_too_few_incidents_raise_in_both_languages():
    y = np.zeros((N, N))
    y[3, 3:32] = 1                                 # 29 incidents
    with pytest.raises(InsufficientData) as err:
        gi_star(lattice(y), "count")
    e = err.value
    assert isinstance(e, UnprocessableError) and e.status == 422
    assert "29" in e.message and "至少需要 30 起" in e.message and "at least 30" in e.message
    body = e.to_dict()
    assert body["code"] == "insufficient_data"
    assert body["details"]["incidents"] == 29 and body["details"]["minimum"] == 30
    y[4, 4] = 1                                    # 30: enough
    assert gi_star(lattice(y), "count", permutations=99).method["incidents"] == 30
    # a rate column: the number of incidents is given, and the threshold is a parameter
    with pytest.raises(InsufficientData):
        gi_star(lattice(y * 7.5, "rate"), "rate", incidents=12, permutations=99)
    gi_star(lattice(y * 7.5, "rate"), "rate", incidents=12, min_incidents=10, permutations=99)


def test_constant_values_cannot_be_tested():
    with pytest.raises(InsufficientData) as err:
        gi_star(lattice(np.full((N, N), 2.0)), "count")
    assert "same value" in err.value.message


def test_islands_and_missing_values_are_reported_not_tested(planted):
    units = lattice(planted)
    far = box(126.0, 46.0, 126.01, 46.01)           # an exclave with no neighbour
    units = gpd.GeoDataFrame({"count": np.r_[units["count"], 40.0]},
                             geometry=list(units.geometry) + [far],
                             index=list(units.index) + ["exclave"], crs="EPSG:4326")
    units.loc["g0000", "count"] = np.nan           # e.g. a grid whose figure is unknown
    table, method = gi_star(units, "count", permutations=999)
    exclave, unknown = table.loc["exclave"], table.loc["g0000"]
    assert exclave["status"] == "island" and exclave["bin"] == 0 and np.isnan(exclave["z"])
    assert exclave["label_en"] == "Not tested: no neighbours"
    assert unknown["status"] == "no_data" and np.isnan(unknown["p"])
    assert unknown["label_zh"] == "未检验：无数据"
    assert (method["islands"], method["no_data"], method["tested"]) == (1, 1, N * N - 1)

    attached, method = gi_star(units, "count", islands="nearest", permutations=999)
    assert attached.loc["exclave", "status"] == "tested"
    assert np.isfinite(attached.loc["exclave", "z"])
    assert method["weights"]["island_rows"] == []


def test_no_neighbours_at_all_is_an_insufficient_data_error():
    geoms = [box(125 + i * 0.1, 46, 125 + i * 0.1 + 0.01, 46.01) for i in range(5)]
    units = gpd.GeoDataFrame({"count": [10, 3, 8, 1, 20]}, geometry=geoms, crs="EPSG:4326")
    with pytest.raises(InsufficientData):
        gi_star(units, "count")
    assert gi_star(units, "count", weights="knn", k=2, permutations=99).method["tested"] == 5


def test_distance_weights_are_in_metres():
    units = lattice(np.zeros((N, N)))
    # neighbours 770 m apart east-west, 1,110 m north-south
    w, info = spatial_weights(units, "distance", distance_m=1000)
    assert sorted(w.neighbors[5 * N + 5]) == [5 * N + 4, 5 * N + 6]
    w, _ = spatial_weights(units, "distance", distance_m=1200)
    assert sorted(w.neighbors[5 * N + 5]) == [4 * N + 5, 5 * N + 4, 5 * N + 6, 6 * N + 5]
    w, info = spatial_weights(units, "distance")     # default: every unit gets a neighbour
    assert w.islands == [] and 765 < info["distance_m"] < 780
    assert sorted(w.neighbors[5 * N + 5]) == [5 * N + 4, 5 * N + 6]
    w, info = spatial_weights(units, "knn", k=4)
    assert all(len(v) == 4 for v in w.neighbors.values()) and info["k"] == 4
    with pytest.raises(InputError):
        spatial_weights(units, "triangles")


def test_method_is_json_ready_and_says_what_was_done(planted):
    _, method = gi_star(lattice(planted), "count", weights="rook", alpha=(0.1, 0.05))
    method = json.loads(json.dumps(method, ensure_ascii=False))
    assert method["statistic"] == "Getis-Ord Gi*" and method["weights"]["kind"] == "rook"
    assert method["permutations"] == 9999 and method["fdr"] is True
    assert method["alpha"] == [0.1, 0.05] and len(method["p_cutoffs"]) == 2
    assert set(method["counts"]) == {"-2", "-1", "0", "1", "2"}
    assert "False Discovery Rate" in method["description_en"]
    assert "错误发现率" in method["description_zh"]


def test_legend_and_parameter_checks():
    legend = gi_bin_legend()
    assert [row["bin"] for row in legend[:7]] == [3, 2, 1, 0, -1, -2, -3]
    assert legend[6]["label_en"] == "Cold spot, 99% confidence"
    assert len({row["colour"] for row in legend[:7]}) == 7
    units = lattice(np.random.default_rng(1).poisson(5, (N, N)))
    for kwargs in ({"alpha": (0.01, 0.05)}, {"permutations": 10}, {"inference": "bayes"},
                   {"weights": "hexagons"}):
        with pytest.raises(InputError):
            gi_star(units, "count", **kwargs)
    with pytest.raises(InputError):
        gi_star(units, "missing_column")
    bad = units.copy()
    bad.loc["g0001", "count"] = -1
    with pytest.raises(InputError):
        gi_star(bad, "count")


def test_global_random_state_is_left_alone(planted):
    np.random.seed(5)
    expected = np.random.random(3)
    np.random.seed(5)
    gi_star(lattice(planted), "count", permutations=99)
    assert np.array_equal(np.random.random(3), expected)
