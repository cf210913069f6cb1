"""The map pages in real headless Chromium (Debian's), served by the real server, with every
request that leaves 127.0.0.1 blocked: polygons must be drawn and the console must stay clean."""
from __future__ import annotations

import re

from tests.helpers.browser import Visit


def test_coverage_map_draws_grids_and_legend(browser, live_server, demo_admin, tmp_path):
    with Visit(browser, f"{live_server}/maps/coverage", demo_admin) as v:
        v.check_clean()
        page = v.page
        grids = int(page.inner_text("#stat-grids"))
        assert grids > 500
        paths = page.locator(".leaflet-overlay-pane path").count()
        assert paths >= grids
        assert "网格 Grids" in page.inner_text(".leaflet-control-layers")
        assert "每网格户数 Households per grid" in page.inner_text(".legend")
        assert "图例 Legend" in page.inner_text("#gg-legend")
        labels = page.locator(".gg-label").all_inner_texts()
        assert len(labels) >= 10 and any(label.endswith("镇") for label in labels)
        assert int(page.inner_text("#stat-uncovered")) > 0
        page.screenshot(path=str(tmp_path / "coverage.png"))


def test_hotspot_page_draws_density_hot_spots_and_heat(browser, live_server, demo_admin):
    with Visit(browser, f"{live_server}/maps/hotspots", demo_admin) as v:
        v.check_clean()
        page = v.page
        total = int(page.inner_text("#stat-incidents"))
        assert total > 1000
        assert int(page.inner_text("#stat-hot")) > 0
        assert "Getis-Ord" in page.inner_text("#gg-method")
        legend = page.inner_text("#gg-legend")
        assert "Hot spot, 99% confidence" in legend and "incidents per km²" in legend
        assert page.locator(".leaflet-overlay-pane path").count() > 20
        # the quick-view heat layer is off by default; switch it on in the layer control
        page.locator(".leaflet-control-layers label", has_text="Heat map").locator(
            "input").check()
        painted = page.evaluate("""() => {
            const c = document.querySelector('canvas.leaflet-heatmap-layer');
            if (!c) return -1;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
            return n; }""")
        assert painted > 1000
        assert page.locator(".timecontrol-play, .leaflet-control-timecontrol").count() > 0
        v.check_clean()


def test_official_drills_down_and_filters_disputes_of_90_days(browser, live_server, demo_admin):
    with Visit(browser, f"{live_server}/maps/rates", demo_admin) as v:
        v.check_clean()
        page = v.page
        assert "乡镇/街道 Township" in page.inner_text(".gg-panel")
        towns = int(page.inner_text("#stat-units"))
        assert towns >= 10
        with page.expect_navigation(wait_until="networkidle"):
            page.locator("a.gg-drill").first.click()
        assert "level=village" in page.url and 0 < int(page.inner_text("#stat-units")) < towns
        unit = re.search(r"unit=(\d+)", page.url).group(1)
        v.check_clean()
        page.goto(f"{live_server}/maps/hotspots?unit={unit}", wait_until="networkidle")
        page.select_option("form.gg-filters select[name=category]", "dispute")
        page.select_option("form.gg-filters select[name=days]", "90")
        with page.expect_navigation(wait_until="networkidle"):
            page.click("form.gg-filters button[type=submit]")
        assert "category=dispute" in page.url and "days=90" in page.url
        shown = int(page.inner_text("#stat-incidents"))
        assert shown > 0
        # either hot spots with their confidence, or the too-little-data notice
        panel = page.inner_text(".gg-panel")
        assert ("confidence" in panel) or ("fewer than 30" in panel.lower()
                                           or "30" in page.inner_text("#gg-insufficient"))
        v.check_clean()


def test_home_page(browser, live_server, demo_admin):
    with Visit(browser, f"{live_server}/", demo_admin) as v:
        v.check_clean()
        text = v.page.inner_text("main")
        assert "网格 Grids" in text and "Anda demo" in text
