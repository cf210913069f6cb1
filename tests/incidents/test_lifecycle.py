"""Incident lifecycle: the state machine (pure), and through the API against a real PostGIS:
transitions and refusals, escalation up to the city, who may act at which level, deadlines and
overdue incidents, optimistic locking, jurisdiction, the event log and the audit trail."""
from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from gis.access.scope import Scope, Unit
from gis.domain import STATUSES
from gis.errors import Forbidden, UnprocessableError
from gis.incidents import lifecycle as lc
from gis.incidents.importing import import_incidents
from gis.store import db
from tests.helpers import client_for, make_account
from tests.helpers.worlds import factory_world

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
RULES = {"grid": lc.DeadlineRule("grid", 24, 72), "village": lc.DeadlineRule("village", 24, 168),
         "township": lc.DeadlineRule("township", 48, 360),
         "city": lc.DeadlineRule("city", 72, 720)}
WORKER_GRID = "231281101001001001"
FOREIGN_GRID = "231281102001001"
ACCOUNTS = {
    "admin": ("admin", []),
    "worker": ("grid_worker", [WORKER_GRID]),
    "village": ("official", ["231281101001"]),
    "township": ("official", ["231281101000"]),
    "city": ("official", ["231281000000"]),
    "foreign": ("grid_worker", [FOREIGN_GRID]),
    "planner": ("planner", ["231281101001"]),
}


# ---- the state machine, pure ----

def state(status="reported", level="grid", **kw) -> lc.State:
    reported = NOW - timedelta(hours=1)
    due_a, due_r = lc.due_times(reported, level, RULES)
    return lc.State(status=status, handling_level=level, version=kw.pop("version", 3),
                    reported_at=reported, accept_due_at=due_a, resolve_due_at=due_r, **kw)


EXPECTED = {  # (status, action) -> new status; every other pair is refused
    ("reported", "accept"): "accepted", ("escalated", "accept"): "accepted",
    ("reported", "return"): "returned", ("accepted", "register"): "registered",
    ("registered", "dispatch"): "dispatched", ("dispatched", "dispatch"): "dispatched",
    ("mediating", "dispatch"): "dispatched",
    ("accepted", "mediate"): "mediating", ("registered", "mediate"): "mediating",
    ("dispatched", "mediate"): "mediating",
    **{(s, "resolve"): "resolved" for s in ("accepted", "registered", "dispatched",
                                           "mediating")},
    ("resolved", "verify"): "verified", ("resolved", "reject"): "mediating",
    ("verified", "close"): "closed", ("closed", "evaluate"): "evaluated",
    **{(s, "escalate"): "escalated" for s in ("reported", "accepted", "registered",
                                             "dispatched", "mediating", "escalated")},
    **{(s, "remind"): s for s in ("reported", "accepted", "registered", "dispatched",
                                  "mediating", "escalated", "resolved")},
}
PARAMS = {"account_id": 7, "method": "phone", "satisfaction": "satisfied"}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", lc.ACTIONS)
def test_every_transition_is_allowed_or_refused_by_the_table(status, action):
    before = state(status)
    if (status, action) in EXPECTED:
        after = lc.apply(before, action, NOW, RULES, note="reason", params=PARAMS)
        assert after.status == EXPECTED[(status, action)]
        # a reminder is an event only: the handler's view stays current
        assert after.version == before.version + (action != "remind")
    else:
        with pytest.raises(UnprocessableError) as err:
            lc.apply(before, action, NOW, RULES, note="reason", params=PARAMS)
        assert f"cannot {action}" in err.value.message
        assert status in err.value.message  # names the current status ...
        assert err.value.details["allowed"] == lc.allowed_actions(status, "grid")  # ... and what
        assert err.value.field == "action"


def test_hand_down_sends_a_case_to_a_lower_level_with_new_deadlines():
    s = state("escalated", "township")
    down = lc.apply(s, "hand_down", NOW, RULES, note="村里能办 the village can settle it")
    assert down.status == "registered" and down.handling_level == "village"
    assert down.resolve_due_at == NOW + timedelta(hours=168)
    to_grid = lc.apply(s, "hand_down", NOW, RULES, note="to the grid", params={"level": "grid"})
    assert to_grid.handling_level == "grid"
    with pytest.raises(UnprocessableError) as err:
        lc.apply(s, "hand_down", NOW, RULES, note="up?", params={"level": "city"})
    assert err.value.field == "level"
    with pytest.raises(UnprocessableError, match="needs a reason"):
        lc.apply(s, "hand_down", NOW, RULES)


def test_final_statuses_allow_nothing_but_evaluation_after_closing():
    assert lc.allowed_actions("returned", "grid") == []
    assert lc.allowed_actions("evaluated", "grid") == []
    assert lc.allowed_actions("closed", "grid") == ["evaluate"]
    with pytest.raises(UnprocessableError, match="case is final"):
        lc.apply(state("evaluated"), "resolve", NOW, RULES)
    with pytest.raises(UnprocessableError, match="allowed now: verify, reject, remind"):
        lc.apply(state("resolved"), "resolve", NOW, RULES)


