"""Staffing of grids: heads, full- and part-time workers, households per worker, gaps by unit.

A person tied to k grids (in any role, active assignments to known grids only) counts 1/k of a
full-time equivalent in each; for the presence flags (no head, no worker) any assignment counts.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from gis.errors import InputError

ROLES = ("grid_head", "full_time", "part_time")
PART_TIME_WEIGHT = 0.5
DEFAULT_TARGET = 150.0  # households per full-time-equivalent worker

FLAGS = ("no_head", "no_worker", "no_staff", "over_target")


def grid_staffing(grids: pd.DataFrame, assignments: pd.DataFrame, target: float = DEFAULT_TARGET,
                  part_time_weight: float = PART_TIME_WEIGHT) -> pd.DataFrame:
    """`grids` with staffing columns added: people per role, FTE, households per worker, flags.

    Only active assignments to grids in `grids` count. A person tied to k of these grids (in any
    role) counts 1/k of a full-time equivalent (FTE) in each as a full-time worker,
    part_time_weight/k as a part-time one and 0 as a grid head; for the people counts and the
    presence flags (no head, no worker) any such assignment counts.

    Parameters
    ----------
    grids : pandas.DataFrame
        One row per grid with columns code and households (number of households; non-numbers are
        missing). Pass every grid of the generation: a person's share is divided only among the
        grids given.
    assignments : pandas.DataFrame
        One row per (person, grid): staff_id, grid_code, role (grid_head, full_time or
        part_time) and active (bool; missing counts as inactive).
    target : float, default DEFAULT_TARGET (150)
        Target households per full-time-equivalent worker.
    part_time_weight : float, default PART_TIME_WEIGHT (0.5)
        Full-time equivalent of a part-time worker.

    Returns
    -------
    pandas.DataFrame
        A copy of `grids` (same index; a GeoDataFrame stays one) with int64 columns heads,
        full_time and part_time (distinct people), float worker_fte, households_per_worker
        (households per FTE; NaN without workers), and bool flags no_head, no_worker (no full- or
        part-time worker), over_target (households_per_worker > target) and no_staff (no head and
        no worker).

    Raises
    ------
    InputError
        An assignment, active or not, with an unknown role (field "role"; details list the row
        positions).
    """
    bad = np.flatnonzero(~assignments["role"].isin(ROLES)).tolist()
    if bad:
        raise InputError(f"unknown staff role (roles are {', '.join(ROLES)})", field="role",
                         details={"rows": bad})
    active = assignments["active"].astype("boolean").fillna(False).astype(bool)
    a = assignments.loc[active & assignments["grid_code"].isin(grids["code"]),
                        ["staff_id", "grid_code", "role"]].drop_duplicates()
    grids_per_person = a.groupby("staff_id")["grid_code"].nunique()
    a = a.assign(share=1.0 / a["staff_id"].map(grids_per_person))
    a = a.assign(fte=np.select([a["role"] == "full_time", a["role"] == "part_time"],
                               [a["share"], a["share"] * part_time_weight], 0.0))

    people = a.pivot_table(index="grid_code", columns="role", values="staff_id",
                           aggfunc="nunique", fill_value=0)
    fte = a.groupby("grid_code")["fte"].sum()

    out = grids.copy()
    code = out["code"]
    for role, col in (("grid_head", "heads"), ("full_time", "full_time"),
                      ("part_time", "part_time")):
        counts = people[role] if role in people.columns else pd.Series(dtype="int64")
        out[col] = code.map(counts).fillna(0).astype("int64")
    out["worker_fte"] = code.map(fte).fillna(0.0).astype(float)
    households = pd.to_numeric(out["households"], errors="coerce").astype(float)
    out["households_per_worker"] = (households / out["worker_fte"]).where(out["worker_fte"] > 0)
    out["no_head"] = out["heads"] == 0
    out["no_worker"] = (out["full_time"] + out["part_time"]) == 0
    out["over_target"] = (out["households_per_worker"] > target).fillna(False).astype(bool)
    out["no_staff"] = out["no_head"] & out["no_worker"]
    return out


def unit_gaps(per_grid: pd.DataFrame, unit_col: str) -> pd.DataFrame:
    """One row per value of unit_col (in order of first appearance) summing grid_staffing output.

    Parameters
    ----------
    per_grid : pandas.DataFrame
        Output of `grid_staffing`, with a column naming each grid's unit.
    unit_col : str
        That column, e.g. "township_code"; grids without a value form a group of their own.

    Returns
    -------
    pandas.DataFrame
        Columns unit_col, grids (number of grids), households (sum; missing counts 0), heads (the
        grids' heads summed, so a head of two grids in the unit counts twice), worker_fte (FTE),
        households_per_worker (households per FTE; NaN without workers) and no_head, no_worker,
        no_staff, over_target (number of grids with each flag).
    """
    groups = per_grid.groupby(unit_col, sort=False, dropna=False)
    out = pd.DataFrame({
        "grids": groups.size(),
        "households": groups["households"].sum(),
        "heads": groups["heads"].sum().astype("int64"),
        "worker_fte": groups["worker_fte"].sum().astype(float),
    })
    for flag in FLAGS:
        out[flag] = groups[flag].sum().astype("int64")
    out.insert(4, "households_per_worker",
               (out["households"] / out["worker_fte"]).where(out["worker_fte"] > 0))
    return out.rename_axis(unit_col).reset_index()
