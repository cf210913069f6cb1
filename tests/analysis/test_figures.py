"""Resolution figures per unit, checked against the same figures computed independently with
pandas over the raw incident and grid rows (unit codes derived from grid codes by the code
rules): a hand-made set driven through the real state machine, and the Anda demo."""
from __future__ import annotations

import io
import uuid
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event, text

from gis.access.roles import SYSTEM
from gis.access.scope import Scope, Unit
from gis.boundaries.importing import import_boundaries
from gis.domain import CATEGORIES, SEVERITIES
from gis.incidents import handling
from gis.incidents.filters import parse_filter
from gis.incidents.importing import import_incidents
from gis.store import db, scratch
from gis.store import figures as fstore
from tests.helpers import client_for, make_account

LEVELS = ("city", "township", "village", "hamlet", "grid")
HANDLING = ("grid", "village", "township", "city")
PATHS = [  # action sequences, each applied to some incidents through the state machine
    [], ["accept"], ["accept", "mediate"], ["accept", "resolve"],
    ["accept", "mediate", "resolve"], ["accept", "mediate", "resolve", "verify"],
    ["escalate"], ["accept", "escalate", "accept", "resolve"],
    ["escalate", "escalate", "accept", "mediate", "resolve"],
    ["escalate", "escalate", "escalate", "accept", "resolve", "verify", "close"],
    ["accept", "mediate", "escalate"], ["accept", "resolve", "reject"],
    ["accept", "mediate", "resolve", "verify", "close"],
    ["accept", "resolve", "reject", "resolve", "verify", "close", "evaluate"],
    ["accept", "register", "resolve", "verify", "close", "evaluate"], ["return"],
]
SATISFACTION = ("satisfied", "basic", "unsatisfied")
UNCOVERED_IN_T1 = (125.1, 46.3)  # stored with no grid, inside township 231281101000


@pytest.fixture(scope="module")
def fw(admin_engine, template_db, factory_gpkg, tmp_path_factory):
    name = f"gridgis_test_figures_{uuid.uuid4().hex[:6]}"
    url = scratch.create_database(admin_engine, name, template=template_db)
    eng = db.engine(url)
    import_boundaries(eng, factory_gpkg, commit=True, name="factory")
    rng = np.random.default_rng(7)
    n = 240
    lon, lat = rng.uniform(125.0, 125.4, n), rng.uniform(46.0, 46.4, n)
    lon[:4] = 125.55  # outside the city: uncovered, seen by administrators only
    occurred = pd.Timestamp("2026-04-01T00:00:00+08:00") + pd.to_timedelta(
        rng.integers(0, 61 * 24 * 60, n), unit="min")
    # the edges of the date filter used below (China time)
    occurred = occurred.to_series(index=range(n))
    occurred[4:7] = pd.to_datetime(["2026-05-01T00:00:00+08:00", "2026-05-15T23:59:59+08:00",
                                    "2026-05-16T00:00:00+08:00"])
    frame = pd.DataFrame({
        "external_id": [f"f-{i:04d}" for i in range(n)],
        "category": rng.choice(list(CATEGORIES), n),
        "severity": rng.choice(list(SEVERITIES), n),
        "occurred_at": occurred.map(lambda t: t.isoformat()),
        "lon": lon, "lat": lat})
    csv = tmp_path_factory.mktemp("figures") / "incidents.csv"
    frame.to_csv(csv, index=False)
    import_incidents(eng, csv, source="fig")
    with eng.begin() as conn:
        conn.execute(text("""
            INSERT INTO incident (source, external_id, category, severity, status, occurred_at,
                reported_at, geom, input_crs, input_x, input_y, generation_id)
            SELECT 'fig', 'f-uncovered-t1', 'dispute_land', 'high', 'reported',
                   '2026-05-03T10:00:00+08:00', '2026-05-03T10:30:00+08:00',
                   ST_SetSRID(ST_MakePoint(:x, :y), 4326), 'EPSG:4326', :x, :y, id
            FROM generation WHERE is_active"""), {"x": UNCOVERED_IN_T1[0],
                                                  "y": UNCOVERED_IN_T1[1]})
        ids = conn.execute(text("SELECT id FROM incident ORDER BY id")).scalars().all()
        for k, iid in enumerate(ids):  # set-up only: drive each incident through its path
            for version, action in enumerate(PATHS[k % len(PATHS)], start=1):
                handling.transition(conn, SYSTEM, iid, {
                    "action": action, "version": version, "note": "test", "method": "phone",
                    "satisfaction": SATISFACTION[iid % 3]})
        # spread resolution times (minutes after the report); keep a few open incidents within
        # their deadlines, and make a few late to accept only
        conn.execute(text("UPDATE incident SET resolved_at = reported_at + make_interval("
                          "mins => ((id * 37) % 5000)::int) WHERE resolved_at IS NOT NULL"))
        conn.execute(text("UPDATE incident SET accept_due_at = now() + interval '1 day', "
                          "resolve_due_at = now() + interval '3 days' "
                          "WHERE status = 'reported' AND id % 3 = 0"))
        conn.execute(text("UPDATE incident SET accept_due_at = now() - interval '1 hour', "
                          "resolve_due_at = now() + interval '2 days' "
                          "WHERE status IN ('reported', 'escalated') AND id % 3 = 1"))
    accounts = {
        "admin": make_account(url, "fig-admin", "admin"),
        "village": make_account(url, "fig-village", "official", ["231281101001"]),
        "township": make_account(url, "fig-township", "official", ["231281101000"]),
        "worker": make_account(url, "fig-worker", "grid_worker", ["231281101001001001"]),
    }
    yield {"url": url, "accounts": accounts,
           "clients": {k: client_for(url, a["token"], RATELIMIT_ENABLED=False)
                       for k, a in accounts.items()}}
    eng.dispose()
    scratch.drop_database(admin_engine, name)