def test_each_action_sets_its_times_and_who():
    s = lc.apply(state("reported"), "accept", NOW, RULES)
    assert s.accepted_at == NOW and s.handling_level == "grid" and s.stage == "dispatch"
    assert s.stage_started_at == NOW and s.stage_due_at is None  # filled by the store
    s = lc.apply(s, "register", NOW, RULES)
    assert s.registered_at == NOW
    s = lc.apply(s, "dispatch", NOW, RULES, params={"department_id": 4})
    assert (s.assignee_department_id, s.assignee_account_id, s.dispatched_at) == (4, None, NOW)
    with pytest.raises(UnprocessableError, match="exactly one"):
        lc.apply(s, "dispatch", NOW, RULES, params={"department_id": 4, "account_id": 2})
    s = lc.apply(s, "mediate", NOW + timedelta(hours=1), RULES)
    assert s.mediated_at == NOW + timedelta(hours=1) and s.stage == "handle"
    s = lc.apply(s, "resolve", NOW + timedelta(hours=2), RULES, account_id=11)
    assert s.resolved_at == NOW + timedelta(hours=2) and s.resolved_level == "grid"
    assert s.resolved_by == 11 and s.stage == "verify"
    with pytest.raises(UnprocessableError) as err:
        lc.apply(s, "verify", NOW, RULES, account_id=12)
    assert err.value.field == "method"
    rework = lc.apply(s, "reject", NOW + timedelta(hours=3), RULES, note="not fixed",
                      params={"method": "on_site"}, account_id=12)
    assert rework.status == "mediating" and rework.rework_count == 1
    assert rework.resolved_at is None and rework.resolved_by is None
    assert rework.mediated_at == s.mediated_at  # handling started once
    assert rework.resolve_due_at == s.resolve_due_at  # the case's deadline stays
    v = lc.apply(s, "verify", NOW + timedelta(hours=3), RULES, params={"method": "phone"},
                 account_id=12)
    assert (v.verified_by, v.verify_method, v.verified_at) == (12, "phone",
                                                                NOW + timedelta(hours=3))
    closed = lc.apply(v, "close", NOW + timedelta(hours=4), RULES)
    assert closed.closed_at == NOW + timedelta(hours=4) and closed.resolved_at == s.resolved_at
    assert closed.stage is None
    with pytest.raises(UnprocessableError) as err:
        lc.apply(closed, "evaluate", NOW, RULES, params={"satisfaction": "great"})
    assert err.value.field == "satisfaction"
    done = lc.apply(closed, "evaluate", NOW, RULES, params={"satisfaction": "basic"})
    assert done.satisfaction == "basic" and done.status == "evaluated"


def test_who_may_take_which_action():
    handled = state("resolved", resolved_by=11)
    township = lc.Actor("township", account_id=20)
    assert lc.permits(township, "verify", handled) is None
    assert "another account" in lc.permits(lc.Actor("township", account_id=11), "verify",
                                           handled)
    assigned = state("dispatched", "township", assignee_department_id=3)
    member = lc.Actor(None, account_id=30, assignee=True)
    assert lc.actions_for(member, assigned) == ["mediate", "resolve"]
    assert lc.permits(lc.Actor(None, account_id=31), "resolve", assigned) is not None
    grid = lc.Actor("grid", account_id=40)
    assert "remind" not in lc.actions_for(grid, assigned)
    assert "remind" in lc.actions_for(lc.Actor("city", account_id=41), assigned)
    assert "remind" not in lc.actions_for(lc.Actor("township", account_id=42), assigned)
    closed = state("closed")
    assert lc.actions_for(lc.Actor(None, account_id=50, reporter=True, manages=False),
                          closed) == ["evaluate"]
    assert lc.actions_for(lc.Actor("grid", account_id=51, manages=False), closed) == []


def test_cards_follow_the_stage_clock():
    s = state("reported", stage_yellow_at=NOW, stage_due_at=NOW + timedelta(hours=1))
    assert lc.card(s, NOW) is None
    assert lc.card(s, NOW + timedelta(minutes=1)) == "yellow"
    assert lc.card(s, NOW + timedelta(hours=2)) == "red"
    assert lc.card(replace(s, status="closed"), NOW + timedelta(hours=2)) is None


def test_escalation_climbs_one_level_at_a_time_up_to_the_city_and_resets_deadlines():
    s = state("accepted")
    levels = []
    for n in range(3):
        at = NOW + timedelta(hours=n)
        s = lc.apply(s, "escalate", at, RULES, note="beyond this level")
        levels.append(s.handling_level)
        rule = RULES[s.handling_level]
        assert s.status == "escalated" and s.escalated_at == at
        assert s.accept_due_at == at + timedelta(hours=rule.accept_hours)
        assert s.resolve_due_at == at + timedelta(hours=rule.resolve_hours)
    assert levels == ["village", "township", "city"]
    assert "escalate" not in lc.allowed_actions("escalated", "city")
    with pytest.raises(UnprocessableError, match="top level") as err:
        lc.apply(s, "escalate", NOW, RULES, note="higher still")
    assert err.value.details == {"status": "escalated", "handling_level": "city",
                                 "allowed": ["accept", "hand_down", "remind"]}


