"""Kernel density in metres: mass, accuracy against an exact sum of Gaussians, metres at any
latitude, and the class polygons built from the surface."""
from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod

from gis.analysis.density import DensitySurface, density_bands, kde_surface
from gis.errors import InputError

GEOD = Geod(ellps="WGS84")


def scatter(lon0, lat0, n, radius_m, seed):
    """n points around (lon0, lat0) at geodesic distances up to radius_m, random bearings."""
    rng = np.random.default_rng(seed)
    lon, lat, _ = GEOD.fwd(np.full(n, lon0), np.full(n, lat0), rng.uniform(0, 360, n),
                           radius_m * np.sqrt(rng.uniform(0, 1, n)))
    return np.asarray(lon), np.asarray(lat)


def exact_density(lon, lat, qlon, qlat, sigma_m):
    """Sum of 2-D Gaussians over geodesic distances, per km² (independent of any projection)."""
    m, n = len(qlon), len(lon)
    _, _, d = GEOD.inv(np.repeat(qlon, n), np.repeat(qlat, n), np.tile(lon, m), np.tile(lat, m))
    k = np.exp(-0.5 * (np.asarray(d).reshape(m, n) / sigma_m) ** 2)
    return k.sum(axis=1) / (2 * np.pi * sigma_m ** 2) * 1e6


def test_integral_equals_number_of_points_and_weights():
    lon, lat = scatter(125.3, 46.4, 3000, 8000, seed=1)
    s = kde_surface(lon, lat, bandwidth_m=400, cell_m=100)
    cell_km2 = (s.cell_m / 1000) ** 2
    assert s.n_points == 3000 and s.n_outside == 0
    assert s.density.sum() * cell_km2 == pytest.approx(3000, rel=1e-9)
    # the padding holds the whole kernel: the raster's outer cells are empty
    assert max(s.density[0].max(), s.density[-1].max(), s.density[:, 0].max(),
               s.density[:, -1].max()) == 0
    w = np.random.default_rng(2).uniform(0, 3, lon.size)
    sw = kde_surface(lon, lat, bandwidth_m=400, cell_m=100, weights=w)
    assert sw.density.sum() * cell_km2 == pytest.approx(w.sum(), rel=1e-9)
    assert sw.total_weight == pytest.approx(w.sum())


def test_bounds_keep_points_within_the_margin_and_drop_the_rest():
    lon = np.array([125.30, 125.31, 125.60])   # the last one is ~23 km east of the bounds
    lat = np.array([46.40, 46.40, 46.40])
    s = kde_surface(lon, lat, bandwidth_m=300, cell_m=100, bounds=(125.29, 46.39, 125.32, 46.41))
    assert (s.n_points, s.n_outside) == (2, 1)
    assert s.density.sum() * 0.01 == pytest.approx(2, rel=1e-9)
    west, south, east, north = s.bounds
    assert west < 125.29 and east > 125.32 and south < 46.39 and north > 46.41


def test_values_agree_with_exact_sum_of_gaussians():
    """Tolerance: within 1 % of the peak everywhere sampled, for bandwidth = 5 cells."""
    lon, lat = scatter(125.3, 46.4, 400, 3000, seed=3)
    sigma = 250.0
    s = kde_surface(lon, lat, bandwidth_m=sigma, cell_m=50)
    qlon, qlat = scatter(125.3, 46.4, 300, 4000, seed=4)
    qlon, qlat = np.r_[lon[:200], qlon], np.r_[lat[:200], qlat]   # at incidents and between
    exact = exact_density(lon, lat, qlon, qlat, sigma)
    got = s.sample(qlon, qlat)
    peak = exact.max()
    assert np.abs(got - exact).max() < 0.01 * peak
    assert np.abs(got - exact).mean() < 0.002 * peak


def test_bandwidth_is_metres_at_any_latitude():
    sigma = 200.0
    peaks, shapes = [], []
    for lat0 in (20.0, 50.0):
        # one point, and a ring of sample locations 1 sigma away east, north and north-east
        s = kde_surface([110.0], [lat0], bandwidth_m=sigma, cell_m=25)
        qlon, qlat, _ = GEOD.fwd([110.0] * 3, [lat0] * 3, [90, 0, 45], [sigma] * 3)
        at_point = s.sample([110.0], [lat0])[0]
        one_sigma = s.sample(qlon, qlat)
        peaks.append(at_point)
        shapes.append(one_sigma / at_point)
        assert at_point == pytest.approx(1e6 / (2 * np.pi * sigma ** 2), rel=0.01)
        assert one_sigma / at_point == pytest.approx(np.full(3, np.exp(-0.5)), rel=0.01)
    # the same pattern at two latitudes gives the same surface
    lon20, lat20 = scatter(110.0, 20.0, 500, 2000, seed=5)
    lon50, lat50 = scatter(110.0, 50.0, 500, 2000, seed=5)
    p20 = kde_surface(lon20, lat20, bandwidth_m=300, cell_m=50).density.max()
    p50 = kde_surface(lon50, lat50, bandwidth_m=300, cell_m=50).density.max()
    assert p20 == pytest.approx(p50, rel=0.01)
    assert peaks[0] == pytest.approx(peaks[1], rel=0.005)


def test_surface_metadata_and_sampling_off_the_raster():
    s = kde_surface([125.3, 125.31], [46.4, 46.41], bandwidth_m=300, cell_m=100)
    assert isinstance(s, DensitySurface)
    cell, _, west, _, e, north = s.transform
    assert cell == 100 and e == -100
    xs, ys = s.cell_centres()
    assert xs.size == s.shape[1] and ys.size == s.shape[0]
    assert xs[0] == west + 50 and ys[0] == north - 50 and ys[-1] < ys[0]
    assert s.crs.is_projected and s.crs.axis_info[0].unit_name == "metre"
    assert np.isnan(s.sample([126.5], [46.4])[0])


