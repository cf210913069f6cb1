"""Officials' pages on the demo data: Gi* hot spots checked against esda called directly,
counts per unit against an independent count, drill-down, the too-little-data message."""
from __future__ import annotations

import re

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
from sqlalchemy import text

from gis.store import boundaries as bstore

ROW = re.compile(r'<tr><td>(?:<a class="gg-drill" href="([^"]+)">)?([^<]+)(?:</a>)?<br>'
                 r'<small>(\d+)</small></td>\s*<td>(\d+)</td>')


def rates_rows(client, query):
    res = client.get(f"/maps/rates?{query}")
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    html = res.get_data(as_text=True)
    return {code: {"name": name, "incidents": int(n), "link": link.replace("&amp;", "&")}
            for link, name, code, n in ROW.findall(html)}, html


def test_gi_star_page_matches_esda_on_the_same_counts(demo_client, demo_engine):
    html = demo_client.get("/maps/hotspots").get_data(as_text=True)
    assert 'id="gg-method"' in html and "Getis-Ord" in html
    with demo_engine.connect() as conn:
        gen = bstore.require_active_generation(conn)["id"]
        grids = bstore.load_grids(conn, gen).set_index("id")
        counts = pd.Series(dict(conn.execute(text(
            "SELECT grid_id, count(*) FROM incident WHERE grid_id IS NOT NULL "
            "GROUP BY grid_id")).all()))
    grids["n"] = counts.reindex(grids.index).fillna(0).to_numpy()
    grids = gpd.GeoDataFrame(grids.sort_values("code").reset_index(), crs="EPSG:4326")
    w = libpysal.weights.Queen.from_dataframe(grids, use_index=False, silence_warnings=True)
    w.transform = "B"
    tested = np.array([len(w.neighbors[i]) > 0 for i in range(len(grids))])
    g = esda.G_Local(grids["n"].to_numpy(dtype=float), w, star=True, permutations=9999,
                     seed=12345, transform="B")
    p = np.minimum(1.0, 2 * g.p_sim)
    hot90 = (p <= esda.fdr(p[tested], 0.10)) & (g.Zs > 0) & tested
    assert int(re.search(r'id="stat-hot">(\d+)<', html).group(1)) == int(hot90.sum())
    z_by_code = dict(zip(grids["code"], g.Zs))
    table = re.search(r'id="gg-hot-table">(.*?)</table>', html, re.S).group(1)
    listed = re.findall(r"<tr><td>(\d{15,18})<br>.*?<td>(-?\d+\.\d\d)</td>", table, re.S)
    assert listed, "no hot spot grid listed"
    for code, z in listed:
        assert abs(z_by_code[code] - float(z)) < 0.006, code
        assert hot90[grids.index[grids["code"] == code][0]]


def test_counts_per_township_match_an_independent_count(demo_client, demo_engine):
    rows, html = rates_rows(demo_client, "level=township&measure=count")
    assert "图例 Legend: 事件数 Incidents" in html
    with demo_engine.connect() as conn:
        expected = dict(conn.execute(text(
            "SELECT t.code, count(*) FROM incident i JOIN admin_area t ON t.id = i.township_id "
            "GROUP BY t.code")).all())
    assert {c: r["incidents"] for c, r in rows.items() if r["incidents"]} == expected


def test_drill_down_from_township_to_villages_to_grids(demo_client):
    towns, _ = rates_rows(demo_client, "level=township&category=dispute")
    code, town = max(towns.items(), key=lambda kv: kv[1]["incidents"])
    assert "level=village" in town["link"] and f"unit={code}" in town["link"]
    villages, html = rates_rows(demo_client, town["link"].split("?", 1)[1])
    assert villages and all(v.startswith(code[:9]) for v in villages)
    assert sum(v["incidents"] for v in villages.values()) == town["incidents"]
    assert 'id="gg-up"' in html
    vcode, village = max(villages.items(), key=lambda kv: kv[1]["incidents"])
    grids, html = rates_rows(demo_client, village["link"].split("?", 1)[1])
    assert grids and all(g.startswith(vcode) for g in grids)
    assert sum(g["incidents"] for g in grids.values()) == village["incidents"]
    assert "category=dispute" in village["link"]  # filters survive the drill-down


