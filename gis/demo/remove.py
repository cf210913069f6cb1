"""Removing the demo whole, for a clean start with a deployment's own data: the demo's boundary
generations (and any published from plans drawn on them), its incidents, the synthetic coverage
set, the plans on its generations and the demo accounts, in one transaction, audited.

Incidents of other sources that were assigned under a demo generation are not the demo's: they
are re-assigned under the generations active once the demo is gone (a root whose active
generation was the demo's takes its newest other generation), or, when there is none, the
removal is refused naming them unless other_incidents="delete"."""
from __future__ import annotations

import numpy as np
import pandas as pd

from gis.access.roles import SYSTEM, Principal
from gis.boundaries.index import ASSIGNED, assign_points
from gis.coverage.response_areas import recompute_response_areas
from gis.demo.accounts import DEPARTMENT_NAMES, SECRETS, USERNAMES
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
        everything = bstore.list_generations(conn)
        after = _active_after(everything, set(gens))
        others = dstore.other_incidents(conn, gens, sources)
        moved, target = 0, None
        if others and other_incidents == "refuse":
            if not after:
                listed = ", ".join(f"{o['source']} ({o['incidents']})" for o in others)
                raise Conflict(
                    f"{sum(o['incidents'] for o in others)} incidents that are not the demo's "
                    f"are assigned under the demo boundaries (sources: {listed}); import your own "
                    "boundaries first (they are then re-assigned under them), or remove them "
                    "too with --delete-other-incidents; nothing was removed",
                    details=others)
            moved = _reassign(conn, gens, sources, after)
            target = sorted({g["id"] for g in after})
            say(f"{moved} incidents of other sources re-assigned under generation "
                f"{', '.join(map(str, target))}")
        counts = dstore.delete_demo(conn, gens, sources, accounts,
                                    other_too=other_incidents == "delete",
                                    departments=DEPARTMENT_NAMES)
        activated = None
        for g in after:  # a root whose active generation was the demo's takes its newest other
            if not g["is_active"]:
                bstore.activate_generation(conn, g["id"])
                activated = g["id"]
        if counts["roads"] and cstore.post_count(conn) and bstore.active_generation(conn):
            recompute_response_areas(conn)  # the posts left were routed on the demo's roads
        result = {"generations": gens, "removed": counts, "reassigned": moved,
                  "reassigned_to": target, "activated": activated}
        audit.record(conn, actor, "demo_remove", "demo", details=result, **(origin or {}))
    SECRETS.unlink(missing_ok=True)
    return result


def _active_after(generations: list[dict], removed: set[int]) -> list[dict]:
    """The generations active once the demo's are gone, in root-code order: the active ones
    that stay, and for a root whose active generation goes, its newest other generation."""
    keep = [g for g in generations if g["id"] not in removed]
    after = {g["root_code"]: g for g in keep if g["is_active"]}
    for g in generations:
        if g["is_active"] and g["id"] in removed and g["root_code"] not in after:
            same = [k for k in keep if k["root_code"] == g["root_code"]]
            if same:
                after[g["root_code"]] = max(same, key=lambda k: k["id"])
    return [after[r] for r in sorted(after, key=lambda r: r or "")]


def _reassign(conn, gens: list[int], sources: list[str], after: list[dict]) -> int:
    """Re-assign the other sources' incidents under the generations active afterwards."""
    ids, lon, lat = dstore.other_incident_points(conn, gens, sources)
    assigned = assign_points(conn, np.asarray(lon, dtype=float), np.asarray(lat, dtype=float),
                             after[0]["id"], generations=after)
    total = 0
    for gen_id in np.unique(assigned["generation_id"].to_numpy()):
        mine = (assigned["generation_id"] == gen_id).to_numpy()
        cols = {c: [None if v is pd.NA else int(v) for v in assigned[c][mine]]
                for c in ASSIGNED}
        total += dstore.reassign(conn, [i for i, m in zip(ids, mine) if m], int(gen_id), cols)
    return total
