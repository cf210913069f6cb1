"""Incident imports of the files other systems publish: columns mapped, US dates in another
time zone, ids generated when they are missing or repeat, GeoPackage / zipped Shapefile /
GeoParquet in their own CRS, dry runs that write nothing."""
from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from datetime import datetime, timezone

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import LineString, MultiPoint, Point, box
from sqlalchemy import text

from gis.errors import InputError, ValidationFailed
from gis.incidents.importing import import_incidents
from gis.incidents.parse import TableOptions, generated_ids
from gis.store import db
from tests.helpers import client_for, make_account

# factory grids (tests/helpers/factory.py) and a point outside the city
P1, P2, P3, OUT = (125.05, 46.05), (125.15, 46.15), (125.3, 46.25), (126.5, 46.3)
G1, G2, G3 = "231281101001001001", "231281101001002002", "231281102002001"


@pytest.fixture
def url(factory_engine):
    """A database of the test's own holding the factory boundary set."""
    return factory_engine.url.render_as_string(hide_password=False)


def stored(url):
    with db.engine(url).connect() as c:
        return c.execute(text(
            "SELECT i.external_id, i.category, i.occurred_at, g.code AS grid, i.input_crs, "
            "i.input_x, i.description FROM incident i LEFT JOIN grid g ON g.id = i.grid_id "
            "ORDER BY i.id")).mappings().all()


def audit_count(url):
    with db.engine(url).connect() as c:
        return c.execute(text("SELECT count(*) FROM audit_event WHERE action = "
                              "'incident_import'")).scalar_one()


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


# ---- a police export: mapped columns, US dates in Chicago, a case number per charge ----

POLICE_CSV = (
    "CaseNo,Charge,类型,Date,X,Y,Notes\n"
    "2026-0017,Assault,纠纷,4/1/2026 1:05 PM,125.05,46.05,首次报警\n"
    "2026-0017,Theft,纠纷,4/1/2026 1:05 PM,125.05,46.05,首次报警\n"
    "2026-0018,Noise,治安,04/02/2026 11:30 PM,125.15,46.15,\n"
    "2026-0018,Noise,治安,04/02/2026 11:30 PM,125.15,46.15,\n"   # the same line twice
    "2026-0019,Noise,,11/01/2026 1:30 AM,125.3,46.25,\n")         # DST ends: 1:30 happens twice
POLICE = TableOptions(
    columns={"external_id": "CaseNo", "category": "类型", "occurred_at": "Date", "lon": "X",
             "lat": "Y", "description": "Notes"},
    categories={"纠纷": "dispute_neighbour", "治安": "public_security"}, category="petition",
    date_format="%m/%d/%Y %I:%M %p", tz="America/Chicago", generate_ids=True)


def test_police_export_with_us_dates_and_repeated_case_numbers(url, tmp_path):
    path = tmp_path / "police.csv"
    path.write_bytes(POLICE_CSV.encode("gbk"))
    first = import_incidents(db.engine(url), path, options=POLICE, source="pd")
    assert (first.rows, first.inserted, first.bad_rows, first.generated_ids) == (5, 5, [], True)
    rows = stored(url)
    ids = [r["external_id"] for r in rows]
    assert ids[0].startswith("2026-0017-") and ids[1].startswith("2026-0017-")
    assert ids[0] != ids[1]                       # two charges, two incidents
    assert ids[3] == ids[2] + "-2"                # the repeated line is kept, numbered
    assert len(set(ids)) == 5
    assert [r["category"] for r in rows] == ["dispute_neighbour"] * 2 + ["public_security"] * 2 \
        + ["petition"]
    assert [r["occurred_at"] for r in rows] == [
        utc(2026, 4, 1, 18, 5), utc(2026, 4, 1, 18, 5),      # CDT is UTC-5
        utc(2026, 4, 3, 4, 30), utc(2026, 4, 3, 4, 30),
        utc(2026, 11, 1, 6, 30)]                             # the first (summer) 1:30
    assert [r["grid"] for r in rows] == [G1, G1, G2, G2, G3]
    assert rows[0]["description"] == "首次报警"
    # the same file again, and the same export saved in UTF-8 with its columns reordered
    again = import_incidents(db.engine(url), path, options=POLICE, source="pd")
    assert (again.inserted, again.duplicates) == (0, 5)
    frame = pd.read_csv(io.StringIO(POLICE_CSV), dtype=str, keep_default_na=False)
    frame[list(reversed(frame.columns))].to_csv(tmp_path / "utf8.csv", index=False)
    moved = import_incidents(db.engine(url), tmp_path / "utf8.csv", options=POLICE, source="pd")
    assert (moved.inserted, moved.duplicates) == (0, 5)
    assert len(stored(url)) == 5


