"""Coordinate conversion: published GCJ-02/BD-09 reference pairs, exact inverses, CRS names."""
from __future__ import annotations

import numpy as np
import pytest

from gis.errors import InputError
from gis.geo.crs import (
    bd09_to_gcj02,
    bd09_to_gcj02_approx,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    normalise_crs_name,
    to_storage,
    wgs84_to_gcj02,
)

# Reference values published with the widely used coordtransform library (Beijing, 116.404 E).
REF = (116.404, 39.915)


def test_known_pairs():
    assert np.allclose(wgs84_to_gcj02(*REF), (116.41024449916938, 39.91640428150164), atol=1e-9)
    assert np.allclose(gcj02_to_bd09(*REF), (116.41036949371029, 39.92133699351021), atol=1e-9)
    assert np.allclose(bd09_to_gcj02_approx(*REF), (116.39762729119315, 39.90865673957631),
                       atol=1e-9)
    assert np.allclose(bd09_to_gcj02(*REF), (116.39762729119315, 39.90865673957631), atol=2e-6)


def test_inverse_is_exact_to_a_millimetre():
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(74, 134, 2000), rng.uniform(18, 53, 2000)
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.abs(back[0] - lon).max() < 1e-8 and np.abs(back[1] - lat).max() < 1e-8
    back = bd09_to_wgs84(*gcj02_to_bd09(*wgs84_to_gcj02(lon, lat)))
    assert np.abs(back[0] - lon).max() < 1e-8 and np.abs(back[1] - lat).max() < 1e-8


def test_offset_in_anda_is_hundreds_of_metres():
    glon, glat = wgs84_to_gcj02(125.34, 46.42)
    dx = (glon - 125.34) * 111320 * np.cos(np.radians(46.42))
    dy = (glat - 46.42) * 110574
    assert 300 < np.hypot(dx, dy) < 900


def test_no_offset_outside_china():
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)


@pytest.mark.parametrize("name,canonical", [
    (None, "EPSG:4326"), ("epsg:4326", "EPSG:4326"), ("EPSG:4490", "EPSG:4326"),
    ("CGCS2000", "EPSG:4326"), ("gcj-02", "GCJ02"), ("GCJ02", "GCJ02"), ("bd09", "BD09"),
    ("EPSG:32651", "EPSG:32651"), ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "EPSG:4326"),
])
def test_crs_names(name, canonical):
    assert normalise_crs_name(name) == canonical


@pytest.mark.parametrize("name", ["EPSG:99999999", "nonsense", "IAU_2015:49900"])
def test_unknown_or_unconvertible_crs(name):
    with pytest.raises(InputError) as err:
        normalise_crs_name(name)
    assert err.value.field == "crs"


def test_to_storage_from_utm():
    # Anda lies about 2.34 deg east of zone 51's central meridian (123 E): easting ~680 km
    lon, lat = to_storage(np.array([680000.0]), np.array([5143000.0]), "EPSG:32651")
    assert 125.2 < lon[0] < 125.5 and 46.3 < lat[0] < 46.5
