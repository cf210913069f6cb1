"""A case through every stage in real headless Chromium, each step by the account whose job
it is: a grid worker reports from a phone with a photo and the phone's position, a township
official accepts, registers and dispatches to a department, the department handles it with a
photo, a different account verifies, the township closes, and the reporter's evaluation is
recorded. Then yellow and red cards appear as the (test-controlled) clock moves, and each
page shows only its jurisdiction's cases."""
from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import text

from gis import times
from gis.store import db
from tests.helpers import make_account
from tests.helpers.browser import Visit

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def people(demo_db):
    """A grid, its village and township, another township, and one account per job."""
    with db.engine(demo_db).connect() as conn:
        grid, village, township, point, township_name = conn.execute(text("""
            SELECT g.code, v.code, t.code, ST_AsGeoJSON(ST_PointOnSurface(g.geom)), t.name
            FROM grid g JOIN generation gen ON gen.id = g.generation_id AND gen.is_active
            JOIN admin_area v ON v.id = g.village_id JOIN admin_area t ON t.id = g.township_id
            ORDER BY g.code LIMIT 1""")).one()
        other = conn.execute(text(
            "SELECT a.code FROM admin_area a JOIN generation gen ON gen.id = a.generation_id "
            "AND gen.is_active WHERE a.level = 4 AND a.code <> :t ORDER BY a.code LIMIT 1"),
            {"t": township}).scalar()
        city = conn.execute(text(
            "SELECT a.code FROM admin_area a JOIN generation gen ON gen.id = a.generation_id "
            "AND gen.is_active WHERE a.level = 3 ORDER BY a.code LIMIT 1")).scalar()
    tag = uuid.uuid4().hex[:5]
    accounts = {
        "worker": make_account(demo_db, f"wk-{tag}", "grid_worker", [grid]),
        "township": make_account(demo_db, f"tw-{tag}", "official", [township]),
        "village": make_account(demo_db, f"vl-{tag}", "official", [village]),
        "staff": make_account(demo_db, f"st-{tag}", "official", [other]),
        "other": make_account(demo_db, f"ot-{tag}", "official", [other]),
        "city": make_account(demo_db, f"ct-{tag}", "official", [city]),
    }
    with db.engine(demo_db).begin() as conn:
        dept = conn.execute(text(
            "INSERT INTO department (name, unit_level, unit_code) VALUES (:n, 'city', :c) "
            "RETURNING id"), {"n": f"城管执法局 {tag}", "c": city}).scalar()
        conn.execute(text("INSERT INTO department_member VALUES (:d, :a)"),
                     {"d": dept, "a": accounts["staff"]["id"]})
    lon, lat = json.loads(point)["coordinates"]
    return {"accounts": accounts, "grid": grid, "lon": lon, "lat": lat, "dept": dept,
            "township": township, "township_name": township_name}


def photo(path, colour=(30, 120, 200)):
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return str(path)


def act(page, label: str, note: str = "", **selects):
    page.click(f"#gg-action-buttons button[data-action='{label}']")
    page.wait_for_selector("#gg-action-form:not([hidden])")
    for name, value in selects.items():
        page.wait_for_function(
            "([n, v]) => [...document.querySelectorAll(`#gg-action-form select[name=${n}] option`)]"
            ".some(o => o.value === v)", arg=[name, value])
        page.select_option(f"#gg-action-form select[name={name}]", value)
    if note:
        page.fill("#gg-action-form textarea[name=note]", note)
    page.click("#gg-action-submit")
    page.wait_for_function("() => document.querySelector('#gg-act-message').textContent"
                           ".includes('已办理 Done')")
    page.wait_for_load_state("networkidle")


def stored(demo_db, iid) -> dict:
    with db.engine(demo_db).connect() as conn:
        row = conn.execute(text("SELECT * FROM incident WHERE id = :i"), {"i": iid})
        out = dict(row.mappings().one())
        out["attachments"] = conn.execute(text(
            "SELECT count(*) FROM incident_attachment WHERE incident_id = :i"),
            {"i": iid}).scalar()
    return out