def test_escalating_needs_a_reason():
    for note in (None, "", "   "):
        with pytest.raises(UnprocessableError) as err:
            lc.apply(state("accepted"), "escalate", NOW, RULES, note=note)
        assert err.value.field == "note"


def test_overdue_to_accept_and_to_resolve():
    s = state("reported")
    assert lc.overdue(s, s.accept_due_at) == {"accept": False, "resolve": False}
    assert lc.overdue(s, s.accept_due_at + timedelta(seconds=1)) == {"accept": True,
                                                                     "resolve": False}
    late = s.resolve_due_at + timedelta(seconds=1)
    assert lc.overdue(s, late) == {"accept": True, "resolve": True}
    assert lc.overdue(state("accepted"), late) == {"accept": False, "resolve": True}
    assert lc.overdue(state("escalated"), late) == {"accept": True, "resolve": True}
    for done in ("resolved", "closed"):
        assert lc.overdue(state(done), late) == {"accept": False, "resolve": False}


def test_acting_level_is_the_highest_unit_containing_the_incident():
    units = {("grid", WORKER_GRID), ("hamlet", "231281101001001"), ("village", "231281101001"),
             ("township", "231281101000"), ("city", "231281000000")}
    worker = Scope((Unit("grid", WORKER_GRID),))
    mixed = Scope((Unit("grid", WORKER_GRID), Unit("township", "231281102000")))
    assert lc.acting_level(Scope.all(), set()) == "city"
    assert lc.acting_level(worker, units) == "grid"
    assert lc.acting_level(Scope((Unit("hamlet", "231281101001001"),)), units) == "grid"
    assert lc.acting_level(Scope((Unit("village", "231281101001"),)), units) == "village"
    # a township elsewhere does not lift the level for this incident
    assert lc.acting_level(mixed, units) == "grid"
    assert lc.acting_level(Scope((Unit("township", "231281102000"),)), units) is None
    lc.check_permits(lc.Actor("grid"), "accept", state(level="grid"))
    lc.check_permits(lc.Actor("township"), "accept", state(level="village"))
    with pytest.raises(Forbidden, match="handled at 村/社区 village level"):
        lc.check_permits(lc.Actor("grid"), "accept", state(level="village"))
    with pytest.raises(Forbidden):
        lc.check_permits(lc.Actor(None), "accept", state(level="grid"))


@pytest.mark.parametrize("body,message", [
    ({}, "send"), ({"rules": []}, "send"), ({"rules": [1]}, "must be an object"),
    ({"rules": [{"level": "hamlet", "accept_hours": 1, "resolve_hours": 2}]}, "level must be"),
    ({"rules": [{"level": "grid", "accept_hours": 0, "resolve_hours": 2}]}, "above 0"),
    ({"rules": [{"level": "grid", "accept_hours": True, "resolve_hours": 2}]}, "a number"),
    ({"rules": [{"level": "grid", "accept_hours": "1", "resolve_hours": 2}]}, "a number"),
    ({"rules": [{"level": "grid", "accept_hours": 1, "resolve_hours": 9000}]}, "at most"),
    ({"rules": [{"level": "grid", "accept_hours": float("nan"), "resolve_hours": 2}]}, "number"),
    ({"rules": [{"level": "grid", "accept_hours": 5, "resolve_hours": 2}]}, "more than"),
    ({"rules": [{"level": "grid", "accept_hours": 1, "resolve_hours": 2},
                {"level": "grid", "accept_hours": 1, "resolve_hours": 2}]}, "twice"),
])
def test_deadline_rules_are_checked(body, message):
    with pytest.raises(UnprocessableError, match=message):
        lc.parse_rules(body)


# ---- through the API, against PostGIS ----

@pytest.fixture(scope="module")
def lw(admin_engine, template_db, factory_gpkg):
    """A database of its own (deadline rules change here): the factory boundaries and one
    account per role and level."""
    with factory_world(admin_engine, template_db, factory_gpkg, "lc", ACCOUNTS) as w:
        yield w


def report(lw, grid=WORKER_GRID, **props) -> int:
    p = lw["points"][grid]
    res = lw["clients"]["admin"].post("/api/v1/incidents", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [p.x, p.y]},
        "properties": {"external_id": f"lc-{uuid.uuid4().hex[:8]}", "category": "dispute_land",
                       "occurred_at": "2026-05-01T09:00:00+08:00", **props}})
    assert res.status_code == 201, res.get_json()
    return res.get_json()["id"]


def sql(lw, query, **params):
    with db.engine(lw["url"]).begin() as conn:
        return conn.execute(text(query), params)


def row(lw, incident_id) -> dict:
    return dict(sql(lw, "SELECT * FROM incident WHERE id = :i", i=incident_id).mappings().one())


