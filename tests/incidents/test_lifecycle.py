"""Incident lifecycle: the state machine (pure), and through the API against a real PostGIS:
transitions and refusals, escalation up to the city, who may act at which level, deadlines and
overdue incidents, optimistic locking, jurisdiction, the event log and the audit trail."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from shapely.geometry import shape
from sqlalchemy import text

from gis.access.scope import Scope, Unit
from gis.boundaries.importing import import_boundaries
from gis.domain import STATUSES
from gis.errors import Forbidden, UnprocessableError
from gis.incidents import lifecycle as lc
from gis.incidents.importing import import_incidents
from gis.store import db, scratch
from tests.helpers import client_for, make_account

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
    ("accepted", "mediate"): "mediating",
    ("accepted", "resolve"): "resolved", ("mediating", "resolve"): "resolved",
    ("reported", "escalate"): "escalated", ("accepted", "escalate"): "escalated",
    ("mediating", "escalate"): "escalated", ("escalated", "escalate"): "escalated",
    ("resolved", "close"): "closed", ("resolved", "reopen"): "accepted",
}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", lc.ACTIONS)
def test_every_transition_is_allowed_or_refused_by_the_table(status, action):
    before = state(status)
    if (status, action) in EXPECTED:
        after = lc.apply(before, action, NOW, RULES, note="reason")
        assert after.status == EXPECTED[(status, action)]
        assert after.version == before.version + 1
    else:
        with pytest.raises(UnprocessableError) as err:
            lc.apply(before, action, NOW, RULES, note="reason")
        assert f"cannot {action}" in err.value.message
        assert status in err.value.message  # names the current status ...
        assert err.value.details["allowed"] == lc.allowed_actions(status, "grid")  # ... and what
        assert err.value.field == "action"


def test_closed_is_final_and_resolved_cannot_be_resolved_again():
    assert lc.allowed_actions("closed", "grid") == []
    with pytest.raises(UnprocessableError, match="closed is final"):
        lc.apply(state("closed"), "resolve", NOW, RULES)
    with pytest.raises(UnprocessableError, match="allowed now: close, reopen"):
        lc.apply(state("resolved"), "resolve", NOW, RULES)


def test_each_action_sets_its_times():
    s = lc.apply(state("reported"), "accept", NOW, RULES)
    assert s.accepted_at == NOW and s.handling_level == "grid"
    s = lc.apply(s, "mediate", NOW + timedelta(hours=1), RULES)
    assert s.mediated_at == NOW + timedelta(hours=1)
    s = lc.apply(s, "resolve", NOW + timedelta(hours=2), RULES)
    assert s.resolved_at == NOW + timedelta(hours=2) and s.resolved_level == "grid"
    reopened = lc.apply(s, "reopen", NOW + timedelta(hours=3), RULES)
    assert reopened.status == "accepted" and reopened.resolved_at is None
    assert reopened.resolved_level is None
    assert reopened.resolve_due_at == NOW + timedelta(hours=3 + 72)
    assert reopened.mediated_at == s.mediated_at  # mediation started once
    closed = lc.apply(s, "close", NOW + timedelta(hours=4), RULES)
    assert closed.closed_at == NOW + timedelta(hours=4) and closed.resolved_at == s.resolved_at


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
                                 "allowed": ["accept"]}


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
    lc.check_may_act("grid", state(level="grid"))
    lc.check_may_act("township", state(level="village"))
    with pytest.raises(Forbidden, match="handled at 村/社区 village level"):
        lc.check_may_act("grid", state(level="village"))
    with pytest.raises(Forbidden):
        lc.check_may_act(None, state(level="grid"))


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
    name = f"gridgis_test_lifecycle_{uuid.uuid4().hex[:6]}"
    url = scratch.create_database(admin_engine, name, template=template_db)
    import_boundaries(db.engine(url), factory_gpkg, commit=True, name="factory")
    with db.engine(url).connect() as conn:
        points = {code: shape(json.loads(p)) for code, p in conn.execute(text(
            "SELECT code, ST_AsGeoJSON(ST_PointOnSurface(geom)) FROM grid")).all()}
    accounts = {n: make_account(url, f"lc-{n}", role, units)
                for n, (role, units) in ACCOUNTS.items()}
    clients = {n: client_for(url, a["token"], RATELIMIT_ENABLED=False)
               for n, a in accounts.items()}
    yield {"url": url, "points": points, "accounts": accounts, "clients": clients}
    db.engine(url).dispose()
    scratch.drop_database(admin_engine, name)


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


def act(lw, who, incident_id, action, version=None, note=None):
    client = lw["clients"][who]
    if version is None:
        version = lw["clients"]["admin"].get(
            f"/api/v1/incidents/{incident_id}/events").get_json()["incident"]["version"]
    body = {"action": action, "version": version}
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


def test_grid_worker_takes_an_incident_through_to_closed_with_log_and_audit(lw):
    iid = report(lw)
    expected = [("accept", "reported", "accepted"), ("mediate", "accepted", "mediating"),
                ("resolve", "mediating", "resolved"), ("close", "resolved", "closed")]
    for n, (action, _, to) in enumerate(expected):
        res = act(lw, "worker", iid, action, version=n + 1, note=f"step {n}")
        assert res.status_code == 200, res.get_json()
        body = res.get_json()
        assert body["incident"]["status"] == to and body["incident"]["version"] == n + 2
        assert body["event"]["username"] == "lc-worker" and body["event"]["action"] == action
    stored = row(lw, iid)
    assert stored["status"] == "closed" and stored["resolved_level"] == "grid"
    assert stored["accepted_at"] < stored["mediated_at"] < stored["resolved_at"] \
        < stored["closed_at"]
    log = lw["clients"]["worker"].get(f"/api/v1/incidents/{iid}/events").get_json()
    assert [(e["action"], e["from_status"], e["to_status"]) for e in log["events"]] == expected
    assert {e["username"] for e in log["events"]} == {"lc-worker"}
    assert [e["note"] for e in log["events"]] == [f"step {n}" for n in range(4)]
    assert log["events"][2]["at"] == stored["resolved_at"].isoformat()
    assert log["incident"]["allowed_actions"] == [] and log["incident"]["version"] == 5
    audit = lw["clients"]["admin"].get(
        "/api/v1/audit?action=incident_transition&username=lc-worker&limit=1000").get_json()
    mine = [e for e in audit["events"] if e["target"] == f"incident/{iid}"]
    assert [e["details"]["action"] for e in reversed(mine)] == [a for a, _, _ in expected]
    assert mine[0]["details"]["to_status"] == "closed" and mine[0]["details"]["version"] == 5


def test_refused_transitions_answer_422_naming_the_state_and_change_nothing(lw):
    iid = report(lw)
    before = row(lw, iid)
    for action in ("mediate", "resolve", "close", "reopen"):
        res = act(lw, "worker", iid, action, version=1)
        assert res.status_code == 422, action
        err = res.get_json()["error"]
        assert "reported" in err["message"] and err["details"]["allowed"] == ["accept",
                                                                              "escalate"]
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


def test_reopen_gives_a_new_resolve_deadline(lw):
    iid = report(lw)
    for action in ("accept", "resolve"):
        assert act(lw, "worker", iid, action).status_code == 200
    res = act(lw, "worker", iid, "reopen", note="居民不满意 the resident is not satisfied")
    assert res.status_code == 200
    stored = row(lw, iid)
    assert stored["status"] == "accepted" and stored["resolved_at"] is None
    at = datetime.fromisoformat(res.get_json()["event"]["at"])
    assert stored["resolve_due_at"] == at + timedelta(hours=72)


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

