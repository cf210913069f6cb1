"""The case pages on a 390x844 phone and at 1440x900 in real headless Chromium: each page
draws (its table or form, its map where it has one), nothing is cut off sideways, the console
stays clean and no request leaves the machine."""
from __future__ import annotations

import pytest

from tests.helpers.browser import Visit

PAGES = [("/incidents", "#gg-case-rows tr", "#gg-case-map"),
         ("/tasks", "#gg-task-rows tr", None),
         ("/supervision", "#gg-sup-units tr", None),
         ("/report", "#gg-report-form select[name=category] option", "#gg-report-map"),
         ("/admin/accounts", "#gg-account-rows tr", None),
         ("/admin/audit", "#gg-audit-rows tr", None)]
WIDE_JS = """w => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > w + 1)
    .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' +
                     Math.round(e.getBoundingClientRect().right))"""
VIEWPORTS = {"phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True,
                       "has_touch": True},
             "desktop": {"viewport": {"width": 1440, "height": 900}}}


@pytest.fixture(scope="module")
def incident_id(demo_db):
    from sqlalchemy import text

    from gis.store import db
    with db.engine(demo_db).connect() as conn:
        return conn.execute(text("SELECT min(id) FROM incident")).scalar()


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_case_pages_fit_the_screen(browser, live_server, demo_admin, incident_id, size):
    pages = [*PAGES, (f"/incidents/{incident_id}", "#gg-timeline li", "#gg-incident-map")]
    v = None
    try:
        for path, drawn, map_box in pages:
            if v is None:
                v = Visit(browser, live_server + path, demo_admin, **VIEWPORTS[size])
            else:
                v.response = v.page.goto(live_server + path, wait_until="networkidle")
            page = v.page
            page.wait_for_selector(drawn, state="attached")
            page.wait_for_load_state("networkidle")
            width = VIEWPORTS[size]["viewport"]["width"]
            wide = page.evaluate(WIDE_JS, width)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (path, wide)
            signout = page.locator(".gg-signout button").bounding_box()
            assert signout and signout["x"] + signout["width"] <= width, path
            if map_box:
                box = page.locator(map_box).bounding_box()
                assert box["width"] > 300 and box["height"] > 200, (path, box)
                assert page.locator(f"{map_box} .leaflet-pane").count() > 0, path
            v.check_clean()
    finally:
        if v is not None:
            v.context.close()