def test_repeated_case_numbers_without_generated_ids_are_refused(url, tmp_path):
    path = tmp_path / "police.csv"
    path.write_text(POLICE_CSV, encoding="utf-8")
    options = replace(POLICE, generate_ids=False)
    with pytest.raises(ValidationFailed) as err:
        import_incidents(db.engine(url), path, options=options)
    assert [(d["row"], d["error"]) for d in err.value.details] == [
        (3, "external_id repeated within the file"), (5, "external_id repeated within the file")]
    assert "--generate-ids" in err.value.message
    assert stored(url) == []


def test_dates_that_do_not_match_the_format_are_bad_rows(url, tmp_path):
    path = tmp_path / "dates.csv"
    path.write_text("CaseNo,类型,Date,X,Y,Notes\n"
                    "A-1,纠纷,4/1/2026 1:05 PM,125.05,46.05,\n"
                    "A-2,纠纷,2026-04-01 13:05,125.05,46.05,\n"      # ISO, not the format
                    "A-3,纠纷,3/8/2026 2:30 AM,125.05,46.05,\n"      # skipped by DST in Chicago
                    "A-4,纠纷,,125.05,46.05,\n", encoding="utf-8")
    options = replace(POLICE, generate_ids=False)
    with pytest.raises(ValidationFailed) as err:
        import_incidents(db.engine(url), path, options=options)
    assert [(d["row"], d["external_id"], d["error"]) for d in err.value.details] == [
        (3, "A-2", "occurred_at '2026-04-01 13:05' does not match the date format "
                   "'%m/%d/%Y %I:%M %p'"),
        (4, "A-3", "occurred_at '3/8/2026 2:30 AM' does not exist in America/Chicago (the "
                   "clocks skipped it at a daylight-saving change)"),
        (5, "A-4", "occurred_at is empty")]
    report = import_incidents(db.engine(url), path, options=options, skip_bad=True)
    assert report.inserted == 1 and [r["external_id"] for r in stored(url)] == ["A-1"]


def test_rows_without_ids_get_content_ids_and_a_default_category(url, tmp_path):
    path = tmp_path / "hotline.csv"
    path.write_text("occurred_at,lon,lat,description\n"
                    "2026-05-01 09:00,125.05,46.05,路灯不亮\n"
                    "2026-05-01 09:00,125.05,46.05,路灯不亮\n"
                    "2026-05-01 10:00,125.15,46.15,噪音\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"missing column\(s\): category; the file's columns: "
                                         "occurred_at, lon, lat, description"):
        import_incidents(db.engine(url), path)
    options = TableOptions(category="hotline_12345")
    report = import_incidents(db.engine(url), path, options=options, source="12345")
    assert (report.inserted, report.generated_ids) == (3, True)
    rows = stored(url)
    first, repeat, other = (r["external_id"] for r in rows)
    assert len(first) == 16 and repeat == first + "-2" and len(other) == 16
    assert {r["category"] for r in rows} == {"hotline_12345"}
    assert rows[0]["occurred_at"] == utc(2026, 5, 1, 1, 0)     # no offset: +08:00
    again = import_incidents(db.engine(url), path, options=options, source="12345")
    assert (again.inserted, again.duplicates) == (0, 3)
    # another source hashes differently: its rows are its own
    other_source = import_incidents(db.engine(url), path, options=options, source="city-app")
    assert other_source.inserted == 3


