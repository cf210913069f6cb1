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


# --- analytic Gi* (sparse matrix product), the weights cache and the own queen builder ---------

def voronoi_grids(n: int, seed: int = 3, column: str = "count") -> gpd.GeoDataFrame:
    """n Voronoi cells of random points in a 1 x 1 degree box near 125.3 E 46.4 N (neighbours
    share exact vertices, as grids of a validated boundary set), with Poisson counts and a hot
    patch in the south-west."""
    import shapely
    rng = np.random.default_rng(seed)
    xy = np.column_stack([rng.uniform(124.8, 125.8, n), rng.uniform(45.9, 46.9, n)])
    frame = box(124.8, 45.9, 125.8, 46.9)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=frame))
    cells = shapely.intersection(cells, frame)
    centre = shapely.centroid(cells)
    hot = (shapely.get_x(centre) < 125.1) & (shapely.get_y(centre) < 46.2)
    y = rng.poisson(4, len(cells)) + np.where(hot, rng.poisson(6, len(cells)), 0)
    return gpd.GeoDataFrame({column: y.astype(float)}, geometry=cells,
                            index=[f"v{i:04d}" for i in range(len(cells))], crs="EPSG:4326")


def esda_analytic(y, units):
    w = libpysal_queen(units)
    return esda.G_Local(np.asarray(y, dtype=float), w, transform="B", star=True, permutations=0)


def libpysal_queen(units):
    from libpysal.weights import Queen
    w = Queen.from_dataframe(gpd.GeoDataFrame(geometry=units.geometry.reset_index(drop=True)),
                             use_index=False, silence_warnings=True)
    w.transform = "B"
    return w


def expected_bins(z, p, tested, levels=(0.10, 0.05, 0.01)):
    """Gi_Bin from z and p the way the permutation path classes them: Benjamini-Hochberg
    cut-off per level over the tested units (esda.fdr, strict), sign of z times the levels
    reached."""
    level = sum((p < esda.fdr(p[tested], a)).astype(int) for a in levels)
    return np.where(tested, np.sign(z).astype(int) * level, 0)


def test_analytic_z_is_esdas_analytic_z_on_voronoi_grids():
    from gis.analysis.hotspots import gi_star_z
    from gis.analysis.weights import weights_matrix
    units = voronoi_grids(400)
    table, method = gi_star(units, "count", inference="analytic")
    direct = esda_analytic(units["count"], units)
    assert np.abs(table["z"].to_numpy() - direct.Zs).max() < 1e-9
    assert np.allclose(table["p"], 2 * direct.p_norm, rtol=1e-9, atol=0)
    assert np.abs(gi_star_z(units["count"], weights_matrix(units).matrix) - direct.Zs).max() < 1e-9
    # the formula itself, written out: binary weights including self, s with divisor n
    y = units["count"].to_numpy()
    m = weights_matrix(units).matrix.toarray() + np.eye(len(y))
    n, sw = len(y), m.sum(1)
    z = (m @ y - y.mean() * sw) / (y.std() * np.sqrt((n * (m ** 2).sum(1) - sw ** 2) / (n - 1)))
    assert np.abs(table["z"].to_numpy() - z).max() < 1e-9
    assert (table.loc[units.index[(units["count"] > 12).to_numpy()], "bin"] >= 0).all()
    assert method["counts"][3] > 0 and method["tested"] == len(units)
    # the lattice against libpysal's lat2W, and "normal" is the same inference
    rng = np.random.default_rng(2)
    y = rng.poisson(5, (N, N)).astype(float)
    y[HOT] += 8
    normal = gi_star(lattice(y), "count", inference="normal")
    direct = esda.G_Local(y.ravel(), lat2W(N, N, rook=False), transform="B", star=True,
                          permutations=0)
    assert np.abs(normal.table["z"].to_numpy() - direct.Zs).max() < 1e-9
    assert normal.method["inference"] == "analytic"


def test_analytic_classes_are_the_fdr_classes_of_the_permutation_path(planted):
    units = voronoi_grids(400, seed=8)
    direct = esda_analytic(units["count"], units)
    tested = np.ones(len(units), dtype=bool)
    for fdr in (True, False):
        table, method = gi_star(units, "count", inference="analytic", fdr=fdr)
        p = 2 * direct.p_norm
        if fdr:
            assert np.array_equal(table["bin"], expected_bins(direct.Zs, p, tested))
            assert method["p_cutoffs"] == [float(esda.fdr(p, a)) for a in (0.10, 0.05, 0.01)]
        else:
            level = sum((p <= a).astype(int) for a in (0.10, 0.05, 0.01))
            assert np.array_equal(table["bin"], np.sign(direct.Zs).astype(int) * level)
        assert method["counts"] == {b: int((table["bin"] == b).sum()) for b in range(-3, 4)}
    # the same classing applied to the permutation path's p reproduces its bins
    perm, _ = gi_star(lattice(planted), "count", permutations=999, seed=42)
    tested = np.ones(N * N, dtype=bool)
    assert np.array_equal(perm["bin"], expected_bins(perm["z"].to_numpy(),
                                                     perm["p"].to_numpy(), tested))
    # and on the planted clusters both inferences find the cores at 99 %
    ana = gi_star(lattice(planted), "count", inference="analytic").table["bin"]
    bins = ana.to_numpy().reshape(N, N)
    assert (bins[6:9, 6:9] == 3).all() and (bins[21:25, 21:25] == -3).all()
    assert list(ana.index) == list(perm.index)
    row = gi_star(lattice(planted), "count", inference="analytic").table.loc["g0231"]
    assert (row["label_en"], row["colour"]) == ("Hot spot, 99% confidence",
                                                gi_bin_legend()[0]["colour"])


