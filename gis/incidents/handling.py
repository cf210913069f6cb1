"""Handling incidents: lifecycle transitions (optimistic versions, who may act at which level),
the event log, overdue incidents and the deadline rules; every change is audited in its
transaction. The state machine itself is gis.incidents.lifecycle."""
from __future__ import annotations

from dataclasses import asdict

from gis.access.roles import Principal
from gis.access.scope import Scope, not_visible, require_city_wide
from gis.errors import Conflict, InputError, UnprocessableError
from gis.incidents import lifecycle as lc
from gis.store import accounts as astore
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import departments as dstore
from gis.store import lifecycle as lstore
from gis.store.db import Connection


def _iso(value):
    return value.isoformat() if value is not None else None


def deadline_rules(conn: Connection) -> dict[str, lc.DeadlineRule]:
    return {r["level"]: lc.DeadlineRule(**r) for r in lstore.rules(conn)}


def _actor(actor: Principal, row: dict) -> lc.Actor:
    return lc.Actor(level=lc.acting_level(actor.scope, row["units"]),
                    account_id=actor.account_id, assignee=bool(row["assignee"]),
                    reporter=actor.account_id is not None
                    and row["reported_by"] == actor.account_id,
                    manages=actor.can("incident.manage"))


STATE_TIMES = ("reported_at", "accepted_at", "mediated_at", "resolved_at", "closed_at",
               "escalated_at", "accept_due_at", "resolve_due_at", "returned_at", "registered_at",
               "dispatched_at", "verified_at", "evaluated_at", "stage_started_at",
               "stage_yellow_at", "stage_due_at")
STATE_VALUES = ("assignee_account_id", "assignee_department_id", "resolved_by", "verified_by",
                "verify_method", "satisfaction", "rework_count")


def _lifecycle_json(row: dict, state: lc.State, actor: Principal) -> dict:
    """The lifecycle of a loaded incident, with what the account may do now."""
    who = _actor(actor, row)
    body = {"id": row["id"], "external_id": row["external_id"], "public_id": row["public_id"],
            "status": state.status, "status_label": lc.STATUS_LABELS[state.status],
            "handling_level": state.handling_level, "version": state.version,
            "resolved_level": state.resolved_level, "stage": state.stage,
            "stage_label": lc.STAGE_LABELS.get(state.stage) if state.stage else None,
            "card": lc.card(state, row["now"]), "remind_count": row["remind_count"],
            "assignee_account_name": row["assignee_account_name"],
            "assignee_department_name": row["assignee_department_name"]}
    for key in STATE_TIMES:
        body[key] = _iso(getattr(state, key))
    for key in STATE_VALUES:
        body[key] = getattr(state, key)
    body["overdue"] = lc.overdue(state, row["now"])
    body["your_level"] = who.level
    body["assigned_to_you"] = who.assignee
    body["allowed_actions"] = lc.actions_for(who, state, lc.ladder_of(row["units"]))
    return body


def _event_json(e: dict) -> dict:
    return {**e, "at": e["at"].isoformat()}


