"""Draft plans: the use cases behind `gridgis plans` and /api/v1/plans (takes a Connection in the
caller's transaction, returns JSON-ready dicts; errors are gis.errors).

A draft is a working copy of the active generation's grids in one unit (a city, township or
village inside the account's jurisdiction). Every save (an edit, undo or redo, the publish)
carries the version the client last saw; the draft row is locked while saving and a stale
version is refused (Conflict) with the saves made since, so nothing is lost or applied twice.
Edits are gis.editing operations; each one is logged with its Change (the undo/redo stack: an
undo reverts the last applied edit, a redo re-applies the first undone one, a new edit discards
the undone ones). An edit that makes check errors is still saved (work in progress) and the
answer lists them; publishing refuses a draft with errors.

Publishing writes a new generation: the base generation with the unit's grids replaced by the
draft's, every other area and grid copied, and makes it active, in the caller's transaction.
Incident rows are never touched; reassign_history records where past incidents fall under
another generation in incident_assignment.
"""
from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis import editing
from gis.access import Principal, Scope, Unit
from gis.assign import GridIndex
from gis.editing import Change
from gis.errors import (Conflict, Forbidden, InputError, NotFound, UnprocessableError,
                        ValidationFailed)
from gis.plan_checks import DEFAULT_TARGETS, Targets, check_edit, check_plan, plan_metrics
from gis.plan_io import (GEOJSON_MIME, GPKG_MIME, PLAN_COLUMNS, feature_collection,
                         geojson_bytes, geopackage_bytes, parse_geometry, plan_layers,
                         read_plan_file)
from gis.proposals import propose
from gis.renumber import renumber
from gis.store import boundaries as bstore
from gis.store import plans as store

EDIT_OPS = ("split_by_line", "split_equal", "merge", "reshape", "move_area", "add_grid",
            "retire", "renumber", "accept_proposal")
HISTORY_OPS = ("undo", "redo")
OPS = EDIT_OPS + HISTORY_OPS
STATUSES = ("open", "published", "discarded")
MAX_K = 50
MAX_UNDO_STEPS = 100
NAME_MAX, NOTE_MAX = 200, 2000
LINES = ("LineString", "MultiLineString")
POLYGONS = ("Polygon", "MultiPolygon")
VILLAGE_CODE = re.compile(r"^\d{12}$")


# ---- helpers ----

def not_visible(scope: Scope, kind: str, ident) -> Exception:
    """404 for accounts that see everything; for scoped accounts the same 403 whether or not
    the record exists elsewhere."""
    if scope.everything:
        return NotFound(f"{kind} {ident} does not exist")
    return Forbidden(f"{kind} {ident} is not within your jurisdiction")


def _text(body: dict, field: str, limit: int, required: bool) -> str | None:
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise UnprocessableError(f"{field} is required", field=field)
        return None
    if not isinstance(value, str) or not value.strip():
        raise UnprocessableError(f"{field} must be a non-empty string", field=field)
    if len(value) > limit:
        raise UnprocessableError(f"{field} is longer than {limit} characters", field=field)
    return value.strip()


