"""The scale benchmark's table code (scripts/bench_common.py, scripts/bench_scale.py): targets
judged with their margin, the tile sequence, the tables and the scaling rule, and the page and
tile measures run against the live demo server. No timing is asserted."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import bench_common as bc
import bench_scale as bs


def test_targets_are_judged_with_their_margin():
    assert bc.judge(0.12, bs.PAGE_TARGET) == (True, "pass (0.4× limit)")
    assert bc.judge(6.0, bs.PAGE_TARGET) == (False, "**MISS** (20× limit)")
    assert bc.judge(250_000, bs.IMPORT_TARGET) == (True, "pass (2.5× minimum)")
    assert bc.judge(8_800, bs.IMPORT_TARGET) == (False, "**MISS** (0.088× minimum)")
    assert bc.judge(0, bc.Target("==", 0, str)) == (True, "pass")
    assert bc.judge(3, bc.Target("==", 0, str)) == (False, "**MISS** (off by 3)")
    assert bc.judge(math.nan, bs.PAGE_TARGET) == (False, "**MISS** (no value)")
    assert bc.judge(1.0, None) == (None, "-")
    assert bc.all_met((True, ""), (None, "-")) is True
    assert bc.all_met((True, ""), (False, "")) is False
    assert bc.all_met((None, "-")) is None
    assert str(bs.PAGE_TARGET) == "< 300 ms" and str(bs.BYTES_TARGET) == "< 200 KB"


def test_units_and_percentiles():
    assert [bc.fmt_s(v) for v in (0.0042, 0.123, 6.021, 100)] == \
        ["4.2 ms", "123 ms", "6.02 s", "1 min 40 s"]
    assert [bc.fmt_bytes(v) for v in (512, 18_600, 10_000_000)] == ["512 B", "18.6 KB", "10.0 MB"]
    assert [bc.fmt_count(v) for v in (500, 1000, 1500, 100_000, 1_000_000)] == \
        ["500", "1k", "1.5k", "100k", "1M"]
    assert bc.percentile([1, 2, 3, 4], 50) == 2.5
    assert bc.percentile(range(1, 101), 99) == pytest.approx(99.01)
    assert math.isnan(bc.percentile([], 50))


def test_a_viewport_shows_the_tiles_around_its_centre():
    tiles = bs.view_tiles(126.0, 46.0, 12)
    # 1400 x 900 px: 6-7 tiles across, 4-5 down
    xs, ys = {t[1] for t in tiles}, {t[2] for t in tiles}
    assert 6 <= len(xs) <= 7 and 4 <= len(ys) <= 5 and len(tiles) == len(xs) * len(ys)
    assert max(xs) - min(xs) == len(xs) - 1 and max(ys) - min(ys) == len(ys) - 1
    px, py = bs.lonlat_to_pixel(126.0, 46.0, 12)
    assert tiles[0][1:] == (int(px // 256), int(py // 256))  # the centre first
    assert all(t[0] == 12 for t in tiles)
    assert bs.view_tiles(0.0, 0.0, 0) == [(0, 0, 0)]


def test_the_pan_zoom_sequence_is_deterministic_and_respects_the_grid_zoom():
    places = np.array([[126.0, 46.0], [126.2, 46.1], [125.8, 45.9]])
    a = bs.pan_zoom_sequence(places, range(8, 17), 2, seed=5)
    assert a == bs.pan_zoom_sequence(places, range(8, 17), 2, seed=5)
    assert [z for z, _, _ in a] == [z for z in range(8, 17) for _ in range(2)]
    assert a != bs.pan_zoom_sequence(places, range(8, 17), 2, seed=6)
    reqs = bs.tile_requests(a, ("grids", "villages"), {"grids": 12})
    assert len(reqs) == len(set(reqs))
    assert min(z for layer, z, _, _ in reqs if layer == "grids") == 12
    assert min(z for layer, z, _, _ in reqs if layer == "villages") == 8


def test_tables_carry_the_size_in_every_row_and_count_misses():
    t = bc.Table("Pages", ["page", "size", "value", "result"])
    t.add("/", "1k grids · 100k inc", "97 ms", "pass (0.32× limit)", ok=True)
    t.add("/maps/coverage", "1k grids · 100k inc", "6.00 s", "**MISS** (20× limit)", ok=False)
    md = t.markdown()
    assert md.startswith("## Pages")
    rows = [line for line in md.splitlines() if line.startswith("| /")]
    assert len(rows) == 2 and all("1k grids · 100k inc" in r for r in rows)
    assert t.missed() == 1


def test_the_scaling_table_holds_100k_to_twice_the_10k_time():
    m = bs.Metrics()
    for size, page, tile, rate in ((1_000, 0.05, 0.005, 9_000), (10_000, 0.1, 0.006, 8_800),
                                   (100_000, 0.5, 0.010, 8_500)):
        m.put("page /maps/coverage", size, page)
        m.put("tile grids p50", size, tile)
        m.put("import incidents", size, rate, "rate")
    t = bs.scaling_table(m)
    by = {row[0]: (row, ok) for row, ok in zip(t.rows, t.results)}
    page, ok = by["page /maps/coverage"]
    assert page[1:4] == ["50 ms", "100 ms", "500 ms"] and page[4] == "5.00×" and ok is False
    tile, ok = by["tile grids p50"]
    assert tile[4] == "1.67×" and ok is True and tile[5].startswith("pass")
    imp, ok = by["import incidents"]
    assert imp[1] == "9,000 /s" and ok is None and imp[5] == "-"
    only_1k = bs.Metrics()
    only_1k.put("page /", 1_000, 0.1)
    assert bs.scaling_table(only_1k).columns == ["measure", "1k grids"]


def test_drawn_is_read_from_the_page_flag_or_the_paint(monkeypatch):
    base = {"map": 1, "paths": 10, "canvases": 0, "load": 300.0, "lastRes": 900.0,
            "lastPaint": 950.0, "flag": None}
    assert bs.drawn_ms(base) == (950.0, "network idle + painted")
    assert bs.drawn_ms({**base, "flag": 420.0}) == (420.0, "window.gridgisDrawn")
    assert bs.drawn_ms({**base, "paths": 0})[0] is None
    assert bs.drawn_ms({**base, "map": 0}) == (300.0, "no map: load event")


def test_the_server_log_is_summarised_from_an_offset(tmp_path, monkeypatch):
    monkeypatch.setattr(bs, "ROOT", tmp_path)
    log = tmp_path / "server.log"
    log.write_text("Task queue depth is 30\n")
    start = log.stat().st_size
    with log.open("a") as f:
        f.write("Task queue depth is 3\nTask queue depth is 12\nTraceback (most recent call "
                "last):\n")
    assert bs.server_log_summary(log, start) == \
        "waitress task queue up to 12 deep; 1 tracebacks in server.log"
    assert bs.server_log_summary(tmp_path / "none.log") == ""


def test_pages_and_tiles_measured_on_the_demo_server(live_server, demo_db):
    from tests.helpers import make_account
    s = bs.CitySet(0, 0, "Anda test", None, None, "-", demo_db, keep=True, load={})
    bs._describe(s)
    official = make_account(demo_db, "bench-test-official", "official", [s.city_code])
    pages = bc.Table("Pages", bs.PAGE_COLUMNS)
    metrics = bs.Metrics()
    done = bs.measure_pages(live_server, {"official": official["token"]}, s, pages, metrics, 1,
                            bs.DEMO_PAGE_TARGET, bs.BYTES_TARGET,
                            pages=[("/", "official"), ("/maps/rates?level=village", "official")])
    assert set(done) == {"/", "/maps/rates?level=village"}
    assert [r[0] for r in pages.rows] == ["/", "/maps/rates?level=village"]
    for row in pages.rows:
        assert row[1] == "Anda test"
        assert row[4].startswith("< 1.00 s: ") and row[6].startswith("< 200 KB: ")
    tiles = bc.Table("Tiles", bs.TILE_COLUMNS)
    places = bs.incident_places(s, n=50)
    reqs = bs.tile_requests(bs.pan_zoom_sequence(places, range(12, 14), 1), ("grids", "villages"),
                            {})
    bs.measure_tiles(live_server, official["token"], s, reqs, tiles, metrics)
    assert [r[0] for r in tiles.rows] == ["grids", "villages", "all layers"]
    assert all(r[1] == "Anda test" and r[2] == "12-13" for r in tiles.rows)
    assert "error" not in tiles.rows[-1][-1] and "failed" not in tiles.rows[-1][-1]
    assert "tile grids p50" in metrics.values and "page /" in metrics.values
