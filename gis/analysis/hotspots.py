"""Hot and cold spots of incident counts (or rates) per unit: Getis-Ord Gi* and Local Moran.

Both run esda on libpysal weights (gis.analysis.weights) and classify each unit like ArcGIS's
Gi_Bin: +3/+2/+1 a hot spot at 99/95/90 % confidence, -1..-3 a cold spot, 0 not significant.

p-values. With inference="permutation" (default) p is esda's pseudo p-value from conditional
permutations made two-sided: esda reports the tail the observed statistic lies in (its
"directed" p_sim), so p = min(1, 2 * p_sim), the counterpart of ArcGIS's two-sided confidence
levels. inference="analytic" (alias "normal") uses the normal approximation of Gi*'s z instead,
which is what ArcGIS's Hot Spot Analysis does: z is computed here with one sparse matrix product
(`gi_star_z`, equal to esda's G_Local(star=True).Zs) and p = 2 * (1 - Phi(|z|)); with cached
weights this takes a few milliseconds for 10,000 grids where 9,999 permutations take seconds,
so it suits a page, with permutations as a refinement computed in the background.

False Discovery Rate: with fdr=True, a unit is significant at level alpha when its p is below
esda.fdr(p of all tested units, alpha), the Benjamini-Hochberg cut-off, computed per level.
A pseudo p-value is never below 1/(permutations + 1) (here 2/(permutations + 1) once two-sided),
so with n units a level alpha is only reached when at least 2 * n / (alpha * (permutations + 1))
units share that smallest p: for 99 % over 1,000 units, 200 units with 999 permutations, 20 with
9,999. Hence the default of 9,999 (0.3 to 0.6 s for 1,000 units on 2 cores, esda without numba).

Untested units. Units whose value is missing (NaN, e.g. a rate with unknown households) are left
out of the weights and the test; islands (no neighbour under the weights) are left out of the
test but their values still count in the global mean and variance and in the permutations. Both
get z and p NaN, bin 0 and a "not tested" label; weights islands="nearest" links islands to
their nearest unit instead.
"""
from __future__ import annotations

import hashlib
import warnings
from collections.abc import Hashable
from itertools import pairwise
from typing import NamedTuple

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import scipy
import scipy.sparse as sp
from branca.utilities import color_brewer
from scipy.special import ndtr

from gis.analysis.classes import NO_DATA_COLOUR
from gis.analysis.weights import spatial_weights, weights_matrix
from gis.errors import InputError, UnprocessableError

ALPHAS = (0.10, 0.05, 0.01)
MIN_INCIDENTS = 30
PERMUTATIONS = 9999
SEED = 12345
INFERENCES = ("permutation", "analytic", "normal")  # "normal": former name of "analytic"

NOT_TESTED = {
    "island": ("未检验：无相邻单元", "Not tested: no neighbours"),
    "no_data": ("未检验：无数据", "Not tested: no data"),
}
MORAN_CLUSTERS = {  # esda's quadrant q -> code, zh, en, colour
    1: ("HH", "高-高聚集", "High-High cluster", "#d7191c"),
    2: ("LH", "低-高异常", "Low-High outlier", "#abd9e9"),
    3: ("LL", "低-低聚集", "Low-Low cluster", "#2c7bb6"),
    4: ("HL", "高-低异常", "High-Low outlier", "#fdae61"),
}
NOT_SIGNIFICANT = ("不显著", "Not significant")
INFERENCE_NAMES = {  # what the page says was used; "{:,}" is the number of permutations
    "analytic": ("解析正态近似（同 ArcGIS 热点分析）",
                 "analytic normal approximation (as ArcGIS Hot Spot Analysis)"),
    "permutation": ("{:,} 次条件随机置换", "{:,} conditional permutations"),
}
WEIGHT_NAMES = {"queen": ("共边或共点邻接", "queen contiguity"),
                "rook": ("共边邻接", "rook contiguity"),
                "distance": ("距离阈值", "distance band"),
                "knn": ("k 近邻", "k nearest neighbours")}