@pytest.mark.filterwarnings("ignore:The weights matrix is not fully connected")
def test_analytic_untested_units_and_method_text(planted):
    units = lattice(planted)
    far = box(126.0, 46.0, 126.01, 46.01)
    units = gpd.GeoDataFrame({"count": np.r_[units["count"], 40.0]},
                             geometry=list(units.geometry) + [far],
                             index=list(units.index) + ["exclave"], crs="EPSG:4326")
    units.loc["g0000", "count"] = np.nan
    table, method = gi_star(units, "count", inference="analytic")
    assert table.loc["exclave", "status"] == "island" and np.isnan(table.loc["exclave", "z"])
    assert table.loc["g0000", "status"] == "no_data" and table.loc["g0000", "bin"] == 0
    assert (method["islands"], method["no_data"], method["tested"]) == (1, 1, N * N - 1)
    # esda on the units with a value (the exclave's value counts in mean and variance)
    valid = units["count"].notna().to_numpy()
    direct = esda_analytic(units["count"][valid], units[valid])
    z = table["z"].to_numpy()[valid]
    assert np.abs(z[:-1] - direct.Zs[:-1]).max() < 1e-9
    tested = np.r_[np.ones(N * N - 1, dtype=bool), False]
    assert np.array_equal(table["bin"].to_numpy()[valid],
                          expected_bins(direct.Zs, 2 * direct.p_norm, tested))
    method = json.loads(json.dumps(method, ensure_ascii=False))
    assert method["inference"] == "analytic" and method["permutations"] == 0
    assert method["inference_en"] == "analytic normal approximation (as ArcGIS Hot Spot Analysis)"
    assert method["inference_zh"].startswith("解析正态近似")
    assert "ArcGIS" in method["description_en"] and "解析正态近似" in method["description_zh"]
    _, perm = gi_star(lattice(planted), "count", permutations=999)
    assert perm["inference"] == "permutation"
    assert perm["inference_en"] == "999 conditional permutations"
    assert perm["inference_zh"] == "999 次条件随机置换"
    assert "999 conditional permutations" in perm["description_en"]


def test_own_queen_builder_equals_libpysal():
    import shapely

    from gis.analysis.weights import queen_matrix
    for units in (voronoi_grids(300, seed=1), lattice(np.zeros((N, N)))):
        m = queen_matrix(units.geometry.to_numpy())
        ref = libpysal_queen(units).sparse
        assert abs(m - ref).sum() == 0 and (m != m.T).nnz == 0 and m.diagonal().sum() == 0
    # a hole with a grid inside it, a two-part grid, corner-only contact, a loose neighbour
    ring = box(0, 0, 3, 3).difference(box(1, 1, 2, 2))
    geoms = [ring, box(1, 1, 2, 2), shapely.MultiPolygon([box(3, 0, 4, 1), box(5, 5, 6, 6)]),
             box(6, 6, 7, 7), box(4, 1, 5, 2), box(3.5, 3, 4.5, 4), shapely.Polygon()]
    units = gpd.GeoDataFrame(geometry=geoms[:-1], crs="EPSG:4326")
    m = queen_matrix(geoms)
    assert abs(m[:6, :6] - libpysal_queen(units).sparse).sum() == 0
    assert m[6].nnz == 0 and m[0, 1] == 1 and m[2, 3] == 1 and m[2, 4] == 1 and m[0, 5] == 0


def test_weights_are_built_once_per_geometry_set():
    import threading

    from gis.analysis import weights as wmod
    wmod.clear_weights_cache()
    units = voronoi_grids(200, seed=4)
    first = wmod.weights_matrix(units)
    assert wmod.weights_matrix(units.copy()) is first             # same geometries: fingerprint
    assert wmod.weights_matrix(units, "rook") is not first           # the kind is in the key
    moved = units.copy()
    moved.geometry = moved.geometry.translate(0.001, 0)
    assert wmod.weights_matrix(moved) is not first
    assert wmod.weights_matrix(units.iloc[::-1]) is not first         # another order
    keyed = wmod.weights_matrix(units, cache_key=("gen", 7, "grid"))
    assert keyed is not first and wmod.weights_matrix(moved, cache_key=("gen", 7, "grid")) is keyed
    assert abs(keyed.matrix - first.matrix).sum() == 0
    # gi_star reuses them; the rows with a value are part of its key
    gi_star(units, "count", inference="analytic", weights_key="set-a")
    cached = dict(wmod._cache)
    gi_star(units, "count", inference="analytic", weights_key="set-a")
    assert dict(wmod._cache) == cached
    gaps = units.copy()
    gaps.iloc[3, 0] = np.nan
    assert gi_star(gaps, "count", inference="analytic", weights_key="set-a").method["tested"] \
        == len(units) - 1
    # a copy is handed out as a W: Local Moran row-standardising it leaves the cached one binary
    w, _ = spatial_weights(units)
    w.transform = "R"
    assert wmod.weights_matrix(units).w().transform == "B"
    assert spatial_weights(units)[0].transform == "B"
    local_moran(units, "count", permutations=99)
    assert np.allclose(gi_star(units, "count", permutations=99).table["z"],
                       gi_star(units, "count", inference="analytic").table["z"], rtol=0,
                       atol=1e-12)
    # bounded, least recently used out
    for i in range(wmod.WEIGHTS_CACHE_SIZE + 2):
        wmod.weights_matrix(units, cache_key=("lru", i))
    assert len(wmod._cache) == wmod.WEIGHTS_CACHE_SIZE
    # thread-safe: concurrent first calls all get one object
    wmod.clear_weights_cache()
    got, barrier = [], threading.Barrier(6)

    def worker():
        barrier.wait()
        got.append(wmod.weights_matrix(units, cache_key="threads"))
    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 6 and all(g is got[0] for g in got)