def n_events(lw, incident_id) -> tuple[int, int]:
    """(lifecycle events, audit events) recorded for the incident."""
    return tuple(sql(lw, "SELECT (SELECT count(*) FROM incident_event WHERE incident_id = :i), "
                         "(SELECT count(*) FROM audit_event WHERE action = "
                         "'incident_transition' AND target = :t)",
                     i=incident_id, t=f"incident/{incident_id}").one())


def act(lw, who, incident_id, action, version=None, note=None, **params):
    client = lw["clients"][who]
    if version is None:
        version = lw["clients"]["admin"].get(
            f"/api/v1/incidents/{incident_id}/events").get_json()["incident"]["version"]
    body = {"action": action, "version": version, **params}
    if note is not None:
        body["note"] = note
    return client.post(f"/api/v1/incidents/{incident_id}/transitions", json=body)


def test_new_incidents_get_due_times_from_the_grid_rule_single_and_bulk(lw, tmp_path):
    single = row(lw, report(lw, reported_at="2026-05-01T10:00:00+08:00"))
    assert single["handling_level"] == "grid" and single["version"] == 1
    assert single["accept_due_at"] - single["reported_at"] == timedelta(hours=24)
    assert single["resolve_due_at"] - single["reported_at"] == timedelta(hours=72)
    p = lw["points"][WORKER_GRID]
    csv = tmp_path / "bulk.csv"
    csv.write_text("external_id,category,occurred_at,reported_at,lon,lat\n" + "".join(
        f"bulk-{n},dispute_land,2026-05-0{n} 09:00,2026-05-0{n} 09:30,{p.x},{p.y}\n"
        for n in range(1, 4)))
    import_incidents(db.engine(lw["url"]), csv, source="lc-bulk")
    got = sql(lw, "SELECT reported_at, accept_due_at - reported_at, resolve_due_at - reported_at "
                  "FROM incident WHERE source = 'lc-bulk'").all()
    assert len(got) == 3
    assert {(a, r) for _, a, r in got} == {(timedelta(hours=24), timedelta(hours=72))}
    # the bulk path starts the stage clocks as the insert trigger does, in working hours
    clocks = sql(lw, "SELECT stage_started_at = reported_at, "
                     "abs(extract(epoch FROM stage_due_at - work_add(reported_at, 4 * 3600))), "
                     "abs(extract(epoch FROM stage_yellow_at - work_add(reported_at, 2880 * 4))) "
                     "FROM incident WHERE source = 'lc-bulk'").all()
    assert all(same and due < 1e-3 and yellow < 1e-3 for same, due, yellow in clocks)


def test_grid_worker_handles_a_case_another_account_verifies_it_and_it_closes(lw):
    iid = report(lw)
    worker = lw["accounts"]["worker"]["id"]
    steps = [("worker", "accept", {}, "accepted"), ("worker", "mediate", {}, "mediating"),
             ("worker", "resolve", {}, "resolved"),
             ("village", "verify", {"method": "phone"}, "verified"),
             ("village", "close", {}, "closed"),
             ("village", "evaluate", {"satisfaction": "satisfied"}, "evaluated")]
    # the handler may not verify its own work
    for n, (who, action, params, to) in enumerate(steps):
        if action == "verify":
            res = act(lw, "worker", iid, "verify", version=n + 1, method="on_site")
            assert res.status_code == 403 and "another account" in \
                res.get_json()["error"]["message"]
            shown = lw["clients"]["worker"].get(f"/api/v1/incidents/{iid}/events").get_json()
            assert "verify" not in shown["incident"]["allowed_actions"]
        res = act(lw, who, iid, action, version=n + 1, note=f"step {n}", **params)
        assert res.status_code == 200, res.get_json()
        body = res.get_json()
        assert body["incident"]["status"] == to and body["incident"]["version"] == n + 2
        assert body["event"]["username"] == f"lc-{who}" and body["event"]["action"] == action
    stored = row(lw, iid)
    assert stored["status"] == "evaluated" and stored["resolved_level"] == "grid"
    assert stored["resolved_by"] == worker
    assert stored["verified_by"] == lw["accounts"]["village"]["id"]
    assert (stored["verify_method"], stored["satisfaction"]) == ("phone", "satisfied")
    assert stored["accepted_at"] < stored["mediated_at"] < stored["resolved_at"] \
        < stored["verified_at"] < stored["closed_at"] < stored["evaluated_at"]
    assert stored["stage_due_at"] is None and stored["stage_yellow_at"] is None
    log = lw["clients"]["worker"].get(f"/api/v1/incidents/{iid}/events").get_json()
    assert [(e["action"], e["to_status"]) for e in log["events"]] == [
        (a, to) for _, a, _, to in steps]
    assert [e["note"] for e in log["events"]] == [f"step {n}" for n in range(6)]
    assert log["events"][3]["details"] == {"method": "phone"}
    assert log["events"][2]["at"] == stored["resolved_at"].isoformat()
    assert log["incident"]["allowed_actions"] == [] and log["incident"]["version"] == 7
    audit = lw["clients"]["admin"].get(
        "/api/v1/audit?action=incident_transition&limit=1000").get_json()
    mine = [e for e in audit["events"] if e["target"] == f"incident/{iid}"]
    assert [e["details"]["action"] for e in reversed(mine)] == [a for _, a, _, _ in steps]
    assert mine[0]["details"]["to_status"] == "evaluated" and mine[0]["details"]["version"] == 7


