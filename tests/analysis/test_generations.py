"""Counts under a newly published generation (gis.store.aggregates.selection): incidents recorded
under the old generation are counted in the new grid their point falls in (smallest code on a
shared border), through a recorded re-assignment once history is re-assigned, and uncovered old
rows stay uncovered; checked against a shapely point-in-polygon reference. With nothing recorded
under another generation, the short one-table selection gives the same counts as the long one."""
from __future__ import annotations

import pytest
import shapely
from shapely.geometry import box, mapping
from sqlalchemy import text

from gis.access.roles import SYSTEM
from gis.access.scope import Scope
from gis.incidents.filters import parse_filter
from gis.incidents.submit import submit_incident
from gis.planning import drafts, publish, saving
from gis.store import aggregates
from gis.store import figures as fstore
from tests.helpers import petition

C = "231281102001"  # a community without hamlets in the factory set


@pytest.fixture
def eng(factory_engine):
    return factory_engine


def reference(conn, gen) -> dict:
    """grid code -> incidents whose point it covers (smallest code wins); None = uncovered."""
    grids = conn.execute(text("SELECT code, ST_AsBinary(geom) FROM grid WHERE generation_id = :g "
                              "ORDER BY code COLLATE \"C\""), {"g": gen}).all()
    polys = [(code, shapely.from_wkb(bytes(wkb))) for code, wkb in grids]
    out: dict = {}
    for (wkb,) in conn.execute(text("SELECT ST_AsBinary(geom) FROM incident")):
        p = shapely.from_wkb(bytes(wkb))
        code = next((c for c, poly in polys if poly.covers(p)), None)
        out[code] = out.get(code, 0) + 1
    return out


def counted(conn, gen, others=None) -> dict:
    sel, params = aggregates.selection(conn, Scope.all(), parse_filter({}), None, gen,
                                       others=others)
    rows = conn.execute(text(f"""
        SELECT g.code, count(*) FROM ({sel}) s LEFT JOIN grid g ON g.id = s.grid_id
        GROUP BY g.code"""), params).all()
    return {code: n for code, n in rows}


def test_old_incidents_count_in_the_new_grids(eng):
    with eng.begin() as conn:
        for n in range(30):   # rows at 46.05, 46.10 (a border) and 46.15 in the community
            submit_incident(conn, petition(f"e{n}", 125.2 + 0.2 * (n % 10) / 10,
                                           46.05 + 0.05 * (n // 10)), scope=Scope.all())
        submit_incident(conn, petition("far", 125.6, 46.2), scope=Scope.all())  # uncovered
        gen1 = conn.execute(text("SELECT id FROM generation WHERE is_active")).scalar_one()
        assert not aggregates.others_recorded(conn, gen1)
        short = counted(conn, gen1)
        assert short == counted(conn, gen1, others=True) == reference(conn, gen1)

    with eng.begin() as conn:
        d = drafts.create_draft(conn, SYSTEM, {"name": "d", "unit_code": C}).to_dict()
        body = saving.save_edit(conn, SYSTEM, d["id"], {
            "version": 1, "op": "reshape", "code": C + "001",
            "outline": mapping(box(125.2, 46.0, 125.4, 46.16))}).to_dict()
        gen2 = publish.publish(conn, SYSTEM, d["id"],
                               {"version": body["version"]}).generation_id
    with eng.connect() as conn:
        assert aggregates.others_recorded(conn, gen2)
        want = reference(conn, gen2)
        assert want != reference(conn, gen1)  # the reshape moved some points
        by_point = counted(conn, gen2)
        assert by_point == want and by_point[None] == 1
    with eng.begin() as conn:
        publish.reassign_history(conn, SYSTEM, gen2)
        # a recorded re-assignment wins over the point: move one to another grid on purpose
        conn.execute(text("""
            UPDATE incident_assignment x SET grid_id = (
                SELECT id FROM grid WHERE generation_id = :g AND code = :code)
            FROM incident i WHERE i.id = x.incident_id AND i.external_id = 'e0'
              AND x.generation_id = :g"""), {"g": gen2, "code": C + "002"})
        old = conn.execute(text("""
            SELECT g.code FROM incident_assignment x JOIN incident i ON i.id = x.incident_id
            JOIN grid g ON g.id = x.grid_id WHERE i.external_id = 'e0'""")).scalar_one()
        assert old == C + "002"
        was = conn.execute(text("""
            SELECT g.code FROM incident i JOIN grid g ON g.generation_id = :g
             AND ST_Covers(g.geom, i.geom) WHERE i.external_id = 'e0'
            ORDER BY g.code COLLATE "C" LIMIT 1"""), {"g": gen2}).scalar_one()
        assert was != old
        want[was] -= 1
        want[old] = want.get(old, 0) + 1
        assert {k: v for k, v in counted(conn, gen2).items() if v} == \
            {k: v for k, v in want.items() if v}
        figures = fstore.figures(conn, Scope.all(), "grid", parse_filter({}), None, gen2)
        assert {u["unit_code"]: u["found"] for u in figures["units"] if u["found"]} == \
            {k: v for k, v in want.items() if v}
        assert figures["total"]["found"] == 31