def raw(url) -> tuple[pd.DataFrame, pd.DataFrame]:
    with db.engine(url).connect() as conn:
        inc = pd.read_sql_query(text(
            "SELECT i.external_id, i.category, i.severity, i.status, i.occurred_at, "
            "i.reported_at, i.resolved_at, i.resolved_level, i.mediated_at, i.accept_due_at, "
            "i.resolve_due_at, i.rework_count, i.satisfaction, g.code AS grid_code "
            "FROM incident i "
            "LEFT JOIN grid g ON g.id = i.grid_id"), conn)
        grids = pd.read_sql_query(text(
            "SELECT g.code, g.households FROM grid g JOIN generation gen "
            "ON gen.id = g.generation_id AND gen.is_active"), conn)
    for col in ("occurred_at", "reported_at", "resolved_at", "mediated_at", "accept_due_at",
                "resolve_due_at"):
        inc[col] = pd.to_datetime(inc[col], utc=True)
    return inc, grids


def unit_key(codes: pd.Series, level: str) -> pd.Series:
    """The unit code at `level` from grid codes, by the code rules (README, Codes)."""
    c = codes.astype("string")
    key = {"city": c.str[:6] + "000000", "township": c.str[:9] + "000",
           "village": c.str[:12], "grid": c,
           "hamlet": c.where(c.str.len() == 18).str[:15]}[level]
    key = key.where(c.isna() | key.notna(), "~none")
    return key.where(c.notna(), "~uncovered")


COUNTED = ("mediated", "resolved", "overdue", "on_time", "rework", "evaluated", "satisfied",
           *(f"resolved_{lv}" for lv in HANDLING))