def test_each_stage_starts_its_clock_in_working_hours(lw):
    iid = report(lw, reported_at="2026-06-05T16:30:00+08:00")  # a Friday, one hour before 17:30
    stored = row(lw, iid)
    # accept: 4 working hours = 1 h on Friday + 3 h on Monday from 08:30 (lunch 12:00-13:30)
    assert stored["stage_started_at"] == stored["reported_at"]
    assert stored["stage_due_at"] == datetime(2026, 6, 8, 11, 30, tzinfo=timezone(
        timedelta(hours=8)))
    assert stored["stage_yellow_at"] == datetime(2026, 6, 8, 10, 42, tzinfo=timezone(
        timedelta(hours=8)))  # 80 %: 3 h 12 min
    res = act(lw, "worker", iid, "accept")
    inc = res.get_json()["incident"]
    assert inc["stage"] == "dispatch" and inc["stage_started_at"] == res.get_json()["event"]["at"]
    started = datetime.fromisoformat(inc["stage_started_at"])
    with db.engine(lw["url"]).connect() as conn:
        expected = conn.execute(text("SELECT work_add(:t, 4 * 3600)"), {"t": started}).scalar()
    assert datetime.fromisoformat(inc["stage_due_at"]) == expected
    assert inc["card"] is None


def test_refused_transitions_answer_422_naming_the_state_and_change_nothing(lw):
    iid = report(lw)
    before = row(lw, iid)
    for action in ("mediate", "resolve", "close", "verify", "evaluate"):
        res = act(lw, "worker", iid, action, version=1)
        assert res.status_code == 422, action
        err = res.get_json()["error"]
        assert "reported" in err["message"] and err["details"]["allowed"] == [
            "accept", "return", "escalate", "remind"]
    for body, field in (({"action": "dance", "version": 1}, "action"),
                        ({"action": "accept"}, "version"),
                        ({"action": "accept", "version": "1"}, "version"),
                        ({"action": "accept", "version": True}, "version"),
                        ({"action": "accept", "version": 1, "note": 5}, "note"),
                        ({"action": "accept", "version": 1, "note": "x" * 2001}, "note")):
        res = lw["clients"]["worker"].post(f"/api/v1/incidents/{iid}/transitions", json=body)
        assert res.status_code == 422 and res.get_json()["error"]["field"] == field, body
    res = lw["clients"]["worker"].post(f"/api/v1/incidents/{iid}/transitions", data="[1",
                                       content_type="application/json")
    assert res.status_code == 400
    assert row(lw, iid) == before and n_events(lw, iid) == (0, 0)


def test_escalation_to_the_city_level_by_level_and_refused_beyond(lw):
    iid = report(lw)
    assert act(lw, "worker", iid, "accept").status_code == 200
    res = act(lw, "worker", iid, "escalate")
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "note"
    res = act(lw, "worker", iid, "escalate", note="两村土地纠纷 land dispute between villages")
    assert res.status_code == 200
    inc = res.get_json()["incident"]
    assert (inc["status"], inc["handling_level"]) == ("escalated", "village")
    at = datetime.fromisoformat(res.get_json()["event"]["at"])
    assert datetime.fromisoformat(inc["accept_due_at"]) == at + timedelta(hours=24)
    assert datetime.fromisoformat(inc["resolve_due_at"]) == at + timedelta(hours=168)
    # the grid worker cannot act on it any more: 403 naming the levels, nothing changes
    before = row(lw, iid)
    res = act(lw, "worker", iid, "accept")
    assert res.status_code == 403 and "village level" in res.get_json()["error"]["message"]
    assert row(lw, iid) == before
    events = lw["clients"]["worker"].get(f"/api/v1/incidents/{iid}/events").get_json()
    assert events["incident"]["allowed_actions"] == [] and events["incident"]["your_level"] == \
        "grid"
    # village -> township -> city, each level passing it on; the city cannot pass it further
    for who, level in (("village", "township"), ("township", "city")):
        res = act(lw, who, iid, "escalate", note="needs the next level")
        assert res.status_code == 200 and res.get_json()["incident"]["handling_level"] == level
    assert act(lw, "township", iid, "accept").status_code == 403
    res = act(lw, "city", iid, "escalate", note="higher still")
    assert res.status_code == 422 and "top level" in res.get_json()["error"]["message"]
    assert act(lw, "city", iid, "accept").status_code == 200
    assert act(lw, "city", iid, "resolve").status_code == 200
    stored = row(lw, iid)
    assert stored["resolved_level"] == "city"
    assert stored["resolve_due_at"] - stored["escalated_at"] == timedelta(hours=720)
    log = lw["clients"]["admin"].get(f"/api/v1/incidents/{iid}/events").get_json()["events"]
    assert [(e["from_level"], e["to_level"]) for e in log if e["action"] == "escalate"] == [
        ("grid", "village"), ("village", "township"), ("township", "city")]
    assert [e["username"] for e in log] == ["lc-worker", "lc-worker", "lc-village",
                                            "lc-township", "lc-city", "lc-city"]


