"""The synthetic scale city (scripts/make_scale_data.py) that the benchmark loads: a valid
boundary set with 20-200 vertices per grid, incident, staff and camera files the ordinary
imports accept, and the same files for the same seed."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gis.coverage.inputs import check_cameras, check_staff
from gis.incidents.parse import validate_table

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_scale_data.py"
spec = importlib.util.spec_from_file_location("make_scale_data", SCRIPT)
scale = importlib.util.module_from_spec(spec)
spec.loader.exec_module(scale)


def test_small_city_validates_and_its_files_pass_the_import_checks(tmp_path):
    manifest = scale.write_all(tmp_path, 300, 4000, seed=7, quiet=True)
    assert scale.check_boundaries(tmp_path / "boundaries.gpkg") == []
    city = scale.make_city(300, seed=7)
    vertices = shapely.get_num_coordinates(city["grid"].geometry.values)
    assert len(city["grid"]) == 300 and 20 <= vertices.min() and vertices.max() <= 200
    incidents = pd.read_csv(tmp_path / "incidents.csv", dtype=str, keep_default_na=False)
    good, bad = validate_table(incidents)
    assert bad == [] and len(good) == 4000
    dates = pd.to_datetime(good["occurred_at"])
    assert (dates.max() - dates.min()).days > 300  # a year of history
    staff = pd.read_csv(tmp_path / "staff.csv", dtype=str, keep_default_na=False)
    assert check_staff(staff)[1] == []
    cameras = pd.read_csv(tmp_path / "cameras.csv", dtype=str, keep_default_na=False)
    assert check_cameras(cameras)[1] == []
    assert set(manifest["files"]) >= {"boundaries.gpkg", "incidents.csv", "staff.csv",
                                      "cameras.csv"}


def test_same_seed_same_files_and_the_second_run_reuses_them(tmp_path):
    a = scale.write_all(tmp_path / "a", 200, 500, seed=3, quiet=True)
    b = scale.write_all(tmp_path / "b", 200, 500, seed=3, quiet=True)
    assert {k: v["sha256"] for k, v in a["files"].items()} == \
        {k: v["sha256"] for k, v in b["files"].items()}
    again = scale.write_all(tmp_path / "a", 200, 500, seed=3, quiet=True)
    assert again["reused"] is True
    other = scale.make_city(200, seed=4)["grid"].geometry.values
    assert not np.array_equal(shapely.get_coordinates(other),
                              shapely.get_coordinates(scale.make_city(200, seed=3)["grid"]
                                                      .geometry.values))
