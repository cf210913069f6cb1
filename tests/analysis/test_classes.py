"""Legend classes (mapclassify) and rates per 1,000 households."""
from __future__ import annotations

import json
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from gis.analysis import classes as classes_module
from gis.analysis.classes import NO_DATA_COLOUR, classify, range_labels, sequential_colours
from gis.analysis.rates import rate_per_1000_households
from gis.errors import InputError


def groups(sizes, centres, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([c * rng.uniform(0.95, 1.05, n) for n, c in zip(sizes, centres)])


def luminance(hex_colour):
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_fisher_jenks_finds_separated_groups():
    y = groups([7, 5, 9, 4, 6], [10, 30, 50, 70, 90])
    c = classify(y, "FisherJenks", k=5)
    assert c.scheme == "FisherJenks" and c.k == 5
    assert c.counts.tolist() == [7, 5, 9, 4, 6]
    assert c.classes.tolist() == [0] * 7 + [1] * 5 + [2] * 9 + [3] * 4 + [4] * 6
    assert c.lower[0] == y.min() and c.upper[-1] == y.max()


def test_fisher_jenks_on_many_values_is_sampled_deterministically():
    y = groups([3000, 1500, 500], [10, 50, 200], seed=1)
    assert y.size > classes_module.FISHER_JENKS_MAX
    a = classify(y, "FisherJenks", k=3)
    b = classify(y[::-1], "FisherJenks", k=3)
    assert a.counts.tolist() == [3000, 1500, 500]
    assert np.array_equal(a.upper, b.upper)


def test_quantiles_and_equal_interval():
    y = np.arange(1, 101, dtype=float)
    q = classify(y, "Quantiles", k=4)
    assert q.counts.tolist() == [25, 25, 25, 25]
    e = classify(np.r_[0.0, y], "EqualInterval", k=4)
    assert np.allclose(np.diff(np.r_[e.lower[0], e.upper]), 25)
    assert e.labels == ["0 – 25", "25 – 50", "50 – 75", "75 – 100"]


def test_scheme_names_are_forgiving_and_checked():
    y = np.arange(20.0)
    assert classify(y, "fisher_jenks", k=3).scheme == "FisherJenks"
    assert classify(y, "quantiles", k=3).scheme == "Quantiles"
    with pytest.raises(InputError) as err:
        classify(y, "Jenks-ish")
    assert err.value.field == "scheme"
    with pytest.raises(InputError):
        classify(y, "Quantiles", k=0)


def test_all_equal_values_make_one_class():
    c = classify([4, 4, 4, 4], "FisherJenks", k=5)
    assert c.scheme == "Unique" and c.k == 1
    assert c.classes.tolist() == [0, 0, 0, 0] and c.labels == ["4"]


def test_fewer_distinct_values_than_k_give_one_class_per_value():
    c = classify([1, 2, 2, 3, 3, 3], "EqualInterval", k=5)
    assert c.scheme == "Unique" and c.labels == ["1", "2", "3"]
    assert c.classes.tolist() == [0, 1, 1, 2, 2, 2] and c.counts.tolist() == [1, 2, 3]


def test_missing_values_are_no_data():
    c = classify([1.0, None, np.nan, np.inf, 5.0, 9.0, 13.0, 20.0], "Quantiles", k=2)
    assert c.classes[1:4].tolist() == [-1, -1, -1]
    assert c.counts.sum() == 5
    colours = c.value_colours()
    assert colours[1] == colours[2] == colours[3] == NO_DATA_COLOUR
    assert colours[0] == c.colours[0] and colours[-1] == c.colours[-1]


@pytest.mark.parametrize("values", [[], [np.nan, None]])
def test_empty_input_gives_no_classes(values):
    c = classify(values, "FisherJenks", k=5)
    assert c.k == 0 and c.labels == [] and c.colours == [] and c.legend() == []
    assert c.classes.tolist() == [-1] * len(values)


def test_user_defined_bins_keep_the_legend():
    c = classify([0.5, 2, 7, 30], "UserDefined", bins=[1, 5, 10])
    assert c.upper.tolist() == [1, 5, 10, 30]          # a last class up to the maximum
    assert c.classes.tolist() == [0, 1, 2, 3]
    with pytest.raises(InputError) as err:
        classify([1, 2, 3], "UserDefined")
    assert err.value.field == "bins"


def test_no_mapclassify_warnings_leak():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classify([0, 0, 0, 0, 0, 0, 1, 1, 2, 9], "Quantiles", k=5)
        classify([1, 1, 2, 2, 3, 3, 4, 5], "FisherJenks", k=5)


def test_colours_are_a_sequential_palette():
    for n in (1, 2, 3, 5, 7, 12):
        colours = sequential_colours(n)
        assert len(colours) == n == len(set(colours))
        lum = [luminance(c) for c in colours]
        assert lum == sorted(lum, reverse=True)           # light to dark
    c = classify(np.arange(50.0), "Quantiles", k=5, palette="Blues")
    assert c.colours == sequential_colours(5, "Blues")
    with pytest.raises(InputError):
        classify(np.arange(50.0), "Quantiles", k=5, palette="NoSuchPalette")


def test_labels_keep_distinct_bounds_distinct():
    labels = range_labels([0.0, 1.001, 1.002], [1.001, 1.002, 2.0])
    assert len(set(labels)) == 3
    assert range_labels([1, 2], [2, 3]) == ["1 – 2", "2 – 3"]
    assert range_labels([5.0], [np.inf]) == ["≥ 5"]


def test_legend_is_json_ready():
    c = classify(np.random.default_rng(3).lognormal(size=300), "FisherJenks", k=4)
    legend = json.loads(json.dumps(c.legend()))
    assert [row["class"] for row in legend] == [0, 1, 2, 3]
    assert sum(row["count"] for row in legend) == 300
    assert all(row["lower"] <= row["upper"] for row in legend)


def test_rate_per_1000_households():
    counts = [3, 5, 2, 4, 7, None]
    households = [1500, 0, None, np.nan, -4, 200]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # no divide-by-zero warnings either
        rate = rate_per_1000_households(counts, households)
    assert rate[0] == pytest.approx(2.0)
    assert np.isnan(rate[1:]).all() and not np.isinf(rate).any()


def test_rate_keeps_a_series_index_and_takes_sql_decimals():
    counts = pd.Series([Decimal(12), Decimal(0)], index=["231281101001001", "231281101001002"])
    rate = rate_per_1000_households(counts, [Decimal(600), 50])
    assert isinstance(rate, pd.Series) and list(rate.index) == list(counts.index)
    assert rate.tolist() == [20.0, 0.0]


def test_rate_rejects_negative_counts_and_mismatched_lengths():
    with pytest.raises(InputError) as err:
        rate_per_1000_households([1, -2], [100, 100])
    assert err.value.field == "counts"
    with pytest.raises(InputError):
        rate_per_1000_households([1, 2, 3], [100, 100])