def _int_or_none(body: dict, key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnprocessableError(f"{key} must be an integer id", field=key)
    return value


def _dispatch_target(conn: Connection, row: dict, who: lc.Actor, params: dict) -> dict:
    """Check the dispatch target lies inside the case's jurisdiction; the event's details."""
    if params.get("department_id") is not None:
        dept = dstore.get(conn, params["department_id"])
        if dept is None or not dept["active"]:
            raise UnprocessableError(f"no active department {params['department_id']}",
                                     field="department_id")
        if (dept["unit_level"], dept["unit_code"]) not in row["units"]:
            raise UnprocessableError(
                f"department {dept['name']} serves {dept['unit_code']}, which does not "
                "contain this case", field="department_id")
        return {"department_id": dept["id"], "department": dept["name"],
                **({"whistle": "吹哨报到"} if lc.whistle(dept["unit_level"], who.level) else {})}
    if params.get("account_id") is not None:
        account = astore.get(conn, params["account_id"])
        if account is None or not account["active"] or \
                account["role"] not in ("official", "grid_worker"):
            raise UnprocessableError(f"no active official or grid worker with account id "
                                     f"{params['account_id']}", field="account_id")
        target = astore.principal(conn, account, "system")
        if lc.acting_level(target.scope, row["units"]) is None:
            raise UnprocessableError(f"{account['username']}'s jurisdiction does not contain "
                                     "this case", field="account_id")
        return {"account_id": account["id"], "username": account["username"]}
    raise UnprocessableError("dispatch needs account_id (a person) or department_id (a "
                             "department)", field="account_id")


def transition(conn: Connection, actor: Principal, incident_id: int, body, *,
               origin: dict | None = None) -> dict:
    """Apply {"action", "version", "note", ...} to an incident the actor can see.

    Action parameters: dispatch: account_id or department_id; verify / reject: method
    (on_site, phone); evaluate: satisfaction; hand_down: level (optional). Conflict (409) when
    `version` is not the current one, Forbidden when the actor may not take the action (level,
    handler, reporter rules), UnprocessableError when the state machine refuses; nothing
    changes then. A reminder (remind) is an event only: the version stays. Returns
    {"incident": lifecycle, "event": the event written}."""
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
    params = {"account_id": _int_or_none(body, "account_id"),
              "department_id": _int_or_none(body, "department_id"),
              "method": body.get("method"), "satisfaction": body.get("satisfaction"),
              "level": body.get("level")}
    row = lstore.load(conn, incident_id, actor.scope, lock=True, account_id=actor.account_id)
    if row is None:
        raise not_visible(actor.scope, "incident", incident_id)
    old = lc.State(**row["state"])
    if version != old.version:
        raise Conflict(f"incident {incident_id} is at version {old.version} "
                       f"({lc.STATUS_LABELS[old.status]} at {old.handling_level} level), not "
                       f"version {version}; reload it and try again", field="version",
                       details={"current_version": old.version, "status": old.status,
                                "handling_level": old.handling_level})
    who = _actor(actor, row)
    ladder = lc.ladder_of(row["units"])
    if old.status not in lc.TRANSITIONS[action][0]:  # the machine's refusal says the most
        lc.apply(old, action, row["now"], {}, note, ladder, params, actor.account_id)
    lc.check_permits(who, action, old)
    details = _dispatch_target(conn, row, who, params) if action == "dispatch" else {}
    new = lc.apply(old, action, row["now"], deadline_rules(conn), note, ladder, params,
                   actor.account_id)
    for key in ("method", "satisfaction"):
        if action in ("verify", "reject", "evaluate") and params[key]:
            details[key] = params[key]
    event = {"at": row["now"], "action": action, "from_status": old.status,
             "to_status": new.status, "from_level": old.handling_level,
             "to_level": new.handling_level, "note": note, "details": details or None}
    if action == "remind":
        row["remind_count"] = lstore.count_reminder(conn, incident_id)
        saved = lstore.record_event(conn, incident_id, event, actor)
    else:
        saved = lstore.save_transition(conn, incident_id, old.version,
                                       {c: getattr(new, c) for c in lc.State.FIELDS}, event,
                                       actor)
        row = lstore.load(conn, incident_id, actor.scope, account_id=actor.account_id) or row
        new = lc.State(**row["state"])
    audit.record(conn, actor, "incident_transition", f"incident/{incident_id}",
                 details={"action": action, "from_status": old.status,
                          "to_status": new.status, "from_level": old.handling_level,
                          "to_level": new.handling_level, "version": new.version,
                          "note": note, **details}, **(origin or {}))
    return {"incident": _lifecycle_json(row, new, actor), "event": _event_json(saved)}


def events(conn: Connection, actor: Principal, incident_id: int) -> dict:
    """The incident's lifecycle (status, level, version, due times, card, the actions this
    account may take) and its event log, oldest first."""
    row = lstore.load(conn, incident_id, actor.scope, account_id=actor.account_id)
    if row is None:
        raise not_visible(actor.scope, "incident", incident_id)
    return {"incident": _lifecycle_json(row, lc.State(**row["state"]), actor),
            "events": [_event_json(e) for e in lstore.events(conn, incident_id)]}


def dispatch_targets(conn: Connection, actor: Principal, incident_id: int) -> dict:
    """Whom the case may be dispatched to: the departments serving a unit that contains it
    (above the actor's level: 吹哨报到) and the officials and grid workers of those units."""
    row = lstore.load(conn, incident_id, actor.scope, account_id=actor.account_id)
    if row is None:
        raise not_visible(actor.scope, "incident", incident_id)
    level = lc.acting_level(actor.scope, row["units"])
    depts = [{"id": d["id"], "name": d["name"], "unit_code": d["unit_code"],
              "unit_name": d["unit_name"], "unit_level": d["unit_level"],
              "whistle": lc.whistle(d["unit_level"], level)}
             for d in dstore.serving(conn, row["units"])]
    people = {}
    for a in dstore.accounts_in(conn, row["units"]):
        people.setdefault(a["id"], {"id": a["id"], "username": a["username"],
                                    "display_name": a["display_name"], "role": a["role"],
                                    "unit_level": a["level"], "unit_code": a["code"]})
    return {"departments": depts, "accounts": list(people.values())}


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