def expected(inc: pd.DataFrame, grids: pd.DataFrame, level: str, now) -> pd.DataFrame:
    df = inc.assign(key=unit_key(inc["grid_code"], level))
    done = df["status"].isin(["resolved", "verified", "closed", "evaluated"])
    df["mediated"] = df["mediated_at"].notna() | df["status"].isin(
        ["mediating", "resolved", "verified", "closed", "evaluated"])
    df["resolved"] = done
    df["on_time"] = done & (df["resolved_at"] <= df["resolve_due_at"])
    df["rework"] = done & (df["rework_count"] > 0)
    df["evaluated"] = df["satisfaction"].notna()
    df["satisfied"] = df["satisfaction"].isin(["satisfied", "basic"])
    for lv in HANDLING:
        df[f"resolved_{lv}"] = done & (df["resolved_level"] == lv)
    df["overdue"] = ((df["status"].isin(["reported", "escalated"]) & (df["accept_due_at"] < now))
                     | (df["status"].isin(["reported", "accepted", "registered", "dispatched",
                                          "mediating", "escalated"])
                        & (df["resolve_due_at"] < now)))
    df["hours"] = ((df["resolved_at"] - df["reported_at"]).dt.total_seconds() / 3600).where(done)
    g = df.groupby("key")
    out = pd.DataFrame({"found": g.size(), "median_hours_to_resolve": g["hours"].median()})
    for col in COUNTED:
        out[col] = g[col].sum()
    hh = grids.assign(key=unit_key(grids["code"], level)).groupby("key")["households"].sum()
    counts = {c: 0 for c in out.columns if c != "median_hours_to_resolve"}
    out = out.join(hh, how="outer").fillna(counts)
    total = pd.Series({"found": len(df), "median_hours_to_resolve": df["hours"].median(),
                       **{c: df[c].sum() for c in COUNTED},
                       "households": grids["households"].sum()}, name="~total")
    out = pd.concat([out, total.to_frame().T])
    known = out[[f"resolved_{lv}" for lv in HANDLING]].sum(axis=1)
    for lv in HANDLING:
        out[f"share_{lv}"] = out[f"resolved_{lv}"] / known.where(known > 0)
    out["resolution_rate"] = out["resolved"] / out["found"].where(out["found"] > 0)
    for rate, part, whole in (("on_time_rate", "on_time", "resolved"),
                              ("rework_rate", "rework", "resolved"),
                              ("satisfaction_rate", "satisfied", "evaluated")):
        out[rate] = out[part] / out[whole].where(out[whole] > 0)
    out["per_1000_households"] = out["found"] * 1000 / out["households"].where(
        out["households"] > 0)
    return out


def answer_frame(body: dict) -> pd.DataFrame:
    rows = pd.DataFrame([*body["units"], body["total"]])
    rows.index = [("~total" if k == "total" else "~uncovered" if k == "uncovered" else
                   "~none" if k == "no_unit" else c)
                  for k, c in zip(rows["kind"], rows["unit_code"])]
    return rows


COMPARED = ("found", "mediated", "resolved", "overdue", "resolved_grid", "resolved_village",
            "resolved_township", "resolved_city", "households", "on_time", "rework",
            "evaluated")
ROUNDED = {"resolution_rate": 1e-4, "on_time_rate": 1e-4, "rework_rate": 1e-4,
           "satisfaction_rate": 1e-4, "per_1000_households": 0.005,
           "median_hours_to_resolve": 0.005, "share_grid": 1e-4, "share_village": 1e-4,
           "share_township": 1e-4, "share_city": 1e-4}


def check(body: dict, want: pd.DataFrame):
    got = answer_frame(body)
    assert sorted(got.index) == sorted(want.index)
    want = want.loc[got.index]
    for col in COMPARED:
        assert got[col].fillna(-1).astype(int).tolist() == want[col].fillna(-1).astype(
            int).tolist(), col
    for col, tol in ROUNDED.items():
        g, w = got[col].astype(float).to_numpy(), want[col].astype(float).to_numpy()
        assert np.array_equal(np.isnan(g), np.isnan(w)), col
        assert np.allclose(g[~np.isnan(g)], w[~np.isnan(w)], atol=tol), col
    assert (got["resolved_level_unknown"] == got["resolved"] - got[
        [f"resolved_{lv}" for lv in HANDLING]].sum(axis=1)).all()


@pytest.mark.parametrize("level", LEVELS)
def test_figures_per_level_match_pandas(fw, level):
    res = fw["clients"]["admin"].get(f"/api/v1/figures?level={level}")
    assert res.status_code == 200
    body = res.get_json()
    inc, grids = raw(fw["url"])
    check(body, expected(inc, grids, level, pd.Timestamp(body["now"])))
    # the set exercises every figure: each level resolves something, medians exist
    assert all(body["total"][f"resolved_{lv}"] > 0 for lv in HANDLING)
    assert body["total"]["mediated"] > body["total"]["resolved"] > 0
    assert 0 < body["total"]["overdue"] < body["total"]["found"]
    assert 0 < body["total"]["on_time"] < body["total"]["resolved"]
    assert 0 < body["total"]["rework"] < body["total"]["resolved"]
    assert 0 < body["total"]["satisfaction_rate"] < 1


def china_day(ts: pd.Series) -> pd.Series:
    return ts.dt.tz_convert("Asia/Shanghai").dt.date