def _int(body: dict, field: str, low: int, high: int, default=None) -> int | None:
    value = body.get(field, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UnprocessableError(f"{field} must be a whole number from {low} to {high}",
                                 field=field)
    return value


def _code(body: dict, field: str = "code", required: bool = True) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UnprocessableError(f"{field} must be a grid or unit code", field=field)
    return value.strip()


def _prefix(draft: dict) -> str:
    return Unit(store.LEVEL_NAMES[draft["unit_level"]], draft["unit_code"]).prefix


def _iso(t) -> str | None:
    return t.isoformat() if t is not None else None


def draft_json(draft: dict, active_generation_id: int | None = None) -> dict:
    out = {k: draft[k] for k in ("id", "name", "note", "unit_code", "unit_name", "status",
                                 "version", "base_generation_id", "published_generation_id",
                                 "author")}
    out["unit_level"] = store.LEVEL_NAMES.get(draft["unit_level"])
    out["grid_count"] = int(draft["grid_count"])
    out["undo_steps"] = int(draft["undo_steps"])
    out["redo_steps"] = int(draft["redo_steps"])
    out["created_at"] = _iso(draft["created_at"])
    out["updated_at"] = _iso(draft["updated_at"])
    if active_generation_id is not None:
        out["base_is_active"] = active_generation_id == draft["base_generation_id"]
    return out


def save_json(save: dict) -> dict:
    return {"version": save["version"], "action": save["action"], "op": save["op"],
            "author": save["author"], "at": _iso(save["created_at"]),
            "summary": save["summary"]}


def _summary(change: Change) -> dict:
    return {"added": change.added, "removed": change.removed, "changed": change.changed}


def parse_targets(min_value: int | None, max_value: int | None) -> Targets:
    lo = DEFAULT_TARGETS.households_min if min_value is None else min_value
    hi = DEFAULT_TARGETS.households_max if max_value is None else max_value
    if lo > hi:
        raise InputError(f"min ({lo}) must not exceed max ({hi})", field="min")
    return Targets(households_min=lo, households_max=hi)


def _targets_json(t: Targets) -> dict:
    return {"households_min": t.households_min, "households_max": t.households_max,
            "compactness_min": t.compactness_min}


def _active_id(conn) -> int | None:
    gen = bstore.active_generation(conn)
    return gen["id"] if gen else None


def get_draft(conn, scope: Scope, draft_id: int, *, lock: bool = False) -> dict:
    draft = store.get_draft(conn, draft_id, scope, lock=lock)
    if draft is None:
        raise not_visible(scope, "plan", draft_id)
    return draft


def _units(conn, draft: dict, scope: Scope) -> gpd.GeoDataFrame:
    return store.leaf_units(conn, draft["base_generation_id"], _prefix(draft), scope)


def _open_for_save(conn, actor: Principal, draft_id: int, body: dict) -> dict:
    """Lock the draft, and refuse a save on a closed draft or from a stale version."""
    draft = get_draft(conn, actor.scope, draft_id, lock=True)
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise UnprocessableError("version is required: the draft version this change is based "
                                 "on (from the last answer)", field="version")
    if draft["status"] != "open":
        raise Conflict(f"plan {draft_id} is {draft['status']}; it can no longer be changed",
                       details={"status": draft["status"], "version": draft["version"]})
    if version != draft["version"]:
        since = [save_json(s) for s in store.saves(conn, draft_id,
                                                   max(0, min(version, draft["version"])))]
        raise Conflict(f"plan {draft_id} is at version {draft['version']}, not {version}: "
                       f"{len(since)} change(s) were saved since; reload it and redo your change "
                       f"(nothing was saved)",
                       field="version",
                       details={"version": draft["version"], "your_version": version,
                                "changes": since})
    return draft


# ---- drafts ----

def create_draft(conn, actor: Principal, body: dict) -> dict:
    """A new draft: a copy of the active generation's grids in a city, township or village."""
    name = _text(body, "name", NAME_MAX, required=True)
    note = _text(body, "note", NOTE_MAX, required=False)
    unit_code = _unit_code(body.get("unit_code"))
    gen = bstore.require_active_generation(conn)
    unit = _unit(conn, actor.scope, gen["id"], unit_code)
    draft_id = store.insert_draft(conn, name=name, note=note, unit_code=unit_code,
                                  base_generation_id=gen["id"], author_id=actor.account_id)
    store.copy_generation_grids(conn, draft_id, gen["id"],
                                Unit(store.LEVEL_NAMES[unit["level"]], unit_code).prefix,
                                actor.scope)
    store.log_first_save(conn, draft_id, "create", actor.account_id, actor.username)
    return draft_json(store.get_draft(conn, draft_id, actor.scope), gen["id"])


def _unit_code(value) -> str:
    if not isinstance(value, str):
        raise UnprocessableError("unit_code is required: the 12-digit code of a city, township "
                                 "or village", field="unit_code")
    value = value.strip()
    if not VILLAGE_CODE.match(value):
        raise UnprocessableError(f"unit_code {value[:40]!r} is not a 12-digit city, township or "
                                 "village code", field="unit_code")
    return value


def _unit(conn, scope: Scope, generation_id: int, unit_code: str) -> dict:
    if not scope.contains_code(unit_code):
        raise Forbidden("不在您的管辖范围内 This unit is not within your jurisdiction",
                        field="unit_code")
    unit = store.unit_in_scope(conn, generation_id, unit_code, scope)
    if unit is None:
        raise UnprocessableError(f"no city, township or village {unit_code} in the active "
                                 f"generation {generation_id}", field="unit_code")
    return unit


def list_drafts(conn, scope: Scope, status: str | None) -> list[dict]:
    if status is not None and status not in STATUSES:
        raise InputError(f"status must be one of {', '.join(STATUSES)}", field="status")
    active = _active_id(conn)
    return [draft_json(d, active) for d in store.list_drafts(conn, scope, status)]


def draft_detail(conn, scope: Scope, draft_id: int) -> dict:
    """The draft with its grids and leaf units as GeoJSON."""
    draft = get_draft(conn, scope, draft_id)
    plan = store.load_plan(conn, draft_id, scope)
    units = _units(conn, draft, scope)
    return {"draft": draft_json(draft, _active_id(conn)), "grids": feature_collection(plan),
            "units": feature_collection(units, ("code", "name", "kind"))}


def draft_grids(conn, scope: Scope, draft_id: int) -> dict:
    get_draft(conn, scope, draft_id)
    return feature_collection(store.load_plan(conn, draft_id, scope))


def history(conn, scope: Scope, draft_id: int) -> dict:
    draft = get_draft(conn, scope, draft_id)
    return {"draft": draft_json(draft, _active_id(conn)),
            "saves": [save_json(s) for s in store.saves(conn, draft_id)]}


# ---- edits ----

def run_op(op: str, plan: gpd.GeoDataFrame, units: gpd.GeoDataFrame, body: dict,
           targets: Targets) -> tuple[gpd.GeoDataFrame, Change]:
    """Apply one edit operation named by `op` with its arguments from `body`."""
    if op == "split_by_line":
        return editing.split_by_line(plan, _code(body), parse_geometry(body.get("line"), "line",
                                                                       LINES))
    if op == "split_equal":
        angle = body.get("angle")
        if angle is not None and (isinstance(angle, bool) or not isinstance(angle, (int, float))
                                  or not -360 <= angle <= 360):
            raise UnprocessableError("angle must be a number of degrees from -360 to 360",
                                     field="angle")
        return editing.split_equal(plan, _code(body), _int(body, "k", 2, MAX_K, default=2),
                                   angle=angle)
    if op == "merge":
        codes = body.get("codes")
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes) or \
                not 2 <= len(codes) <= 200:
            raise UnprocessableError("codes must be a list of 2 to 200 grid codes",
                                     field="codes")
        return editing.merge(plan, [c.strip() for c in codes])
    if op == "reshape":
        return editing.reshape(plan, units, _code(body),
                               parse_geometry(body.get("outline"), "outline", POLYGONS))
    if op == "move_area":
        return editing.move_area(plan, _code(body), _code(body, "to"),
                                 parse_geometry(body.get("area"), "area", POLYGONS))
    if op == "add_grid":
        name = _text(body, "name", NAME_MAX, required=False)
        return editing.add_grid(plan, units, parse_geometry(body.get("outline"), "outline",
                                                            POLYGONS),
                                parent_code=_code(body, "parent_code", required=False),
                                name=name)
    if op == "retire":
        return editing.retire(plan, _code(body), to=_code(body, "to", required=False))
    if op == "renumber":
        return renumber_change(plan, units, _code(body, "unit", required=False))
    if op == "accept_proposal":
        proposal = _proposal(plan, units, body, targets)
        change = Change("accept_proposal", proposal.change.before, proposal.change.after)
        return proposal.plan, change
    raise UnprocessableError(f"op must be one of {', '.join(OPS)}", field="op")


