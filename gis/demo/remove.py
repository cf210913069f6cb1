"""Removing the demo whole, for a clean start with a deployment's own data: the demo's boundary
generations (and any published from plans drawn on them), its incidents, the synthetic coverage
set, the plans on its generations and the demo accounts, in one transaction, audited.

Incidents of other sources that were assigned under a demo generation are not the demo's: they
are re-assigned under the newest other generation (which becomes active if the demo's was), or,
when there is none, the removal is refused naming them unless other_incidents="delete"."""
from __future__ import annotations

import numpy as np

from gis.access.roles import SYSTEM, Principal
from gis.boundaries.index import grid_index
from gis.boundaries.locate import UNIT_KEYS
from gis.coverage.response_areas import recompute_response_areas
from gis.demo.accounts import SECRETS, USERNAMES
from gis.errors import Conflict, NotFound
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import coverage as cstore
from gis.store import demo as dstore
from gis.store.db import Engine



def remove_demo(engine: Engine, *, other_incidents: str = "refuse", actor: Principal = SYSTEM,
                origin: dict | None = None, say=lambda line: None) -> dict:
    """Remove the demo; returns what was removed (counts) and what was re-assigned."""
    if other_incidents not in ("refuse", "delete"):
        raise ValueError(other_incidents)
    with engine.begin() as conn:
        gens = dstore.demo_generations(conn)
        accounts = dstore.demo_accounts(conn, USERNAMES)
        sources = accounts  # scoped demo accounts report under their own names
        if not (gens or accounts or cstore.has_synthetic(conn)
                or dstore.has_demo_incidents(conn)):
            raise NotFound("no demo data is loaded: nothing to remove")
        active = bstore.lock_active_generation(conn)
        others = dstore.other_incidents(conn, gens, sources)
        remaining = [g["id"] for g in bstore.list_generations(conn) if g["id"] not in gens]
        target = max(remaining) if remaining else None
        moved = 0
        if others and other_incidents == "refuse":
            if target is None:
                listed = ", ".join(f"{o['source']} ({o['incidents']})" for o in others)
                raise Conflict(
                    f"{sum(o['incidents'] for o in others)} incidents that are not the demo's "
                    f"are assigned under the demo boundaries (sources: {listed}); import your own "
                    "boundaries first (they are then re-assigned under them), or remove them "
                    "too with --delete-other-incidents; nothing was removed",
                    details=others)
            moved = _reassign(conn, gens, sources, target)
            say(f"{moved} incidents of other sources re-assigned under generation {target}")
        counts = dstore.delete_demo(conn, gens, sources, accounts,
                                    other_too=other_incidents == "delete")
        activated = None
        if active in gens and target is not None:
            bstore.activate_generation(conn, target)
            activated = target
        if counts["roads"] and cstore.post_count(conn) and bstore.active_generation(conn):
            recompute_response_areas(conn)  # the posts left were routed on the demo's roads
        result = {"generations": gens, "removed": counts, "reassigned": moved,
                  "reassigned_to": target if moved else None, "activated": activated}
        audit.record(conn, actor, "demo_remove", "demo", details=result, **(origin or {}))
    SECRETS.unlink(missing_ok=True)
    return result


def _reassign(conn, gens: list[int], sources: list[str], target: int) -> int:
    ids, lon, lat = dstore.other_incident_points(conn, gens, sources)
    index, grids = grid_index(conn, target)
    pos = index.assign(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    covered = pos >= 0
    assignment = {}
    for col in ("grid_id", *(f"{k}_id" for k in UNIT_KEYS)):
        values = grids["id" if col == "grid_id" else col].to_numpy(
            dtype="float64", na_value=np.nan)[np.maximum(pos, 0)]
        assignment[col] = [int(v) if ok and not np.isnan(v) else None
                           for v, ok in zip(values, covered)]
    return dstore.reassign(conn, ids, target, assignment)