@pytest.mark.parametrize("query,select", [
    ("category=dispute_land", lambda d: d["category"] == "dispute_land"),
    ("category=dispute", lambda d: d["category"].str.startswith("dispute_")),
    ("severity=high", lambda d: d["severity"] == "high"),
    ("status=resolved,closed", lambda d: d["status"].isin(["resolved", "closed"])),
    ("start=2026-05-01&end=2026-05-15",
     lambda d: china_day(d["occurred_at"]).between(date(2026, 5, 1), date(2026, 5, 15))),
    ("category=dispute&severity=low&start=2026-04-20",
     lambda d: d["category"].str.startswith("dispute_") & (d["severity"] == "low")
     & (china_day(d["occurred_at"]) >= date(2026, 4, 20))),
])
def test_filters_match_pandas(fw, query, select):
    body = fw["clients"]["admin"].get(f"/api/v1/figures?level=village&{query}").get_json()
    inc, grids = raw(fw["url"])
    check(body, expected(inc[select(inc)], grids, "village", pd.Timestamp(body["now"])))
    assert body["filters"] == dict(p.split("=") for p in query.split("&"))


def test_date_edges_are_inclusive_china_days(fw):
    body = fw["clients"]["admin"].get(
        "/api/v1/figures?level=city&start=2026-05-01&end=2026-05-15").get_json()
    inc, _ = raw(fw["url"])
    edges = inc.set_index("external_id").loc[["f-0004", "f-0005", "f-0006"], "occurred_at"]
    inside = china_day(inc["occurred_at"]).between(date(2026, 5, 1), date(2026, 5, 15))
    assert inside[inc["external_id"].isin(["f-0004", "f-0005"])].all()
    assert not inside[inc["external_id"] == "f-0006"].any(), edges
    assert body["total"]["found"] == int(inside.sum())


@pytest.mark.parametrize("who,unit,prefix,uncovered", [
    ("village", Unit("village", "231281101001"), "231281101001", False),
    ("township", Unit("township", "231281101000"), "231281101", True),
    ("worker", Unit("grid", "231281101001001001"), "231281101001001001", False)])
def test_jurisdiction_limits_incidents_and_households(fw, who, unit, prefix, uncovered):
    scope = Scope((unit,))
    inc, grids = raw(fw["url"])
    mine = inc["grid_code"].str.startswith(prefix, na=False)
    if uncovered:
        mine |= inc["external_id"] == "f-uncovered-t1"
    for level in ("township", "village", "grid"):
        body = fw["clients"][who].get(f"/api/v1/figures?level={level}").get_json()
        check(body, expected(inc[mine], grids[grids["code"].str.startswith(prefix)], level,
                             pd.Timestamp(body["now"])))
        codes = [u["unit_code"] for u in body["units"] if u["unit_code"]]
        assert codes and all(scope.contains_code(c) or c in scope.ancestor_codes()
                             for c in codes), codes
    assert ("~uncovered" in answer_frame(body).index) == uncovered


def test_unit_filter_inside_and_outside_the_jurisdiction(fw):
    inc, grids = raw(fw["url"])
    body = fw["clients"]["admin"].get(
        "/api/v1/figures?level=village&unit=231281101000").get_json()
    mine = inc["grid_code"].str.startswith("231281101", na=False) | (
        inc["external_id"] == "f-uncovered-t1")
    check(body, expected(inc[mine], grids[grids["code"].str.startswith("231281101")], "village",
                         pd.Timestamp(body["now"])))
    # an ancestor of the jurisdiction narrows nothing; a foreign unit is refused
    village = fw["clients"]["village"]
    a = village.get("/api/v1/figures?level=grid&unit=231281101000").get_json()
    b = village.get("/api/v1/figures?level=grid").get_json()
    assert a["units"] == b["units"] and a["total"] == b["total"]
    res = village.get("/api/v1/figures?level=grid&unit=231281102000")
    assert res.status_code == 403 and res.get_json()["error"]["field"] == "unit"


@pytest.mark.parametrize("query,field", [
    ("level=county", "level"), ("format=xlsx", "format"), ("category=nonsense", "category"),
    ("start=2026-13-01", "start"), ("start=2026-05-02&end=2026-05-01", "start"),
    ("unit=12345", "unit")])
def test_bad_parameters_answer_400(fw, query, field):
    res = fw["clients"]["admin"].get(f"/api/v1/figures?{query}")
    assert res.status_code == 400 and res.get_json()["error"]["field"] == field