class InsufficientData(UnprocessableError):
    """The selection has too little data for a hot-spot or cluster analysis (HTTP 422).

    The message is in Chinese and English; details hold message_zh and message_en separately, and
    any figures given (such as incidents and minimum, or units).

    Parameters
    ----------
    zh, en : str
        The message in Chinese and in English.
    **details
        Further JSON-ready details.
    """
    code = "insufficient_data"

    def __init__(self, zh: str, en: str, **details):
        super().__init__(f"{zh} {en}", details={"message_zh": zh, "message_en": en, **details})


class LocalResult(NamedTuple):
    """Result of `gi_star` or `local_moran`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per unit, same index as the units (columns: see the function).
    method : dict
        JSON-ready description of the method and parameters, for the page.
    """
    table: pd.DataFrame   # one row per unit, same index as the units
    method: dict          # JSON-ready description of the method and parameters, for the page


def _percent(alpha: float) -> str:
    return f"{(1 - alpha) * 100:g}%"


def gi_bin_legend(alpha=ALPHAS) -> list[dict]:
    """Legend rows of the Gi* bins, hottest first, then the not-tested rows.

    Parameters
    ----------
    alpha : float or sequence of float, default ALPHAS
        1 to 3 strictly decreasing significance levels below 0.5, e.g. (0.10, 0.05, 0.01); bin +i
        (-i) is a hot (cold) spot at confidence 1 - alpha[i-1].

    Returns
    -------
    list of dict
        Keys bin (int, from len(alpha) down to -len(alpha); 0 is not significant), label_zh,
        label_en and colour (hex, RdBu: red hot, blue cold); then two rows with bin 0 and the
        no-data colour for units not tested (no neighbours, no data).

    Raises
    ------
    InputError
        alpha is not 1 to 3 decreasing levels in (0, 0.5) (field "alpha").
    """
    levels = _check_alpha(alpha)
    colours = color_brewer("RdBu", 2 * len(levels) + 1)  # red (hot) ... blue (cold)
    rows = []
    for b in range(len(levels), -len(levels) - 1, -1):
        if b == 0:
            zh, en = NOT_SIGNIFICANT
        else:
            conf = _percent(levels[abs(b) - 1])
            zh = f"{'热点' if b > 0 else '冷点'}（{conf} 置信度）"
            en = f"{'Hot' if b > 0 else 'Cold'} spot, {conf} confidence"
        rows.append({"bin": b, "label_zh": zh, "label_en": en,
                     "colour": colours[len(levels) - b]})
    for zh, en in NOT_TESTED.values():
        rows.append({"bin": 0, "label_zh": zh, "label_en": en, "colour": NO_DATA_COLOUR})
    return rows


def _check_alpha(alpha) -> tuple[float, ...]:
    levels = tuple(float(a) for a in np.atleast_1d(alpha))
    if not (1 <= len(levels) <= 3 and all(0 < a < 0.5 for a in levels)
            and all(a > b for a, b in pairwise(levels))):
        raise InputError("alpha must be 1 to 3 decreasing significance levels below 0.5, "
                         "e.g. (0.10, 0.05, 0.01)", field="alpha")
    return levels


def _values(units, value_column: str) -> np.ndarray:
    if not isinstance(units, gpd.GeoDataFrame):
        raise InputError("units must be a GeoDataFrame of polygons", field="units")
    if value_column not in units.columns:
        raise InputError(f"no column {value_column!r} in the units", field="value_column")
    y = pd.to_numeric(units[value_column], errors="coerce").to_numpy(dtype=float, copy=True)
    y[~np.isfinite(y)] = np.nan
    if (y < 0).any():
        raise InputError("values must not be negative", field=value_column)
    return y


