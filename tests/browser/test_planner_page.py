"""The planners' map page (/maps/plans, /maps/plans/<id>; web/planner_maps.py and
web/static/planner.js): access and offline rendering through the Flask test client, and a
planner's whole session in real headless Chromium against a server with a database of its own:
open a draft, draw a line across a grid and split it, undo, merge two grids, a stale edit (409)
that reloads the draft, compare, publish. Every request that leaves 127.0.0.1 is blocked and the
console must stay clean.

Factory set (tests/factory.py): community 231281102001 = 125.2..125.4 E x 46.0..46.2 N with grids
...001 (south half, 300 households) and ...002 (north half, 310).
"""
from __future__ import annotations

import re
import threading
import time
import uuid

import pytest
from sqlalchemy import text

from gis.boundaries.importing import import_boundaries
from gis.incidents.importing import import_incidents
from gis.store import db, scratch
from tests.helpers import client_for, free_port, make_account
from tests.helpers.browser import Visit

V = "231281102001"
SOUTH, NORTH = V + "001", V + "002"
V_OTHER = "231281102002"
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""")


@pytest.fixture(scope="module")
def world(admin_engine, template_db, factory_gpkg, tmp_path_factory):
    """A database of its own (the test publishes) with incidents in the community, accounts,
    and the app served by waitress on a loopback port."""
    from waitress.server import create_server

    from web import create_app
    name = f"gridgis_test_planner_{uuid.uuid4().hex[:6]}"
    url = scratch.create_database(admin_engine, name, template=template_db)
    eng = db.engine(url)
    import_boundaries(eng, factory_gpkg, commit=True, name="factory")
    rows = [f"p-{i}-{j},dispute_land,2026-03-01 10:00,{125.21 + 0.02 * i:.2f},"
            f"{46.01 + 0.02 * j:.2f}" for i in range(10) for j in range(10)]
    csv = tmp_path_factory.mktemp("planner") / "incidents.csv"
    csv.write_text("external_id,category,occurred_at,lon,lat\n" + "\n".join(rows) + "\n")
    import_incidents(eng, csv, source="planner-page")
    accounts = {
        "planner": make_account(url, "planner-page", "planner", [V]),
        "planner-other": make_account(url, "planner-other", "planner", [V_OTHER]),
        "official": make_account(url, "official-page", "official", [V]),
        "admin": make_account(url, "admin-page", "admin"),
    }
    app = create_app({"DATABASE_URL": url, "RATELIMIT_ENABLED": False})
    server = create_server(app, host="127.0.0.1", port=free_port(), threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield {"url": url, "accounts": accounts, "base": f"http://127.0.0.1:{server.effective_port}"}
    server.close()
    eng.dispose()
    scratch.drop_database(admin_engine, name)


def client(world, who=None):
    token = world["accounts"][who]["token"] if who else None
    return client_for(world["url"], token, RATELIMIT_ENABLED=False)


def new_draft(world, who="planner", unit=V) -> int:
    res = client(world, who).post("/api/v1/plans", json={"name": "页面草案 page draft",
                                                         "unit_code": unit})
    assert res.status_code == 201, res.get_json()
    return res.get_json()["draft"]["id"]


# ---- Flask test client: access and offline rendering ----

def test_pages_answer_401_and_403(world):
    plan_id = new_draft(world)
    other_id = new_draft(world, "planner-other", V_OTHER)
    anonymous = client(world)
    for path in ("/maps/plans", f"/maps/plans/{plan_id}"):
        res = anonymous.get(path)
        assert res.status_code == 401 and 'name="password"' in res.get_data(as_text=True)
        res = client(world, "official").get(path)        # no plan.edit
        assert res.status_code == 403, path
        assert "无权访问 Forbidden" in res.get_data(as_text=True)
    # another planner's draft outside the jurisdiction: the same 403 as a draft that is missing
    foreign = client(world, "planner").get(f"/maps/plans/{other_id}")
    missing = client(world, "planner").get("/maps/plans/999999")
    assert foreign.status_code == missing.status_code == 403
    assert V_OTHER not in foreign.get_data(as_text=True)
    def page(res, plan):   # the CSRF token of the sign-out form differs from client to client
        return re.sub(r'name="csrf_token" value="[^"]+"', "", res.get_data(as_text=True)
                      ).replace(f"plan {plan} ", "plan N ")
    assert page(foreign, other_id) == page(missing, 999999)
    # the list shows only drafts in the jurisdiction
    html = client(world, "planner").get("/maps/plans").get_data(as_text=True)
    assert f"/maps/plans/{plan_id}" in html and f"/maps/plans/{other_id}" not in html
    assert client(world, "admin").get(f"/maps/plans/{other_id}").status_code == 200
    assert client(world, "planner").get(f"/maps/plans/{plan_id}?min=600&max=500").status_code \
        == 400


@pytest.mark.parametrize("page", ["list", "map"])
def test_pages_render_offline_in_both_languages(world, page):
    c = client(world, "planner")
    path = "/maps/plans" if page == "list" else f"/maps/plans/{new_draft(world)}"
    res = c.get(path)
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert "/static/planner.js" in assets
    for asset in assets:
        assert c.get(asset).status_code == 200, asset
    assert "网格规划 Plans" in html                      # the nav link of plan.edit accounts
    if page == "list":
        assert "新建草案 Open a new draft" in html and 'id="gg-new-plan"' in html
    else:
        assert "leaflet-draw/dist/leaflet.draw.js" in html
        for label in ("按绘制线分割 Split by drawn line", "合并 Merge", "撤销 Undo", "重做 Redo",
                      "方案建议 Propose", "对比现行 Compare", "发布 Publish", "图例 Legend",
                      "在目标范围内 within the range", SOUTH, NORTH):
            assert label in html, label
    official = client(world, "official").get("/").get_data(as_text=True)
    assert "网格规划 Plans" not in official


# ---- real Chromium: a planner's session ----

def container_point(page, lon, lat) -> tuple[float, float]:
    """Page pixel of a lon/lat on the Leaflet map."""
    return tuple(page.evaluate("""([lon, lat]) => {
        const map = window.ggPlanner.map;
        const p = map.latLngToContainerPoint([lat, lon]);
        const box = map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y]; }""", [lon, lat]))


def click_at(page, lon, lat, shift=False):
    x, y = container_point(page, lon, lat)
    if shift:
        page.keyboard.down("Shift")
    page.mouse.click(x, y)
    if shift:
        page.keyboard.up("Shift")


def fit(page, west, south, east, north):
    page.evaluate("""([w, s, e, n]) => window.ggPlanner.map.fitBounds([[s, w], [n, e]],
                                                                     {animate: false})""",
                  [west, south, east, north])


def metrics(page) -> dict:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        '#gg-metrics td[data-metric]')].map(td => [td.dataset.metric, td.textContent]))""")


