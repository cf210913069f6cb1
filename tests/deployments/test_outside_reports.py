"""Never lose a report (issue 14, part 4): a point outside the reporting account's jurisdiction
is stored where it lies (in another unit's grid, or uncovered), keeps the reporter's unit, is
answered 201, stays visible to that unit (by id and in its blind spots), and the API, the upload
and the command line store the same file the same way."""
from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from gis.access.scope import Scope, Unit
from gis.store import db
from gis.store import incidents as istore
from tests.helpers import client_for, make_account, petition, unique

T1, T2, CITY = "231281101000", "231281102000", "231281000000"
IN_T2 = (125.3, 46.05)           # grid 231281102001001
OUTSIDE_CITY = (125.45, 46.1)    # in no unit of the factory city


@pytest.fixture(scope="module")
def url(private_factory_db):
    return private_factory_db


@pytest.fixture(scope="module")
def people(url):
    return {"t1-client": make_account(url, "out-t1-client", "client", [T1]),
            "t1-official": make_account(url, "out-t1-official", "official", [T1]),
            "t2-official": make_account(url, "out-t2-official", "official", [T2]),
            "hotline": make_account(url, "out-hotline", "client", [CITY])}


def client(url, person):
    return client_for(url, person["token"], RATELIMIT_ENABLED=False)


def stored(url, source):
    with db.engine(url).connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT i.external_id, i.reporter_unit, g.code AS grid FROM incident i "
            "LEFT JOIN grid g ON g.id = i.grid_id WHERE i.source = :s ORDER BY i.external_id"),
            {"s": source}).mappings()]


def test_a_point_outside_the_city_is_stored_uncovered_under_the_clients_unit(url, people):
    hotline = client(url, people["hotline"])
    ext = unique("h")
    res = hotline.post("/api/v1/incidents", json=petition(ext, *OUTSIDE_CITY))
    assert res.status_code == 201, res.get_json()
    props = res.get_json()["properties"]
    assert props["covered"] is False and props["grid_code"] is None
    assert props["reporter_unit"] == CITY
    # the client reads it back by its Location; sending it again answers the same incident
    again = hotline.post("/api/v1/incidents", json=petition(ext, *OUTSIDE_CITY))
    assert again.status_code == 200 and again.get_json()["id"] == res.get_json()["id"]
    assert hotline.get(res.headers["Location"]).status_code == 200
    assert stored(url, "out-hotline") == [{"external_id": ext, "reporter_unit": CITY,
                                           "grid": None}]


def test_a_point_in_another_township_lands_there_and_both_see_it(url, people):
    ext = unique("t")
    res = client(url, people["t1-client"]).post("/api/v1/incidents", json=petition(ext, *IN_T2))
    assert res.status_code == 201
    body = res.get_json()
    # the reporter learns it is covered, not the other township's grid and units
    assert body["properties"]["covered"] is True and body["properties"]["reporter_unit"] == T1
    assert body["properties"]["grid_code"] is body["properties"]["township_code"] is None
    assert body["properties"]["city_code"] == CITY  # an ancestor of its own unit
    location = res.headers["Location"]
    # the township where it lies reads it (with its grid) and handles it; the reporter's reads it
    there = client(url, people["t2-official"]).get(location)
    assert there.status_code == 200
    assert there.get_json()["properties"]["grid_code"] == "231281102001001"
    assert client(url, people["t1-official"]).get(location).status_code == 200
    # ... but only the township where it lies handles it
    accept = {"action": "accept", "version": 1}
    path = f"/api/v1/incidents/{body['id']}/transitions"
    assert client(url, people["t1-official"]).post(path, json=accept).status_code == 403
    assert client(url, people["t2-official"]).post(path, json=accept).status_code == 200
    with db.engine(url).connect() as conn:
        t2_rows = istore.uncovered(conn, Scope((Unit("township", T2),)))
    assert ext not in {r["external_id"] for r in t2_rows}  # covered: not a blind spot


def test_the_reporters_blind_spots_list_its_uncovered_reports(url, people):
    ext = unique("b")
    assert client(url, people["t1-client"]).post(
        "/api/v1/incidents", json=petition(ext, *OUTSIDE_CITY)).status_code == 201
    with db.engine(url).connect() as conn:
        mine = {r["external_id"] for r in istore.uncovered(conn, Scope((Unit("township", T1),)))}
        theirs = {r["external_id"] for r in istore.uncovered(conn,
                                                             Scope((Unit("township", T2),)))}
        city = {r["external_id"] for r in istore.uncovered(conn, Scope((Unit("city", CITY),)))}
    assert ext in mine and ext in city and ext not in theirs


def test_blind_spot_page_counts_them_outside_every_township(url, people):
    ext = unique("p")
    assert client(url, people["t1-client"]).post(
        "/api/v1/incidents", json=petition(ext, *OUTSIDE_CITY)).status_code == 201
    official = client(url, people["t1-official"])
    res = official.get("/api/v1/coverage/blind-spots")
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    rows = res.get_json()["rows"] if "rows" in res.get_json() else res.get_json()["table"]
    outside = [r for r in rows if r.get("unit_code") is None]
    assert outside and outside[0]["uncovered_incidents"] >= 1


def _file(ext_prefix: str) -> bytes:
    lines = ["external_id,category,occurred_at,lon,lat"]
    lines.append(f"{ext_prefix}-in,petition,2026-03-01T10:00:00+08:00,125.1,46.25")
    lines.append(f"{ext_prefix}-t2,petition,2026-03-01T10:00:00+08:00,{IN_T2[0]},{IN_T2[1]}")
    for k in range(3):
        lines.append(f"{ext_prefix}-out{k},petition,2026-03-01T10:00:00+08:00,"
                     f"{OUTSIDE_CITY[0] + 0.01 * k},{OUTSIDE_CITY[1]}")
    return ("\n".join(lines) + "\n").encode()


def test_upload_and_command_line_store_the_same_file_the_same_way(url, people, tmp_path,
                                                                 monkeypatch):
    official = client(url, people["t1-official"])
    res = official.post("/api/v1/imports/incidents",
                        data={"file": (io.BytesIO(_file("up")), "mixed.csv")},
                        content_type="multipart/form-data")
    assert res.status_code == 201, res.get_json()
    report = res.get_json()
    assert report["inserted"] == 5 and report["bad_rows"] == []
    assert report["outside_jurisdiction"] == 4 and report["uncovered"] == 3
    up = stored(url, "out-t1-official")
    assert [(r["grid"], r["reporter_unit"]) for r in up] == [
        ("231281101002001", None), (None, T1), (None, T1), (None, T1),
        ("231281102001001", T1)]
    path = tmp_path / "mixed.csv"
    path.write_bytes(_file("cli"))
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", url)
    from web.cli import main
    out = CliRunner().invoke(main, ["incidents", "import", str(path), "--source", "cli-run"])
    assert out.exit_code == 0, out.output
    assert "5 imported" in out.output and "3 outside every grid" in out.output
    by_cli = stored(url, "cli-run")
    assert [r["grid"] for r in by_cli] == [r["grid"] for r in up]
