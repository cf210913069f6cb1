"""The map pages in real headless Chromium (Debian's), served by the real server, with every
request that leaves 127.0.0.1 blocked: polygons must be drawn and the console must stay clean."""
from __future__ import annotations

import re

from tests.helpers.browser import Visit, hover_until, painted, wait_loaded


def test_coverage_map_draws_grid_tiles_with_tooltips_and_legend(browser, live_server,
                                                                demo_admin, tmp_path):
    with Visit(browser, f"{live_server}/maps/coverage", demo_admin) as v:
        v.check_clean()
        page = v.page
        assert int(page.inner_text("#stat-grids")) > 500
        # the grids are drawn from vector tiles onto canvases, nothing is inlined
        assert page.locator(".leaflet-tile-container canvas").count() > 0
        assert painted(page) > 5000
        assert "网格 Grids" in page.inner_text(".leaflet-control-layers")
        legend = page.inner_text("#gg-legend")
        assert "每网格户数 Households per grid" in legend and "图例 Legend" in legend
        labels = page.locator(".gg-label").all_inner_texts()
        assert len(labels) >= 10 and any(label.endswith("镇") for label in labels)
        assert int(page.inner_text("#stat-uncovered")) > 0
        tip = hover_until(page, ".gg-tip", "网格编码 Grid code")
        assert re.search(r"网格编码 Grid code 2312\d{14}", tip), tip
        assert "户数 Households" in tip
        page.screenshot(path=str(tmp_path / "coverage.png"))
        v.check_clean()


def test_hotspot_page_draws_density_gi_tiles_heat_and_weeks(browser, live_server, demo_admin):
    with Visit(browser, f"{live_server}/maps/hotspots?days=3660", demo_admin) as v:
        wait_loaded(v.page)
        v.check_clean()
        page = v.page
        assert int(page.inner_text("#stat-incidents").replace(",", "")) > 1000
        assert int(page.inner_text("#stat-hot")) > 0
        method = page.inner_text("#gg-method")
        assert "Getis-Ord" in method and "analytic normal approximation" in method
        assert page.locator("#gg-hot-rows tr").count() > 0
        legend = page.inner_text("#gg-legend") + page.inner_text("#gg-density-legend")
        assert "Hot spot, 99% confidence" in legend and "incidents per km²" in legend
        assert page.locator(".leaflet-overlay-pane path").count() >= 5  # density bands
        assert painted(page) > 0                                          # Gi* grid tiles
        controls = page.inner_text(".leaflet-control-layers")
        assert "Hot and cold spots (Gi*)" in controls and "Kernel density" in controls
        page.locator(".leaflet-control-layers label", has_text="Heat map").locator(
            "input").check()
        all_weeks = painted(page, "canvas.leaflet-heatmap-layer")
        assert all_weeks > 1000
        page.check("#gg-week-on")
        page.fill("#gg-week", "0")
        page.dispatch_event("#gg-week", "input")
        assert "Week of" in page.inner_text("#gg-week-label")
        one_week = painted(page, "canvas.leaflet-heatmap-layer")
        assert 0 <= one_week < all_weeks
        v.check_clean()


def test_official_drills_down_on_the_map_and_filters_without_reloading(browser, live_server,
                                                                       demo_admin):
    with Visit(browser, f"{live_server}/maps/rates", demo_admin) as v:
        loaded = wait_loaded(v.page)
        v.check_clean()
        page = v.page
        assert "乡镇/街道 Township" in page.inner_text(".gg-panel")
        towns = int(page.inner_text("#stat-units"))
        assert towns >= 10 and page.locator("#gg-rates-rows tr").count() == towns
        page.evaluate("window.ggMarker = 1")  # survives only if the page is not reloaded
        tip = hover_until(page, ".gg-tip", "每千户 Per 1,000 hh")
        assert "代码 Code 2312" in tip
        # click where the tooltip showed: a township; the page drills down to its villages
        page.mouse.down()
        page.mouse.up()
        loaded = wait_loaded(page, loaded)
        assert "level=village" in page.url and 0 < int(page.inner_text("#stat-units")) < towns
        assert page.evaluate("window.ggMarker") == 1
        unit = re.search(r"unit=(\d+)", page.url).group(1)
        assert page.locator("#gg-up").count() == 1
        # the table's drill-down link goes one level further
        page.locator("a.gg-drill").first.click()
        loaded = wait_loaded(page, loaded)
        assert "level=grid" in page.url
        page.go_back()
        loaded = wait_loaded(page, loaded)
        assert f"unit={unit}" in page.url and "level=village" in page.url
        v.check_clean()
    with Visit(browser, f"{live_server}/maps/hotspots?unit={unit}", demo_admin) as v:
        page = v.page
        loaded = wait_loaded(page)
        page.evaluate("window.ggMarker = 2")
        page.select_option("form.gg-filters select[name=category]", "dispute")
        page.select_option("form.gg-filters select[name=days]", "90")
        page.click("form.gg-filters button[type=submit]")
        wait_loaded(page, loaded)
        assert "category=dispute" in page.url and "days=90" in page.url
        assert page.evaluate("window.ggMarker") == 2
        shown = int(page.inner_text("#stat-incidents").replace(",", ""))
        assert shown > 0
        # either hot spots with their confidence, or the too-little-data notice
        panel = page.inner_text(".gg-panel")
        assert ("confidence" in panel) or ("30" in page.inner_text("#gg-insufficient"))
        v.check_clean()


def test_home_page(browser, live_server, demo_admin):
    with Visit(browser, f"{live_server}/", demo_admin) as v:
        v.check_clean()
        text = v.page.inner_text("main")
        assert "网格 Grids" in text and "Anda demo" in text
