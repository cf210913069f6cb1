"""The coverage pages in headless Chromium against the demo (with its synthetic coverage set):
offline, legends and per-township tables present, and the figures shown equal the API's."""
from __future__ import annotations

import pytest

from tests.helpers.browser import Visit

TOWNSHIPS = 18


def _api(page, path):
    r = page.request.get(path)
    assert r.status == 200
    return r


def _table_rows(page):
    return page.locator("#gg-unit-table tbody tr").count()


def test_staffing_page_shows_gaps_that_match_the_api(browser, live_server, demo_admin):  # noqa: F811
    with Visit(browser, f"{live_server}/maps/coverage/staff", demo_admin) as v:
        v.check_clean()
        page = v.page
        rows = _api(page, f"{live_server}/api/v1/coverage/staffing?level=grid").json()["rows"]
        assert int(page.inner_text("#stat-grids")) == len(rows)
        assert int(page.inner_text("#stat-no-head")) == sum(r["no_head"] for r in rows) > 0
        assert int(page.inner_text("#stat-no-worker")) == sum(r["no_worker"] for r in rows) > 0
        assert int(page.inner_text("#stat-over-target")) == sum(r["over_target"] for r in rows)
        assert page.locator(".leaflet-overlay-pane path").count() >= len(rows)
        legend = page.inner_text("#gg-legend")
        assert "无网格长 No grid head" in legend and "无网格员 No grid worker" in legend
        assert _table_rows(page) == TOWNSHIPS
        assert "铁西街道" in page.inner_text("#gg-unit-table")
        notes = " ".join(page.locator(".gg-method").all_inner_texts())
        assert "Synthetic demo data" in notes and "staff" in notes and "roads" in notes
        with page.expect_navigation(wait_until="networkidle"):
            page.select_option("select[name=level]", "village")
        assert _table_rows(page) > 100  # villages and communities
        csv = _api(page, live_server + page.get_attribute("#gg-table-csv", "href"))
        assert csv.body().startswith("\ufeff".encode()) and b"households_per_worker" in csv.body()


def test_camera_page_shows_coverage_and_streets(browser, live_server, demo_admin):  # noqa: F811
    with Visit(browser, f"{live_server}/maps/coverage/cameras", demo_admin) as v:
        v.check_clean()
        page = v.page
        layers = page.inner_text(".leaflet-control-layers")
        for name in ("摄像头视域 Camera fields of view", "已覆盖街道 Covered streets",
                     "未覆盖街道 Uncovered streets"):
            assert name in layers
        share = page.inner_text("#stat-road-share")
        assert share.endswith("%") and 0 < float(share[:-1]) < 100
        cams = _api(page, f"{live_server}/api/v1/cameras").json()["features"]
        assert int(page.inner_text("#stat-cameras")) == len(cams) > 100
        assert _table_rows(page) == TOWNSHIPS
        assert "道路覆盖 Streets covered" in page.inner_text("#gg-unit-table thead")


def test_response_page_says_which_method_and_draws_circles(browser, live_server, demo_admin):  # noqa: F811
    with Visit(browser, f"{live_server}/maps/coverage/response", demo_admin) as v:
        v.check_clean()
        page = v.page
        posts = _api(page, f"{live_server}/api/v1/posts").json()["features"]
        assert int(page.inner_text("#stat-posts")) == len(posts) > 0
        method = " ".join(page.locator(".gg-method").all_inner_texts())
        assert "along the road network" in method and "pgRouting" in method
        assert "speed buffers" in method  # the town posts beyond the demo's street network
        layers = page.inner_text(".leaflet-control-layers")
        for m in (1, 3, 5):
            assert f"{m}分钟响应圈 {m}-minute circle" in layers
        shares = [float(page.inner_text(f"#stat-households-{m}")[:-1]) for m in (1, 3, 5)]
        assert 0 < shares[0] <= shares[1] <= shares[2] <= 100
        assert "5分钟圈外" in page.inner_text("#gg-legend")
        assert _table_rows(page) == TOWNSHIPS


def test_blind_spot_page_has_every_layer_and_counts(browser, live_server, demo_admin):  # noqa: F811
    with Visit(browser, f"{live_server}/maps/coverage/blind-spots", demo_admin) as v:
        v.check_clean()
        page = v.page
        layers = page.inner_text(".leaflet-control-layers")
        for name in ("未划入网格的土地 Land in no grid", "网格外事件 Incidents outside every grid",
                     "无人员的网格 Grids without staff", "无视频覆盖的网格 Grids without cameras",
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


@pytest.mark.parametrize("path", ["staff", "cameras", "response", "blind-spots"])
def test_a_township_official_sees_only_their_township(live_server, demo_db, path):
    import uuid

    import requests

    from tests.helpers import make_account
    user = make_account(demo_db, f"cov-{uuid.uuid4().hex[:6]}", "official", ["231281001000"])
    r = requests.get(f"{live_server}/maps/coverage/{path}",
                     headers={"Authorization": f"Bearer {user['token']}"}, timeout=60)
    assert r.status_code == 200
    table = r.text.split('id="gg-unit-table"')[1].split("</table>")[0]
    body = table.split("<tbody>")[1]
    assert body.count("<tr>") == 1 and "铁西街道" in body  # Tiexi only
