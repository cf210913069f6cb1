"""Handling incidents: lifecycle transitions (optimistic versions, who may act at which level),
the event log, overdue incidents and the deadline rules; every change is audited in its
transaction. The state machine itself is gis.incidents.lifecycle."""
from __future__ import annotations

from dataclasses import asdict

from gis.access.roles import Principal
from gis.access.scope import Scope, not_visible, require_city_wide
from gis.errors import Conflict, InputError, UnprocessableError
from gis.incidents import lifecycle as lc
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import lifecycle as lstore
from gis.store.db import Connection


def _iso(value):
    return value.isoformat() if value is not None else None


def deadline_rules(conn: Connection) -> dict[str, lc.DeadlineRule]:
    return {r["level"]: lc.DeadlineRule(**r) for r in lstore.rules(conn)}


def _lifecycle_json(row: dict, state: lc.State, actor: Principal) -> dict:
    """The lifecycle of a loaded incident, with what the account may do now."""
    level = lc.acting_level(actor.scope, row["units"])
    may = lc.may_act(level, state) and actor.can("incident.manage")
    body = {"id": row["id"], "external_id": row["external_id"], "status": state.status,
            "status_label": lc.STATUS_LABELS[state.status],
            "handling_level": state.handling_level, "version": state.version,
            "resolved_level": state.resolved_level}
    for key in ("reported_at", "accepted_at", "mediated_at", "resolved_at", "closed_at",
                "escalated_at", "accept_due_at", "resolve_due_at"):
        body[key] = _iso(getattr(state, key))
    body["overdue"] = lc.overdue(state, row["now"])
    body["your_level"] = level
    body["allowed_actions"] = lc.allowed_actions(state.status, state.handling_level,
                                                 lc.ladder_of(row["units"])) if may \
        else []
    return body


def _event_json(e: dict) -> dict:
    return {**e, "at": e["at"].isoformat()}


def transition(conn: Connection, actor: Principal, incident_id: int, body, *,
               origin: dict | None = None) -> dict:
    """Apply {"action", "version", "note"} to an incident inside the actor's jurisdiction.

    Conflict (409) when `version` is not the current one, Forbidden when the incident is
    handled above the actor's level, UnprocessableError when the state machine refuses;
    nothing changes then. Returns {"incident": lifecycle, "event": the event written}."""
    if not isinstance(body, dict):
        raise InputError('send a JSON object {"action": ..., "version": ..., "note": ...} '
                         "(Content-Type: application/json)")
    action = body.get("action")
    if action not in lc.ACTIONS:
        raise UnprocessableError(f"action must be one of {', '.join(lc.ACTIONS)}",
                                 field="action")
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise UnprocessableError("version is required: the version of the incident you saw "
                                 "(an integer, from GET .../events)", field="version")
    note = lc.parse_note(body.get("note"))
    row = lstore.load(conn, incident_id, actor.scope, lock=True)
    if row is None:
        raise not_visible(actor.scope, "incident", incident_id)
    old = lc.State(**row["state"])
    if version != old.version:
        raise Conflict(f"incident {incident_id} is at version {old.version} "
                       f"({lc.STATUS_LABELS[old.status]} at {old.handling_level} level), not "
                       f"version {version}; reload it and try again", field="version",
                       details={"current_version": old.version, "status": old.status,
                                "handling_level": old.handling_level})
    lc.check_may_act(lc.acting_level(actor.scope, row["units"]), old)
    new = lc.apply(old, action, row["now"], deadline_rules(conn), note,
                   lc.ladder_of(row["units"]))
    event = lstore.save_transition(
        conn, incident_id, old.version, {c: getattr(new, c) for c in lc.State.FIELDS},
        {"at": row["now"], "action": action, "from_status": old.status, "to_status": new.status,
         "from_level": old.handling_level, "to_level": new.handling_level, "note": note},
        actor)
    audit.record(conn, actor, "incident_transition", f"incident/{incident_id}",
                 details={"action": action, "from_status": old.status,
                          "to_status": new.status, "from_level": old.handling_level,
                          "to_level": new.handling_level, "version": new.version,
                          "note": note}, **(origin or {}))
    return {"incident": _lifecycle_json(row, new, actor), "event": _event_json(event)}


def events(conn: Connection, actor: Principal, incident_id: int) -> dict:
    """The incident's lifecycle (status, level, version, due times, allowed actions) and its
    event log, oldest first."""
    row = lstore.load(conn, incident_id, actor.scope)
    if row is None:
        raise not_visible(actor.scope, "incident", incident_id)
    return {"incident": _lifecycle_json(row, lc.State(**row["state"]), actor),
            "events": [_event_json(e) for e in lstore.events(conn, incident_id)]}


OVERDUE_KINDS = ("any", "accept", "resolve")


def overdue(conn: Connection, scope: Scope, kind: str | None, *, limit: int,
            offset: int) -> dict:
    """Open incidents past a due time, longest overdue first: kind any, accept or resolve."""
    kind = kind or "any"
    if kind not in OVERDUE_KINDS:
        raise InputError("kind must be any, accept or resolve", field="kind")
    rows, total, now = lstore.overdue(conn, scope, kind=kind, limit=limit, offset=offset)
    items = []
    for r in rows:
        r.pop("total")
        r.pop("now")
        items.append({k: _iso(v) if k.endswith("_at") else v for k, v in r.items()})
    return {"incidents": items, "total": total, "limit": limit, "offset": offset,
            "now": now.isoformat()}


def rules_json(rules: dict[str, lc.DeadlineRule]) -> dict:
    return {"rules": [{"level": lv, "label": lc.LEVEL_LABELS[lv],
                       "accept_hours": rules[lv].accept_hours,
                       "resolve_hours": rules[lv].resolve_hours}
                      for lv in lc.HANDLING_LEVELS if lv in rules]}


def set_deadlines(conn: Connection, actor: Principal, body, *,
                  origin: dict | None = None) -> dict:
    """Change the hours to accept and resolve per level (any subset of levels). Applies to
    incidents reported or escalated afterwards; due times already set stay."""
    if not isinstance(body, dict):
        raise InputError('send a JSON object {"rules": [...]} (Content-Type: application/json)')
    new = lc.parse_rules(body)
    gen = bstore.require_active_generation(conn, actor.scope)
    require_city_wide(actor.scope, bstore.city_code(conn, gen["id"]) or "", "期限 Deadlines")
    before = deadline_rules(conn)
    lstore.set_rules(conn, [asdict(r) for r in new])
    audit.record(conn, actor, "deadline_update", "deadline_rule",
                 details={r.level: {"accept_hours": [before[r.level].accept_hours,
                                                     r.accept_hours],
                                    "resolve_hours": [before[r.level].resolve_hours,
                                                      r.resolve_hours]}
                          for r in new}, **(origin or {}))
    return rules_json(deadline_rules(conn))