def renumber_change(plan, units, unit: str | None) -> tuple[gpd.GeoDataFrame, Change]:
    """Renumber the grids of one leaf unit (or all) by gis.renumber's rule, as one edit."""
    if unit is not None and unit not in set(units["code"]):
        raise UnprocessableError(f"{unit} is not a leaf unit of the plan", field="unit")
    new_plan, mapping = renumber(plan, parents=[unit] if unit else None)
    moved = {old: new for old, new in mapping.items() if old != new}
    if not moved:
        raise UnprocessableError("the grids are already numbered by the rule", field="unit")
    before = plan[plan["code"].isin(set(moved))]
    after = new_plan[new_plan["code"].isin(set(moved.values()))]
    return new_plan, Change("renumber", before.reset_index(drop=True),
                            after.reset_index(drop=True))


def _proposal_code(body: dict) -> str:
    """A proposal is for a grid (code) or a leaf unit (unit)."""
    return _code({"code": body.get("code") if body.get("code") is not None
                  else body.get("unit")})


def _proposal(plan, units, body, targets):
    code = _proposal_code(body)
    k = _int(body, "k", 1, MAX_K)
    seed = _int(body, "seed", 0, 2**31 - 1, default=0)
    try:
        return propose(plan, units, code, targets=targets, k=k, seed=seed)
    except (ValueError, IndexError, shapely.errors.GEOSException) as exc:  # degenerate area
        raise UnprocessableError(f"no proposal for {code}: {exc}", field="code") from None


