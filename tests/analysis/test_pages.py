"""The officials' analyses (the JSON the hot-spot and rates pages draw) on the demo data: Gi*
against esda called directly (analytic, and the background permutation refinement), counts per
unit against an independent count, drill-down, the too-little-data message."""
from __future__ import annotations

import re
import time

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
from sqlalchemy import text

from gis.store import boundaries as bstore

def rates_rows(client, query):
    """The rows of a rates answer by unit code, and the answer."""
    res = client.get(f"/api/v1/analysis/rates?{query}")
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    body = res.get_json()
    assert body["rows_total"] == len(body["rows"])  # the demo's units all fit in the table
    return {r["code"]: r for r in body["rows"]}, body


def _grid_counts(demo_engine):
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
    return grids, w, tested


def test_gi_star_answer_matches_esda_analytic_on_the_same_counts(demo_client, demo_engine):
    body = demo_client.get("/api/v1/analysis/hotspots").get_json()
    assert body["method"]["inference"] == "analytic" and "Getis-Ord" in \
        body["method"]["description_en"]
    grids, w, tested = _grid_counts(demo_engine)
    g = esda.G_Local(grids["n"].to_numpy(dtype=float), w, star=True, permutations=0,
                     transform="B")
    p = 2 * g.p_norm
    hot90 = (p <= esda.fdr(p[tested], 0.10)) & (g.Zs > 0) & tested
    assert body["hot"] == int(hot90.sum()) > 0
    z_by_code = dict(zip(grids["code"], g.Zs))
    assert body["hot_rows"], "no hot spot grid listed"
    for row in body["hot_rows"]:
        assert abs(z_by_code[row["code"]] - row["z"]) < 0.006, row["code"]
        assert hot90[grids.index[grids["code"] == row["code"]][0]]


def test_permutation_refinement_runs_in_the_background_and_matches_esda(demo_client,
                                                                         demo_engine):
    res = demo_client.get("/api/v1/analysis/hotspots?inference=permutation&days=3660")
    if res.status_code == 202:
        assert res.get_json()["result"] is None
        assert res.get_json()["state"] in ("queued", "running", "done")
        deadline = time.monotonic() + 120
        while res.status_code == 202 and time.monotonic() < deadline:
            time.sleep(0.5)
            res = demo_client.get("/api/v1/analysis/hotspots?inference=permutation&days=3660")
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    body = res.get_json()
    assert body["method"]["inference"] == "permutation" and body["method"]["permutations"] == 9999
    grids, w, tested = _grid_counts(demo_engine)
    g = esda.G_Local(grids["n"].to_numpy(dtype=float), w, star=True, permutations=9999,
                     seed=12345, transform="B")
    p = np.minimum(1.0, 2 * g.p_sim)
    hot90 = (p <= esda.fdr(p[tested], 0.10)) & (g.Zs > 0) & tested
    assert body["hot"] == int(hot90.sum())
    # the analytic answer of the same view now says its refinement is there
    analytic = demo_client.get("/api/v1/analysis/hotspots?days=3660").get_json()
    assert analytic["refinement"]["state"] == "done"


def test_counts_per_township_match_an_independent_count(demo_client, demo_engine):
    rows, body = rates_rows(demo_client, "level=township&measure=count")
    assert body["caption"] == "事件数 Incidents"
    with demo_engine.connect() as conn:
        expected = dict(conn.execute(text(
            "SELECT t.code, count(*) FROM incident i JOIN admin_area t ON t.id = i.township_id "
            "GROUP BY t.code")).all())
    assert {c: r["incidents"] for c, r in rows.items() if r["incidents"]} == expected
    assert body["incidents"] == sum(expected.values())


def test_drill_down_from_township_to_villages_to_grids(demo_client):
    towns, body = rates_rows(demo_client, "level=township&category=dispute")
    assert body["child"] == "village" and body["up"] is None
    code, town = max(towns.items(), key=lambda kv: kv[1]["incidents"])
    villages, body = rates_rows(demo_client, f"level=village&unit={code}&category=dispute")
    assert villages and all(v.startswith(code[:9]) for v in villages)
    assert sum(v["incidents"] for v in villages.values()) == town["incidents"]
    assert body["up"] == {"level": "township", "unit": None} and body["child"] == "grid"
    vcode, village = max(villages.items(), key=lambda kv: kv[1]["incidents"])
    grids, body = rates_rows(demo_client, f"level=grid&unit={vcode}&category=dispute")
    assert grids and all(g.startswith(vcode[:12]) for g in grids)
    assert sum(g["incidents"] for g in grids.values()) == village["incidents"]
    assert body["child"] is None and body["up"] == {"level": "village", "unit": code}


def test_too_little_data_says_so_instead_of_drawing_noise(demo_client, demo_engine):
    with demo_engine.connect() as conn:
        grid = conn.execute(text(
            "SELECT g.code FROM grid g JOIN incident i ON i.grid_id = g.id GROUP BY g.code "
            "HAVING count(*) BETWEEN 1 AND 29 ORDER BY count(*) DESC LIMIT 1")).scalar_one()
    body = demo_client.get(f"/api/v1/analysis/hotspots?unit={grid}").get_json()
    assert body["method"] is None and body["hot_rows"] == []
    assert "30" in body["message"]["message_en"] and body["message"]["message_zh"]


def test_rates_per_1000_households(demo_client, demo_engine):
    rows, body = rates_rows(demo_client, "level=village")
    assert body["caption"] == "每千户事件数 Incidents per 1,000 households"
    with demo_engine.connect() as conn:
        v = conn.execute(text("""
            SELECT a.code, sum(g.households) AS hh,
                   (SELECT count(*) FROM incident i WHERE i.village_id = a.id) AS n
            FROM admin_area a JOIN grid g ON g.village_id = a.id
            GROUP BY a.id ORDER BY 3 DESC LIMIT 1""")).mappings().one()
    row = rows[v["code"]]
    assert row["incidents"] == v["n"] and row["households"] == v["hh"]
    assert abs(row["rate"] - round(1000 * v["n"] / v["hh"], 2)) < 0.006
    # the table lists the highest rates first
    rates = [r["rate"] for r in body["rows"] if r["rate"] is not None]
    assert rates == sorted(rates, reverse=True)


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
    rows, body = rates_rows(demo_client, "level=township&measure=resolution")
    assert body["caption"] == "化解率 % Resolution rate"
    with demo_engine.connect() as conn:
        t = conn.execute(text("""
            SELECT a.code, count(*) AS n,
                   count(*) FILTER (WHERE i.status IN ('resolved', 'closed')) AS r
            FROM incident i JOIN admin_area a ON a.id = i.township_id
            GROUP BY a.code ORDER BY n DESC LIMIT 1""")).mappings().one()
    assert rows[t["code"]]["incidents"] == t["n"]
    assert abs(rows[t["code"]]["resolution_pct"] - round(100 * t["r"] / t["n"], 1)) < 0.051
    html = demo_client.get("/maps/rates?level=township&measure=resolution").get_data(
        as_text=True)
    link = re.search(r'id="gg-figures-csv" data-base="[^"]+" data-export=\'[^\']+\' '
                     r'data-keep=\'[^\']+\' href="([^"]+)"', html).group(1).replace("&amp;", "&")
    res = demo_client.get(link)
    assert res.status_code == 200 and res.get_data(as_text=True).startswith("\ufeff")
