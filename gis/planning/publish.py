"""Publishing a draft as the new active generation (refused while checks fail, or when the
active generation changed since the draft was opened), and re-assigning past incidents under a
generation without touching their original assignment."""
from __future__ import annotations

import numpy as np

from gis.access.roles import Principal
from gis.boundaries.index import grid_index
from gis.errors import Conflict, NotFound, ValidationFailed
from gis.planning.checks import check_plan
from gis.planning.drafts import _open_for_save, _prefix, _units, draft_json
from gis.planning.results import Published, Reassigned
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import plans as store


def publish(conn, actor: Principal, draft_id: int, body: dict, *,
            origin: dict | None = None) -> Published:
    """Write the draft as a new active generation (the caller's transaction makes it one)."""
    draft = _open_for_save(conn, actor, draft_id, body)
    base = bstore.generation_by_id(conn, draft["base_generation_id"])
    active = bstore.lock_active_generation(conn, base["root_code"] if base else None)
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
    audit.record(conn, actor, "plan_publish", f"plan/{draft_id}",
                 details={"generation_id": gen_id, "previous_generation_id": active,
                          "version": version}, **(origin or {}))
    return Published(draft_json(store.get_draft(conn, draft_id, actor.scope), gen_id), version,
                     gen_id, active, len(report.warnings))


def reassign_history(conn, actor: Principal, generation_id: int, *, batch_size: int = 100_000,
                     origin: dict | None = None) -> Reassigned:
    """Assign past incidents (recorded under other generations) to their grid under
    `generation_id` in incident_assignment; incident rows are not touched. Idempotent: an
    incident already assigned under the generation is skipped."""
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
    result = Reassigned(generation_id, gen["name"], considered, inserted,
                        int(totals["assigned"]), int(totals["uncovered"]))
    audit.record(conn, actor, "history_reassign", f"generation/{generation_id}",
                 details={"considered": considered, "inserted": inserted,
                          "assigned": result.assigned}, **(origin or {}))
    return result