def _net_change(op: str, before_plan, after_plan, codes: set[str]) -> Change:
    """One Change from the plan before several steps to the plan after them."""
    before = before_plan[before_plan["code"].isin(codes)].reset_index(drop=True)
    after = after_plan[after_plan["code"].isin(codes)].reset_index(drop=True)
    return Change(op, before, after)


def save_edit(conn, actor: Principal, draft_id: int, body: dict,
              targets: Targets = DEFAULT_TARGETS) -> dict:
    """Apply an edit (or undo/redo) to a draft as one save; returns the new version, the grids
    it changed (GeoJSON), the live check of the edit and the plan's metrics."""
    draft = _open_for_save(conn, actor, draft_id, body)
    op = body.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise UnprocessableError(f"op must be one of {', '.join(OPS)}", field="op")
    plan = store.load_plan(conn, draft_id, actor.scope)
    units = _units(conn, draft, actor.scope)
    if op in HISTORY_OPS:
        new_plan, change, steps = _history_step(conn, draft_id, op, plan, body)
        store.replace_grids(conn, draft_id, change.before["code"], change.after)
        version = store.record_save(conn, draft_id, op, author_id=actor.account_id,
                                    author=actor.username, op=",".join(s["op"] for s in steps),
                                    edit_seq=steps[-1]["seq"],
                                    summary={**_summary(change), "steps": len(steps)})
    else:
        try:
            new_plan, change = run_op(op, plan, units, body, targets)
        except shapely.errors.GEOSException as exc:
            raise UnprocessableError(f"{op} failed on this geometry: {exc}") from None
        if change.before.empty and change.after.empty:
            raise UnprocessableError(f"{op} changes nothing", field="op")
        seq = store.push_edit(conn, draft_id, change.op, change.to_dict(), actor.account_id)
        store.replace_grids(conn, draft_id, change.before["code"], change.after)
        version = store.record_save(conn, draft_id, "edit", author_id=actor.account_id,
                                    author=actor.username, op=change.op, edit_seq=seq,
                                    summary=_summary(change))
        steps = [{"op": change.op, "seq": seq}]
    report = check_edit(new_plan, units, change, None, targets)
    draft = store.get_draft(conn, draft_id, actor.scope)
    return {"draft": draft_json(draft), "version": version, "op": op,
            "steps": [s["op"] for s in steps], **_summary(change),
            "grids": feature_collection(change.after), "check": report.to_dict(),
            "metrics": plan_metrics(new_plan, targets), "targets": _targets_json(targets)}


