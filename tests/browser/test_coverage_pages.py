"""The coverage tabs in headless Chromium against the demo (with its synthetic coverage set):
offline shells that fill their panel from /api/v1/coverage/<theme>/map and draw grids, cameras
and areas from tiles with working tooltips; the figures shown equal the API's."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from gis.store import db
from tests.helpers.browser import Visit

TOWNSHIPS = 18
TOWN = "231281001000"


def _api(page, path):
    r = page.request.get(path)
    assert r.status == 200
    return r


def _loaded(page):
    page.wait_for_selector("body[data-loaded]", timeout=30_000)
    page.wait_for_load_state("networkidle")


def _table_rows(page):
    return page.locator("#gg-unit-table tbody tr").count()


MAP = "JSON.parse(document.getElementById('gg-page').textContent).map"


def _hover(page, lat, lon, zoom) -> str:
    """Centre the map on a point at a zoom, move the mouse onto it, answer the tooltip text."""
    page.evaluate(f"([lat, lon, z]) => window.gridgisObjects[{MAP}].setView([lat, lon], z, "
                  "{animate: false})", [lat, lon, zoom])
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(400)
    x, y = page.evaluate(f"""([lat, lon]) => {{
        const m = window.gridgisObjects[{MAP}];
        const p = m.latLngToContainerPoint([lat, lon]);
        const r = m.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }}""", [lat, lon])
    for attempt in range(40):  # tiles draw asynchronously: move until the feature answers
        page.mouse.move(x - 1 - attempt % 2, y - 1)
        page.mouse.move(x, y)
        if page.locator(".gg-tooltip").count():
            return page.inner_text(".gg-tooltip")
        page.wait_for_timeout(250)
    raise AssertionError(f"no tooltip at {lat}, {lon}")


def test_staffing_page_shows_gaps_that_match_the_api(browser, live_server, demo_admin):  # noqa: F811
    with Visit(browser, f"{live_server}/maps/coverage/staff", demo_admin) as v:
        _loaded(v.page)
        v.check_clean()
        page = v.page
        rows = _api(page, f"{live_server}/api/v1/coverage/staffing?level=grid").json()["rows"]
        assert int(page.inner_text("#stat-grids")) == len(rows)
        assert int(page.inner_text("#stat-no-head")) == sum(r["no_head"] for r in rows) > 0
        assert int(page.inner_text("#stat-no-worker")) == sum(r["no_worker"] for r in rows) > 0
        assert int(page.inner_text("#stat-over-target")) == sum(r["over_target"] for r in rows)
        legend = page.inner_text("#gg-legend")
        assert "无网格长 No grid head" in legend and "无网格员 No grid worker" in legend
        assert _table_rows(page) == TOWNSHIPS
        assert "铁西街道" in page.inner_text("#gg-unit-table")
        notes = " ".join(page.locator(".gg-method").all_inner_texts())
        assert "Synthetic demo data" in notes and "staff" in notes and "roads" in notes
        assert "网格人员配备 Grid staffing" in page.inner_text(".leaflet-control-layers")
        # the level changes without reloading the page, and the URL says so
        page.evaluate("window.gridgisMarker = 1")
        page.select_option("select[name=level]", "village")
        page.wait_for_function("() => document.querySelectorAll('#gg-unit-table tbody tr')"
                               ".length > 100")
        assert "level=village" in page.url and page.evaluate("window.gridgisMarker") == 1
        csv = _api(page, live_server + page.get_attribute("#gg-table-csv", "href"))
        assert csv.body().startswith("\ufeff".encode()) and b"households_per_worker" in csv.body()
        assert b"village" in csv.headers.get("content-disposition", "").encode()
        v.check_clean()


def test_staffing_tab_draws_grid_tiles_with_a_tooltip(browser, live_server, demo_admin,
                                                      demo_db):
    with db.engine(demo_db).connect() as conn:
        code, lon, lat = conn.execute(text(
            "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) AS p "
            "FROM grid WHERE code LIKE '231281001%' ORDER BY code LIMIT 1) s")).one()
    with Visit(browser, f"{live_server}/maps/coverage/staff", demo_admin) as v:
        _loaded(v.page)
        tip = _hover(v.page, lat, lon, 15)
        assert code in tip and "网格长 Heads" in tip and "状态 Status" in tip
        tiles = v.page.evaluate("performance.getEntriesByType('resource').map(e => e.name)"
                                ".filter(n => n.includes('/tiles/grids/') && "
                                "n.includes('result='))")
        assert tiles
        v.check_clean()


def test_camera_page_shows_coverage_cameras_and_streets(browser, live_server, demo_admin,
                                                        demo_db):  # noqa: F811
    with db.engine(demo_db).connect() as conn:
        ext, lon, lat = conn.execute(text(
            "SELECT external_id, ST_X(geom), ST_Y(geom) FROM camera ORDER BY id LIMIT 1")).one()
    with Visit(browser, f"{live_server}/maps/coverage/cameras", demo_admin) as v:
        _loaded(v.page)
        v.check_clean()
        page = v.page
        layers = page.inner_text(".leaflet-control-layers")
        for name in ("摄像头视域 Camera fields of view", "已覆盖街道 Covered streets",
                     "未覆盖街道 Uncovered streets", "摄像头 Cameras",
                     "网格视频覆盖率 Grid camera coverage (area)"):
            assert name in layers
        share = page.inner_text("#stat-road-share")
        assert share.endswith("%") and 0 < float(share[:-1]) < 100
        cams = _api(page, f"{live_server}/api/v1/cameras").json()["features"]
        assert int(page.inner_text("#stat-cameras")) == len(cams) > 100
        assert _table_rows(page) == TOWNSHIPS
        assert "道路覆盖 Streets covered" in page.inner_text("#gg-unit-table thead")
        tip = _hover(page, lat, lon, 17)
        assert ext in tip and "射程 Range (m)" in tip
        v.check_clean()


def test_response_page_says_which_method_and_draws_circles(browser, live_server, demo_admin):  # noqa: F811
    with Visit(browser, f"{live_server}/maps/coverage/response", demo_admin) as v:
        _loaded(v.page)
        v.check_clean()
        page = v.page
        posts = _api(page, f"{live_server}/api/v1/posts").json()["features"]
        assert int(page.inner_text("#stat-posts")) == len(posts) > 0
        method = " ".join(page.locator(".gg-method").all_inner_texts())
        assert "along the road network" in method and "pgRouting" in method
        assert "speed buffers" in method  # the town posts beyond the demo's street network
        layers = page.inner_text(".leaflet-control-layers")
        assert "1-3-5分钟响应圈 1, 3 and 5-minute circles" in layers
        for m in (1, 3, 5):
            assert f"{m}分钟响应圈 Reachable within {m} minute(s)" in page.inner_text("#gg-legend")
        assert "派出所/巡逻站 Police posts / patrol stations" in layers
        shares = [float(page.inner_text(f"#stat-households-{m}")[:-1]) for m in (1, 3, 5)]
        assert 0 < shares[0] <= shares[1] <= shares[2] <= 100
        assert "5分钟圈外" in page.inner_text("#gg-legend")
        assert _table_rows(page) == TOWNSHIPS
        tiles = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)"
                              ".filter(n => n.includes('/tiles/response_areas/'))")
        assert tiles


def test_blind_spot_page_has_every_layer_and_counts(browser, live_server, demo_admin):  # noqa: F811
    with Visit(browser, f"{live_server}/maps/coverage/blind-spots", demo_admin) as v:
        _loaded(v.page)
        v.check_clean()
        page = v.page
        layers = page.inner_text(".leaflet-control-layers")
        for name in ("未划入网格的土地 Land in no grid", "网格外事件 Incidents outside every grid",
                     "无人员或无视频的网格 Grids without staff or cameras",
                     "5分钟响应圈外 Outside every 5-minute circle"):
            assert name in layers
        table = _api(page, f"{live_server}/api/v1/coverage/blind-spots").json()["rows"]
        assert int(page.inner_text("#stat-uncovered")) == sum(
            r["uncovered_incidents"] for r in table) > 0
        assert int(page.inner_text("#stat-no-staff")) == sum(
            r["grids_without_staff"] for r in table)
        assert _table_rows(page) == len(table) >= TOWNSHIPS
        # the tabs lead to each view
        with page.expect_navigation(wait_until="networkidle"):
            page.click("[data-testid=tab-staff]")
        assert "人员配备 Grid staffing" in page.inner_text("h1")


@pytest.mark.parametrize("theme", ["staffing", "cameras", "response", "blind-spots"])
def test_a_township_official_sees_only_their_township(live_server, demo_db, theme):
    import uuid

    import requests

    from tests.helpers import make_account
    user = make_account(demo_db, f"cov-{uuid.uuid4().hex[:6]}", "official", [TOWN])
    auth = {"Authorization": f"Bearer {user['token']}"}
    r = requests.get(f"{live_server}/api/v1/coverage/{theme}/map", headers=auth, timeout=60)
    assert r.status_code == 200
    assert [row[0] for row in r.json()["rows"]] == ["铁西街道"]
    page = {"staffing": "staff", "blind-spots": "blind-spots"}.get(theme, theme)
    assert requests.get(f"{live_server}/maps/coverage/{page}", headers=auth,
                        timeout=60).status_code == 200
