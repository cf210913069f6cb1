"""Incident rates per unit, for choropleths that do not just repeat where people live."""
from __future__ import annotations

import numpy as np
import pandas as pd

from gis.errors import InputError


def rate_per_1000_households(counts, households):
    """counts * 1000 / households, element by element.

    Households that are zero, negative, missing (None/NaN) or infinite give NaN, never inf; so do
    missing counts. Negative counts are an InputError. A pandas Series in gives a Series out,
    with the index of `counts` (or of `households`); positions are matched, not labels.
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