def _history_step(conn, draft_id, op, plan, body):
    """Undo or redo `steps` edits (default 1); returns (plan, net change, steps done)."""
    wanted = _int(body, "steps", 1, MAX_UNDO_STEPS, default=1)
    current, codes, done = plan, set(), []
    for _ in range(wanted):
        edit = store.last_applied_edit(conn, draft_id) if op == "undo" else \
            store.first_undone_edit(conn, draft_id)
        if edit is None:
            break
        change = Change.from_dict(edit["change"])
        current = change.revert(current) if op == "undo" else change.apply(current)
        store.set_undone(conn, edit["id"], op == "undo")
        codes |= set(change.before["code"]) | set(change.after["code"])
        done.append({"op": edit["op"], "seq": edit["seq"]})
    if not done:
        raise UnprocessableError(f"nothing to {op}", field="op")
    return current, _net_change(op, plan, current, codes), done


# ---- checks, proposals, comparison ----

def checks(conn, scope: Scope, draft_id: int, targets: Targets = DEFAULT_TARGETS) -> dict:
    draft = get_draft(conn, scope, draft_id)
    plan = store.load_plan(conn, draft_id, scope)
    report = check_plan(plan, _units(conn, draft, scope), targets)
    return {"draft": draft_json(draft, _active_id(conn)), **report_json(report),
            "metrics": plan_metrics(plan, targets), "targets": _targets_json(targets)}


def report_json(report) -> dict:
    """A check report, with its problems also as GeoJSON points to show on a map."""
    body = report.to_dict()
    body["problem_points"] = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p.to_dict(),
         "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]}}
        for p in report.problems if p.lon is not None]}
    return body


def proposal(conn, scope: Scope, draft_id: int, body: dict,
             targets: Targets = DEFAULT_TARGETS) -> dict:
    """A proposal for a grid or leaf unit of the draft (the draft is not changed)."""
    draft = get_draft(conn, scope, draft_id)
    plan = store.load_plan(conn, draft_id, scope)
    units = _units(conn, draft, scope)
    result = _proposal(plan, units, body, targets)
    report = check_edit(result.plan, units, result.change, None, targets)
    return {"draft": draft_json(draft), "code": _proposal_code(body),
            "k": result.k, "blocks": result.blocks, "objective": round(result.objective, 6),
            **_summary(result.change), "grids": feature_collection(result.change.after),
            "replaced": feature_collection(result.change.before),
            "check": report.to_dict(),
            "metrics": {"proposal": plan_metrics(result.change.after, targets),
                        "replaced": plan_metrics(result.change.before, targets),
                        "plan": plan_metrics(result.plan, targets)},
            "targets": _targets_json(targets)}


def compare(conn, scope: Scope, draft_id: int, targets: Targets = DEFAULT_TARGETS) -> dict:
    """The draft against the active generation's grids of its unit: grids added, removed or
    changed (geometry or counts), metrics side by side, and where past incidents in the unit
    would be counted (their grid under the active generation and under the draft published)."""
    draft = get_draft(conn, scope, draft_id)
    gen = bstore.require_active_generation(conn)
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
    return {"draft": draft_json(draft, gen["id"]), "generation_id": gen["id"],
            "counts": {k: sum(1 for f in changes["features"] if f["properties"]["change"] == k)
                       for k in ("added", "removed", "changed")},
            "changes": changes, "before": before,
            "metrics": {"draft": m_draft, "active": m_active, "difference": diff},
            "incidents": {**incidents, "per_grid": [
                {"code": c, **v} for c, v in sorted(per_grid.items())]},
            "targets": _targets_json(targets)}


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