def test_higher_levels_may_act_on_lower_level_incidents(lw):
    iid = report(lw)
    assert act(lw, "township", iid, "accept").status_code == 200
    assert act(lw, "village", iid, "mediate").status_code == 200
    assert act(lw, "city", iid, "resolve").status_code == 200
    assert row(lw, iid)["resolved_level"] == "grid"  # resolved while held at grid level


def test_failed_verification_sends_the_case_back_for_rework(lw):
    iid = report(lw)
    for action in ("accept", "resolve"):
        assert act(lw, "worker", iid, action).status_code == 200
    due = row(lw, iid)["resolve_due_at"]
    res = act(lw, "village", iid, "reject", method="on_site")
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "note"
    res = act(lw, "village", iid, "reject", method="on_site",
              note="现场仍有积水 still flooded on site")
    assert res.status_code == 200
    stored = row(lw, iid)
    assert stored["status"] == "mediating" and stored["resolved_at"] is None
    assert stored["rework_count"] == 1 and stored["resolve_due_at"] == due
    assert res.get_json()["incident"]["stage"] == "handle"


def test_returned_reports_need_a_reason_and_are_final(lw):
    iid = report(lw)
    assert act(lw, "worker", iid, "return").status_code == 422
    res = act(lw, "worker", iid, "return", note="不属于本网格 not a matter for the grid")
    assert res.status_code == 200 and res.get_json()["incident"]["allowed_actions"] == []
    assert row(lw, iid)["returned_at"] is not None


def test_reminders_come_from_above_and_keep_the_version(lw):
    iid = report(lw)
    assert act(lw, "worker", iid, "remind", note="hurry").status_code == 403
    res = act(lw, "township", iid, "remind", note="请今日办结 finish today")
    assert res.status_code == 200
    assert res.get_json()["incident"]["version"] == 1
    assert res.get_json()["incident"]["remind_count"] == 1
    assert act(lw, "worker", iid, "accept", version=1).status_code == 200
    log = lw["clients"]["worker"].get(f"/api/v1/incidents/{iid}/events").get_json()["events"]
    assert [(e["action"], e["username"]) for e in log] == [("remind", "lc-township"),
                                                           ("accept", "lc-worker")]


def test_dispatch_to_a_department_whose_members_handle_it(lw):
    admin = lw["clients"]["admin"]
    member = make_account(lw["url"], f"lc-dept-{uuid.uuid4().hex[:6]}", "official",
                          ["231281102000"])
    other = make_account(lw["url"], f"lc-dept-{uuid.uuid4().hex[:6]}", "official",
                          ["231281102000"])
    res = admin.post("/api/v1/departments", json={
        "name": f"城管 {uuid.uuid4().hex[:4]}", "unit": "231281000000",
        "member_ids": [member["id"]]})
    assert res.status_code == 201, res.get_json()
    dept = res.get_json()
    elsewhere = admin.post("/api/v1/departments", json={
        "name": f"综治 {uuid.uuid4().hex[:4]}", "unit": "231281102000"}).get_json()
    iid = report(lw)
    for action in ("accept", "register"):
        assert act(lw, "township", iid, action).status_code == 200
    targets = lw["clients"]["township"].get(f"/api/v1/incidents/{iid}/dispatch-targets")
    depts = {d["id"]: d for d in targets.get_json()["departments"]}
    assert depts[dept["id"]]["whistle"] is True and elsewhere["id"] not in depts
    people = {a["username"] for a in targets.get_json()["accounts"]}
    assert {"lc-worker", "lc-village", "lc-township"} <= people and "lc-foreign" not in people
    assert lw["clients"]["foreign"].get(f"/api/v1/incidents/{iid}/dispatch-targets") \
        .status_code == 403
    res = act(lw, "township", iid, "dispatch", department_id=elsewhere["id"])
    assert res.status_code == 422 and "does not contain" in res.get_json()["error"]["message"]
    assert act(lw, "township", iid, "dispatch").status_code == 422
    res = act(lw, "township", iid, "dispatch", department_id=dept["id"], note="请处置")
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["event"]["details"]["whistle"] == "吹哨报到"  # a city department
    mc = client_for(lw["url"], member["token"], RATELIMIT_ENABLED=False)
    oc = client_for(lw["url"], other["token"], RATELIMIT_ENABLED=False)
    shown = mc.get(f"/api/v1/incidents/{iid}/events").get_json()["incident"]
    assert shown["assigned_to_you"] and shown["allowed_actions"] == ["mediate", "resolve"]
    assert shown["assignee_department_name"] == dept["name"]
    assert oc.get(f"/api/v1/incidents/{iid}/events").status_code == 403
    body = {"action": "resolve", "version": shown["version"], "note": "已清理 cleared"}
    assert oc.post(f"/api/v1/incidents/{iid}/transitions", json=body).status_code == 403
    res = mc.post(f"/api/v1/incidents/{iid}/transitions", json=body)
    assert res.status_code == 200 and res.get_json()["incident"]["status"] == "resolved"
    assert row(lw, iid)["resolved_by"] == member["id"]
    # dispatch to a person: inside the case's jurisdiction only
    iid2 = report(lw)
    for action in ("accept", "register"):
        assert act(lw, "township", iid2, action).status_code == 200
    res = act(lw, "township", iid2, "dispatch",
              account_id=lw["accounts"]["foreign"]["id"])
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "account_id"
    res = act(lw, "township", iid2, "dispatch", account_id=lw["accounts"]["worker"]["id"])
    assert res.status_code == 200 and row(lw, iid2)["assignee_account_id"] == \
        lw["accounts"]["worker"]["id"]


