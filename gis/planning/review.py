"""Reviewing a draft: its full checks with metrics, partition proposals for a grid or leaf unit
(the draft is not changed), and the comparison with the active generation, including where past
incidents would be counted."""
from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gis.access.scope import Scope
from gis.geo.assign import GridIndex
from gis.planning.checks import DEFAULT_TARGETS, Targets, check_edit, check_plan, plan_metrics
from gis.planning.drafts import (
    _active_id,
    _prefix,
    _summary,
    _units,
    draft_json,
    get_draft,
    report_json,
    targets_json,
)
from gis.planning.io import feature_collection
from gis.planning.results import Comparison, DraftChecks, ProposalResult
from gis.planning.saving import _proposal, _proposal_code
from gis.store import boundaries as bstore
from gis.store import plans as store


def checks(conn, scope: Scope, draft_id: int,
           targets: Targets = DEFAULT_TARGETS) -> DraftChecks:
    draft = get_draft(conn, scope, draft_id)
    plan = store.load_plan(conn, draft_id, scope)
    report = check_plan(plan, _units(conn, draft, scope), targets)
    return DraftChecks(draft_json(draft, _active_id(conn)), report_json(report),
                       plan_metrics(plan, targets), targets_json(targets))


def proposal(conn, scope: Scope, draft_id: int, body: dict,
             targets: Targets = DEFAULT_TARGETS) -> ProposalResult:
    """A proposal for a grid or leaf unit of the draft (the draft is not changed)."""
    draft = get_draft(conn, scope, draft_id)
    plan = store.load_plan(conn, draft_id, scope)
    units = _units(conn, draft, scope)
    result = _proposal(plan, units, body, targets)
    report = check_edit(result.plan, units, result.change, None, targets)
    return ProposalResult(
        draft_json(draft), _proposal_code(body), result.k, result.blocks,
        round(result.objective, 6), **_summary(result.change),
        grids=feature_collection(result.change.after),
        replaced=feature_collection(result.change.before), check=report.to_dict(),
        metrics={"proposal": plan_metrics(result.change.after, targets),
                 "replaced": plan_metrics(result.change.before, targets),
                 "plan": plan_metrics(result.plan, targets)},
        targets=targets_json(targets))


def compare(conn, scope: Scope, draft_id: int,
            targets: Targets = DEFAULT_TARGETS) -> Comparison:
    """The draft against the active generation's grids of its unit: grids added, removed or
    changed (geometry or counts), metrics side by side, and where past incidents in the unit
    would be counted (their grid under the active generation and under the draft published)."""
    draft = get_draft(conn, scope, draft_id)
    gen = bstore.require_active_generation(conn, code=draft["unit_code"])
    prefix = _prefix(draft)
    plan = store.load_plan(conn, draft_id, scope)
    active = store.generation_grids(conn, gen["id"], prefix, scope)
    incidents = _reaggregation(conn, scope, draft, gen["id"], prefix, plan, active)
    per_grid = incidents.pop("per_grid")
    changes, before = _changed_grids(plan, active, per_grid)
    m_draft, m_active = plan_metrics(plan, targets), plan_metrics(active, targets)
    diff = {k: (round(m_draft[k] - m_active[k], 3)
                if isinstance(m_draft[k], (int, float)) and isinstance(m_active[k], (int, float))
                else None) for k in m_draft}
    return Comparison(
        draft_json(draft, gen["id"]), gen["id"],
        counts={k: sum(1 for f in changes["features"] if f["properties"]["change"] == k)
                for k in ("added", "removed", "changed")},
        changes=changes, before=before,
        metrics={"draft": m_draft, "active": m_active, "difference": diff},
        incidents={**incidents, "per_grid": [{"code": c, **v}
                                             for c, v in sorted(per_grid.items())]},
        targets=targets_json(targets))


def _changed_grids(plan, active, per_grid) -> tuple[dict, dict]:
    a = active.set_index("code")
    d = plan.set_index("code")
    rows, old_rows = [], []
    for code in sorted(set(a.index) | set(d.index)):
        inc = per_grid.get(code, {"incidents_active": 0, "incidents_draft": 0})
        if code not in a.index:
            kind, geom_changed = "added", True
        elif code not in d.index:
            kind, geom_changed = "removed", True
        else:
            geom_changed = not shapely.equals(a.geometry[code], d.geometry[code])
            counts_changed = any(int(a[c][code]) != int(d[c][code])
                                 for c in ("households", "population"))
            if not (geom_changed or counts_changed or a["name"][code] != d["name"][code]):
                continue
            kind = "changed"
        src = d if kind != "removed" else a
        props = {"code": code, "name": src["name"][code], "parent_code": src["parent_code"][code],
                 "change": kind, "geometry_changed": geom_changed}
        for col in ("households", "population"):
            props[f"{col}_active"] = int(a[col][code]) if code in a.index else None
            props[f"{col}_draft"] = int(d[col][code]) if code in d.index else None
        props.update(inc)
        rows.append({"type": "Feature", "id": code, "properties": props,
                     "geometry": shapely.geometry.mapping(src.geometry[code])})
        if kind != "added":
            old_rows.append({"type": "Feature", "id": code,
                             "properties": {"code": code, "name": a["name"][code],
                                            "change": kind},
                             "geometry": shapely.geometry.mapping(a.geometry[code])})
    return ({"type": "FeatureCollection", "features": rows},
            {"type": "FeatureCollection", "features": old_rows})


def _reaggregation(conn, scope, draft, gen_id, prefix, plan, active) -> dict:
    """Past incidents in the unit, assigned (smallest code on borders) under the active
    generation and under the draft; grids just outside the unit take part for points on its
    border."""
    points = store.incidents_in_unit(conn, gen_id, draft["unit_code"], scope)
    outside = store.neighbour_grids(conn, gen_id, draft["unit_code"], prefix)
    x, y = points["lon"].to_numpy(dtype=float), points["lat"].to_numpy(dtype=float)

    def assign(frame):
        both = pd.concat([frame[["code"]], outside[["code"]]], ignore_index=True)
        geoms = np.concatenate([np.asarray(frame.geometry.values, dtype=object),
                                np.asarray(outside.geometry.values, dtype=object)])
        codes = both["code"].to_numpy(dtype=object)
        if not len(codes) or not len(x):
            return np.full(len(x), None, dtype=object)
        pos = GridIndex(geoms, codes).assign(x, y)
        return np.where(pos >= 0, codes[np.maximum(pos, 0)], None)

    before, after = assign(active), assign(plan)
    inside = set(plan["code"]) | set(active["code"])
    per_grid = {c: {"incidents_active": 0, "incidents_draft": 0} for c in inside}
    for key, codes in (("incidents_active", before), ("incidents_draft", after)):
        for code, n in pd.Series(codes, dtype=object).dropna().value_counts().items():
            if code in per_grid:
                per_grid[code][key] = int(n)
    moved = before != after
    recorded = points["grid_code"].to_numpy(dtype=object)
    return {"total": len(points), "change_grid": int(moved.sum()),
            "uncovered_active": int(sum(c is None for c in before)),
            "uncovered_draft": int(sum(c is None for c in after)),
            "recorded_elsewhere": int(sum(r != b for r, b in zip(recorded, before))),
            "per_grid": per_grid}