def wait_count(page, n):
    page.wait_for_function(f"() => document.getElementById('gg-grid-count').textContent == '{n}'"
                           " && !document.body.classList.contains('gg-busy')")
    assert page.locator(".leaflet-gg-grids-pane path").count() == n


def generations(world) -> dict:
    with db.engine(world["url"]).connect() as conn:
        return dict(conn.execute(text("SELECT id, is_active FROM generation")).all())


def test_planner_splits_undoes_merges_compares_and_publishes(browser, world,  # noqa: F811
                                                             tmp_path):
    t0 = time.perf_counter()
    planner = world["accounts"]["planner"]
    before_generations = generations(world)
    with Visit(browser, f"{world['base']}/maps/plans", planner) as v:
        v.check_clean()
        page = v.page
        # open a draft from the form
        page.fill("#gg-new-plan input[name=name]", "浏览器草案 browser draft")
        page.fill("#gg-new-plan input[name=unit_code]", V)
        with page.expect_navigation(wait_until="networkidle"):
            page.click("#gg-new-plan button[type=submit]")
        plan_id = int(re.search(r"/maps/plans/(\d+)$", page.url).group(1))
        page.wait_for_function("() => document.querySelector('#gg-metrics td') !== null")
        wait_count(page, 2)
        v.check_clean()
        start = metrics(page)
        assert start["grids"] == "2" and start["households_min"] == "300"
        assert "图例 Legend" in page.inner_text("#gg-legend")
        assert page.locator(".leaflet-draw-draw-polyline").count() == 1

        # select the south grid, draw a line across it and split it
        fit(page, 125.15, 45.96, 125.45, 46.14)
        click_at(page, 125.25, 46.05)
        assert page.inner_text("#gg-selection li b") == SOUTH
        page.click(".leaflet-draw-draw-polyline")
        for lon, lat in ((125.3, 45.98), (125.302, 46.12)):
            click_at(page, lon, lat)
            page.wait_for_timeout(150)   # Leaflet.draw ignores a vertex within 50 ms of the last
        page.click(".leaflet-draw-actions a[title='Finish drawing']")
        assert "线 line" in page.inner_text("#gg-drawn")
        page.click("button[data-action=split_by_line]")
        wait_count(page, 3)
        after_split = metrics(page)
        assert after_split["grids"] == "3" and after_split != start
        assert int(after_split["households_min"]) < 300
        assert after_split["households_total"] == start["households_total"] == "610"
        assert V + "003" in page.inner_text("#gg-message")

        # undo
        page.click("button[data-action=undo]")
        wait_count(page, 2)
        assert metrics(page) == start
        assert page.is_enabled("button[data-action=redo]")

        # select both halves (shift-click) and merge them
        fit(page, 125.15, 45.96, 125.45, 46.24)
        click_at(page, 125.3, 46.05)
        click_at(page, 125.3, 46.15, shift=True)
        assert page.locator("#gg-selection li").all_inner_texts()[1].startswith(NORTH)
        page.click("button[data-action=merge]")
        wait_count(page, 1)
        merged = metrics(page)
        assert merged["households_max"] == "610" and merged["households_within_range_share"] \
            == "0 %"
        # the problem list names the grid above the target range, with a link to zoom to it
        page.wait_for_function("() => document.querySelectorAll('#gg-problems li').length > 0")
        problem = page.locator("#gg-problems li", has_text="households_range").first
        assert SOUTH in problem.inner_text()
        page.evaluate("() => window.ggPlanner.map.setView([46.3, 125.1], 10, {animate: false})")
        problem.locator("a.gg-zoom").click()
        page.wait_for_function("""() => { const c = window.ggPlanner.map.getCenter();
            return c.lng > 125.2 && c.lng < 125.4 && c.lat > 46.0 && c.lat < 46.2; }""")

        # someone else saves meanwhile: the page's next edit answers 409, says so and reloads
        res = client(world, "planner").post(f"/api/v1/plans/{plan_id}/edits", json={
            "op": "split_equal", "code": SOUTH, "k": 3, "version": 4})
        assert res.status_code == 200, res.get_json()
        page.click("button[data-action=undo]")
        wait_count(page, 3)
        assert "已重新载入草案 The draft was reloaded" in page.inner_text("#gg-message")
        assert page.inner_text("#gg-version") == "5"
        assert all("409" in e for e in v.errors), v.errors   # the browser logs the 409 answer
        v.errors.clear()

        # compare: metrics side by side and the re-aggregation of past incidents
        page.click("button[data-action=compare]")
        page.wait_for_selector("#gg-compare-metrics")
        rows = page.locator("#gg-compare-metrics tr[data-metric=grids] td").all_inner_texts()
        assert rows == ["2", "3", "1"]
        total = int(page.inner_text("#gg-reaggregation td[data-count=total]"))
        moved = int(page.inner_text("#gg-reaggregation td[data-count=change_grid]"))
        assert total == 100 and 0 < moved < total
        assert page.locator("#gg-compare-grids tr").count() >= 3

        # publish, after confirming
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button[data-action=publish]")
        page.wait_for_selector("#gg-new-generation")
        new_gen = int(page.inner_text("#gg-new-generation b"))
        assert page.inner_text("#gg-active-generation") == str(new_gen)
        assert page.inner_text("#gg-status") == "published"
        assert page.is_disabled("button[data-action=split_equal]")
        v.check_clean()
        page.screenshot(path=str(tmp_path / "planner.png"))
    after = generations(world)
    assert after[new_gen] is True and new_gen not in before_generations
    assert set(before_generations) < set(after)
    assert not any(after[g] for g in before_generations)       # the old one is kept, inactive
    with db.engine(world["url"]).connect() as conn:
        codes = conn.execute(text("SELECT code FROM grid WHERE generation_id = :g AND code "
                                  "LIKE :p ORDER BY code"), {"g": new_gen, "p": V + "%"}).scalars()
        assert list(codes) == [SOUTH, NORTH, V + "003"]
    print(f"\nplanner browser session: {time.perf_counter() - t0:.1f} s")