def test_a_stale_version_answers_409_with_the_current_state(lw):
    iid = report(lw)
    assert act(lw, "worker", iid, "accept", version=1).status_code == 200
    before = row(lw, iid)
    res = act(lw, "village", iid, "escalate", version=1, note="too late")
    assert res.status_code == 409
    err = res.get_json()["error"]
    assert err["details"] == {"current_version": 2, "status": "accepted",
                              "handling_level": "grid"}
    assert "version 2" in err["message"] and err["field"] == "version"
    assert row(lw, iid) == before and n_events(lw, iid) == (1, 1)


def test_concurrent_transitions_with_the_same_version_one_wins(lw):
    iid = report(lw)
    results = {}
    barrier = threading.Barrier(2)

    def run(who, action):
        client = client_for(lw["url"], lw["accounts"][who]["token"], RATELIMIT_ENABLED=False)
        barrier.wait()
        body = {"action": action, "version": 1, "note": "at once"}
        results[who] = client.post(f"/api/v1/incidents/{iid}/transitions", json=body)

    threads = [threading.Thread(target=run, args=a) for a in (("worker", "accept"),
                                                              ("village", "escalate"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409], {w: r.get_json() for w, r in results.items()}
    assert row(lw, iid)["version"] == 2 and n_events(lw, iid) == (1, 1)


def test_outside_the_jurisdiction_answers_403_like_a_missing_incident(lw):
    iid = report(lw)
    missing = iid + 100_000
    before = row(lw, iid)
    foreign = act(lw, "foreign", iid, "accept", version=1)
    absent = act(lw, "foreign", missing, "accept", version=1)
    assert foreign.status_code == absent.status_code == 403
    assert foreign.get_data(as_text=True).replace(str(iid), "N") == \
        absent.get_data(as_text=True).replace(str(missing), "N")
    a = lw["clients"]["foreign"].get(f"/api/v1/incidents/{iid}/events")
    b = lw["clients"]["foreign"].get(f"/api/v1/incidents/{missing}/events")
    assert a.status_code == b.status_code == 403
    assert a.get_data(as_text=True).replace(str(iid), "N") == \
        b.get_data(as_text=True).replace(str(missing), "N")
    # a planner sees the incident but may not manage it
    assert lw["clients"]["planner"].get(f"/api/v1/incidents/{iid}/events").status_code == 200
    assert act(lw, "planner", iid, "accept", version=1).status_code == 403
    assert act(lw, "admin", missing, "accept", version=1).status_code == 404
    assert row(lw, iid) == before and n_events(lw, iid) == (0, 0)


def test_the_transition_and_its_audit_event_share_one_transaction(lw):
    iid = report(lw)
    before = row(lw, iid)
    sql(lw, """CREATE FUNCTION lc_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN RAISE EXCEPTION 'audit store down'; END $$;
               CREATE TRIGGER lc_refuse BEFORE INSERT ON audit_event FOR EACH ROW
               WHEN (NEW.action = 'incident_transition') EXECUTE FUNCTION lc_refuse()""")
    try:
        with pytest.raises(Exception, match="audit store down"):
            act(lw, "worker", iid, "accept", version=1)
    finally:
        sql(lw, "DROP TRIGGER lc_refuse ON audit_event; DROP FUNCTION lc_refuse()")
    assert row(lw, iid) == before and n_events(lw, iid) == (0, 0)


def test_overdue_incidents_after_moving_due_times_into_the_past(lw):
    late_accept, late_resolve, on_time, done = (report(lw) for _ in range(4))
    foreign = report(lw, grid=FOREIGN_GRID)
    for iid in (late_resolve, done):
        assert act(lw, "worker", iid, "accept").status_code == 200
    assert act(lw, "worker", done, "resolve").status_code == 200
    sql(lw, "UPDATE incident SET accept_due_at = now() - interval '5 hours', "
            "resolve_due_at = now() - interval '2 hours' WHERE id = ANY(:ids)",
        ids=[late_accept, late_resolve, done, foreign])
    sql(lw, "UPDATE incident SET resolve_due_at = now() - interval '30 hours' WHERE id = :i",
        i=late_resolve)

    def listed(who, kind="any"):
        body = lw["clients"][who].get(f"/api/v1/incidents/overdue?kind={kind}&limit=1000")
        assert body.status_code == 200
        return {i["id"]: i for i in body.get_json()["incidents"]}

    everything = listed("worker")
    assert {late_accept, late_resolve} <= set(everything)
    assert not {on_time, done, foreign} & set(everything)
    assert everything[late_accept]["overdue_accept"] and everything[late_accept][
        "overdue_resolve"]
    assert not everything[late_resolve]["overdue_accept"]
    assert everything[late_resolve]["hours_overdue"] == pytest.approx(30, abs=0.1)
    assert everything[late_accept]["hours_overdue"] == pytest.approx(5, abs=0.1)
    order = list(everything)
    assert order.index(late_resolve) < order.index(late_accept)  # longest overdue first
    assert late_accept in listed("worker", "accept") and late_resolve not in listed(
        "worker", "accept")
    assert late_resolve in listed("worker", "resolve")
    assert foreign in listed("foreign") and late_accept not in listed("foreign")
    # accepting ends the accept overdue, not the resolve one
    assert act(lw, "worker", late_accept, "accept").status_code == 200
    assert late_accept not in listed("worker", "accept")
    assert late_accept in listed("worker", "resolve")
    events = lw["clients"]["worker"].get(f"/api/v1/incidents/{late_accept}/events").get_json()
    assert events["incident"]["overdue"] == {"accept": False, "resolve": True}
    res = lw["clients"]["worker"].get("/api/v1/incidents/overdue?kind=late")
    assert res.status_code == 400 and res.get_json()["error"]["field"] == "kind"


def test_deadlines_are_read_by_all_and_changed_by_administrators_for_new_incidents(lw):
    admin, official = lw["clients"]["admin"], lw["clients"]["township"]
    rules = official.get("/api/v1/deadlines").get_json()["rules"]
    assert [(r["level"], r["accept_hours"], r["resolve_hours"]) for r in rules] == [
        ("grid", 24, 72), ("village", 24, 168), ("township", 48, 360), ("city", 72, 720),
        ("prefecture", 72, 720), ("province", 72, 720)]  # the two above start as the city
    old = report(lw)
    new_rule = {"rules": [{"level": "grid", "accept_hours": 2, "resolve_hours": 12.5},
                          {"level": "village", "accept_hours": 6, "resolve_hours": 48}]}
    res = official.put("/api/v1/deadlines", json=new_rule)
    assert res.status_code == 403
    assert admin.get("/api/v1/deadlines").get_json()["rules"] == rules
    bad = {"rules": [{"level": "grid", "accept_hours": 20, "resolve_hours": 10}]}
    res = admin.put("/api/v1/deadlines", json=bad)
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "rules"
    try:
        res = admin.put("/api/v1/deadlines", json=new_rule)
        assert res.status_code == 200
        got = {r["level"]: (r["accept_hours"], r["resolve_hours"])
               for r in res.get_json()["rules"]}
        assert got == {"grid": (2, 12.5), "village": (6, 48), "township": (48, 360),
                       "city": (72, 720), "prefecture": (72, 720), "province": (72, 720)}
        fresh = row(lw, report(lw))
        assert fresh["resolve_due_at"] - fresh["reported_at"] == timedelta(hours=12.5)
        assert fresh["accept_due_at"] - fresh["reported_at"] == timedelta(hours=2)
        kept = row(lw, old)
        assert kept["resolve_due_at"] - kept["reported_at"] == timedelta(hours=72)
        assert act(lw, "worker", old, "escalate", note="new rule").status_code == 200
        escalated = row(lw, old)
        assert escalated["resolve_due_at"] - escalated["escalated_at"] == timedelta(hours=48)
        audit = admin.get("/api/v1/audit?username=lc-admin").get_json()["events"]
        change = next(e for e in audit if e["action"] == "deadline_update")
        assert change["details"]["grid"] == {"accept_hours": [24, 2],
                                             "resolve_hours": [72, 12.5]}
    finally:
        admin.put("/api/v1/deadlines", json={"rules": [
            {"level": r["level"], "accept_hours": r["accept_hours"],
             "resolve_hours": r["resolve_hours"]} for r in rules]})


def test_an_uncovered_incident_is_handled_by_the_area_that_holds_it(lw):
    """No grid covers the point: the township and city of the area act on it; the grid worker
    does not see it at all."""
    # the factory grids tile the city, so store one with no grid, inside village 231281101002
    iid = sql(lw, """
        INSERT INTO incident (source, external_id, category, severity, status, occurred_at,
            reported_at, geom, input_crs, input_x, input_y, generation_id)
        SELECT 'lc', :e, 'dispute_land', 'low', 'reported', now(), now(),
               ST_SetSRID(ST_MakePoint(125.1, 46.3), 4326), 'EPSG:4326', 125.1, 46.3, id
        FROM generation WHERE is_active RETURNING id""", e=uuid.uuid4().hex).scalar_one()
    assert act(lw, "worker", iid, "accept", version=1).status_code == 403
    assert act(lw, "village", iid, "accept", version=1).status_code == 403  # other village
    res = act(lw, "township", iid, "accept", version=1)
    assert res.status_code == 200
    assert res.get_json()["incident"]["your_level"] == "township"

