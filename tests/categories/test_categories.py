"""Categories as data against a real PostGIS: the seeded default set, new and deactivated
categories through the API and the bulk import, the CJ/T 214 set loaded twice, deadlines per
category on both insert paths, filters and figures by source and category against independent
SQL counts, who may change categories, and the audit trail."""
from __future__ import annotations

import csv
import io
import math

import mapbox_vector_tile
import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import exc, text

from gis.access.roles import SYSTEM
from gis.categories import manage
from gis.categories.sets import CJT214, CJT214_CLASSES
from gis.domain import CATEGORIES
from gis.errors import InputError, ValidationFailed
from gis.incidents import handling
from gis.incidents.importing import import_incidents
from gis.incidents.parse import TableOptions
from gis.store import db
from tests.helpers import client_for, make_account

T1 = "231281101000"
P1 = (125.05, 46.05)       # grid 231281101001001001, in T1
ROLES = ("official", "planner", "grid_worker", "client")
REPORTED = "2026-05-01T10:00:00+08:00"


@pytest.fixture(scope="module")
def world(private_factory_db):
    url = private_factory_db
    accounts = {"admin": make_account(url, "cat-admin", "admin"),
                **{r: make_account(url, f"cat-{r}", r, [T1]) for r in ROLES}}
    clients = {name: client_for(url, a["token"], RATELIMIT_ENABLED=False)
               for name, a in accounts.items()}
    return {"url": url, "engine": db.engine(url), "clients": clients}