class Desks:
    """One signed-in browser context per account, opened on first use and kept (sign-ins are
    rate-limited per address, like a real office behind one gateway)."""

    def __init__(self, browser, live_server, accounts):
        self.browser, self.server, self.accounts, self.open = browser, live_server, accounts, {}

    def go(self, who: str, path: str, **context):
        if who not in self.open:
            self.open[who] = Visit(self.browser, self.server + path, self.accounts[who],
                                   **context)
        else:
            v = self.open[who]
            v.response = v.page.goto(self.server + path, wait_until="networkidle")
        return self.open[who]

    def close(self):
        for v in self.open.values():
            v.context.close()


@pytest.fixture
def desks(browser, live_server, people):
    d = Desks(browser, live_server, people["accounts"])
    yield d
    d.close()


PHONE_CONTEXT = {"viewport": PHONE, "is_mobile": True, "has_touch": True}


def test_a_case_goes_through_every_stage_with_the_right_people(desks, demo_db, people,
                                                                tmp_path):
    acc = people["accounts"]
    # 1. the grid worker reports from a phone, with a photo and the phone's position
    v = desks.go("worker", "/report", **PHONE_CONTEXT, permissions=["geolocation"],
                 geolocation={"longitude": people["lon"], "latitude": people["lat"]})
    v.check_clean()
    page = v.page
    page.fill("textarea[name=description]", "井盖缺失 A manhole cover is missing")
    page.set_input_files("input[name=file]", photo(tmp_path / "scene.jpg"))
    page.click("#gg-locate")
    page.wait_for_function("() => document.querySelector('#gg-where').textContent"
                           ".includes('将进入网格')")
    assert people["grid"] in page.inner_text("#gg-where")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.click("#gg-report-submit")
    page.wait_for_selector("[data-testid=report-link]")
    confirmation = page.inner_text("#gg-report-message")
    href = page.get_attribute("[data-testid=report-link]", "href")
    v.check_clean()
    iid = int(href.rsplit("/", 1)[1])
    case = stored(demo_db, iid)
    assert case["public_id"] in confirmation and case["reported_by"] == acc["worker"]["id"]
    assert case["attachments"] == 1 and case["status"] == "reported"
    public_id = case["public_id"]

    # 2. the township finds it in the incident centre and accepts, registers, dispatches
    v = desks.go("township", f"/incidents?q={public_id}")
    page = v.page
    header = page.inner_text("[data-testid=signed-in]")  # the unit by name, not its code
    assert people["township_name"] in header and people["township"] not in header
    page.wait_for_selector(f"#gg-case-rows tr[data-id='{iid}']")
    assert page.inner_text("[data-count=accept]") == "1"
    assert page.locator("#gg-case-map .leaflet-interactive").count() == 1
    page.click(f"#gg-case-rows tr[data-id='{iid}'] a")
    page.wait_for_selector("#gg-action-buttons button")
    assert people["grid"] in page.inner_text("#gg-units")
    assert page.locator(".gg-thumb").count() == 1
    act(page, "accept", "已受理")
    act(page, "register", "属实，立案")
    act(page, "dispatch", "请城管处置", target=f"department:{people['dept']}")
    assert "吹哨报到" in page.inner_text("#gg-timeline")
    assert "城管执法局" in page.inner_text("#gg-f-assignee")
    v.check_clean()
    assert stored(demo_db, iid)["assignee_department_id"] == people["dept"]

    # 3. the department's member finds it in its tasks and reports it handled, with a photo
    v = desks.go("staff", "/tasks")
    page = v.page
    page.wait_for_selector(f"#gg-task-rows tr[data-id='{iid}']")
    page.click(f"#gg-task-rows tr[data-id='{iid}'] a")
    page.wait_for_selector("#gg-action-buttons button")
    buttons = page.locator("#gg-action-buttons button").evaluate_all(
        "bs => bs.map(b => b.dataset.action)")
    assert buttons == ["mediate", "resolve"]
    page.click("#gg-action-buttons button[data-action='resolve']")
    page.set_input_files("#gg-action-form input[name=file]",
                         photo(tmp_path / "fixed.jpg", (20, 160, 60)))
    page.fill("#gg-action-form textarea[name=note]", "已补装井盖 cover replaced")
    page.click("#gg-action-submit")
    page.wait_for_function("() => document.querySelector('#gg-act-message').textContent"
                           ".includes('已办理 Done')")
    page.wait_for_load_state("networkidle")
    assert page.locator(".gg-thumb").count() == 2
    v.check_clean()
    assert stored(demo_db, iid)["resolved_by"] == acc["staff"]["id"]

    # 4. a different account verifies by phone; 5. the township closes
    v = desks.go("village", f"/incidents/{iid}")
    v.page.wait_for_selector("#gg-action-buttons button[data-action='verify']")
    act(v.page, "verify", "电话回访属实", method="phone")
    v.check_clean()
    v = desks.go("township", f"/incidents/{iid}")
    v.page.wait_for_selector("#gg-action-buttons button[data-action='close']")
    act(v.page, "close", "结案")
    v.check_clean()

    # 6. the reporter records the evaluation, on the phone
    v = desks.go("worker", f"/incidents/{iid}")
    page = v.page
    page.wait_for_selector("#gg-action-buttons button[data-action='evaluate']")
    act(page, "evaluate", "群众满意", satisfaction="satisfied")
    timeline = page.locator("#gg-timeline li").evaluate_all(
        "ls => ls.map(l => l.dataset.action)")
    assert timeline == ["accept", "register", "dispatch", "resolve", "verify", "close",
                        "evaluate"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    v.check_clean()
    done = stored(demo_db, iid)
    assert (done["status"], done["satisfaction"], done["attachments"]) == \
        ("evaluated", "satisfied", 2)
    assert done["verified_by"] == acc["village"]["id"] != done["resolved_by"]

    # another township sees nothing of it
    v = desks.go("other", f"/incidents?q={public_id}")
    v.page.wait_for_function("() => document.querySelector('#gg-status').textContent"
                             ".includes('件 cases')")
    assert v.page.locator(f"#gg-case-rows tr[data-id='{iid}']").count() == 0
    assert v.page.inner_text("[data-count=all]") == "0"
    v.check_clean()


def test_yellow_then_red_cards_appear_as_time_passes(desks, demo_db, people, monkeypatch):
    mark = uuid.uuid4().hex[:8]
    with db.engine(demo_db).begin() as conn:
        gen = conn.execute(text("SELECT id FROM generation WHERE is_active")).scalar()
        grid_id = conn.execute(text("SELECT id FROM grid WHERE code = :c AND generation_id = :g"),
                               {"c": people["grid"], "g": gen}).scalar()
        iid = conn.execute(text("""
            INSERT INTO incident (source, external_id, category, severity, status, occurred_at,
                reported_at, description, input_crs, input_x, input_y, geom, generation_id,
                grid_id, hamlet_id, village_id, township_id, city_id, prefecture_id,
                province_id, accept_due_at, resolve_due_at)
            SELECT 'cards', :m, 'dispute_land', 'low', 'reported', now(), now(), :m,
                   'EPSG:4326', :x, :y,
                   ST_SetSRID(ST_MakePoint(:x, :y), 4326), g.generation_id, g.id, g.hamlet_id,
                   g.village_id, g.township_id, g.city_id, g.prefecture_id, g.province_id,
                   now() + interval '30 days', now() + interval '60 days'
            FROM grid g WHERE g.id = :gid RETURNING id"""),
            {"m": mark, "x": people["lon"], "y": people["lat"], "gid": grid_id}).scalar()
        yellow, due = conn.execute(text(
            "SELECT stage_yellow_at, stage_due_at FROM incident WHERE id = :i"), {"i": iid}).one()

    def cards_at(moment):
        monkeypatch.setattr(times, "now", lambda: moment)
        v = desks.go("township", f"/incidents?q={mark}")
        v.page.wait_for_selector(f"#gg-case-rows tr[data-id='{iid}']")
        row_text = v.page.inner_text(f"#gg-case-rows tr[data-id='{iid}']")
        overdue = v.page.inner_text("[data-count=overdue]")
        v.check_clean()
        return row_text, overdue

    row, overdue = cards_at(yellow - timedelta(minutes=5))
    assert "黄牌" not in row and "红牌" not in row and overdue == "0"
    row, overdue = cards_at(yellow + timedelta(minutes=5))
    assert "黄牌 yellow" in row and overdue == "0"
    row, overdue = cards_at(due + timedelta(minutes=5))
    assert "红牌 red" in row and overdue == "1"
    # the city sees the township's red card on its supervision page, and reminds
    v = desks.go("city", f"/supervision?level=township&unit={people['grid']}")
    page = v.page
    page.wait_for_selector(f"#gg-sup-units tr[data-unit='{people['township']}']")
    assert int(page.inner_text(f"#gg-sup-units tr[data-unit='{people['township']}'] "
                               ".gg-card-red")) >= 1
    row = page.locator(f"#gg-sup-cases tr[data-id='{iid}']")
    row.locator("input").fill("请今天受理 accept it today")
    row.locator("button").click()
    page.wait_for_function("() => document.querySelector('#gg-status').textContent"
                           ".includes('已催办')")
    v.check_clean()
    with db.engine(demo_db).connect() as conn:
        assert conn.execute(text("SELECT remind_count FROM incident WHERE id = :i"),
                            {"i": iid}).scalar() == 1


def test_a_report_written_offline_is_sent_once_when_the_phone_is_back_online(desks, demo_db,
                                                                              people, tmp_path):
    v = desks.go("worker", "/report", **PHONE_CONTEXT, permissions=["geolocation"],
                 geolocation={"longitude": people["lon"], "latitude": people["lat"]})
    page = v.page
    page.click("#gg-locate")
    page.wait_for_function("() => document.querySelector('#gg-where').textContent"
                           ".includes('将进入网格')")
    mark = uuid.uuid4().hex[:8]
    page.fill("textarea[name=description]", f"路灯不亮 street light out {mark}")
    page.set_input_files("input[name=file]", photo(tmp_path / "dark.jpg", (10, 10, 40)))
    v.context.set_offline(True)
    page.click("#gg-report-submit")
    page.wait_for_function("() => document.querySelector('#gg-report-message').textContent"
                           ".includes('已保存在手机上')")
    assert "1" in page.inner_text("#gg-queue")

    def stored_reports():
        with db.engine(demo_db).connect() as conn:
            return conn.execute(text(
                "SELECT i.id, (SELECT count(*) FROM incident_attachment a "
                "WHERE a.incident_id = i.id) FROM incident i WHERE i.description LIKE :m"),
                {"m": f"%{mark}"}).all()

    assert stored_reports() == []
    v.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("[data-testid=report-link]")
    page.wait_for_function("() => document.querySelector('#gg-queue').hidden")
    # a reload sends nothing twice
    page.reload(wait_until="networkidle")
    page.wait_for_timeout(500)
    rows = stored_reports()
    assert len(rows) == 1 and rows[0][1] == 1
    v.errors[:] = [e for e in v.errors if "ERR_INTERNET_DISCONNECTED" not in e]
    v.failed[:] = [f for f in v.failed if "ERR_INTERNET_DISCONNECTED" not in f]
    v.check_clean()