def test_too_little_data_says_so_instead_of_drawing_noise(demo_client, demo_engine):
    with demo_engine.connect() as conn:
        grid = conn.execute(text(
            "SELECT g.code FROM grid g JOIN incident i ON i.grid_id = g.id GROUP BY g.code "
            "HAVING count(*) BETWEEN 1 AND 29 ORDER BY count(*) DESC LIMIT 1")).scalar_one()
    html = demo_client.get(f"/maps/hotspots?unit={grid}").get_data(as_text=True)
    assert 'id="gg-insufficient"' in html and "30" in html
    assert 'id="gg-method"' not in html


def test_rates_per_1000_households(demo_client, demo_engine):
    html = demo_client.get("/maps/rates?level=village").get_data(as_text=True)
    assert "每千户事件数 Incidents per 1,000 households" in html
    with demo_engine.connect() as conn:
        v = conn.execute(text("""
            SELECT a.code, sum(g.households) AS hh,
                   (SELECT count(*) FROM incident i WHERE i.village_id = a.id) AS n
            FROM admin_area a JOIN grid g ON g.village_id = a.id
            GROUP BY a.id ORDER BY 3 DESC LIMIT 1""")).mappings().one()
    row = re.search(rf"<small>{v['code']}</small></td>\s*<td>(\d+)</td><td>(\d+)</td>"
                    rf"<td>([\d.]+)</td>", html)
    assert int(row.group(1)) == v["n"] and int(row.group(2)) == v["hh"]
    assert abs(float(row.group(3)) - round(1000 * v["n"] / v["hh"], 2)) < 0.006


def test_exports_of_a_filtered_view(demo_client, demo_engine):
    import csv
    import io
    import json
    res = demo_client.get("/api/v1/exports/incidents?format=csv&category=dispute&days=3660")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    body = res.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body[1:])))
    with demo_engine.connect() as conn:
        expected = conn.execute(text("SELECT count(*) FROM incident WHERE category LIKE "
                                     "'dispute_%'")).scalar_one()
    assert len(rows) == expected
    assert {r["类别 Category"] for r in rows} <= {
        "dispute_neighbour", "dispute_family", "dispute_land", "dispute_labour",
        "dispute_property"}
    assert any(r["类别名称 Category name"] == "土地纠纷" for r in rows)
    res = demo_client.get("/api/v1/exports/incidents?format=geojson&severity=high")
    fc = json.loads(res.get_data(as_text=True))
    assert fc["features"] and all(f["properties"]["severity"] == "high" for f in fc["features"])
    assert demo_client.get("/api/v1/exports/incidents?format=xlsx").status_code == 400


def test_resolution_measure_and_figures_table(demo_client, demo_engine):
    html = demo_client.get("/maps/rates?level=township&measure=resolution").get_data(
        as_text=True)
    assert "图例 Legend: 化解率 % Resolution rate" in html
    with demo_engine.connect() as conn:
        t = conn.execute(text("""
            SELECT a.code, count(*) AS n,
                   count(*) FILTER (WHERE i.status IN ('resolved', 'closed')) AS r
            FROM incident i JOIN admin_area a ON a.id = i.township_id
            GROUP BY a.code ORDER BY n DESC LIMIT 1""")).mappings().one()
    cells = re.search(rf"<small>{t['code']}</small></td>\s*<td>(\d+)</td><td>\d+</td>"
                      rf"<td>[^<]*</td>\s*<td>([\d.]+)</td>", html)
    assert int(cells.group(1)) == t["n"]
    assert abs(float(cells.group(2)) - round(100 * t["r"] / t["n"], 1)) < 0.051
    link = re.search(r'id="gg-figures-csv" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    res = demo_client.get(link)
    assert res.status_code == 200 and res.get_data(as_text=True).startswith("\ufeff")