def feature(ext, category, lon=P1[0], lat=P1[1], **props):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"external_id": ext, "category": category,
                           "occurred_at": "2026-05-01T09:30:00+08:00", **props}}


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as out:
        w = csv.DictWriter(out, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def scalar(world, sql, **params):
    with world["engine"].connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def create(world, code, **fields):
    body = {"code": code, "name_zh": fields.pop("name_zh", "测试类别"),
            "name_en": fields.pop("name_en", "Test category"), **fields}
    res = world["clients"]["admin"].post("/api/v1/categories", json=body)
    assert res.status_code == 201, res.get_json()
    return res.get_json()


# ---- the list ----

def test_the_default_set_is_seeded_with_its_parent_classes(fresh_db):
    with db.engine(fresh_db).connect() as conn:
        cat = manage.catalogue(conn)
        listed = manage.list_categories(conn)
    assert {c.code: (c.name_zh, c.name_en) for c in cat.categories} == CATEGORIES
    assert all(c.active and c.accept_hours is None and c.resolve_hours is None
               for c in cat.categories)
    assert cat.groups()["dispute"] == tuple(c for c in CATEGORIES if c.startswith("dispute_"))
    assert [g["label"] for g in listed["parent_classes"]] == [
        "矛盾纠纷 Disputes", "治安安全 Public order and safety", "群众诉求 Public requests"]


def test_a_new_category_is_taken_by_the_api_and_the_bulk_import(world, tmp_path):
    body = create(world, "test_river_litter", name_zh="河道垃圾", name_en="Litter in a river",
                  parent_class="市容环境")
    assert (body["label"], body["parent_class_en"], body["active"]) == \
        ("河道垃圾 Litter in a river", "City appearance and environment", True)
    again = world["clients"]["admin"].post("/api/v1/categories", json={
        "code": "test_river_litter", "name_zh": "x", "name_en": "x"})
    assert again.status_code == 409
    listed = world["clients"]["client"].get("/api/v1/categories").get_json()
    assert "test_river_litter" in [c["code"] for c in listed["categories"]]
    res = world["clients"]["official"].post("/api/v1/incidents",
                                             json=feature("nc-api", "test_river_litter"))
    assert res.status_code == 201, res.get_json()
    assert res.get_json()["properties"]["category"] == "test_river_litter"
    path = write_csv(tmp_path / "new.csv", [
        {"external_id": f"nc-{i}", "category": "test_river_litter",
         "occurred_at": "2026-05-02 08:00", "lon": 125.05 + i / 100, "lat": 46.05}
        for i in range(2)])
    report = import_incidents(world["engine"], path, source="nc-bulk")
    assert report.inserted == 2 and not report.bad_rows
    figures = world["clients"]["admin"].get(
        "/api/v1/figures?level=township&category=test_river_litter").get_json()
    assert figures["total"]["found"] == 3 == scalar(
        world, "SELECT count(*) FROM incident WHERE category = 'test_river_litter'")


def test_unknown_and_deactivated_categories_are_refused_with_the_valid_codes(world, tmp_path):
    create(world, "test_old_kind", parent_class="治安安全")
    ok = world["clients"]["admin"].post("/api/v1/incidents",
                                         json=feature("old-1", "test_old_kind", source="old"))
    assert ok.status_code == 201
    res = world["clients"]["admin"].patch("/api/v1/categories/test_old_kind",
                                           json={"active": False})
    assert res.status_code == 200 and res.get_json()["changed"] == ["active"]
    res = world["clients"]["official"].post("/api/v1/incidents",
                                             json=feature("old-2", "test_old_kind"))
    assert res.status_code == 422
    error = res.get_json()["error"]
    assert error["field"] == "category"
    assert error["message"].startswith("category 'test_old_kind' is deactivated")
    valid = error["message"].split("use one of: ")[1].split(", ")
    assert "petition" in valid and "test_old_kind" not in valid
    res = world["clients"]["official"].post("/api/v1/incidents",
                                             json=feature("old-3", "no_such_kind"))
    assert res.status_code == 422
    assert res.get_json()["error"]["message"].startswith(
        "unknown category 'no_such_kind'; use one of: dispute_neighbour, dispute_family")
    path = write_csv(tmp_path / "old.csv", [
        {"external_id": "old-4", "category": "test_old_kind", "occurred_at": "2026-05-02",
         "lon": P1[0], "lat": P1[1]},
        {"external_id": "old-5", "category": "petition", "occurred_at": "2026-05-02",
         "lon": P1[0], "lat": P1[1]}])
    with pytest.raises(ValidationFailed) as err:
        import_incidents(world["engine"], path, source="old")
    assert [d["row"] for d in err.value.details] == [2]
    assert err.value.details[0]["error"].startswith("category 'test_old_kind' is deactivated")
    no_column = write_csv(tmp_path / "none.csv", [
        {"external_id": "old-6", "occurred_at": "2026-05-02", "lon": P1[0], "lat": P1[1]}])
    with pytest.raises(InputError) as err:
        import_incidents(world["engine"], no_column, source="old",
                         options=TableOptions(category="test_old_kind"))
    assert err.value.field == "category" and "deactivated" in err.value.message
    assert scalar(world, "SELECT count(*) FROM incident WHERE source = 'old'") == 1
    # the incident keeps its category, which stays readable and filterable
    client = world["clients"]["admin"]
    assert "test_old_kind" not in [c["code"] for c in
                                   client.get("/api/v1/categories").get_json()["categories"]]
    every = client.get("/api/v1/categories?inactive=true").get_json()["categories"]
    assert {"code": "test_old_kind", "active": False}.items() <= \
        next(c for c in every if c["code"] == "test_old_kind").items()
    figures = client.get("/api/v1/figures?level=city&category=test_old_kind").get_json()
    assert figures["total"]["found"] == 1


def test_the_cjt214_set_loads_once(world, monkeypatch):
    client = world["clients"]["admin"]

    def snapshot():
        with world["engine"].connect() as conn:
            return conn.execute(text("SELECT * FROM category ORDER BY code")).all()

    def audited():
        return scalar(world, "SELECT count(*) FROM audit_event WHERE action = "
                             "'category_update' AND target = 'category_set/cjt214'")

    res = client.post("/api/v1/categories/sets/cjt214")
    assert res.status_code == 200
    body = res.get_json()
    assert sorted(body["added"]) == sorted(c.code for c in CJT214) and body["present"] == 0
    before, audits = snapshot(), audited()
    assert audits == 1
    res = client.post("/api/v1/categories/sets/cjt214")
    assert res.status_code == 200 and res.get_json() == {**body, "added": [],
                                                         "present": len(CJT214)}
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", world["url"])
    from web.cli import main
    out = CliRunner().invoke(main, ["categories", "load-set", "cjt214"])
    assert out.exit_code == 0, out.output
    assert f"0 added, {len(CJT214)} already there" in out.output
    assert snapshot() == before and audited() == 1
    listed = client.get("/api/v1/categories").get_json()
    classes = [g["parent_class"] for g in listed["parent_classes"]]
    assert [c for c in classes if c in CJT214_CLASSES] == list(CJT214_CLASSES)
    assert client.post("/api/v1/categories/sets/gb2000").status_code == 404
    # its categories are taken at once, and none joins the disputes
    res = client.post("/api/v1/incidents", json=feature("cj-1", "cj_street_vendor",
                                                         source="cj"))
    assert res.status_code == 201
    dispute = client.get("/api/v1/figures?by=category&category=dispute").get_json()
    assert not any(r["category"].startswith("cj_") for r in dispute["rows"])


# ---- deadlines per category ----

def test_category_deadlines_set_due_times_alike_on_both_insert_paths(world, tmp_path):
    create(world, "test_urgent", accept_hours=2, resolve_hours=10.5)
    create(world, "test_slow", resolve_hours=200)
    kinds = ("test_urgent", "test_slow", "petition")
    client = world["clients"]["admin"]
    for kind in kinds:
        res = client.post("/api/v1/incidents", json=feature(
            f"dl-{kind}", kind, source="dl-api", reported_at=REPORTED))
        assert res.status_code == 201, res.get_json()
    path = write_csv(tmp_path / "dl.csv", [
        {"external_id": f"dl-{kind}", "category": kind, "occurred_at": "2026-05-01 09:30",
         "reported_at": REPORTED, "lon": P1[0], "lat": P1[1]} for kind in kinds])
    assert import_incidents(world["engine"], path, source="dl-bulk").inserted == 3
    with world["engine"].connect() as conn:
        rows = conn.execute(text(
            "SELECT source, category, extract(epoch FROM accept_due_at - reported_at) / 3600, "
            "extract(epoch FROM resolve_due_at - reported_at) / 3600 FROM incident "
            "WHERE source IN ('dl-api', 'dl-bulk')")).all()
    hours = {(s, c): (float(a), float(r)) for s, c, a, r in rows}
    expected = {"test_urgent": (2, 10.5), "test_slow": (24, 200), "petition": (24, 72)}
    for source in ("dl-api", "dl-bulk"):
        assert {c: hours[(source, c)] for c in kinds} == expected
    # a change applies to incidents reported afterwards; stored due times stay
    res = client.patch("/api/v1/categories/test_urgent", json={"accept_hours": None})
    assert res.status_code == 200 and res.get_json()["accept_hours"] is None
    client.post("/api/v1/incidents", json=feature("dl-later", "test_urgent", source="dl-api",
                                                  reported_at=REPORTED))
    later = scalar(world, "SELECT extract(epoch FROM accept_due_at - reported_at) / 3600 "
                          "FROM incident WHERE external_id = 'dl-later'")
    assert float(later) == 24
    assert hours[("dl-api", "test_urgent")] == (2, 10.5)
    # escalating keeps the level rules (village: 24 h to accept, 168 h to resolve)
    with world["engine"].begin() as conn:
        iid = conn.execute(text("SELECT id FROM incident WHERE source = 'dl-api' AND "
                                "external_id = 'dl-test_urgent'")).scalar_one()
        out = handling.transition(conn, SYSTEM, iid, {"action": "escalate", "version": 1,
                                                      "note": "needs the village"})
        up = conn.execute(text("SELECT extract(epoch FROM resolve_due_at - escalated_at) / 3600 "
                               "FROM incident WHERE id = :i"), {"i": iid}).scalar_one()
    assert out["incident"]["handling_level"] == "village" and float(up) == 168


# ---- filters and figures by source and category ----

@pytest.fixture(scope="module")
def mixed(world, tmp_path_factory):
    """150 incidents over three sources and four categories (one of this deployment's own),
    scattered over the city."""
    with world["engine"].begin() as conn:
        manage.create(conn, SYSTEM, {"code": "test_fc_kind", "name_zh": "自定类别",
                                     "name_en": "Own kind", "parent_class": "矛盾纠纷"})
    rng = np.random.default_rng(14)
    n = 150
    kinds = ["dispute_land", "petition", "safety_hazard", "test_fc_kind"]
    rows = [{"external_id": f"mx-{i}", "source": f"fc-{'abc'[int(rng.integers(3))]}",
             "category": kinds[int(rng.integers(4))],
             "occurred_at": f"2026-04-{1 + int(rng.integers(28)):02d} 10:00",
             "lon": float(rng.uniform(125.001, 125.399)),
             "lat": float(rng.uniform(46.001, 46.399))} for i in range(n)]
    path = write_csv(tmp_path_factory.mktemp("mixed") / "mixed.csv", rows)
    assert import_incidents(world["engine"], path, source="unused").inserted == n
    return rows


QUERIES = [{"source": "fc-a"}, {"source": "fc-a,fc-b"}, {"source": "fc-c", "category": "petition"},
           {"source": "fc-b,fc-c", "category": "dispute"},
           {"source": "fc-a,fc-b,fc-c", "category": "test_fc_kind,safety_hazard"}]


def sql_counts(world, query) -> dict:
    """(source, category) -> count, independently of the filters' code."""
    sources = query["source"].split(",")
    cats = query.get("category", "").split(",") if query.get("category") else None
    if cats == ["dispute"]:
        with world["engine"].connect() as conn:
            cats = conn.execute(text("SELECT code FROM category WHERE parent_class = '矛盾纠纷' "
                                     "OR code LIKE 'dispute\\_%'")).scalars().all()
    with world["engine"].connect() as conn:
        rows = conn.execute(text(
            "SELECT source, category, count(*) FROM incident WHERE source = ANY(:s) "
            "AND (CAST(:c AS text[]) IS NULL OR category = ANY(:c)) GROUP BY 1, 2"),
            {"s": sources, "c": cats}).all()
    return {(s, c): n for s, c, n in rows}


def by(counts: dict, i: int) -> dict:
    out: dict = {}
    for key, n in counts.items():
        out[key[i]] = out.get(key[i], 0) + n
    return out


def tile_of(lon, lat, z):
    n = 2 ** z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: "&".join(f"{k}={v}"
                                                                  for k, v in q.items()))
