"""Incident rates per unit, for choropleths that do not just repeat where people live."""
from __future__ import annotations

import numpy as np
import pandas as pd

from gis.errors import InputError


def rate_per_1000_households(counts, households):
    """Incidents per 1,000 households, element by element: counts * 1000 / households.

    Households that are zero, negative, missing (None/NaN) or infinite give NaN, never inf; so do
    missing counts. Inputs are flattened and matched by position, not by label.

    Parameters
    ----------
    counts : array_like or pandas.Series
        Incident counts, >= 0; entries that are not numbers count as missing.
    households : array_like or pandas.Series
        Households of each unit, same length as `counts`.

    Returns
    -------
    numpy.ndarray or pandas.Series
        Float incidents per 1,000 households. When either input is a Series, a Series named
        "per_1000_households" with the index of `counts` (or of `households` if only it is one).

    Raises
    ------
    InputError
        Lengths differ (field "households"), or a count is negative ("counts"; details list up
        to 20 row positions).
    """
    c = pd.to_numeric(pd.Series(np.asarray(counts, dtype=object).ravel()), errors="coerce")
    h = pd.to_numeric(pd.Series(np.asarray(households, dtype=object).ravel()), errors="coerce")
    if len(c) != len(h):
        raise InputError(f"{len(c)} counts but {len(h)} household figures", field="households")
    c = c.to_numpy(dtype=float)
    h = h.to_numpy(dtype=float)
    if (c < 0).any():
        raise InputError("incident counts cannot be negative", field="counts",
                         details={"rows": np.flatnonzero(c < 0)[:20].tolist()})
    rate = np.full(c.shape, np.nan)
    known = np.isfinite(c) & np.isfinite(h) & (h > 0)
    rate[known] = c[known] * 1000.0 / h[known]
    for source in (counts, households):
        if isinstance(source, pd.Series):
            return pd.Series(rate, index=source.index, name="per_1000_households")
    return rate