def _check_enough(y: np.ndarray, incidents, min_incidents: int, what_zh: str, what_en: str):
    total = float(np.nansum(y)) if incidents is None else float(incidents)
    shown = int(total) if total == int(total) else round(total, 2)
    if total < min_incidents:
        raise InsufficientData(
            f"所选范围内只有 {shown} 起事件，{what_zh}至少需要 {min_incidents} 起。",
            f"Only {shown} incidents in the selection; {what_en} needs at least {min_incidents}.",
            incidents=shown, minimum=min_incidents)
    valid = np.isfinite(y)
    if valid.sum() < 3:
        raise InsufficientData(f"只有 {int(valid.sum())} 个单元有数据，{what_zh}至少需要 3 个。",
                               f"Only {int(valid.sum())} units have data; {what_en} needs at "
                               "least 3.", units=int(valid.sum()))
    if np.ptp(y[valid]) == 0:
        raise InsufficientData(f"所有单元的数值相同，无法进行{what_zh}。",
                               f"Every unit has the same value; {what_en} has nothing to compare.")
    return shown


def _prepare(units, value_column, incidents, min_incidents, weights, distance_m, k, islands,
             what_zh, what_en, weights_key=None, matrix_only=False):
    """Values, the mask of units with a value, weights between those units (a libpysal W, or
    the cached SpatialWeights when matrix_only), their description, the mask of tested units
    among them and the number of incidents shown."""
    y = _values(units, value_column)
    shown = _check_enough(y, incidents, min_incidents, what_zh, what_en)
    valid = np.isfinite(y)
    subset = units if valid.all() else units[valid]
    key = None
    if weights_key is not None:  # the units with a value are part of what the weights are of
        key = (weights_key, "all" if valid.all()
               else hashlib.blake2b(np.packbits(valid).tobytes(), digest_size=16).hexdigest())
    if matrix_only:
        w = weights_matrix(subset, weights, distance_m=distance_m, k=k, islands=islands,
                           cache_key=key)
        info = {**w.info, "island_rows": list(w.info["island_rows"])}
    else:
        w, info = spatial_weights(subset, weights, distance_m=distance_m, k=k, islands=islands,
                                  cache_key=key)
    tested = np.ones(int(valid.sum()), dtype=bool)
    tested[info["island_rows"]] = False
    info["island_rows"] = np.flatnonzero(valid)[~tested].tolist()  # positions in `units`
    if not tested.any():
        zh, en = WEIGHT_NAMES[info["kind"]]
        raise InsufficientData(f"按{zh}没有任何单元有相邻单元，请改用距离阈值或 k 近邻权重。",
                               f"No unit has a neighbour under {en}; use distance band or knn "
                               "weights.")
    return y, valid, w, info, tested, shown


def _run(stat, *args, seed, **kwargs):
    """Run an esda statistic without touching the caller's global numpy random state (esda
    reseeds it), without its notice about a future change of default alternative and without
    libpysal's warning about islands (reported in the result instead)."""
    state = np.random.get_state()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.filterwarnings("ignore", "The weights matrix is not fully connected")
            return stat(*args, seed=seed, n_jobs=1, keep_simulations=False, **kwargs)
    finally:
        np.random.set_state(state)