def test_filters_by_source_and_category_count_what_sql_counts(world, mixed, query):
    from urllib.parse import urlencode
    counts = sql_counts(world, query)
    total = sum(counts.values())
    assert total > 0
    q = urlencode(query)
    client = world["clients"]["admin"]
    figures = client.get(f"/api/v1/figures?level=township&{q}").get_json()
    assert figures["total"]["found"] == total
    per_cat = client.get(f"/api/v1/figures?by=category&{q}").get_json()
    assert {r["category"]: r["found"] for r in per_cat["rows"] if r["found"]} == by(counts, 1)
    assert per_cat["total"]["found"] == total and per_cat["by"] == "category"
    per_source = client.get(f"/api/v1/figures?by=source&{q}").get_json()
    assert {r["source"]: r["found"] for r in per_source["rows"]} == by(counts, 0)
    rates = client.get(f"/api/v1/analysis/rates?level=grid&measure=count&{q}").get_json()
    assert rates["incidents"] == total
    export = client.get(f"/api/v1/exports/incidents?format=csv&{q}")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == total
    assert {(r["来源 Source"], r["类别 Category"]) for r in rows} == set(counts)
    with world["engine"].connect() as conn:
        named = manage.catalogue(conn)
    assert all(r["类别名称 Category name"] == named.name_zh(r["类别 Category"]) and
               r["英文类别名称 Category name (English)"] for r in rows)
    x, y = tile_of(125.2, 46.2, 6)
    tile = mapbox_vector_tile.decode(client.get(f"/tiles/incidents/6/{x}/{y}.mvt?{q}").data)
    assert sum(f["properties"]["count"] for f in tile["incidents"]["features"]) == total
    if query.get("category", "petition") in CATEGORIES:  # OGC items: one plain code
        items = client.get(f"/api/v1/collections/incidents/items?limit=1000&{q}").get_json()
        assert items["numberMatched"] == total


