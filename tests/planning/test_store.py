"""Draft plans in PostGIS (gis.store.plans, through the use cases of gis.planning): exact storage of
grids and change records, the jurisdiction clause on drafts and their grids, the edit log,
versions, the generation a draft is published as (hamlets included), concurrent publishing,
and re-assignment of history in batches."""
from __future__ import annotations

import threading

import pytest
import shapely
from shapely.geometry import LineString, box, mapping
from sqlalchemy import text

from gis.access.roles import SYSTEM, Principal
from gis.access.scope import Scope, Unit
from gis.errors import Conflict, Forbidden, NotFound, UnprocessableError
from gis.incidents.submit import submit_incident
from gis.planning import drafts as plans
from gis.planning import publish, review, saving
from gis.store import plans as store
from tests.helpers import petition

HV = "231281101001"                      # village with two hamlets
H1, H2 = HV + "001", HV + "002"          # 125.0..125.1 and 125.1..125.2 E, 46.0..46.2 N
C = "231281102001"                       # community without hamlets


def who(level_code: tuple[str, str] | None, name="p") -> Principal:
    if level_code is None:
        return Principal(None, "admin-x", "admin", Scope.all())
    level, code = level_code
    return Principal(None, name, "planner", Scope((Unit(level, code),)))


@pytest.fixture
def eng(factory_engine):
    return factory_engine


def open_draft(eng, unit, actor=SYSTEM) -> dict:
    with eng.begin() as conn:
        return plans.create_draft(conn, actor, {"name": "d", "unit_code": unit}).to_dict()


def save(eng, draft_id, version, actor=SYSTEM, **body) -> dict:
    with eng.begin() as conn:
        return saving.save_edit(conn, actor, draft_id, {"version": version, **body}).to_dict()


def load(eng, draft_id, scope=Scope.all()):
    with eng.connect() as conn:
        return store.load_plan(conn, draft_id, scope)


def test_grids_are_stored_exactly(eng):
    d = open_draft(eng, HV)
    plan = load(eng, d["id"])
    assert list(plan["code"]) == [H1 + "001", H1 + "002", H2 + "001", H2 + "002"]
    assert list(plan["parent_code"]) == [H1, H1, H2, H2]
    assert set(plan.geometry.geom_type) == {"Polygon"}       # single parts, as edits make them
    # an awkward line: coordinates that are not short decimals survive storage and the edit log
    line = LineString([(125.0 + 1 / 30, 45.9), (125.0 + 1 / 14, 46.3)])
    body = save(eng, d["id"], 1, op="split_by_line", code=H1 + "001", line=mapping(line))
    after = load(eng, d["id"])
    stored = dict(zip(after["code"], after.geometry))
    for f in body["grids"]["features"]:
        assert shapely.equals_exact(shapely.geometry.shape(f["geometry"]), stored[f["id"]], 0)
    body = save(eng, d["id"], body["version"], op="undo")
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(load(eng, d["id"]).geometry,
                                                             plan.geometry))
    save(eng, d["id"], body["version"], op="redo")
    redone = load(eng, d["id"])
    assert [shapely.to_wkb(g) for g in redone.geometry] == [shapely.to_wkb(g)
                                                           for g in after.geometry]
    with eng.connect() as conn:
        kinds = conn.execute(text("SELECT DISTINCT GeometryType(geom) FROM plan_grid")).scalars()
        assert set(kinds) == {"MULTIPOLYGON"}


def test_drafts_and_their_grids_follow_the_jurisdiction(eng):
    hv = open_draft(eng, HV)
    c = open_draft(eng, C)
    city = open_draft(eng, "231281000000")
    assert city["grid_count"] == 10 and hv["grid_count"] == 4 and c["grid_count"] == 2
    cases = {
        ("city", "231281000000"): {hv["id"], c["id"], city["id"]},
        ("township", "231281101000"): {hv["id"]},
        ("village", HV): {hv["id"]},
        ("hamlet", H1): set(),                   # a hamlet holds no whole draft unit
        ("grid", H1 + "001"): set(),
        ("village", C): {c["id"]},
    }
    with eng.connect() as conn:
        for unit, visible in cases.items():
            scope = who(unit).scope
            assert {d["id"] for d in store.list_drafts(conn, scope)} == visible, unit
            for d in (hv, c, city):
                assert (store.get_draft(conn, d["id"], scope) is not None) == \
                    (d["id"] in visible), (unit, d["id"])
        # the grid clause applies to draft grids too: a hamlet's account sees only its grids
        assert list(store.load_plan(conn, hv["id"], who(("hamlet", H2)).scope)["code"]) == \
            [H2 + "001", H2 + "002"]
        assert store.list_drafts(conn, Scope.all(), "published") == []
    with eng.begin() as conn, pytest.raises(Forbidden):
        plans.create_draft(conn, who(("village", C)), {"name": "x", "unit_code": HV})
    with eng.begin() as conn, pytest.raises(Forbidden):
        review.checks(conn, who(("village", C)).scope, hv["id"])