# ---- publishing ----

def publish(conn, actor: Principal, draft_id: int, body: dict) -> dict:
    """Write the draft as a new active generation (the caller's transaction makes it one)."""
    draft = _open_for_save(conn, actor, draft_id, body)
    active = store.lock_active_generation(conn)
    if active != draft["base_generation_id"]:
        raise Conflict(f"the active generation changed since plan {draft_id} was opened "
                       f"(opened on generation {draft['base_generation_id']}, active now "
                       f"{active if active is not None else 'changing'}); nothing was "
                       "published: open a new draft on the active generation and redo the edits",
                       field="version", details={"base_generation_id": draft["base_generation_id"],
                                                 "active_generation_id": active})
    plan = store.load_plan(conn, draft_id, actor.scope)
    report = check_plan(plan, _units(conn, draft, actor.scope))
    if report.errors:
        raise ValidationFailed(f"plan {draft_id} has {len(report.errors)} check error(s); fix "
                               "them before publishing (nothing was published)",
                               details=[p.to_dict() for p in report.problems])
    gen_id = store.write_published_generation(
        conn, draft, _prefix(draft), name=f"{draft['name']} (plan {draft_id})",
        note=draft["note"])
    bstore.activate_generation(conn, gen_id)
    store.mark_published(conn, draft_id, gen_id)
    version = store.record_save(conn, draft_id, "publish", author_id=actor.account_id,
                                author=actor.username, status="published",
                                summary={"generation_id": gen_id})
    return {"draft": draft_json(store.get_draft(conn, draft_id, actor.scope), gen_id),
            "version": version, "generation_id": gen_id, "previous_generation_id": active,
            "warnings": len(report.warnings)}


def reassign_history(conn, generation_id: int, batch_size: int = 100_000) -> dict:
    """Assign past incidents (recorded under other generations) to their grid under
    `generation_id` in incident_assignment; incident rows are not touched. Idempotent: an
    incident already assigned under the generation is skipped."""
    from gis.service import grid_index
    gen = store.generation_exists(conn, generation_id)
    if gen is None:
        raise NotFound(f"generation {generation_id} does not exist")
    index, grids = grid_index(conn, generation_id)
    ids = grids["id"].to_numpy()
    after, considered, inserted = 0, 0, 0
    while True:
        batch = store.incidents_to_reassign(conn, generation_id, after, batch_size)
        if not len(batch):
            break
        if index.size:
            pos = index.assign(batch["lon"].to_numpy(float), batch["lat"].to_numpy(float))
        else:
            pos = np.full(len(batch), -1)
        grid_ids = [int(ids[p]) if p >= 0 else None for p in pos]
        inserted += store.insert_assignments(conn, generation_id, batch["id"], grid_ids)
        considered += len(batch)
        after = int(batch["id"].max())
    totals = store.count_reassigned(conn, generation_id)
    return {"generation_id": generation_id, "generation_name": gen["name"],
            "considered": considered, "inserted": inserted,
            "assigned": int(totals["assigned"]), "uncovered": int(totals["uncovered"])}


# ---- import and export ----