def gi_star_z(values, matrix) -> np.ndarray:
    """Getis-Ord Gi* z-scores with binary weights including each unit itself (analytic).

    z_i = (sum_j w_ij x_j - mean(x) sum_j w_ij) / (s sqrt((n sum_j w_ij^2 - (sum_j w_ij)^2)
    / (n - 1))), j over the unit and its neighbours, s the standard deviation of x with divisor
    n: the z of ArcGIS's Hot Spot Analysis and esda's G_Local(star=True, transform="B").Zs.
    A unit whose neighbourhood is every unit has z 0 (its Gi* is always its expectation).

    Parameters
    ----------
    values : array-like of float
        x, one value per unit (no NaN).
    matrix : scipy.sparse matrix or array
        n x n binary contiguity without self-neighbours (the diagonal is ignored), e.g.
        SpatialWeights.matrix.

    Returns
    -------
    numpy.ndarray
        z per unit.
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    m = matrix if isinstance(matrix, sp.csr_array) else sp.csr_array(matrix)
    diagonal = m.diagonal()
    lag = m @ x - diagonal * x + x                        # sum over the unit and its neighbours
    card = np.diff(m.indptr) - (diagonal != 0) + 1.0      # sum_j w_ij = sum_j w_ij^2 (binary)
    s = x.std()
    spread = s * np.sqrt(np.maximum(card * (n - card), 0.0) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (lag - x.mean() * card) / spread
    return np.where(spread > 0, z, 0.0)


def _cutoffs(p: np.ndarray, levels, fdr: bool) -> list[float]:
    return [float(esda.fdr(p, a)) if fdr else a for a in levels]


def _significant(p: np.ndarray, cutoff: float, fdr: bool) -> np.ndarray:
    # esda.fdr's cut-off is strict (p < i * alpha / n); a plain level is p <= alpha
    return p < cutoff if fdr else p <= cutoff


def _check_permutations(permutations, inference) -> int:
    if inference not in INFERENCES:
        raise InputError(f"inference must be one of {', '.join(INFERENCES)}", field="inference")
    if (not isinstance(permutations, (int, np.integer)) or isinstance(permutations, bool)
            or not 0 <= permutations <= 99999):
        raise InputError("permutations must be an integer from 0 to 99,999", field="permutations")
    if inference == "permutation" and permutations < 99:
        raise InputError("permutation inference needs at least 99 permutations",
                         field="permutations")
    return int(permutations)


def _status_columns(frame: pd.DataFrame, valid, tested_all) -> None:
    status = np.where(~valid, "no_data", np.where(tested_all, "tested", "island"))
    frame["status"] = status
    for reason, (zh, en) in NOT_TESTED.items():
        frame.loc[status == reason, ["label_zh", "label_en"]] = [zh, en]
        frame.loc[status == reason, "colour"] = NO_DATA_COLOUR


def _selection_summary(frame, valid, tested_all, seed, shown, min_incidents) -> dict:
    """The parts of a method description shared by Gi* and Local Moran."""
    return {"seed": None if seed is None else int(seed),
            "units": len(frame),
            "tested": int(tested_all.sum()),
            "islands": int((frame["status"] == "island").sum()),
            "no_data": int((~valid).sum()),
            "incidents": shown,
            "min_incidents": int(min_incidents),
            "software": {"esda": esda.__version__, "libpysal": libpysal.__version__,
                         "scipy": scipy.__version__}}


def gi_star(units: gpd.GeoDataFrame, value_column: str, *, weights: str = "queen",
            distance_m: float | None = None, k: int = 8, islands: str = "exclude",
            permutations: int = PERMUTATIONS, seed: int | None = SEED, alpha=ALPHAS,
            fdr: bool = True,
            inference: str = "permutation", min_incidents: int = MIN_INCIDENTS,
            incidents: float | None = None,
            weights_key: Hashable | None = None) -> LocalResult:
    """Getis-Ord Gi* hot and cold spots of `value_column` over the units (polygons, EPSG:4326).

    Binary weights, with each unit in its own neighbourhood (Gi*). p-values are two-sided: from
    conditional permutations (p = min(1, 2 * p_sim)) or from the analytic normal approximation
    of z (p = 2 * (1 - Phi(|z|)), as ArcGIS's Hot Spot Analysis); see the module docstring. Each
    tested unit gets a bin like ArcGIS's Gi_Bin: +i (hot) or -i (cold) for the number of levels
    of `alpha` it is significant at, 0 when not significant. Units without a value and islands
    are not tested (z and p NaN, bin 0). The weights are built once per set of units and cached
    (gis.analysis.weights.weights_matrix).

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        The units (grids, villages, ...) as polygons in EPSG:4326; one test per row.
    value_column : str
        Column of non-negative numbers (incident counts or rates); missing and non-numeric
        values are no data.
    weights : str, default "queen"
        Kind of spatial weights: "queen", "rook", "distance" or "knn"; see
        gis.analysis.weights.spatial_weights.
    distance_m : float, optional
        Distance band in metres for "distance"; default the smallest that gives every unit a
        neighbour.
    k : int, default 8
        Number of neighbours for "knn".
    islands : str, default "exclude"
        Units without neighbours: "exclude" (not tested) or "nearest" (linked to the nearest).
    permutations : int, default PERMUTATIONS (9,999)
        Conditional permutations, 0 to 99,999; at least 99 with inference "permutation" (unused
        with "analytic").
    seed : int or None, default SEED
        Seed of the permutations (None: not reproducible); the caller's numpy random state is
        left as it was.
    alpha : float or sequence of float, default ALPHAS (0.10, 0.05, 0.01)
        1 to 3 strictly decreasing significance levels below 0.5.
    fdr : bool, default True
        Use the Benjamini-Hochberg False Discovery Rate cut-off (esda.fdr) at each level.
    inference : str, default "permutation"
        "permutation" (pseudo p-values, esda) or "analytic" (normal approximation of z, one
        sparse matrix product; "normal" is the same).
    min_incidents : int, default MIN_INCIDENTS (30)
        Fewest incidents in the selection to run the analysis.
    incidents : float, optional
        Number of incidents in the selection, default the sum of `value_column` (pass it when the
        column is a rate).
    weights_key : hashable, optional
        Identifies the units' geometries and order, e.g. (generation_id, "grid", scope
        description), so that the weights are not rebuilt nor the geometries fingerprinted on
        the next analysis of the same units (the rows with a value are added to the key here).
        It must change whenever the geometries do. Default: a fingerprint of the coordinates.

    Returns
    -------
    LocalResult
        table: same index as `units`, columns z (Gi* z-score), p (two-sided p-value), bin (-3..3),
        label_zh, label_en, colour (hex) and status ("tested", "island" or "no_data").
        method: statistic, value_column, weights (the description of `spatial_weights`, with
        island_rows as positions in `units`), transform, inference ("permutation" or
        "analytic"), inference_zh and inference_en (what the page shows, e.g. "9,999 次条件随机置换"
        / "9,999 conditional permutations"), permutations (0 when analytic), alpha, fdr,
        p_cutoffs (one per level), seed, units, tested, islands, no_data, incidents,
        min_incidents, software (esda, libpysal and scipy versions), counts (tested units per
        bin), description_en and description_zh.

    Raises
    ------
    InputError
        units not a GeoDataFrame, no column `value_column`, negative values, or a bad alpha,
        permutations, inference or weights parameter.
    InsufficientData
        Fewer than `min_incidents` incidents, fewer than 3 units with data, the same value in
        every unit, or no unit with a neighbour under the weights.
    """
    levels = _check_alpha(alpha)
    permutations = _check_permutations(permutations, inference)
    analytic = inference != "permutation"
    inference = "analytic" if analytic else "permutation"
    y, valid, w, info, tested, shown = _prepare(units, value_column, incidents, min_incidents,
                                                weights, distance_m, k, islands, "热点分析",
                                                "hot-spot analysis", weights_key=weights_key,
                                                matrix_only=analytic)
    if analytic:
        z = gi_star_z(y[valid], w.matrix)
        p = 2.0 * ndtr(-np.abs(z))
    else:
        g = _run(esda.G_Local, y[valid], w, transform="B", star=True,
                 permutations=permutations, seed=seed)
        z = np.asarray(g.Zs, dtype=float)
        p = np.minimum(1.0, 2.0 * np.asarray(g.p_sim, dtype=float))
    cutoffs = _cutoffs(p[tested], levels, fdr)
    level = sum(_significant(p, c, fdr).astype(int) for c in cutoffs)
    bins = np.where(tested, np.sign(np.nan_to_num(z)).astype(int) * level, 0)

    n = len(units)
    tested_all = np.zeros(n, dtype=bool)
    tested_all[np.flatnonzero(valid)[tested]] = True
    z_all = np.full(n, np.nan)
    p_all = np.full(n, np.nan)
    bin_all = np.zeros(n, dtype=int)
    z_all[tested_all] = z[tested]
    p_all[tested_all] = p[tested]
    bin_all[valid] = bins
    legend = gi_bin_legend(levels)[: 2 * len(levels) + 1]       # bins len(levels) .. -len(levels)
    at = len(levels) - bin_all
    frame = pd.DataFrame({
        "z": z_all, "p": p_all, "bin": bin_all,
        "label_zh": np.array([r["label_zh"] for r in legend], dtype=object)[at],
        "label_en": np.array([r["label_en"] for r in legend], dtype=object)[at],
        "colour": np.array([r["colour"] for r in legend], dtype=object)[at]}, index=units.index)
    _status_columns(frame, valid, tested_all)

    conf = "/".join(_percent(a) for a in reversed(levels))
    kind_zh, kind_en = WEIGHT_NAMES[info["kind"]]
    if analytic:
        inference_zh, inference_en = INFERENCE_NAMES["analytic"]
        p_text_en = ("two-sided p-values of the z-score from the analytic normal approximation "
                     "(as ArcGIS Hot Spot Analysis)")
        p_text_zh = "按解析正态近似（同 ArcGIS 热点分析）计算 z 值的双侧 p 值"
    else:
        zh, en = INFERENCE_NAMES["permutation"]
        inference_zh, inference_en = zh.format(permutations), en.format(permutations)
        p_text_en = f"two-sided pseudo p-values from {permutations:,} conditional permutations"
        p_text_zh = f"{permutations:,} 次条件随机置换的双侧伪 p 值"
    counts = np.bincount(bin_all[tested_all] + len(levels), minlength=2 * len(levels) + 1)
    method = {
        "statistic": "Getis-Ord Gi*",
        "value_column": value_column,
        "weights": info,
        "transform": "binary",
        "inference": inference,
        "inference_zh": inference_zh,
        "inference_en": inference_en,
        "permutations": 0 if analytic else permutations,
        "alpha": list(levels),
        "fdr": bool(fdr),
        "p_cutoffs": cutoffs,
        **_selection_summary(frame, valid, tested_all, None if analytic else seed, shown,
                             min_incidents),
        "counts": {b: int(counts[b + len(levels)])
                   for b in range(-len(levels), len(levels) + 1)},
        "description_en": (f"Getis-Ord Gi* of {value_column} with {kind_en} weights; "
                           f"{p_text_en}; hot and cold spots at {conf} confidence"
                           + (" with False Discovery Rate correction." if fdr else ".")),
        "description_zh": (f"按{kind_zh}空间权重计算 {value_column} 的 Getis-Ord Gi* 统计量；"
                           f"{p_text_zh}；冷热点置信度 {conf}"
                           + ("，经错误发现率（FDR）校正。" if fdr else "。")),
    }
    return LocalResult(frame, method)


def local_moran(units: gpd.GeoDataFrame, value_column: str, *, weights: str = "queen",
                distance_m: float | None = None, k: int = 8, islands: str = "exclude",
                permutations: int = PERMUTATIONS, seed: int | None = SEED, alpha: float = 0.05,
                fdr: bool = True, min_incidents: int = MIN_INCIDENTS,
                incidents: float | None = None,
                weights_key: Hashable | None = None) -> LocalResult:
    """Local Moran's I clusters (HH, LL) and outliers (HL, LH) of `value_column` over the units.

    Row-standardised weights, two-sided pseudo p-values from conditional permutations
    (p = min(1, 2 * p_sim)) and one significance level `alpha` (with the FDR cut-off when fdr).
    Untested units (no value, islands) and InsufficientData are as in `gi_star`.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        The units as polygons in EPSG:4326; one test per row.
    value_column : str
        Column of non-negative numbers (incident counts or rates); missing values are no data.
    weights : str, default "queen"
        Kind of spatial weights: "queen", "rook", "distance" or "knn"; see
        gis.analysis.weights.spatial_weights.
    distance_m : float, optional
        Distance band in metres for "distance"; default the smallest that gives every unit a
        neighbour.
    k : int, default 8
        Number of neighbours for "knn".
    islands : str, default "exclude"
        Units without neighbours: "exclude" (not tested) or "nearest" (linked to the nearest).
    permutations : int, default PERMUTATIONS (9,999)
        Conditional permutations, 99 to 99,999.
    seed : int or None, default SEED
        Seed of the permutations; the caller's numpy random state is left as it was.
    alpha : float, default 0.05
        The significance level, in (0, 0.5).
    fdr : bool, default True
        Use the Benjamini-Hochberg False Discovery Rate cut-off (esda.fdr).
    min_incidents : int, default MIN_INCIDENTS (30)
        Fewest incidents in the selection to run the analysis.
    incidents : float, optional
        Number of incidents in the selection, default the sum of `value_column`.
    weights_key : hashable, optional
        Identifies the units' geometries, as in `gi_star`.

    Returns
    -------
    LocalResult
        table: same index as `units`, columns I (local Moran's I), p (two-sided pseudo p-value),
        quadrant (HH/LH/LL/HL whatever the significance; None when not tested), cluster (the
        quadrant when significant, else "ns"), label_zh, label_en, colour (hex) and status
        ("tested", "island" or "no_data"). method: as for `gi_star`, with transform
        "row-standardised", one alpha and its p_cutoff, and counts of tested units per cluster
        (HH, LL, HL, LH, ns).

    Raises
    ------
    InputError
        units not a GeoDataFrame, no column `value_column`, negative values, or a bad alpha,
        permutations or weights parameter.
    InsufficientData
        Too few incidents or units with data, the same value everywhere, or no neighbours.
    """
    (level,) = _check_alpha(alpha)
    permutations = _check_permutations(permutations, "permutation")
    y, valid, w, info, tested, shown = _prepare(units, value_column, incidents, min_incidents,
                                                weights, distance_m, k, islands, "聚类分析",
                                                "cluster analysis", weights_key=weights_key)
    m = _run(esda.Moran_Local, y[valid], w, transformation="r", permutations=permutations,
             seed=seed)
    p = np.minimum(1.0, 2.0 * np.asarray(m.p_sim, dtype=float))
    (cutoff,) = _cutoffs(p[tested], (level,), fdr)
    significant = _significant(p, cutoff, fdr) & tested
    quadrant = np.array([MORAN_CLUSTERS[int(q)][0] for q in m.q], dtype=object)

    n = len(units)
    tested_all = np.zeros(n, dtype=bool)
    tested_all[np.flatnonzero(valid)[tested]] = True
    frame = pd.DataFrame({"I": np.nan, "p": np.nan, "quadrant": None, "cluster": "ns"},
                         index=units.index)
    frame.loc[tested_all, "I"] = np.asarray(m.Is, dtype=float)[tested]
    frame.loc[tested_all, "p"] = p[tested]
    frame.loc[tested_all, "quadrant"] = quadrant[tested]
    cluster = np.where(significant, quadrant, "ns")
    frame.loc[valid, "cluster"] = cluster
    by_code = {c[0]: c for c in MORAN_CLUSTERS.values()}
    kind_zh, kind_en = WEIGHT_NAMES[info["kind"]]
    frame["label_zh"] = [by_code[c][1] if c in by_code else NOT_SIGNIFICANT[0]
                         for c in frame["cluster"]]
    frame["label_en"] = [by_code[c][2] if c in by_code else NOT_SIGNIFICANT[1]
                         for c in frame["cluster"]]
    frame["colour"] = [by_code[c][3] if c in by_code else "#f7f7f7" for c in frame["cluster"]]
    _status_columns(frame, valid, tested_all)
    method = {
        "statistic": "Local Moran's I",
        "value_column": value_column,
        "weights": info,
        "transform": "row-standardised",
        "inference": "permutation",
        "permutations": permutations,
        "alpha": level,
        "fdr": bool(fdr),
        "p_cutoff": cutoff,
        **_selection_summary(frame, valid, tested_all, seed, shown, min_incidents),
        "counts": {code: int((frame["cluster"][tested_all] == code).sum())
                   for code in ("HH", "LL", "HL", "LH", "ns")},
        "description_en": (f"Local Moran's I of {value_column} with {kind_en} weights; "
                           f"two-sided pseudo p-values from {permutations:,} conditional "
                           f"permutations; clusters and outliers at {_percent(level)} confidence"
                           + (" with False Discovery Rate correction." if fdr else ".")),
        "description_zh": (f"按{kind_zh}空间权重计算 {value_column} 的局部 Moran's I；"
                           f"{permutations} 次条件置换的双侧伪 p 值；聚类与异常值置信度 "
                           f"{_percent(level)}" + ("，经错误发现率（FDR）校正。" if fdr else "。")),
    }
    return LocalResult(frame, method)