def test_the_edit_log_and_versions(eng):
    d = open_draft(eng, C, who(None))
    v = 1
    for k in (2, 3):
        v = save(eng, d["id"], v, who(None), op="split_equal", code=C + "001", k=k)["version"]
    v = save(eng, d["id"], v, who(None), op="undo")["version"]
    with eng.connect() as conn:
        log = conn.execute(text("SELECT seq, op, undone FROM plan_edit WHERE draft_id = :d "
                                "ORDER BY seq"), {"d": d["id"]}).all()
        assert [tuple(r) for r in log] == [(1, "split_equal", False), (2, "split_equal", True)]
    v = save(eng, d["id"], v, who(None), op="merge", codes=[C + "001", C + "003"])["version"]
    with eng.connect() as conn:
        log = conn.execute(text("SELECT seq, op, undone FROM plan_edit WHERE draft_id = :d "
                                "ORDER BY seq"), {"d": d["id"]}).all()
        assert [tuple(r) for r in log] == [(1, "split_equal", False), (2, "merge", False)]
        saves = store.saves(conn, d["id"])
        assert [(s["version"], s["action"], s["op"], s["edit_seq"]) for s in saves] == [
            (1, "create", None, None), (2, "edit", "split_equal", 1),
            (3, "edit", "split_equal", 2), (4, "undo", "split_equal", 2), (5, "edit", "merge", 2)]
        assert saves[1]["summary"] == {"added": [C + "003"], "removed": [], "changed": [C + "001"]}
        assert {s["author"] for s in saves} == {"admin-x"}
        assert [s["version"] for s in store.saves(conn, d["id"], 3)] == [4, 5]
        assert conn.execute(text("SELECT version FROM plan_draft WHERE id = :d"),
                            {"d": d["id"]}).scalar() == v == 5
    with pytest.raises(Conflict) as err:
        save(eng, d["id"], 3, who(None), op="undo")
    assert [c["version"] for c in err.value.details["changes"]] == [4, 5]
    with pytest.raises(NotFound):
        save(eng, 424242, 1, who(None), op="undo")


def test_publishing_a_village_with_hamlets(eng):
    d = open_draft(eng, HV)
    body = save(eng, d["id"], 1, op="split_equal", code=H2 + "002", k=2)
    with eng.begin() as conn:
        out = publish.publish(conn, SYSTEM, d["id"], {"version": body["version"]}).to_dict()
    gen = out["generation_id"]
    with eng.connect() as conn:
        rows = conn.execute(text("""
            SELECT g.code, a.code, h.code, v.code, t.code, c.code FROM grid g
            JOIN admin_area a ON a.id = g.area_id LEFT JOIN admin_area h ON h.id = g.hamlet_id
            JOIN admin_area v ON v.id = g.village_id JOIN admin_area t ON t.id = g.township_id
            JOIN admin_area c ON c.id = g.city_id
            WHERE g.generation_id = :g AND g.code LIKE :p ORDER BY g.code"""),
            {"g": gen, "p": HV + "%"}).all()
        assert [tuple(r) for r in rows] == [
            (code, parent, parent, HV, "231281101000", "231281000000")
            for code, parent in ((H1 + "001", H1), (H1 + "002", H1), (H2 + "001", H2),
                                 (H2 + "002", H2), (H2 + "003", H2))]
        # every id points into the new generation
        assert conn.execute(text("""
            SELECT count(*) FROM grid g JOIN admin_area a ON a.id IN (g.area_id, g.village_id,
                   g.township_id, g.city_id, coalesce(g.hamlet_id, g.area_id))
            WHERE g.generation_id = :g AND a.generation_id <> :g"""), {"g": gen}).scalar() == 0
        assert conn.execute(text("""
            SELECT count(*) FROM admin_area a JOIN admin_area p ON p.id = a.parent_id
            WHERE a.generation_id = :g AND p.generation_id <> :g"""), {"g": gen}).scalar() == 0
        total = conn.execute(text("SELECT sum(households) FROM grid WHERE generation_id = :g"),
                             {"g": gen}).scalar()
        assert total == 5 * 300 + 5 * 310