def test_figures_per_category_list_every_active_category(world, mixed):
    client = world["clients"]["admin"]
    body = client.get("/api/v1/figures?by=category&source=fc-a").get_json()
    rows = {r["category"]: r for r in body["rows"]}
    with world["engine"].connect() as conn:
        active = conn.execute(text("SELECT code FROM category WHERE active")).scalars().all()
    assert set(active) <= set(rows)
    assert rows["traffic_accident"]["found"] == 0 and rows["traffic_accident"]["name_zh"] == \
        "交通事故纠纷"
    assert rows["test_fc_kind"]["parent_class"] == "矛盾纠纷"
    assert body["total"]["name_zh"] == "合计" and body["total"]["kind"] == "total"
    # resolved counts and rates agree with the unit figures' total
    units = client.get("/api/v1/figures?level=city&source=fc-a").get_json()["total"]
    for key in ("found", "mediated", "resolved", "overdue"):
        assert body["total"][key] == units[key]
    res = client.get("/api/v1/figures?by=category&source=fc-a&format=csv")
    header = res.get_data(as_text=True).lstrip("\ufeff").splitlines()[0]
    assert header.startswith("类别代码 Category code,类别名称 Category,")
    assert client.get("/api/v1/figures?by=colour").status_code == 400


# ---- who may change them, and the trail ----

@pytest.mark.parametrize("role", ROLES)
def test_only_administrators_change_categories(world, role):
    client = world["clients"][role]

    def state():
        with world["engine"].connect() as conn:
            return conn.execute(text("SELECT * FROM category ORDER BY code")).all()

    before = state()
    assert client.get("/api/v1/categories").status_code == 200
    assert client.post("/api/v1/categories", json={
        "code": f"test_by_{role}", "name_zh": "x", "name_en": "x"}).status_code == 403
    assert client.patch("/api/v1/categories/petition",
                        json={"active": False}).status_code == 403
    assert client.post("/api/v1/categories/sets/cjt214").status_code == 403
    assert state() == before


