"""Saving edits to a draft: one edit operation (gis.planning.edits), or an undo/redo of logged
edits, as one save on the version the client saw (409 when stale), with the live check of what
it changed; audited in the same transaction."""
from __future__ import annotations

import geopandas as gpd
import shapely

from gis.access.roles import Principal
from gis.errors import UnprocessableError
from gis.planning import edits as editing
from gis.planning.checks import DEFAULT_TARGETS, Targets, check_edit, plan_metrics
from gis.planning.drafts import (
    HISTORY_OPS,
    LINES,
    MAX_K,
    MAX_UNDO_STEPS,
    NAME_MAX,
    OPS,
    POLYGONS,
    _code,
    _int,
    _open_for_save,
    _summary,
    _text,
    _units,
    draft_json,
    targets_json,
)
from gis.planning.edits import Change
from gis.planning.io import feature_collection, parse_geometry
from gis.planning.proposals import propose
from gis.planning.renumber import renumber
from gis.planning.results import EditResult
from gis.store import audit
from gis.store import plans as store


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
    """Renumber the grids of one leaf unit (or all) by gis.planning.renumber's rule, as one
    edit."""
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
              targets: Targets = DEFAULT_TARGETS, *, origin: dict | None = None) -> EditResult:
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
    result = EditResult(draft_json(draft), version, op, [s["op"] for s in steps],
                        **_summary(change), grids=feature_collection(change.after),
                        check=report.to_dict(), metrics=plan_metrics(new_plan, targets),
                        targets=targets_json(targets))
    audit.record(conn, actor, "plan_edit", f"plan/{draft_id}",
                 details={"op": op, "steps": result.steps, "version": version,
                          "added": result.added, "removed": result.removed,
                          "changed": result.changed, "errors": result.check["errors"]},
                 **(origin or {}))
    return result


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
