"""Map pages through the Flask test client: offline assets, legends, labels, filters."""
from __future__ import annotations

import json
import re

import pytest

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""")


@pytest.mark.parametrize("path", ["/maps/coverage", "/maps/hotspots", "/maps/rates", "/"])
def test_pages_render_without_external_assets(factory_client, path):
    res = factory_client.get(path)
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert factory_client.get(asset).status_code == 200, asset


def test_coverage_page_has_layers_legend_and_both_languages(factory_client):
    html = factory_client.get("/maps/coverage").get_data(as_text=True)
    for text in ("覆盖地图 Coverage map", "网格 Grids", "乡镇/街道 Townships", "屯 Hamlets",
                 "每网格户数 Households per grid", "图例 Legend",
                 "未覆盖事件 Uncovered incidents", "/tiles/grids/{z}/{x}/{y}.mvt"):
        assert text in html or json.dumps(text)[1:-1] in html, text
    # the grids come as tiles: no grid is inlined
    assert "231281101001001001" not in html and '"FeatureCollection"' not in html


def test_hotspot_filters_in_url(factory_client):
    def count(query):
        res = factory_client.get(f"/api/v1/analysis/hotspots?{query}")
        assert res.status_code == 200, res.get_data(as_text=True)[:300]
        return res.get_json()["incidents"]
    queries = ["category=dispute_land", "", "category=petition",
               "category=dispute_land&start=2026-02-01&end=2026-02-28",
               "start=2026-02-15&end=2026-02-15", "category=dispute", "severity=high",
               "unit=231281101001001001&category=dispute_land"]
    before = {q: count(q) for q in queries}
    for i, cat in enumerate(["dispute_land", "dispute_land", "petition"]):
        res = factory_client.post("/api/v1/incidents", json={
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [125.02 + i / 100, 46.02]},
            "properties": {"external_id": f"HM-{i}", "source": "maps-test", "category": cat,
                           "severity": "high" if i == 2 else "low",
                           "occurred_at": f"2026-0{i + 1}-15T12:00:00+08:00"}})
        assert res.status_code == 201
    added = {q: count(q) - before[q] for q in queries}
    assert added == {"category=dispute_land": 2, "": 3, "category=petition": 1,
                     "category=dispute_land&start=2026-02-01&end=2026-02-28": 1,
                     "start=2026-02-15&end=2026-02-15": 1, "category=dispute": 2,
                     "severity=high": 1, "unit=231281101001001001&category=dispute_land": 2}
    for query, field in (("category=ufo", "category"), ("start=2026-13-01", "start"),
                         ("days=0", "days"), ("unit=12", "unit"), ("bandwidth=5", "bandwidth"),
                         ("start=2026-03-01&end=2026-02-01", "start"),
                         ("unit=999999999999", "unit")):
        for path in ("/maps/hotspots", "/api/v1/analysis/hotspots"):
            res = factory_client.get(f"{path}?{query}")
            assert res.status_code == 400, (path, query)