def import_draft(conn, actor: Principal, path: str | Path, *, name: str,
                 note: str | None = None, unit_code: str | None = None,
                 crs: str | None = None) -> dict:
    """A plan file (GeoPackage, GeoJSON, Shapefile) as a new draft of the active generation.
    The unit is given or found from the grids' parent codes (the smallest city, township or
    village holding them all)."""
    name = _text({"name": name}, "name", NAME_MAX, required=True)
    note = _text({"note": note}, "note", NOTE_MAX, required=False)
    plan, notes = read_plan_file(path, crs)
    if not len(plan):
        raise ValidationFailed("the plan file holds no grids; nothing was imported")
    unit_code = _unit_code(unit_code) if unit_code else _common_unit(plan["parent_code"])
    gen = bstore.require_active_generation(conn)
    unit = _unit(conn, actor.scope, gen["id"], unit_code)
    prefix = Unit(store.LEVEL_NAMES[unit["level"]], unit_code).prefix
    outside = [{"row": None, "code": c, "error": f"grid {c} (parent {p}) lies outside unit "
                f"{unit_code}"} for c, p in zip(plan["code"], plan["parent_code"])
               if not (c.startswith(prefix) and p.startswith(prefix))]
    if outside:
        raise ValidationFailed(f"{len(outside)} grid(s) lie outside unit {unit_code}; nothing "
                               "was imported", details=outside)
    draft_id = store.insert_draft(conn, name=name, note=note, unit_code=unit_code,
                                  base_generation_id=gen["id"], author_id=actor.account_id)
    store.insert_grids(conn, draft_id, plan)
    store.log_first_save(conn, draft_id, "import", actor.account_id, actor.username,
                         summary={"source": Path(path).name, "grids": len(plan)})
    draft = store.get_draft(conn, draft_id, actor.scope)
    report = check_plan(store.load_plan(conn, draft_id, actor.scope), _units(conn, draft,
                                                                             actor.scope))
    return {"draft": draft_json(draft, gen["id"]), "notes": notes, **report_json(report)}


def _common_unit(parents) -> str:
    parents = [str(p) for p in parents]
    for width, pad in ((12, ""), (9, "000"), (6, "000000")):
        heads = {p[:width] for p in parents}
        if len(heads) == 1 and all(len(p) >= 12 for p in parents):
            return next(iter(heads)) + pad
    raise ValidationFailed("the grids' parent codes share no city; give unit_code",
                           field="unit_code")


FORMATS = {"gpkg": (GPKG_MIME, "gpkg"), "geojson": (GEOJSON_MIME, "geojson")}


def _format(fmt: str | None) -> str:
    fmt = (fmt or "geojson").lower()
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}", field="format")
    return fmt


def export_draft(conn, scope: Scope, draft_id: int, fmt: str | None) -> tuple[bytes, str, str]:
    """(content, media type, file name) of a draft as GeoPackage (layer grid) or GeoJSON."""
    fmt = _format(fmt)
    get_draft(conn, scope, draft_id)
    plan = store.load_plan(conn, draft_id, scope)
    data = geopackage_bytes(plan_layers(plan)) if fmt == "gpkg" else \
        geojson_bytes(plan, PLAN_COLUMNS)
    return data, FORMATS[fmt][0], f"plan-{draft_id}.{FORMATS[fmt][1]}"


def export_generation(conn, scope: Scope, generation_id: int, fmt: str | None,
                      layer: str | None = None) -> tuple[bytes, str, str]:
    """A generation (active or not) inside the jurisdiction: GeoPackage with the five layers of
    the boundary-set format, or one layer (default grid) as GeoJSON."""
    fmt = _format(fmt)
    layer = layer or "grid"
    if layer not in ("city", "township", "village", "hamlet", "grid"):
        raise InputError("layer must be city, township, village, hamlet or grid", field="layer")
    if store.generation_exists(conn, generation_id) is None:
        raise NotFound(f"generation {generation_id} does not exist")
    layers = store.generation_layers(conn, generation_id, scope)
    if fmt == "gpkg":
        data = geopackage_bytes({k: v for k, v in layers.items() if len(v) or k == "grid"})
        return data, GPKG_MIME, f"generation-{generation_id}.gpkg"
    frame = layers[layer]
    columns = [c for c in frame.columns if c != frame.geometry.name]
    return geojson_bytes(frame, columns), GEOJSON_MIME, \
        f"generation-{generation_id}-{layer}.geojson"


def list_generations(conn) -> list[dict]:
    return [{"id": g["id"], "name": g["name"], "note": g["note"], "source": g["source"],
             "is_active": g["is_active"], "created_at": _iso(g["created_at"]),
             "activated_at": _iso(g["activated_at"])} for g in bstore.list_generations(conn)]