def test_every_change_is_audited_and_the_cli_manages_categories(world, monkeypatch):
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", world["url"])
    from web.cli import main
    runner = CliRunner()
    out = runner.invoke(main, ["categories", "add", "test_cli_kind", "--zh", "命令行类别",
                               "--en", "CLI kind", "--parent", "群众诉求",
                               "--accept-hours", "6", "--resolve-hours", "48"])
    assert out.exit_code == 0, out.output
    assert "test_cli_kind" in out.output and "deadlines 6/48 h" in out.output
    out = runner.invoke(main, ["categories", "set", "test_cli_kind", "--en", "Kind from the CLI",
                               "--accept-hours", "none"])
    assert out.exit_code == 0 and "changed accept_hours, name_en" in out.output, out.output
    out = runner.invoke(main, ["categories", "set", "test_cli_kind", "--en", "Kind from the CLI"])
    assert out.exit_code == 0 and out.output.startswith("unchanged"), out.output
    out = runner.invoke(main, ["categories", "deactivate", "test_cli_kind"])
    assert out.exit_code == 0 and "停用 inactive" in out.output
    listed = runner.invoke(main, ["categories", "list"]).output
    assert "test_cli_kind" not in listed and "petition" in listed
    assert "test_cli_kind" in runner.invoke(main, ["categories", "list", "--all"]).output
    out = runner.invoke(main, ["categories", "add", "Bad Code", "--zh", "x", "--en", "x"])
    assert out.exit_code == 1 and "is not a category code" in out.output
    out = runner.invoke(main, ["categories", "set", "test_cli_kind", "--resolve-hours", "soon"])
    assert out.exit_code != 0 and "not a number of hours" in out.output
    events = world["clients"]["admin"].get(
        "/api/v1/audit?action=category_update&limit=1000").get_json()["events"]
    mine = [e for e in events if e["target"] == "category/test_cli_kind"]
    assert [e["details"]["op"] for e in reversed(mine)] == ["create", "update", "update"]
    newest = mine[0]["details"]   # the trail is newest first
    assert (newest["changes"], newest["incidents"], newest["via"]) == \
        ({"active": [True, False]}, 0, "cli")
    assert mine[1]["details"]["changes"] == {"accept_hours": [6.0, None],
                                             "name_en": ["CLI kind", "Kind from the CLI"]}
    api = [e for e in events if e["target"] == "category/test_river_litter"]
    assert api and api[-1]["username"] == "cat-admin" and api[-1]["details"]["op"] == "create"


# ---- the migration and the database's own checks ----

def test_the_migration_keeps_every_stored_category_and_the_database_guards_them(factory_engine):
    from alembic import command

    from gis.store.db import alembic_config
    url = factory_engine.url.render_as_string(hide_password=False)
    cfg = alembic_config(url)
    command.downgrade(cfg, "0013")
    insert = ("INSERT INTO incident (source, external_id, category, severity, status, "
              "occurred_at, reported_at, geom, input_crs, input_x, input_y, generation_id) "
              "SELECT 'legacy', :e, :c, 'low', 'reported', now(), now(), "
              "ST_SetSRID(ST_MakePoint(125.05, 46.05), 4326), 'EPSG:4326', 125.05, 46.05, id "
              "FROM generation WHERE is_active")
    with factory_engine.begin() as conn:
        conn.execute(text(insert), {"e": "l-1", "c": "legacy_kind"})
        conn.execute(text(insert), {"e": "l-2", "c": "petition"})
    command.upgrade(cfg, "head")
    with factory_engine.connect() as conn:
        cat = manage.catalogue(conn)
        assert conn.execute(text("SELECT count(*) FROM incident")).scalar_one() == 2
    legacy = cat.get("legacy_kind")
    assert legacy is not None and not legacy.active and legacy.name_zh == "legacy_kind"
    assert set(cat.active_codes) == set(CATEGORIES)
    with pytest.raises(exc.IntegrityError, match="not a category"):
        with factory_engine.begin() as conn:
            conn.execute(text(insert), {"e": "l-3", "c": "never_defined"})
    with pytest.raises(exc.IntegrityError, match="incidents carry it"):
        with factory_engine.begin() as conn:
            conn.execute(text("DELETE FROM category WHERE code = 'petition'"))
    with pytest.raises(exc.IntegrityError, match="codes do not change"):
        with factory_engine.begin() as conn:
            conn.execute(text("UPDATE category SET code = 'petitions' WHERE code = 'petition'"))
    with factory_engine.begin() as conn:  # a category no incident carries may go
        conn.execute(text("DELETE FROM category WHERE code = 'dispute_labour'"))