def test_no_points_in_bounds_gives_an_empty_surface():
    s = kde_surface([], [], bandwidth_m=500, cell_m=100, bounds=(125.0, 46.0, 125.1, 46.1))
    assert s.n_points == 0 and s.density.max() == 0
    bands = density_bands(s)
    assert len(bands) == 0 and list(bands.columns) == ["class", "lower", "upper", "label",
                                                        "colour", "geometry"]


@pytest.mark.parametrize("kwargs, field", [
    ({"bandwidth_m": 100, "cell_m": 200}, "cell_m"),
    ({"bandwidth_m": -5}, "bandwidth_m"),
    ({"bandwidth_m": 500, "cell_m": 1}, "cell_m"),          # far too many cells
    ({"bandwidth_m": 500, "weights": [1, -1]}, "weights"),
    ({"bandwidth_m": 500, "bounds": (125.1, 46.0, 125.0, 46.1)}, "bounds"),
])
def test_bad_parameters_are_input_errors(kwargs, field):
    with pytest.raises(InputError) as err:
        kde_surface([125.0, 125.05], [46.0, 46.05], **kwargs)
    assert err.value.field == field


def test_bad_coordinates_and_nothing_to_map():
    with pytest.raises(InputError):
        kde_surface([125.0, 200.0], [46.0, 46.0], bandwidth_m=500)
    with pytest.raises(InputError):
        kde_surface([125.0], [46.0, 46.1], bandwidth_m=500)
    with pytest.raises(InputError) as err:
        kde_surface([], [], bandwidth_m=500)
    assert err.value.field == "bounds"


@pytest.fixture(scope="module")
def clustered():
    """Background over ~10 km plus a tight cluster at (125.30, 46.40)."""
    rng = np.random.default_rng(6)
    lon = np.r_[rng.uniform(125.24, 125.36, 2000), 125.30 + rng.normal(0, 0.004, 1000)]
    lat = np.r_[rng.uniform(46.36, 46.44, 2000), 46.40 + rng.normal(0, 0.003, 1000)]
    return kde_surface(lon, lat, bandwidth_m=300, cell_m=50)


def test_bands_match_the_raster(clustered):
    s = clustered
    bands = density_bands(s, scheme="EqualInterval", k=5)
    assert bands.crs.to_epsg() == 4326 and len(bands) == 5
    assert list(bands["class"]) == [0, 1, 2, 3, 4]
    assert (np.diff(bands["lower"]) > 0).all() and (bands["upper"].iloc[:-1].values
                                                     == bands["lower"].iloc[1:].values).all()
    assert bands["lower"].iloc[0] == pytest.approx(0.05 * s.density.max())
    assert bands["upper"].iloc[-1] == pytest.approx(s.density.max())
    assert bands.is_valid.all() and not bands.geometry.is_empty.any()
    assert len(set(bands["colour"])) == 5 and all(" – " in lab for lab in bands["label"])
    # the top band holds the cluster centre; a far corner is background
    assert bands.geometry.iloc[-1].contains(shapely.Point(125.30, 46.40))
    assert not bands.union_all().contains(shapely.Point(125.245, 46.365))
    # each band's area equals the area of the cells in its density range (to a few %)
    metric = bands.to_crs(s.crs)
    cell_area = s.cell_m ** 2
    for i, row in bands.iterrows():
        hi = np.inf if i == len(bands) - 1 else row["upper"]
        cells = ((s.density >= row["lower"]) & (s.density < hi)).sum() * cell_area
        assert metric.geometry.iloc[i].area == pytest.approx(cells, rel=0.05)


def test_fixed_breaks_give_the_same_legend_whatever_the_data(clustered):
    bands = density_bands(clustered, breaks=[50, 100, 200, 400, 10_000])
    assert list(bands["lower"]) == [50, 100, 200, 400, 10_000]
    assert bands["upper"].iloc[-1] == np.inf and bands["label"].iloc[-1] == "≥ 10,000"
    assert bands.geometry.iloc[-1].is_empty        # no cell reaches 10,000 per km²
    assert not bands.geometry.iloc[0].is_empty
    with pytest.raises(InputError):
        density_bands(clustered, breaks=[100, 50])


def test_quantile_bands_split_the_area(clustered):
    bands = density_bands(clustered, scheme="Quantiles", k=4, min_density=1.0)
    areas = bands.to_crs(clustered.crs).area.to_numpy()
    assert len(bands) == 4 and areas.std() / areas.mean() < 0.1   # about equal areas


def test_the_default_bandwidth_widens_for_large_areas_a_chosen_one_does_not():
    from gis.analysis.reports import density_cell_m, fitting_bandwidth
    city = (125.0, 46.0, 125.6, 46.5)          # ~45 x 55 km: the default fits
    province = (121.0, 43.5, 135.0, 53.5)      # ~1,000 x 1,100 km
    assert fitting_bandwidth(city, 500, chosen=False) == 500
    wide = fitting_bandwidth(province, 500, chosen=False)
    assert wide > 500 and density_cell_m(province, wide) <= wide
    narrower = [b for b in (500, 1000, 2000, 5000, 10_000) if b < wide]
    for b in narrower:   # the smallest that fits is taken
        with pytest.raises(InputError):
            density_cell_m(province, b)
    with pytest.raises(InputError) as err:
        fitting_bandwidth(province, 500, chosen=True)
    assert err.value.field == "bandwidth"
    with pytest.raises(InputError):
        fitting_bandwidth((-170.0, -80.0, 170.0, 80.0), 500, chosen=False)