def test_two_publishes_at_once_one_wins(eng):
    a = open_draft(eng, HV)
    b = open_draft(eng, C)
    results, start = {}, threading.Barrier(2)

    def publish_draft(draft):
        start.wait()
        try:
            with eng.begin() as conn:
                results[draft["id"]] = publish.publish(conn, SYSTEM, draft["id"],
                                                       {"version": 1}).to_dict()
        except Conflict as err:
            results[draft["id"]] = err

    threads = [threading.Thread(target=publish_draft, args=(d,)) for d in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results.values() if isinstance(r, dict)]
    lost = [r for r in results.values() if isinstance(r, Conflict)]
    assert len(won) == len(lost) == 1
    assert "active generation changed" in lost[0].message
    with eng.connect() as conn:
        gens = conn.execute(text("SELECT id, is_active FROM generation ORDER BY id")).all()
        assert [tuple(g) for g in gens] == [(1, False), (won[0]["generation_id"], True)]


def test_reassign_history_in_batches(eng):
    with eng.begin() as conn:
        for n in range(30):   # rows at 46.05, 46.10 (a border) and 46.15 in the community
            submit_incident(conn, petition(f"e{n}", 125.2 + 0.2 * (n % 10) / 10,
                                           46.05 + 0.05 * (n // 10)), scope=Scope.all())
        submit_incident(conn, petition("far", 125.6, 46.2), scope=Scope.all())
    d = open_draft(eng, C)
    body = save(eng, d["id"], 1, op="reshape", code=C + "001",
                outline=mapping(box(125.2, 46.0, 125.4, 46.16)))
    with eng.begin() as conn:
        gen = publish.publish(conn, SYSTEM, d["id"], {"version": body["version"]}).generation_id
        first = publish.reassign_history(conn, SYSTEM, gen, batch_size=7).to_dict()
    assert (first["considered"], first["inserted"], first["assigned"], first["uncovered"]) == \
        (31, 31, 31, 1)
    with eng.begin() as conn:
        submit_incident(conn, petition("late", 125.3, 46.3), scope=Scope.all())  # under gen
        conn.execute(text(  # as if it had arrived before the publication: assigned under 1
            "UPDATE incident i SET generation_id = 1, grid_id = g.id, hamlet_id = g.hamlet_id, "
            "village_id = g.village_id, township_id = g.township_id, city_id = g.city_id "
            "FROM grid g WHERE i.external_id = 'late' AND g.generation_id = 1 "
            "AND ST_Covers(g.geom, i.geom)"))
        second = publish.reassign_history(conn, SYSTEM, gen, batch_size=7).to_dict()
        third = publish.reassign_history(conn, SYSTEM, gen).to_dict()
        moved = conn.execute(text("""
            SELECT i.external_id FROM incident i JOIN grid o ON o.id = i.grid_id
            JOIN incident_assignment x ON x.incident_id = i.id AND x.generation_id = :g
            JOIN grid n ON n.id = x.grid_id WHERE o.code <> n.code ORDER BY i.id"""),
            {"g": gen}).scalars().all()
        mismatched = conn.execute(text("""
            SELECT count(*) FROM incident i JOIN incident_assignment x ON x.incident_id = i.id
            WHERE x.generation_id = :g AND x.grid_id IS DISTINCT FROM (
                SELECT y.id FROM grid y WHERE y.generation_id = :g AND ST_Covers(y.geom, i.geom)
                ORDER BY y.code COLLATE "C" LIMIT 1)"""), {"g": gen}).scalar()
    assert (second["inserted"], second["assigned"]) == (1, 32)
    assert (third["inserted"], third["considered"]) == (0, 0)
    assert mismatched == 0
    # the south grid grew north to 46.16: the points at 46.15 move to it from the north grid,
    # except the one on the west border, which belongs to township 101's smaller code
    assert moved == [f"e{n}" for n in range(21, 30)]
    with eng.begin() as conn, pytest.raises(NotFound):
        publish.reassign_history(conn, SYSTEM, 999).to_dict()


def test_refusals_of_the_use_cases(eng):
    d = open_draft(eng, C)
    with eng.begin() as conn, pytest.raises(UnprocessableError):
        saving.save_edit(conn, SYSTEM, d["id"], {"version": 1, "op": "renumber", "unit": HV})
    with eng.begin() as conn:
        conn.execute(text("UPDATE plan_draft SET status = 'discarded' WHERE id = :d"),
                     {"d": d["id"]})
    with eng.begin() as conn, pytest.raises(Conflict) as err:
        saving.save_edit(conn, SYSTEM, d["id"], {"version": 1, "op": "undo"})
    assert "discarded" in err.value.message