def test_generated_ids_ignore_column_order_and_see_every_column():
    frame = pd.DataFrame({"a": ["1", "1", "1"], "b": ["x", "x", "y"]})
    src = pd.Series(["s"] * 3)
    ids = generated_ids(frame, src)
    assert list(generated_ids(frame[["b", "a"]], src)) == list(ids)
    assert ids[1] == ids[0] + "-2" and ids[2] != ids[0]
    assert generated_ids(frame, pd.Series(["t"] * 3))[0] != ids[0]
    # a value moved to another column is other content
    assert generated_ids(pd.DataFrame({"a": ["1x"], "b": [""]}), src[:1])[0] != \
        generated_ids(pd.DataFrame({"a": ["1"], "b": ["x"]}), src[:1])[0]


# ---- dry runs ----

def test_dry_run_checks_and_counts_but_writes_nothing(url, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("external_id,category,occurred_at,lon,lat\n"
                    f"D-1,petition,2026-05-01,{P1[0]},{P1[1]}\n"
                    f"D-2,petition,2026-05-01,{P2[0]},{P2[1]}\n"
                    f"D-3,petition,2026-05-01,{OUT[0]},{OUT[1]}\n", encoding="utf-8")
    seen = []
    dry = import_incidents(db.engine(url), path, dry_run=True,
                           progress=lambda *a: seen.append(a[0]))
    assert (dry.dry_run, dry.committed, dry.inserted, dry.duplicates, dry.uncovered) == \
        (True, False, 3, 0, 1)
    assert "storing" not in seen
    assert stored(url) == [] and audit_count(url) == 0
    real = import_incidents(db.engine(url), path)
    assert (real.inserted, real.committed, real.dry_run, audit_count(url)) == (3, True, False, 1)
    with path.open("a") as f:
        f.write(f"D-4,petition,2026-05-02,{P3[0]},{P3[1]}\n")
    dry = import_incidents(db.engine(url), path, dry_run=True, batch_size=2)
    assert (dry.inserted, dry.duplicates, dry.uncovered) == (1, 3, 1)
    assert len(stored(url)) == 3 and audit_count(url) == 1
    # a file with bad rows is refused in a dry run as the import would refuse it
    with path.open("a") as f:
        f.write("D-5,petition,yesterday,125.1,46.1\n")
    with pytest.raises(ValidationFailed, match="dry run: 1 of 5 rows are invalid"):
        import_incidents(db.engine(url), path, dry_run=True)
    dry = import_incidents(db.engine(url), path, dry_run=True, skip_bad=True)
    assert (dry.inserted, dry.duplicates, len(dry.bad_rows)) == (1, 3, 1)
    assert len(stored(url)) == 3


# ---- formats: GeoPackage, zipped Shapefile, GeoParquet ----

def incidents_frame(points, crs="EPSG:4326", prefix="F"):
    frame = gpd.GeoDataFrame({
        "external_id": [f"{prefix}-{i}" for i in range(len(points))],
        "category": ["public_security"] * len(points),
        "occurred_at": ["2026-06-01T08:00:00+08:00"] * len(points)},
        geometry=[Point(p) for p in points], crs="EPSG:4326")
    return frame.to_crs(crs)


def test_geopackage_first_point_layer_in_its_own_crs(url, tmp_path):
    path = tmp_path / "cases.gpkg"
    gpd.GeoDataFrame({"external_id": ["城区"], "category": ["petition"],
                      "occurred_at": ["2026-06-01"]}, geometry=[box(125, 46, 125.4, 46.4)],
                     crs="EPSG:4326").to_file(path, layer="area")
    utm = incidents_frame([P1, P2, P3], crs="EPSG:32651")     # UTM zone 51N, metres
    utm.to_file(path, layer="cases")
    with pytest.raises(InputError, match=r"has no layer 'nope'; its layers: area \(Polygon\), "
                                         r"cases \(Point\)"):
        import_incidents(db.engine(url), path, layer="nope")
    with pytest.raises(ValidationFailed) as err:   # --crs overrides what the file declares
        import_incidents(db.engine(url), path, crs="EPSG:4326")
    assert {d["error"] for d in err.value.details} == {"lon/lat out of range"}
    with pytest.raises(ValidationFailed) as err:   # the layer named, whatever it holds
        import_incidents(db.engine(url), path, layer="area")
    assert [d["error"] for d in err.value.details] == ["geometry is a Polygon, expected a Point"]
    report = import_incidents(db.engine(url), path)
    assert (report.layer, report.input_crs, report.inserted) == ("cases", "EPSG:32651", 3)
    rows = stored(url)
    assert [r["grid"] for r in rows] == [G1, G2, G3]
    assert {r["input_crs"] for r in rows} == {"EPSG:32651"}
    assert rows[0]["input_x"] == pytest.approx(utm.geometry.x[0])


def test_geometries_that_are_not_points_are_bad_rows(url, tmp_path):
    path = tmp_path / "mixed.gpkg"
    frame = gpd.GeoDataFrame({
        "external_id": ["M-1", "M-2", "M-3", "M-4", "M-5"],
        "category": ["petition"] * 5, "occurred_at": ["2026-06-01"] * 5},
        geometry=[Point(P1), MultiPoint([P2]), LineString([P1, P2]), None,
                  box(125.0, 46.0, 125.1, 46.1)], crs="EPSG:4326")
    frame.to_file(path, layer="mixed")
    with pytest.raises(ValidationFailed) as err:
        import_incidents(db.engine(url), path)
    assert [(d["external_id"], d["error"]) for d in err.value.details] == [
        ("M-3", "geometry is a LineString, expected a Point"),
        ("M-4", "geometry is null, expected a Point"),
        ("M-5", "geometry is a Polygon, expected a Point")]
    assert stored(url) == []
    report = import_incidents(db.engine(url), path, skip_bad=True)
    assert report.inserted == 2    # a MultiPoint of one point is a point
    assert [r["grid"] for r in stored(url)] == [G1, G2]


def gbk_shapefile_zip(tmp_path, name="cases"):
    """A zipped Shapefile as older Chinese GIS software writes it: a GBK .dbf with no .cpg
    (no code page either), upper-case field names, dates as text, CGCS2000 (EPSG:4490)."""
    folder = tmp_path / "shp"
    folder.mkdir()
    frame = gpd.GeoDataFrame({
        "CASE_NO": ["S-1", "S-2"], "TYPE": ["邻里纠纷", "治安"],
        "DATE": ["2026/04/01 09:30", "2026/04/02 14:00"],
        "DESC": ["楼上漏水影响楼下", "夜间噪音"]},
        geometry=[Point(P1), Point(P3)], crs="EPSG:4490")
    frame.to_file(folder / f"{name}.shp", encoding="GBK")
    (folder / f"{name}.cpg").unlink()
    assert (folder / f"{name}.dbf").read_bytes()[29] == 0   # no code page byte
    path = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for part in sorted(folder.iterdir()):
            zf.write(part, f"export/{part.name}")
    return path


SHAPEFILE = TableOptions(
    columns={"external_id": "case_no", "category": "type", "occurred_at": "date",
             "description": "desc"},
    categories={"邻里纠纷": "dispute_neighbour", "治安": "public_security"},
    date_format="%Y/%m/%d %H:%M")


def test_zipped_gbk_shapefile_without_code_page(url, tmp_path):
    path = gbk_shapefile_zip(tmp_path)
    report = import_incidents(db.engine(url), path, options=SHAPEFILE)
    assert (report.inserted, report.layer, report.input_crs) == (2, "cases", "EPSG:4326")
    rows = stored(url)
    assert [(r["external_id"], r["category"], r["grid"], r["description"]) for r in rows] == [
        ("S-1", "dispute_neighbour", G1, "楼上漏水影响楼下"), ("S-2", "public_security", G3, "夜间噪音")]
    assert rows[0]["occurred_at"] == utc(2026, 4, 1, 1, 30)
    with zipfile.ZipFile(path) as zf:   # the same Shapefile unpacked, read from its .shp
        zf.extractall(tmp_path / "unpacked")
    again = import_incidents(db.engine(url), tmp_path / "unpacked" / "export" / "cases.shp",
                             options=SHAPEFILE)
    assert (again.inserted, again.duplicates) == (0, 2)


def test_geoparquet_and_a_plain_parquet_table(url, tmp_path):
    geo = incidents_frame([P1, P2], crs="EPSG:4490", prefix="GP")
    geo["n"] = [7.0, None]          # a float column from a NaN: whole numbers read as ints
    geo.to_parquet(tmp_path / "geo.parquet")
    report = import_incidents(db.engine(url), tmp_path / "geo.parquet")
    assert (report.inserted, report.input_crs) == (2, "EPSG:4326")
    plain = pd.DataFrame({"id": [7.0, 8.0], "category": ["petition"] * 2,
                          "occurred_at": pd.to_datetime(["2026-06-01 08:00", "2026-06-02 08:00"]),
                          "lon": [P3[0], OUT[0]], "lat": [P3[1], OUT[1]]})
    plain.to_parquet(tmp_path / "plain.parquet")
    report = import_incidents(db.engine(url), tmp_path / "plain.parquet",
                              options=TableOptions(columns={"external_id": "id"}))
    assert (report.inserted, report.uncovered, report.input_crs) == (2, 1, "EPSG:4326")
    rows = stored(url)
    assert [r["external_id"] for r in rows] == ["GP-0", "GP-1", "7", "8"]
    assert [r["grid"] for r in rows] == [G1, G2, G3, None]
    assert rows[2]["occurred_at"] == utc(2026, 6, 1, 0, 0)   # a naive time: +08:00


def test_unusable_files_of_the_new_formats(url, tmp_path):
    def refused(name, content, pattern, **kw):
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(InputError, match=pattern):
            import_incidents(db.engine(url), path, **kw)

    refused("empty.gpkg", b"", r"empty.gpkg is empty \(0 bytes\)")
    refused("csv.gpkg", b"external_id,lon\n1,2\n", r"csv.gpkg is not a GeoPackage .* looks "
                                                   "like text")
    refused("cut.parquet", b"PAR1\x15\x04", "cut.parquet is not a complete Parquet file")
    refused("text.zip", b"hello", "text.zip is not a zip archive")
    with zipfile.ZipFile(tmp_path / "readme.zip", "w") as zf:
        zf.writestr("readme.txt", "no shapes here")
    refused("readme.zip", None, r"readme.zip holds no Shapefile \(.shp\); it holds: readme.txt")
    source = gbk_shapefile_zip(tmp_path)
    with zipfile.ZipFile(source) as zf, zipfile.ZipFile(tmp_path / "nodbf.zip", "w") as out:
        for member in zf.namelist():
            if not member.endswith(".dbf"):
                out.writestr(member, zf.read(member))
    refused("nodbf.zip", None, "cases.shp comes without cases.dbf")
    refused("in.xlsx", b"PK\x03\x04", r"unsupported file type; use .csv, .geojson, .gpkg")
    (tmp_path / "in.csv").write_text("external_id,category,occurred_at,lon,lat\n")
    refused("in.csv", None, "has no layers", layer="cases")
    assert stored(url) == []


# ---- options that cannot be right ----

def test_bad_mappings_name_what_is_wrong(url, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("CaseNo,Kind,When,X,Y\nC-1,petition,2026-05-01,125.05,46.05\n")
    with pytest.raises(InputError, match=r"map: 'case' is not a field; map one of: source, "
                                         "external_id"):
        TableOptions(columns={"case": "CaseNo"})
    with pytest.raises(InputError, match=r"map: the file has no column 'Lon', 'Lat'; its "
                                         "columns: CaseNo, Kind, When, X, Y"):
        import_incidents(db.engine(url), path, options=TableOptions(
            columns={"external_id": "CaseNo", "lon": "Lon", "lat": "Lat"}))
    with pytest.raises(InputError, match=r"missing column\(s\): category, occurred_at, lon, lat;"
                                         " the file's columns: CaseNo, Kind, When, X, Y"):
        import_incidents(db.engine(url), path, options=TableOptions(
            columns={"external_id": "caseno"}))   # found without regard to case
    with pytest.raises(InputError, match="'纠纷' is not a category code"):
        TableOptions(categories={"类型": "纠纷"})
    with pytest.raises(InputError, match="category map 纠纷=dispute: unknown category "
                                         "'dispute'; use one of: dispute_neighbour, "):
        import_incidents(db.engine(url), path, options=TableOptions(
            columns={"external_id": "CaseNo", "category": "Kind", "occurred_at": "When",
                     "lon": "X", "lat": "Y"}, categories={"纠纷": "dispute"}))
    with pytest.raises(InputError, match="unknown time zone 'China/Beijing'"):
        TableOptions(tz="China/Beijing")
    with pytest.raises(InputError, match="has no %-directive"):
        TableOptions(date_format="MM/DD/YYYY")
    with pytest.raises(InputError, match="bad directive"):
        TableOptions(date_format="%m/%d/%Y %Q")
    assert stored(url) == []


# ---- the command line and the upload ----

def test_cli_maps_a_foreign_file_dry_run_then_import(url, tmp_path, monkeypatch):
    from web.cli import main
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", url)
    path = tmp_path / "police.csv"
    path.write_bytes(POLICE_CSV.encode("gbk"))
    args = ["incidents", "import", str(path), "--map", "external_id=CaseNo",
            "--map", "category=类型", "--map", "occurred_at=Date", "--map", "lon=X",
            "--map", "lat=Y", "--category-map", "纠纷=dispute_neighbour",
            "--category-map", "治安=public_security", "--category", "petition",
            "--date-format", "%m/%d/%Y %I:%M %p", "--tz", "America/Chicago",
            "--generate-ids"]
    result = CliRunner().invoke(main, [*args, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run, nothing written: 5 rows: 5 would be imported, 0 already present" \
        in result.output
    assert "ids generated" in result.output and stored(url) == []
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "5 rows: 5 imported, 0 already present" in result.output
    result = CliRunner().invoke(main, args)
    assert "5 rows: 0 imported, 5 already present" in result.output
    result = CliRunner().invoke(main, [*args, "--map", "description=Remarks"])
    assert result.exit_code == 1
    assert "no column 'Remarks'; its columns: CaseNo, Charge, 类型, Date, X, Y, Notes" \
        in result.output
    result = CliRunner().invoke(main, [*args[:3], "--map", "external_id"])
    assert result.exit_code == 1 and "write it as NAME=VALUE" in result.output
    assert len(stored(url)) == 5


def test_upload_zipped_shapefile_with_maps_and_a_dry_run(url, tmp_path):
    admin = make_account(url, "importer", "admin")
    client = client_for(url, admin["token"])
    data = gbk_shapefile_zip(tmp_path).read_bytes()
    fields = {"map": ["external_id=case_no", "category=type", "occurred_at=date",
                      "description=desc"],
              "category_map": ["邻里纠纷=dispute_neighbour", "治安=public_security"],
              "date_format": "%Y/%m/%d %H:%M"}

    def post(**extra):
        return client.post("/api/v1/imports/incidents", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), "cases.zip"), **fields, **extra})

    res = post(dry_run="true")
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert (body["dry_run"], body["committed"], body["inserted"], body["layer"]) == \
        (True, False, 2, "cases")
    assert stored(url) == [] and audit_count(url) == 0
    res = post()
    assert res.status_code == 201 and res.get_json()["inserted"] == 2
    assert [r["description"] for r in stored(url)] == ["楼上漏水影响楼下", "夜间噪音"]
    res = post()
    assert res.status_code == 200 and res.get_json()["duplicates"] == 2
    res = post(map=["external_id=case_no", "lon=Longitude"])
    assert res.status_code == 400
    assert "no column 'Longitude'" in res.get_json()["error"]["message"]
    assert res.get_json()["error"]["field"] == "map"
    res = post(tz="Mars/Olympus")
    assert res.status_code == 400 and res.get_json()["error"]["field"] == "tz"
    assert len(stored(url)) == 2 and audit_count(url) == 2   # the two imports, no dry run
