"""Bulk incident import: every row assigned, idempotent, bad rows never half-imported."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from gis.errors import InputError, ValidationFailed
from gis.incidents.importing import import_incidents
from gis.store import boundaries as bstore
from gis.store import db

HEADER = "external_id,category,occurred_at,lon,lat,severity,status\n"


def write_csv(path, rows, encoding="utf-8"):
    path.write_text(HEADER + "".join(",".join(map(str, r)) + "\n" for r in rows),
                    encoding=encoding)
    return path


def rows_at(points, prefix="B"):
    return [(f"{prefix}-{i}", "dispute_land", "2026-04-01T08:00:00+08:00", x, y, "low", "reported")
            for i, (x, y) in enumerate(points)]


@pytest.fixture
def factory_copy(admin_engine, template_db, factory_gpkg, fresh_db):
    from gis.boundaries.importing import import_boundaries
    import_boundaries(db.engine(fresh_db), factory_gpkg, commit=True)
    return fresh_db


def stored(url):
    with db.engine(url).connect() as c:
        return c.execute(text(
            "SELECT i.external_id, g.code, i.township_id IS NOT NULL FROM incident i "
            "LEFT JOIN grid g ON g.id = i.grid_id ORDER BY i.external_id")).all()


def test_import_assigns_every_row_like_postgis(factory_copy, tmp_path):
    rng = np.random.default_rng(7)
    pts = np.column_stack([rng.uniform(124.95, 125.45, 3000), rng.uniform(45.95, 46.45, 3000)])
    # add points exactly on borders and corners, where the smallest-code rule decides
    pts = np.vstack([pts, [[125.1, 46.05], [125.2, 46.3], [125.2, 46.2], [125.0, 46.0]]])
    path = write_csv(tmp_path / "in.csv", rows_at(pts))
    report = import_incidents(db.engine(factory_copy), path, batch_size=700)
    assert report.inserted == len(pts) and report.bad_rows == []
    inside = ((pts[:, 0] >= 125.0) & (pts[:, 0] <= 125.4) & (pts[:, 1] >= 46.0)
              & (pts[:, 1] <= 46.4))
    assert report.uncovered == int((~inside).sum())
    engine = db.engine(factory_copy)
    with engine.connect() as conn:
        gen = bstore.active_generation(conn)["id"]
        by_id = {r[0]: r[1] for r in stored(factory_copy)}
        for i, (x, y) in enumerate(pts):
            want = bstore.locate(conn, float(x), float(y), gen)
            assert by_id[f"B-{i}"] == (want["code"] if want else None), (x, y)


def test_reimport_is_idempotent(factory_copy, tmp_path):
    path = write_csv(tmp_path / "in.csv", rows_at([(125.05, 46.05), (125.3, 46.3)]))
    first = import_incidents(db.engine(factory_copy), path)
    second = import_incidents(db.engine(factory_copy), path)
    assert (first.inserted, second.inserted, second.duplicates) == (2, 0, 2)
    assert len(stored(factory_copy)) == 2


def test_bad_rows_reject_the_whole_file(factory_copy, tmp_path):
    rows = rows_at([(125.05, 46.05), (125.3, 46.3), (125.31, 46.31), (125.32, 46.32)])
    rows[1] = ("B-1", "dispute_land", "not-a-time", 125.3, 46.3, "low", "reported")
    rows[3] = ("B-3", "dispute_land", "2026-04-01T08:00:00", 725.3, 46.3, "low", "reported")
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(ValidationFailed) as err:
        import_incidents(db.engine(factory_copy), path)
    assert [(d["row"], d["external_id"]) for d in err.value.details] == [(3, "B-1"), (5, "B-3")]
    assert "occurred_at" in err.value.details[0]["error"]
    assert stored(factory_copy) == []
    report = import_incidents(db.engine(factory_copy), path, skip_bad=True)
    assert report.inserted == 2 and [d["row"] for d in report.bad_rows] == [3, 5]
    assert [r[0] for r in stored(factory_copy)] == ["B-0", "B-2"]


def test_times_outside_the_years_records_may_hold_are_bad_rows(factory_copy, tmp_path):
    rows = rows_at([(125.05, 46.05), (125.3, 46.3), (125.31, 46.31)])
    rows[0] = ("Y-0", "dispute_land", "1899-12-31T08:00:00", 125.05, 46.05, "low", "reported")
    rows[2] = ("Y-2", "dispute_land", "2250-01-01T08:00:00", 125.31, 46.31, "low", "reported")
    with pytest.raises(ValidationFailed) as err:
        import_incidents(db.engine(factory_copy), write_csv(tmp_path / "y.csv", rows))
    assert [d["row"] for d in err.value.details] == [2, 4]
    assert all("outside 1900-2199" in d["error"] for d in err.value.details)
    assert stored(factory_copy) == []


def test_duplicate_ids_inside_a_file_are_reported(factory_copy, tmp_path):
    rows = rows_at([(125.05, 46.05), (125.3, 46.3)])
    rows.append(rows[0])
    with pytest.raises(ValidationFailed) as err:
        import_incidents(db.engine(factory_copy), write_csv(tmp_path / "d.csv", rows))
    assert err.value.details[0]["row"] == 4 and "repeated" in err.value.details[0]["error"]


def test_gbk_csv_and_geojson_and_bd09(factory_copy, tmp_path):
    from gis.geo.crs import gcj02_to_bd09, wgs84_to_gcj02
    path = tmp_path / "gbk.csv"
    path.write_text("external_id,category,occurred_at,lon,lat,description\n"
                    "G-1,petition,2026-02-01 10:00:00,125.05,46.05,村民反映土地问题\n",
                    encoding="gbk")
    assert import_incidents(db.engine(factory_copy), path).inserted == 1
    bx, by = gcj02_to_bd09(*wgs84_to_gcj02(125.0992, 46.05))
    gj = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [float(bx), float(by)]},
        "properties": {"external_id": "J-1", "category": "public_security",
                       "occurred_at": "2026-02-01T10:00:00+08:00"}}]}
    (tmp_path / "in.geojson").write_text(json.dumps(gj))
    report = import_incidents(db.engine(factory_copy), tmp_path / "in.geojson", crs="BD09")
    assert report.inserted == 1
    got = dict((r[0], r[1]) for r in stored(factory_copy))
    assert got["J-1"] == "231281101001001001" and got["G-1"] == "231281101001001001"
    with db.engine(factory_copy).connect() as c:
        desc = c.execute(text("SELECT description FROM incident WHERE external_id='G-1'"))
        assert desc.scalar() == "村民反映土地问题"


def test_unreadable_files(factory_copy, tmp_path):
    (tmp_path / "x.csv").write_bytes(b"\xff\xfe\x00\x01garbage\x00")
    with pytest.raises(InputError):
        import_incidents(db.engine(factory_copy), tmp_path / "x.csv")
    (tmp_path / "cols.csv").write_text("id,where\n1,here\n")
    with pytest.raises(InputError, match="missing column"):
        import_incidents(db.engine(factory_copy), tmp_path / "cols.csv")
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(InputError, match="unsupported"):
        import_incidents(db.engine(factory_copy), tmp_path / "x.xlsx")


def test_cli_import_shows_progress_and_summary(factory_copy, tmp_path, monkeypatch):
    from web.cli import main
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", factory_copy)
    path = write_csv(tmp_path / "in.csv", rows_at([(125.05, 46.05), (126.5, 46.3)]))
    result = CliRunner().invoke(main, ["incidents", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 imported" in result.output and "1 outside every grid" in result.output
    assert "importing" in result.output  # the progress bar


def test_progress_moves_through_every_phase_and_chunks(factory_copy, tmp_path, monkeypatch):
    import gis.files
    import gis.incidents.parse
    monkeypatch.setattr(gis.files, "READ_CHUNK", 7)          # small chunks: several per phase
    monkeypatch.setattr(gis.incidents.parse, "VALIDATE_CHUNK", 5)
    rows = rows_at([(125.05 + i * 0.01, 46.05) for i in range(20)])
    rows[12] = rows[3]                                       # a repeat in a later chunk
    path = write_csv(tmp_path / "in.csv", rows)
    seen = []
    with pytest.raises(ValidationFailed) as err:
        import_incidents(db.engine(factory_copy), path, progress=lambda *a: seen.append(a))
    assert [(d["row"], d["error"]) for d in err.value.details] == [
        (14, "external_id repeated within the file")]
    assert [n for p, n, _ in seen if p == "reading"] == [0, 7, 7, 6]
    assert [n for p, n, _ in seen if p == "checking"] == [5, 5, 5, 5]
    rows[12] = ("B-12",) + rows[12][1:]
    seen.clear()
    report = import_incidents(db.engine(factory_copy), write_csv(path, rows), batch_size=8,
                              progress=lambda *a: seen.append(a))
    assert report.inserted == 20
    phases = list(dict.fromkeys(p for p, _, _ in seen))
    assert phases == ["reading", "checking", "assigning", "storing"]
    assert [(n, t) for p, n, t in seen if p == "storing"] == [(8, 20), (8, 20), (4, 20)]


def test_bulk_rows_get_the_due_times_of_the_grid_rule(factory_copy, tmp_path):
    import_incidents(db.engine(factory_copy), write_csv(tmp_path / "in.csv",
                                                        rows_at([(125.05, 46.05)])))
    with db.engine(factory_copy).connect() as c:
        got = c.execute(text(
            "SELECT i.accept_due_at - i.reported_at = r.accept_hours * interval '1 hour', "
            "i.resolve_due_at - i.reported_at = r.resolve_hours * interval '1 hour' "
            "FROM incident i JOIN deadline_rule r ON r.level = 'grid'")).one()
    assert tuple(got) == (True, True)


def _raw_insert(conn, **over):
    row = {"source": "t", "external_id": "x", "category": "dispute_land", "severity": "low",
           "status": "reported", "grid_id": None, "hamlet_id": None, "village_id": None,
           "township_id": None, "city_id": None, **over}
    conn.execute(text(
        "INSERT INTO incident (source, external_id, category, severity, status, occurred_at, "
        "reported_at, geom, input_crs, input_x, input_y, generation_id, grid_id, hamlet_id, "
        "village_id, township_id, city_id) VALUES (:source, :external_id, :category, "
        ":severity, :status, now(), now(), ST_SetSRID(ST_MakePoint(125.05, 46.05), 4326), "
        "'EPSG:4326', 125.05, 46.05, :generation_id, :grid_id, :hamlet_id, :village_id, "
        ":township_id, :city_id)"), row)


def test_references_are_checked_per_statement(factory_copy):
    """Migration 0009: the database refuses an incident whose grid, units or generation do not
    exist or do not agree with each other, and a delete of what incidents still name."""
    from psycopg.errors import ForeignKeyViolation
    from sqlalchemy.exc import DBAPIError
    engine = db.engine(factory_copy)
    with engine.connect() as c:
        gen = bstore.active_generation(c)["id"]
        g1, g2 = c.execute(text(
            "SELECT a.id, b.id FROM grid a JOIN grid b ON a.village_id <> b.village_id "
            "AND a.generation_id = b.generation_id WHERE a.generation_id = :g LIMIT 1"),
            {"g": gen}).one()
        grid = dict(c.execute(text("SELECT hamlet_id, village_id, township_id, city_id FROM "
                                   "grid WHERE id = :id"), {"id": g1}).mappings().one())
        township = grid["township_id"]
    good = {"generation_id": gen, "grid_id": g1, **grid}
    bad_cases = {
        "grid of another village": {**good, "grid_id": g2},
        "no such grid": {**good, "grid_id": 10 ** 12},
        "no such generation": {**good, "generation_id": gen + 1000},
        "uncovered, unit at the wrong level": {**good, "grid_id": None, "hamlet_id": None,
                                               "village_id": township},
        "uncovered, no such generation": {"generation_id": gen + 1000},
    }
    for name, row in bad_cases.items():
        with engine.connect() as c, pytest.raises(DBAPIError) as err:
            _raw_insert(c, **row)
        assert isinstance(err.value.orig, ForeignKeyViolation), name
    with engine.begin() as c:
        _raw_insert(c, **good)
        _raw_insert(c, external_id="loose", generation_id=gen, township_id=township)
    for table, ident in (("grid", g1), ("admin_area", township), ("generation", gen)):
        with engine.connect() as c, pytest.raises(DBAPIError) as err:
            c.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": ident})
        assert isinstance(err.value.orig, ForeignKeyViolation), table
    with engine.begin() as c:   # an update that breaks the agreement is refused too
        c.execute(text("SAVEPOINT s"))
        with pytest.raises(DBAPIError):
            c.execute(text("UPDATE incident SET grid_id = :g WHERE external_id = 'x'"),
                      {"g": g2})
        c.execute(text("ROLLBACK TO SAVEPOINT s"))
        assert c.execute(text("SELECT count(*) FROM incident")).scalar_one() == 2
