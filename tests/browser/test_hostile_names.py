"""Script injection through names (issue 12): every text that reaches a map page (unit and grid
names, incident ids, camera ids and names, post names, plan and generation names) holds a
hostile payload. Every map page is loaded and every drawn feature hovered and clicked in real
Chromium: no dialog may open, no script error may happen, the map must draw, and the tooltips
must show the payloads as literal text. The pages also carry the CSP and its friends."""
from __future__ import annotations

import json
import threading
import uuid

import pandas as pd
import pytest
from shapely.geometry import LineString, mapping

from gis.access.roles import SYSTEM
from gis.boundaries.importing import import_boundaries
from gis.coverage import imports as coverage_imports
from gis.incidents.importing import import_incidents
from gis.planning import drafts
from gis.store import db, scratch
from tests.helpers import factory, free_port, make_account
from tests.helpers.browser import Visit, painted, sweep_tooltips, wait_loaded

PAYLOADS = [
    "x</script><script>alert('script')</script>",
    "<img src=x onerror=alert('img')>",
    "${alert('interpolation')}",
    "`",
    "\\`);alert('escaped backtick');//",
    "'\"><svg onload=alert('svg')>",
    "名\u2028称",
]
PAGES = ["/", "/maps/coverage", "/maps/coverage/staff", "/maps/coverage/cameras",
         "/maps/coverage/response", "/maps/coverage/blind-spots", "/maps/hotspots?days=3660",
         "/maps/rates?level=township", "/maps/rates?level=village", "/maps/rates?level=grid",
         "/maps/plans"]


def hostile(i: int) -> str:
    return f"{PAYLOADS[i % len(PAYLOADS)]} #{i}"


@pytest.fixture(scope="module")
def hostile_server(admin_engine, template_db, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    layers = factory.layers()
    n = 0
    for frame in layers.values():
        for i in frame.index:
            frame.loc[i, "name"] = hostile(n)
            n += 1
    gpkg = factory.write(layers, tmp / "hostile.gpkg")
    name = f"gridgis_test_hostile_{uuid.uuid4().hex[:6]}"
    url = scratch.create_database(admin_engine, name, template=template_db)
    eng = db.engine(url)
    import_boundaries(eng, gpkg, commit=True, name=hostile(100))
    grids = layers["grid"]
    rows = []
    for k in range(60):  # enough for Gi* (30 or more), spread over every grid
        g = grids.geometry.iloc[k % len(grids)].centroid
        rows.append({"external_id": hostile(200 + k), "category": "dispute_neighbour",
                     "occurred_at": "2026-06-01T10:00:00+08:00", "lon": g.x + 0.001 * (k % 3),
                     "lat": g.y, "description": hostile(300 + k)})
    rows.append({"external_id": hostile(400), "category": "public_security",
                 "occurred_at": "2026-06-02T10:00:00+08:00", "lon": 125.6, "lat": 46.2,
                 "description": hostile(401)})  # outside the city: uncovered
    pd.DataFrame(rows).to_csv(tmp / "incidents.csv", index=False)
    import_incidents(eng, tmp / "incidents.csv", source="hostile")
    pd.DataFrame([{"external_id": hostile(500 + i), "name": hostile(510 + i),
                   "role": "full_time", "grids": code}
                  for i, code in enumerate(grids["code"][:3])]).to_csv(tmp / "staff.csv",
                                                                      index=False)
    coverage_imports.import_staff(eng, tmp / "staff.csv")
    pd.DataFrame([{"external_id": hostile(600 + i), "name": hostile(610 + i),
                   "lon": 125.05 + 0.1 * i, "lat": 46.05, "range_m": 300}
                  for i in range(3)]).to_csv(tmp / "cameras.csv", index=False)
    coverage_imports.import_cameras(eng, tmp / "cameras.csv")
    road = LineString([(125.02, 46.05), (125.38, 46.05)])
    (tmp / "roads.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": hostile(700), "highway": "primary"},
         "geometry": mapping(road)}]}), encoding="utf-8")
    coverage_imports.import_roads(eng, tmp / "roads.geojson")
    pd.DataFrame([{"external_id": f"P{i}", "name": hostile(800 + i), "kind": "police_post",
                   "lon": 125.1 + 0.2 * i, "lat": 46.05} for i in range(2)]
                 ).to_csv(tmp / "posts.csv", index=False)
    coverage_imports.import_posts(eng, tmp / "posts.csv")
    with eng.begin() as conn:
        plan = drafts.create_draft(conn, SYSTEM, {"name": hostile(900),
                                                  "unit_code": "231281101001"})
    admin = make_account(url, "hostile-admin", "admin")
    from waitress.server import create_server

    from web import create_app
    app = create_app({"DATABASE_URL": url, "SIGN_IN_LIMIT": "1000 per minute"})
    server = create_server(app, host="127.0.0.1",
                           port=free_port(), threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield {"base": f"http://127.0.0.1:{server.effective_port}", "admin": admin,
           "plan": plan.id}
    server.close()
    db.engine(url).dispose()
    scratch.drop_database(admin_engine, name)


HOVER_ALL = """() => {
  const shown = [];
  const open = () => document.querySelectorAll('.leaflet-tooltip, .leaflet-popup-content')
    .forEach((el) => shown.push(el.textContent));
  const drawn = document.querySelectorAll('.leaflet-interactive');
  for (const el of drawn) {
    for (const kind of ['mouseover', 'mousemove', 'click']) {
      el.dispatchEvent(new MouseEvent(kind, {bubbles: true, clientX: 10, clientY: 10}));
    }
    open();
    el.dispatchEvent(new MouseEvent('mouseout', {bubbles: true}));
  }
  return [drawn.length, shown.join(' ') + ' ' + document.body.innerText];
}"""


def _visit_hostile_page(browser, base, path, admin):
    with Visit(browser, f"{base}{path}", admin) as v:
        dialogs = []
        v.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        v.page.reload(wait_until="networkidle")
        v.check_clean()
        headers = v.response.headers
        assert "script-src 'self' 'nonce-" in headers["content-security-policy"]
        assert "'unsafe-inline'" not in headers["content-security-policy"].split(
            "script-src")[1].split(";")[0]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        if v.page.locator("#gg-page").count():  # a report page: wait for its answer
            wait_loaded(v.page)
        drawn, texts = v.page.evaluate(HOVER_ALL)
        # features drawn on tile canvases: hover them for real and read the tooltips
        drawn += painted(v.page)
        texts += " " + " ".join(sweep_tooltips(v.page))
        v.page.wait_for_timeout(100)
        assert dialogs == [], f"{path}: a payload ran: {dialogs}"
        assert v.errors == [], f"{path}: script errors: {v.errors[:3]}"
        return drawn, texts


@pytest.mark.parametrize("path", PAGES)
def test_hostile_names_never_run_on_map_pages(browser, hostile_server, path):
    drawn, texts = _visit_hostile_page(browser, hostile_server["base"], path,
                                       hostile_server["admin"])
    if path.startswith("/maps/") and path != "/maps/plans":
        assert drawn > 0, f"{path}: the map drew nothing"
    # escaped, not stripped: the payloads are shown as they were written
    assert any(p in texts for p in PAYLOADS if len(p) > 3), texts[:300]


def test_hostile_names_never_run_on_the_planner_map(browser, hostile_server):
    drawn, texts = _visit_hostile_page(browser, hostile_server["base"],
                                       f"/maps/plans/{hostile_server['plan']}",
                                       hostile_server["admin"])
    assert drawn > 0
    assert any(p in texts for p in PAYLOADS if len(p) > 3), texts[:300]