def test_one_statement_computes_the_figures(fw):
    eng = db.engine(fw["url"])
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    f = parse_filter({"category": "dispute", "start": "2026-04-15"})
    scope = Scope((Unit("township", "231281101000"),))
    with eng.connect() as conn:
        gen_id = conn.execute(text("SELECT id FROM generation WHERE is_active")).scalar_one()
        event.listen(eng, "before_cursor_execute", count)
        try:
            out = fstore.figures(conn, scope, "hamlet", f, None, gen_id)
        finally:
            event.remove(eng, "before_cursor_execute", count)
    # one cheap probe (is anything recorded under another generation?), then one statement
    assert len(statements) == 2 and "GROUPING SETS" in statements[1]
    assert "GROUPING" not in statements[0] and "EXISTS" in statements[0]
    kinds = {u["kind"] for u in out["units"]}
    assert kinds == {"unit", "no_unit", "uncovered"}  # villages without hamlets, no grid


def test_csv_export_has_a_bom_bilingual_headers_the_same_numbers_and_is_audited(fw):
    admin = fw["clients"]["admin"]
    query = "level=township&category=dispute"
    body = admin.get(f"/api/v1/figures?{query}").get_json()
    res = admin.get(f"/api/v1/figures?{query}&format=csv")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    assert res.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in res.headers["Content-Disposition"]
    assert res.data.startswith("\ufeff".encode("utf-8"))
    table = pd.read_csv(io.BytesIO(res.data), encoding="utf-8-sig",
                        dtype={"单位代码 Unit code": str})
    assert list(table.columns) == [f"{zh} {en}" for _, zh, en in fstore.COLUMNS]
    assert table.columns[0] == "单位代码 Unit code"
    table.columns = [c[0] for c in fstore.COLUMNS]
    want = pd.DataFrame([*body["units"], body["total"]])
    assert table["unit_name"].tolist() == want["unit_name"].tolist()
    assert table["unit_name"].iloc[-1] == "合计 Total"
    for col in ("found", "mediated", "resolved", "overdue", "households"):
        assert table[col].fillna(-1).astype(int).tolist() == want[col].fillna(-1).astype(
            int).tolist()
    assert np.allclose(table["resolution_rate"].astype(float),
                       want["resolution_rate"].astype(float), equal_nan=True)
    events = admin.get("/api/v1/audit?action=export&username=fig-admin").get_json()["events"]
    assert events[0]["target"] == "figures"
    assert events[0]["details"]["filters"] == {"category": "dispute"}
    assert events[0]["details"]["format"] == "csv"
    # JSON reads are not exports
    assert len(admin.get("/api/v1/audit?action=export&username=fig-admin").get_json()[
        "events"]) == 1
    # exporting needs incident.export (grid workers read figures but do not export)
    worker = fw["clients"]["worker"]
    assert worker.get("/api/v1/figures?level=grid").status_code == 200
    assert worker.get("/api/v1/figures?level=grid&format=csv").status_code == 403


def test_figures_are_stored_until_an_incident_arrives(fw):
    """JSON figures are a stored result keyed by the incidents' data version: the second ask
    reads it, a new incident makes the next ask compute again (and count it)."""
    admin = fw["clients"]["admin"]
    first = admin.get("/api/v1/figures?level=township&category=dispute_land").get_json()
    again = admin.get("/api/v1/figures?level=township&category=dispute_land").get_json()
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["units"] == first["units"] and again["now"] == first["now"]
    res = admin.post("/api/v1/incidents", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [125.05, 46.05]},
        "properties": {"external_id": "figures-cache-1", "category": "dispute_land",
                       "occurred_at": "2026-05-01T09:00:00+08:00"}})
    assert res.status_code == 201, res.get_json()
    after = admin.get("/api/v1/figures?level=township&category=dispute_land").get_json()
    assert after["cached"] is False
    assert after["total"]["found"] == first["total"]["found"] + 1


def test_demo_figures_match_pandas(demo_client, demo_db):
    res = demo_client.get("/api/v1/figures?level=township")
    assert res.status_code == 200
    body = res.get_json()
    inc, grids = raw(demo_db)
    assert body["total"]["found"] == len(inc) > 4000
    check(body, expected(inc, grids, "township", pd.Timestamp(body["now"])))
    # imported with a status but no history: resolved, level not recorded
    assert body["total"]["resolved_level_unknown"] == body["total"]["resolved"] > 0
