"""Hostile input files: each is refused with a clear error, or repaired with a report when asked,
and a refused file never leaves anything in the database."""
from __future__ import annotations

import json
import time
import warnings
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Point, Polygon, box
from sqlalchemy import text

from gis.boundaries.importing import import_boundaries
from gis.boundaries.read import MAX_VERTICES_PER_FEATURE, MAX_VERTICES_PER_FILE, read_boundary_set
from gis.demo.load import DEMO_BOUNDARIES
from gis.errors import InputError, ValidationFailed
from gis.incidents.importing import import_incidents
from gis.store import db
from tests.helpers import factory

EMPTY = (0, 0, 0, 0)
FACTORY = (1, 9, 10, 0)  # generation, areas, grids, incidents once tests/factory.py is loaded
HAMLET_GRIDS = ("231281101001001001", "231281101001001002")  # the two grids of hamlet ...001


def counts(url):
    with db.engine(url).connect() as c:
        return tuple(c.execute(text(
            "SELECT (SELECT count(*) FROM generation), (SELECT count(*) FROM admin_area), "
            "(SELECT count(*) FROM grid), (SELECT count(*) FROM incident)")).one())


def write(frames, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyogrio's notes on CRS-less or mixed layers
        return factory.write(frames, path)


def run_cli(url, monkeypatch, *args):
    from web.cli import main
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", url)
    return CliRunner().invoke(main, [str(a) for a in args])


def utm_area(geom) -> float:
    """Area in m² measured in UTM 51N, independently of gis.boundaries.validate's local scale."""
    return float(gpd.GeoSeries([geom], crs=4326).to_crs(32651).area.iloc[0])


# ---- 1. self-intersecting polygons ----

def bowtie_frames():
    """Hamlet 231281101001001 (125.0-125.1 E, 46.0-46.2 N) split by its diagonals: the first
    grid is a bow-tie whose lobes are the left and right triangles, the second the top and
    bottom triangles. Once the bow-tie is made valid the two tile the hamlet exactly."""
    frames = factory.layers()
    x0, x1, y0, y1, xm, ym = 125.0, 125.1, 46.0, 46.2, 125.05, 46.1
    grids = frames["grid"]
    first = grids.index[grids["code"] == HAMLET_GRIDS[0]][0]
    second = grids.index[grids["code"] == HAMLET_GRIDS[1]][0]
    grids.loc[first, "geometry"] = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    grids.loc[second, "geometry"] = MultiPolygon([
        Polygon([(x0, y0), (x1, y0), (xm, ym)]), Polygon([(x0, y1), (xm, ym), (x1, y1)])])
    return frames


def test_bowtie_is_refused_with_its_code_and_crossing(fresh_db, tmp_path):
    path = write(bowtie_frames(), tmp_path / "bowtie.gpkg")
    with pytest.raises(ValidationFailed) as err:
        import_boundaries(db.engine(fresh_db), path, commit=True)
    bad = [d for d in err.value.details if d["rule"] == "invalid_geometry"]
    assert [d["code"] for d in bad] == [HAMLET_GRIDS[0]]
    assert "Self-intersection" in bad[0]["message"] and "--repair" in bad[0]["message"]
    assert (bad[0]["lon"], bad[0]["lat"]) == (125.05, 46.1)  # where the edges cross
    assert counts(fresh_db) == EMPTY


def test_bowtie_repaired_and_reported(fresh_db, tmp_path):
    path = write(bowtie_frames(), tmp_path / "bowtie.gpkg")
    report = import_boundaries(db.engine(fresh_db), path, commit=True, repair=True)
    assert report.committed and counts(fresh_db) == FACTORY
    [fix] = report.repairs
    assert (fix["layer"], fix["code"]) == ("grid", HAMLET_GRIDS[0])
    assert "Self-intersection" in fix["action"] and (fix["lon"], fix["lat"]) == (125.05, 46.1)
    half_hamlet = utm_area(box(125.0, 46.0, 125.1, 46.2)) / 2
    assert fix["area_after_m2"] == pytest.approx(half_hamlet, rel=0.01)
    assert fix["area_before_m2"] < 1.0  # GEOS sums the lobes with opposite signs
    with db.engine(fresh_db).connect() as c:
        valid, area = c.execute(text(
            "SELECT ST_IsValid(geom), ST_Area(geom::geography) FROM grid WHERE code = :c"),
            {"c": HAMLET_GRIDS[0]}).one()
    assert valid and area == pytest.approx(half_hamlet, rel=0.01)


def test_cli_repair_lists_each_repaired_feature(fresh_db, tmp_path, monkeypatch):
    path = write(bowtie_frames(), tmp_path / "bowtie.gpkg")
    refused = run_cli(fresh_db, monkeypatch, "boundaries", "import", path, "--commit")
    assert refused.exit_code == 1 and f"[grid {HAMLET_GRIDS[0]}] invalid_geometry" in \
        refused.output and counts(fresh_db) == EMPTY
    done = run_cli(fresh_db, monkeypatch, "boundaries", "import", path, "--commit", "--repair")
    assert done.exit_code == 0, done.output
    assert f"repaired [grid {HAMLET_GRIDS[0]}] Self-intersection" in done.output
    assert "m² ->" in done.output and "after 1 repair(s)" in done.output
    assert counts(fresh_db) == FACTORY


# ---- 2. empty, null, non-polygonal geometries ----

def odd_geometry_frames():
    frames = factory.layers()
    grids = frames["grid"]
    grids.loc[0, "geometry"] = Polygon()
    grids.loc[1, "geometry"] = None
    grids.loc[2, "geometry"] = LineString([(125.1, 46.0), (125.2, 46.1)])
    grids.loc[3, "geometry"] = GeometryCollection([grids.loc[3, "geometry"],
                                                   Point(125.15, 46.15)])
    return frames


def test_empty_null_line_and_collection_are_problems(fresh_db, tmp_path):
    frames = odd_geometry_frames()
    codes = list(frames["grid"]["code"][:4])
    path = write(frames, tmp_path / "odd.gpkg")
    with pytest.raises(ValidationFailed) as err:
        import_boundaries(db.engine(fresh_db), path, commit=True)
    found = {(d["code"], d["rule"]): d["message"] for d in err.value.details}
    assert (codes[0], "empty_geometry") in found and (codes[1], "empty_geometry") in found
    assert "LineString" in found[(codes[2], "not_polygonal")]
    assert "GeometryCollection" in found[(codes[3], "not_polygonal")]
    assert "--repair" in found[(codes[3], "not_polygonal")]
    assert counts(fresh_db) == EMPTY
    # repair takes the polygon out of the collection; nothing can be done for the others
    with pytest.raises(ValidationFailed, match=r"after repairing 1 feature") as err:
        import_boundaries(db.engine(fresh_db), path, commit=True, repair=True)
    still = {(d["code"], d["rule"]) for d in err.value.details}
    assert (codes[2], "not_polygonal") in still and (codes[3], "not_polygonal") not in still
    assert counts(fresh_db) == EMPTY


def test_collection_repaired_to_its_polygon(fresh_db, tmp_path):
    frames = factory.layers()
    grids = frames["grid"]
    cell = grids.loc[3, "geometry"]
    grids.loc[3, "geometry"] = GeometryCollection([cell, Point(125.15, 46.15),
                                                   LineString([(125.1, 46.1), (125.2, 46.2)])])
    report = import_boundaries(db.engine(fresh_db), write(frames, tmp_path / "gc.gpkg"),
                               commit=True, repair=True)
    [fix] = report.repairs
    assert fix["code"] == grids.loc[3, "code"] and "GeometryCollection" in fix["action"]
    assert "dropped 2 non-polygonal part(s)" in fix["action"]
    assert fix["area_before_m2"] == fix["area_after_m2"] == pytest.approx(utm_area(cell),
                                                                          rel=0.01)
    assert counts(fresh_db) == FACTORY


def geojson_folder(path, frames, edit=None):
    path.mkdir()
    for name, frame in frames.items():
        doc = json.loads(frame.to_json())
        if edit:
            edit(name, doc)
        (path / f"{name}.geojson").write_text(json.dumps(doc))
    return path


def test_null_geometry_and_unclosed_ring_in_geojson(fresh_db, tmp_path):
    def null_first_grid(name, doc):
        if name == "grid":
            doc["features"][0]["geometry"] = None
    folder = geojson_folder(tmp_path / "null", factory.layers(), null_first_grid)
    with pytest.raises(ValidationFailed) as err:
        import_boundaries(db.engine(fresh_db), folder, commit=True)
    assert ("231281101001001001", "empty_geometry") in \
        {(d["code"], d["rule"]) for d in err.value.details}

    def open_ring(name, doc):
        if name == "grid":
            doc["features"][4]["geometry"]["coordinates"][0].pop()  # drop the closing vertex
    folder = geojson_folder(tmp_path / "open", factory.layers(), open_ring)
    code = factory.layers()["grid"]["code"][4]
    with pytest.raises(InputError, match=f"cannot be decoded, first {code}") as err:
        import_boundaries(db.engine(fresh_db), folder, commit=True)
    assert [d["code"] for d in err.value.details] == [code]
    assert "closed" in err.value.details[0]["message"]
    assert counts(fresh_db) == EMPTY


# ---- 3. huge geometries ----

def test_feature_with_millions_of_vertices_is_refused_quickly(fresh_db, tmp_path):
    frames = factory.layers()
    angles = np.linspace(0, 2 * np.pi, 2_000_000, endpoint=False)
    circle = Polygon(np.column_stack([125.05 + 0.05 * np.cos(angles),
                                      46.05 + 0.05 * np.sin(angles)]))
    frames["grid"].loc[0, "geometry"] = circle
    path = write(frames, tmp_path / "huge.gpkg")
    start = time.perf_counter()
    with pytest.raises(ValidationFailed) as err:
        import_boundaries(db.engine(fresh_db), path, commit=True)
    elapsed = time.perf_counter() - start
    print(f"\nrefusing a 2,000,000-vertex feature took {elapsed:.2f} s")
    message = err.value.message
    assert "layer grid" in message and HAMLET_GRIDS[0] in message
    assert "2,000,001 vertices" in message  # the ring's closing vertex counts too
    assert f"{MAX_VERTICES_PER_FEATURE:,} per feature" in message
    assert [(d["code"], d["rule"]) for d in err.value.details] == \
        [(HAMLET_GRIDS[0], "too_many_vertices")]
    assert elapsed < 5.0
    assert counts(fresh_db) == EMPTY


def test_per_feature_and_per_file_limits_are_parameters(fresh_db, factory_gpkg):
    engine = db.engine(fresh_db)
    # the factory's boxes have 5 vertices each, 19 features in all
    with pytest.raises(ValidationFailed, match="feature 231281000000 has 5 vertices"):
        import_boundaries(engine, factory_gpkg, commit=True, max_vertices_per_feature=4)
    with pytest.raises(ValidationFailed, match="more than 60 vertices") as err:
        import_boundaries(engine, factory_gpkg, commit=True, max_vertices_per_file=60)
    assert err.value.details[0]["rule"] == "too_many_vertices"
    assert counts(fresh_db) == EMPTY
    report = import_boundaries(engine, factory_gpkg, commit=True, max_vertices_per_feature=5,
                               max_vertices_per_file=95)
    assert report.committed and counts(fresh_db) == FACTORY


def test_demo_set_passes_the_limits_a_hundred_times_over():
    bset = read_boundary_set(DEMO_BOUNDARIES, max_vertices_per_feature=MAX_VERTICES_PER_FEATURE // 100,
                             max_vertices_per_file=MAX_VERTICES_PER_FILE // 100)
    assert bset.counts()["grid"] > 1000


def test_cli_vertex_limit_options(fresh_db, factory_gpkg, monkeypatch):
    helptext = run_cli(fresh_db, monkeypatch, "boundaries", "import", "--help").output
    assert f"{MAX_VERTICES_PER_FEATURE:,}" in helptext and f"{MAX_VERTICES_PER_FILE:,}" in helptext
    result = run_cli(fresh_db, monkeypatch, "boundaries", "import", factory_gpkg, "--commit",
                     "--max-vertices", "4")
    assert result.exit_code == 1 and "[city 231281000000] too_many_vertices" in result.output
    assert counts(fresh_db) == EMPTY


# ---- 4. coordinate reference systems ----

def test_lonlat_numbers_declared_as_web_mercator(fresh_db, tmp_path):
    frames = {k: v.set_crs(3857, allow_override=True) for k, v in factory.layers().items()}
    path = write(frames, tmp_path / "mercator.gpkg")
    engine = db.engine(fresh_db)
    with pytest.raises(InputError) as err:
        import_boundaries(engine, path, commit=True)
    message = err.value.message
    assert err.value.field == "crs" and "layer city" in message
    assert "declares EPSG:3857" in message and "does not lie in China" in message
    assert "x 125..125.4, y 46..46.4" in message  # what was found
    assert "look like longitude/latitude" in message and "--crs EPSG:4326" in message
    assert counts(fresh_db) == EMPTY
    report = import_boundaries(engine, path, commit=True, crs="EPSG:4326")
    assert report.committed and counts(fresh_db) == FACTORY
    assert any("declares EPSG:3857" in n and "read as EPSG:4326" in n for n in report.notes)


def test_metres_declared_as_lonlat(fresh_db, tmp_path):
    frames = {k: v.to_crs(32651).set_crs(4326, allow_override=True)
              for k, v in factory.layers().items()}
    path = write(frames, tmp_path / "utm_as_lonlat.gpkg")
    with pytest.raises(InputError) as err:
        import_boundaries(db.engine(fresh_db), path, commit=True)
    message = err.value.message
    assert "declares EPSG:4326" in message and "look like metres" in message
    assert "EPSG:32643-32653" in message and "--crs" in message
    assert counts(fresh_db) == EMPTY
    report = import_boundaries(db.engine(fresh_db), path, commit=True, crs="EPSG:32651",
                               tolerance_m2=5.0)
    assert report.committed and counts(fresh_db) == FACTORY


def test_gauss_kruger_zone_prefix_is_recognised(fresh_db, tmp_path):
    # CGCS2000 3-degree Gauss-Krüger zone 42 (central meridian 126 E): eastings 42xxxxxx
    frames = {k: v.to_crs(4530).set_crs(4326, allow_override=True)
              for k, v in factory.layers().items()}
    path = write(frames, tmp_path / "gk.gpkg")
    with pytest.raises(InputError, match=r"fit EPSG:4530 .*pass --crs EPSG:4530"):
        import_boundaries(db.engine(fresh_db), path, commit=True)
    assert counts(fresh_db) == EMPTY
    bset = read_boundary_set(path, assume_crs="EPSG:4530")
    assert np.allclose(bset.layers["city"].total_bounds, (125.0, 46.0, 125.4, 46.4), atol=1e-7)


def test_swapped_axes_are_named(fresh_db, tmp_path):
    frames = {k: v.set_geometry(shapely.transform(v.geometry.values, lambda c: c[:, ::-1]))
              for k, v in factory.layers().items()}
    with pytest.raises(InputError, match="look swapped"):
        import_boundaries(db.engine(fresh_db), write(frames, tmp_path / "latlon.gpkg"),
                          commit=True)
    assert counts(fresh_db) == EMPTY


def test_no_crs_in_geopackage_or_shapefile(fresh_db, tmp_path):
    frames = {k: v.set_crs(None, allow_override=True) for k, v in factory.layers().items()}
    gpkg = write(frames, tmp_path / "nocrs.gpkg")
    shp = tmp_path / "shp"
    shp.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # field names cut to 10 characters: parent_cod
        for name, frame in frames.items():
            frame.to_file(shp / f"{name}.shp")
    assert not list(shp.glob("*.prj"))
    engine = db.engine(fresh_db)
    for path in (gpkg, shp):
        with pytest.raises(InputError) as err:
            import_boundaries(engine, path, commit=True)
        message = err.value.message
        assert "declares no coordinate reference system" in message
        assert "x 125..125.4, y 46..46.4" in message and "--crs EPSG:4326" in message
    assert counts(fresh_db) == EMPTY
    report = import_boundaries(engine, shp, commit=True, crs="EPSG:4490")
    assert report.committed and counts(fresh_db) == FACTORY


def test_correct_crs_outside_china_is_refused(fresh_db, tmp_path):
    frames = {k: v.set_geometry(shapely.transform(v.geometry.values, lambda c: c - (115, 0)))
              for k, v in factory.layers().items()}  # 10 E: Europe
    with pytest.raises(InputError, match=r"does not lie in China.*73..136 E, 3..54 N"):
        import_boundaries(db.engine(fresh_db), write(frames, tmp_path / "europe.gpkg"),
                          commit=True)
    assert counts(fresh_db) == EMPTY


# ---- 5. malformed files ----

def zero_byte(tmp_path):
    (tmp_path / "zero.gpkg").write_bytes(b"")
    return tmp_path / "zero.gpkg", r"zero.gpkg is empty \(0 bytes\)"


def truncated(tmp_path):
    whole = write(factory.layers(), tmp_path / "whole.gpkg").read_bytes()
    (tmp_path / "cut.gpkg").write_bytes(whole[:len(whole) // 2])
    return tmp_path / "cut.gpkg", "cut.gpkg cannot be read: the GeoPackage is truncated"


def truncated_by_one_byte(tmp_path):
    whole = write(factory.layers(), tmp_path / "whole.gpkg").read_bytes()
    (tmp_path / "cut.gpkg").write_bytes(whole[:-1])
    return tmp_path / "cut.gpkg", "truncated or damaged"


def csv_renamed(tmp_path):
    (tmp_path / "table.gpkg").write_text("code,name,lon,lat\n231281000000,安达市,125,46\n")
    return tmp_path / "table.gpkg", "not a GeoPackage but text that looks like CSV"


def zip_renamed(tmp_path):
    with zipfile.ZipFile(tmp_path / "archive.gpkg", "w") as z:
        z.writestr("city.shp", b"\x00" * 100)
    return tmp_path / "archive.gpkg", "not a GeoPackage but a ZIP archive"


def invalid_json(tmp_path):
    folder = geojson_folder(tmp_path / "set", factory.layers())
    text_ = (folder / "village.geojson").read_text()
    (folder / "village.geojson").write_text(text_[:len(text_) // 2])
    return folder, "village.geojson is not valid JSON: .* at line 1, column"


def missing_layer(tmp_path):
    folder = geojson_folder(tmp_path / "set", factory.layers())
    (folder / "grid.geojson").unlink()
    return folder, "has no 'grid' layer"


def missing_column(tmp_path):
    frames = factory.layers()
    frames["village"] = frames["village"].drop(columns="parent_code")
    return (write(frames, tmp_path / "cols.gpkg"),
            r"layer village in cols.gpkg lacks column\(s\) parent_code \(found: code, name, kind\)")


@pytest.mark.parametrize("make", [zero_byte, truncated, truncated_by_one_byte, csv_renamed,
                                  zip_renamed, invalid_json, missing_layer, missing_column])
def test_malformed_boundary_files(fresh_db, tmp_path, monkeypatch, make):
    path, expected = make(tmp_path)
    with pytest.raises(InputError, match=expected):
        import_boundaries(db.engine(fresh_db), path, commit=True)
    result = run_cli(fresh_db, monkeypatch, "boundaries", "import", path, "--commit")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "\nerror: " in result.output and "Traceback" not in result.output
    assert counts(fresh_db) == EMPTY


# ---- 6. incident files ----

@pytest.fixture
def loaded_db(fresh_db, factory_gpkg):
    import_boundaries(db.engine(fresh_db), factory_gpkg, commit=True)
    return fresh_db


CSV_HEADER = "external_id,category,occurred_at,lon,lat,description\n"
ROW = "E-1,dispute_neighbour,2026-03-01 09:30:00,125.05,46.05,{}\n"


def descriptions(url):
    with db.engine(url).connect() as c:
        return c.execute(text("SELECT description FROM incident")).scalars().all()


@pytest.mark.parametrize("encoding,description", [
    ("utf-8", "邻里因宅基地边界发生纠纷"),
    ("utf-8-sig", "邻里因宅基地边界发生纠纷"),
    ("gbk", "邻里因宅基地边界发生纠纷"),
    ("gb18030", "村民刘䶮反映𠀀字路口积水"),  # 䶮 and 𠀀 exist in GB18030, not in GBK
])
def test_csv_encodings_round_trip(loaded_db, tmp_path, encoding, description):
    if encoding == "gb18030":
        with pytest.raises(UnicodeEncodeError):
            description.encode("gbk")
    path = tmp_path / "in.csv"
    path.write_bytes((CSV_HEADER + ROW.format(description)).encode(encoding))
    report = import_incidents(db.engine(loaded_db), path)
    assert report.inserted == 1 and descriptions(loaded_db) == [description]


def assert_refused(url, path, pattern):
    with pytest.raises(InputError, match=pattern) as err:
        import_incidents(db.engine(url), path)
    assert counts(url) == FACTORY
    return err.value.message


def test_truncated_utf8_that_gb18030_rejects_too(loaded_db, tmp_path):
    # 村 in UTF-8 then the first two bytes of 民: read as GB18030 the five bytes pair up as
    # two characters and leave a lone lead byte at the end
    data = (CSV_HEADER + ROW.format("")).encode() + b"E-2,petition,2026-03-01,125.1,46.1," \
        + "村".encode() + "民".encode()[:2]
    path = tmp_path / "cut.csv"
    path.write_bytes(data)
    starts = []
    for encoding in ("utf-8", "gb18030"):
        with pytest.raises(UnicodeDecodeError) as err:
            data.decode(encoding)
        starts.append(err.value.start)
    message = assert_refused(loaded_db, path, "neither UTF-8 nor GBK/GB18030")
    assert f"as UTF-8 it fails at line 3, byte 39 of the line (byte offset {starts[0]})" \
        in message
    assert f"as GB18030/GBK it fails at line 3, byte 40 of the line (byte offset {starts[1]})" \
        in message


def test_random_bytes(loaded_db, tmp_path):
    data = np.random.default_rng(6).integers(1, 256, 3000, dtype=np.uint8).tobytes()
    path = tmp_path / "noise.csv"
    path.write_bytes(data)
    with pytest.raises(UnicodeDecodeError) as err:
        data.decode("utf-8")
    message = assert_refused(loaded_db, path, "neither UTF-8 nor GBK/GB18030")
    assert f"(byte offset {err.value.start})" in message


@pytest.mark.parametrize("content,pattern", [
    (b"", r"in.csv is empty \(0 bytes\)"),
    (b" \r\n\n", r"in.csv is empty \(only blank space\)"),
    (CSV_HEADER.encode(), "in.csv has a header but no rows"),
    (CSV_HEADER.encode() + b"E-1,petition,2026-03-01,125.05,46.05,a\x00b\n",
     r"contains a NUL byte at line 2, byte 39 of the line"),
    ("\ufeff".encode("utf-16-le") + CSV_HEADER.encode("utf-16-le"), "is UTF-16 text"),
    (b"E-1,petition,\"2026-03-01,125.05\n", "is not a well-formed CSV"),
])
def test_unusable_csv_files(loaded_db, tmp_path, content, pattern):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    assert_refused(loaded_db, path, pattern)


def test_xlsx_renamed_csv(loaded_db, tmp_path):
    path = tmp_path / "incidents.csv"
    with zipfile.ZipFile(path, "w") as z:  # the layout of an Office Open XML workbook
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    assert_refused(loaded_db, path, r"is an Excel workbook \(.xlsx\), not CSV text; save it as")


def test_geojson_invalid_json(loaded_db, tmp_path):
    path = tmp_path / "in.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [\n  {"type": "Feature",}\n]}')
    assert_refused(loaded_db, path, "in.geojson is not valid JSON: .* at line 3, column 22")


def test_geojson_features_that_are_not_points(loaded_db, tmp_path):
    def feature(fid, geometry):
        return {"type": "Feature", "geometry": geometry,
                "properties": {"external_id": fid, "category": "petition",
                               "occurred_at": "2026-03-01T10:00:00+08:00", "description": "漏水"}}
    doc = {"type": "FeatureCollection", "features": [
        feature("L-1", {"type": "LineString", "coordinates": [[125.05, 46.05], [125.1, 46.1]]}),
        feature("N-1", None),
        feature("P-1", {"type": "Point", "coordinates": [125.05, 46.05]}),
        feature("S-1", {"type": "Point", "coordinates": ["125.05", 46.05]}),
    ]}
    path = tmp_path / "in.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    engine = db.engine(loaded_db)
    with pytest.raises(ValidationFailed) as err:
        import_incidents(engine, path)
    assert [(d["external_id"], d["error"]) for d in err.value.details] == [
        ("L-1", "geometry is a LineString, expected a Point"),
        ("N-1", "geometry is null, expected a Point"),
        ("S-1", "Point coordinates must be [x, y] numbers")]
    assert counts(loaded_db) == FACTORY
    report = import_incidents(engine, path, skip_bad=True)
    assert report.inserted == 1 and descriptions(loaded_db) == ["漏水"]


def test_geojson_that_is_not_a_feature_collection(loaded_db, tmp_path):
    path = tmp_path / "in.geojson"
    path.write_text(json.dumps({"type": "Point", "coordinates": [125.05, 46.05]}))
    assert_refused(loaded_db, path, "is not a GeoJSON FeatureCollection")
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    assert_refused(loaded_db, path, "holds no features")
