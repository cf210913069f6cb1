"""Map classes for legends: class bounds from mapclassify, labels and a sequential palette.

`classify` always answers, whatever the values: NaN/inf and None are "no data" (class -1); empty
input or no data at all gives no classes; when there are no more distinct values than classes
asked for, each distinct value is a class of its own (scheme "Unique"). Classes follow
mapclassify: class i holds values in (upper[i-1], upper[i]], the first also its lower bound.

Fisher-Jenks: mapclassify's pure-Python version (numba is not installed) takes ~1 s for 1,000
values and grows with the square, so for more than FISHER_JENKS_MAX values the breaks are
computed on that many evenly spaced order statistics (deterministic, same shape of distribution),
and each break then moved to the middle of the gap it falls in.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import mapclassify as mc
import numpy as np
from branca.utilities import color_brewer

from gis.errors import InputError

FISHER_JENKS_MAX = 256
NO_DATA_COLOUR = "#d9d9d9"
NO_DATA_LABEL = {"zh": "无数据", "en": "no data"}

SCHEMES = {
    "FisherJenks": mc.FisherJenks,
    "Quantiles": mc.Quantiles,
    "EqualInterval": mc.EqualInterval,
    "HeadTailBreaks": mc.HeadTailBreaks,
    "MaximumBreaks": mc.MaximumBreaks,
    "PrettyBreaks": mc.PrettyBreaks,
    "StdMean": mc.StdMean,
    "BoxPlot": mc.BoxPlot,
    "UserDefined": None,
}
FIXED_K = {"HeadTailBreaks", "StdMean", "BoxPlot"}  # these choose their own number of classes
_SCHEME_KEYS = {name.lower(): name for name in SCHEMES}


@dataclass(frozen=True)
class Classification:
    """Classes of a set of values for a choropleth legend, as made by `classify`.

    Class i holds the values in (upper[i-1], upper[i]]; the first class also holds its lower bound.
    Bounds are in the units of the classified values.

    Attributes
    ----------
    scheme : str
        The scheme actually used: a name of SCHEMES, or "Unique" when the values had no more
        distinct values than classes asked for (each distinct value is then a class).
    lower, upper : numpy.ndarray
        Float arrays of shape (k,): lower and upper bound of each class (`upper` holds
        mapclassify's bins).
    classes : numpy.ndarray
        Int64 array, one entry per input value (flattened, in input order): its class, -1 for
        no data.
    counts : numpy.ndarray
        Int64 array of shape (k,): number of values in each class.
    labels : list of str
        Legend label of each class (`range_labels`).
    colours : list of str
        Hex colour of each class, light to dark.
    no_data_colour : str
        Hex colour of class -1, default NO_DATA_COLOUR.
    palette : str
        ColorBrewer sequential palette the colours come from, default "YlOrRd".
    """
    scheme: str               # scheme actually used ("Unique" when values are too few)
    lower: np.ndarray         # lower bound of each class
    upper: np.ndarray         # upper bound of each class (mapclassify's bins)
    classes: np.ndarray       # class of each input value, -1 for no data
    counts: np.ndarray        # number of values in each class
    labels: list[str]
    colours: list[str]
    no_data_colour: str = NO_DATA_COLOUR
    palette: str = field(default="YlOrRd")

    @property
    def k(self) -> int:
        """Number of classes (0 when there is no data)."""
        return len(self.upper)

    def value_colours(self) -> list[str]:
        """Colour of each input value, in input order.

        Returns
        -------
        list of str
            Hex colour of the class of each value; the no-data colour for class -1.
        """
        table = np.array(self.colours + [self.no_data_colour], dtype=object)
        return table[self.classes].tolist()

    def legend(self) -> list[dict]:
        """JSON-ready legend rows, one per class.

        Returns
        -------
        list of dict
            Keys class (int), lower and upper (float, in the units of the values), label, colour
            (hex) and count (int); empty when there are no classes.
        """
        return [{"class": i, "lower": float(self.lower[i]), "upper": float(self.upper[i]),
                 "label": self.labels[i], "colour": self.colours[i], "count": int(self.counts[i])}
                for i in range(self.k)]


def sequential_colours(n: int, palette: str = "YlOrRd") -> list[str]:
    """Colours of a ColorBrewer sequential palette, light to dark.

    ColorBrewer series start at 3 colours: n = 1 gives the middle one of three, n = 2 the
    lightest and the darkest.

    Parameters
    ----------
    n : int
        Number of colours; 0 or less gives none.
    palette : str, default "YlOrRd"
        ColorBrewer palette name (branca.utilities.color_brewer).

    Returns
    -------
    list of str
        n hex colours such as "#ffffb2".

    Raises
    ------
    InputError
        The palette is unknown (field "palette").
    """
    if n <= 0:
        return []
    try:
        if n < 3:  # ColorBrewer series start at 3
            three = color_brewer(palette, 3)
            return [three[1]] if n == 1 else [three[0], three[2]]
        return color_brewer(palette, n)
    except ValueError as err:
        raise InputError(f"unknown colour palette {palette!r}: {err}", field="palette") from None


def _scheme_name(scheme: str) -> str:
    key = str(scheme).replace("_", "").replace("-", "").replace(" ", "").lower()
    if key not in _SCHEME_KEYS:
        raise InputError(f"unknown classification scheme {scheme!r}; use one of "
                         + ", ".join(SCHEMES), field="scheme")
    return _SCHEME_KEYS[key]


def _as_values(values) -> np.ndarray:
    try:
        y = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError("values to classify must be numbers", field="values") from None
    if y.ndim != 1:
        y = y.ravel()
    return y


def _upper_bounds(data: np.ndarray, scheme: str, k: int, bins) -> np.ndarray:
    if scheme == "UserDefined":
        if bins is None or len(bins) == 0:
            raise InputError("scheme UserDefined needs bins (class upper bounds)", field="bins")
        upper = np.asarray(bins, dtype=float)
        if not np.isfinite(upper).all():
            raise InputError("bins must be finite numbers", field="bins")
        return upper
    sample = None
    if scheme == "FisherJenks" and data.size > FISHER_JENKS_MAX:
        sample = np.quantile(data, np.linspace(0.0, 1.0, FISHER_JENKS_MAX), method="inverted_cdf")
        k = min(k, np.unique(sample).size)
    with warnings.catch_warnings():  # mapclassify warns when it lowers k; we report the real k
        warnings.simplefilter("ignore")
        kwargs = {} if scheme in FIXED_K else {"k": k}
        upper = np.asarray(SCHEMES[scheme](data if sample is None else sample, **kwargs).bins,
                           dtype=float)
    if sample is not None and upper.size > 1:
        # a break from the sample lies between two sample values; values of the full data in
        # that gap go to the nearer side, and the break becomes the largest value below the middle
        following = sample[np.minimum(np.searchsorted(sample, upper[:-1], side="right"),
                                      sample.size - 1)]
        ordered = np.sort(data)
        middle = (upper[:-1] + following) / 2
        upper[:-1] = ordered[np.searchsorted(ordered, middle, side="right") - 1]
    return upper


def _decimals(bounds: np.ndarray) -> int:
    """Decimals for legend bounds: none for whole numbers, else about four significant digits of
    the span, more if two distinct bounds would print the same."""
    finite = bounds[np.isfinite(bounds)]
    if finite.size == 0 or np.all(finite == np.round(finite)):
        return 0
    span = float(finite.max() - finite.min())
    start = 0 if span == 0 else min(8, max(0, 3 - math.floor(math.log10(span))))
    distinct = np.unique(finite).size
    for d in range(start, 9):
        if len({f"{v:.{d}f}" for v in finite}) == distinct:
            return d
    return 8


def range_labels(lower, upper, decimals: int | None = None) -> list[str]:
    """Legend labels for classes with the given bounds, all with the same number of decimals.

    Each label is "lower – upper", just "value" when the two bounds are equal, or "≥ lower" when
    the upper bound is infinite; numbers have thousands separators.

    Parameters
    ----------
    lower, upper : array_like of float
        Lower and upper bound of each class, in the units of the values, same length.
    decimals : int, optional
        Decimals on every label; default none for whole numbers, else about four significant
        digits of the span of the bounds, more if two distinct bounds would print the same.

    Returns
    -------
    list of str
        One label per class.
    """
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    d = _decimals(np.r_[lower, upper]) if decimals is None else decimals
    return [f"≥ {lo:,.{d}f}" if np.isinf(hi) else f"{lo:,.{d}f}" if lo == hi
            else f"{lo:,.{d}f} – {hi:,.{d}f}" for lo, hi in zip(lower, upper)]


def classify(values, scheme: str = "FisherJenks", k: int = 5, *, bins=None,
             palette: str = "YlOrRd", decimals: int | None = None) -> Classification:
    """Classify values for a choropleth legend.

    Always answers, whatever the values: NaN, inf and None are no data (class -1), and empty input
    or no data at all gives no classes. Class i holds values in (upper[i-1], upper[i]], the first
    class also its lower bound (the smallest value).

    Parameters
    ----------
    values : array_like of float
        The values, any shape (flattened); None, NaN and inf are no data.
    scheme : str, default "FisherJenks"
        One of SCHEMES (case, underscores, hyphens and spaces ignored). Except for "UserDefined",
        data with no more distinct values than `k` make each distinct value a class (scheme
        "Unique"). FisherJenks on more than FISHER_JENKS_MAX values finds its breaks on that many
        evenly spaced order statistics (see the module docstring).
    k : int, default 5
        Number of classes asked for; the schemes in FIXED_K ignore it, and fewer classes come back
        when the data have fewer distinct values.
    bins : array_like of float, optional
        Class upper bounds for "UserDefined" (required there, ignored otherwise); bounds below the
        smallest value are dropped, and a last class up to the largest value is added when values
        exceed them.
    palette : str, default "YlOrRd"
        ColorBrewer sequential palette of the class colours.
    decimals : int, optional
        Decimals of the labels; default chosen by `range_labels`.

    Returns
    -------
    Classification
        The scheme used, the class bounds, the class of each value, the counts, labels and
        colours.

    Raises
    ------
    InputError
        An unknown scheme (field "scheme"), k not a positive integer ("k"), values that are not
        numbers ("values"), "UserDefined" without bins or with non-finite bins ("bins"), or an
        unknown palette ("palette").
    """
    name = _scheme_name(scheme)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise InputError("k (number of classes) must be a positive integer", field="k")
    y = _as_values(values)
    ok = np.isfinite(y)
    data = y[ok]
    classes = np.full(y.shape, -1, dtype=np.int64)
    if data.size == 0:
        empty = np.empty(0)
        return Classification(name, empty, empty, classes, np.zeros(0, dtype=np.int64), [], [],
                              palette=palette)
    distinct = np.unique(data)
    if name != "UserDefined" and distinct.size <= k:
        name, upper = "Unique", distinct
    else:
        upper = np.unique(_upper_bounds(data, name, int(k), bins))
    lowest = data.min()
    upper = upper[upper >= lowest]
    if upper.size == 0 or upper[-1] < data.max():
        upper = np.r_[upper, data.max()]
    lower = upper.copy() if name == "Unique" else np.r_[lowest, upper[:-1]]
    classes[ok] = np.searchsorted(upper, data, side="left")
    counts = np.bincount(classes[ok], minlength=upper.size)
    return Classification(name, lower, upper, classes, counts, range_labels(lower, upper, decimals),
                          sequential_colours(upper.size, palette), palette=palette)
