"""Open311 GeoReport v2 (/open311/v2) over plain HTTP against the real app served by waitress
on the factory boundaries: services are the active categories, requests are incidents, and
service_request_id and status round-trip."""
from __future__ import annotations

import re
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import text

from gis.boundaries.importing import import_boundaries
from gis.store import db, scratch
from tests.helpers import free_port, make_account

T1, T2 = "231281101000", "231281102000"
IN_T1 = (125.05, 46.05)      # grid 231281101001001001
IN_T2 = (125.3, 46.35)       # grid 231281102002002
CASE_NUMBER = re.compile(r"^\d{8}-\d{6}$")


@pytest.fixture(scope="module")
def o311(admin_engine, template_db, factory_gpkg):
    from waitress.server import create_server

    from web import create_app
    name = f"gridgis_test_open311_{uuid.uuid4().hex[:6]}"
    url = scratch.create_database(admin_engine, name, template=template_db)
    import_boundaries(db.engine(url), factory_gpkg, commit=True, name="factory")
    accounts = {n: make_account(url, n, role, units) for n, role, units in (
        ("hotline-t1", "client", [T1]), ("hotline-t2", "client", [T2]),
        ("official-t1", "official", [T1]), ("planner-t1", "planner", [T1]),
        ("o311-admin", "admin", []))}
    app = create_app({"DATABASE_URL": url, "RATELIMIT_ENABLED": False})
    server = create_server(app, host="127.0.0.1", port=free_port(), threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield {"base": f"http://127.0.0.1:{server.effective_port}", "url": url,
           "tokens": {n: a["token"] for n, a in accounts.items()}}
    server.close()
    db.engine(url).dispose()
    scratch.drop_database(admin_engine, name)


def get(o311, path, who="hotline-t1", **params):
    return requests.get(f"{o311['base']}/open311/v2/{path}",
                        params={"api_key": o311["tokens"][who], **params}, timeout=30)


def post(o311, who="hotline-t1", at=IN_T1, **fields):
    """A form-encoded request (as GeoReport v2 clients send it), api_key in the body."""
    data = {"api_key": o311["tokens"][who], "service_code": "dispute_neighbour",
            "lat": at[1], "long": at[0], **fields}
    return requests.post(f"{o311['base']}/open311/v2/requests.json",
                         data={k: v for k, v in data.items() if v is not None}, timeout=30)


def created_id(res) -> str:
    assert res.status_code == 201, res.text
    body = res.json()
    assert len(body) == 1 and body[0]["account_id"] is None
    assert CASE_NUMBER.match(body[0]["service_request_id"])
    return body[0]["service_request_id"]


def incident(o311, public_id) -> dict:
    with db.engine(o311["url"]).connect() as conn:
        return dict(conn.execute(text(
            "SELECT i.*, g.code AS grid_code, row_to_json(i)::text AS everything "
            "FROM incident i LEFT JOIN grid g ON g.id = i.grid_id WHERE i.public_id = :p"),
            {"p": public_id}).mappings().one())


def api(o311, method, path, who, **kw):
    return requests.request(method, f"{o311['base']}/api/v1/{path}", timeout=30,
                            headers={"Authorization": f"Bearer {o311['tokens'][who]}"}, **kw)


def assert_error(res, status, field=None):
    assert res.status_code == status, res.text
    assert res.headers["Content-Type"].startswith("application/json")
    error = res.json()["error"]
    assert error["code"] and error["message"]
    if field:
        assert error["field"] == field
    return error


def test_services_are_the_active_categories(o311):
    active = api(o311, "GET", "categories", "hotline-t1").json()["categories"]
    res = get(o311, "services.json")
    assert res.status_code == 200
    services = res.json()
    assert [s["service_code"] for s in services] == [c["code"] for c in active]
    first, cat = services[0], active[0]
    assert first["service_name"] == f"{cat['name_zh']} {cat['name_en']}"
    assert first["metadata"] is False and first["type"] == "realtime"
    assert cat["parent_class"] in first["group"] and cat["name_zh"] in first["keywords"]
    # a deactivated category is no service (and no definition); active again, it is back
    assert api(o311, "PATCH", "categories/petition", "o311-admin",
               json={"active": False}).status_code == 200
    try:
        assert "petition" not in {s["service_code"] for s in get(o311, "services.json").json()}
        assert_error(get(o311, "services/petition.json"), 404)
    finally:
        api(o311, "PATCH", "categories/petition", "o311-admin", json={"active": True})
    res = get(o311, "services/petition.json")
    assert res.status_code == 200 and res.json() == {"service_code": "petition",
                                                     "attributes": []}
    assert_error(get(o311, "services/no_such_service.json"), 404, "service_code")
    assert_error(get(o311, "services/a%2Fb.json"), 404)  # any other address: JSON too
    error = assert_error(get(o311, "services.xml"), 400, "format")
    assert "format xml is not supported; use .json" in error["message"]


def test_a_form_encoded_request_becomes_an_incident_in_its_grid(o311):
    res = post(o311, description="楼上漏水 water from upstairs", email="li@example.com",
               first_name="Li", last_name="Wei", phone="13800000000", device_id="dev-1",
               media_url="http://example.com/p.jpg", **{"attribute[floor]": "3"},
               requested_datetime="2026-05-01T09:30:00+08:00")
    public_id = created_id(res)
    assert public_id in res.json()[0]["service_notice"]
    row = incident(o311, public_id)
    assert row["grid_code"] == "231281101001001001" and row["category"] == "dispute_neighbour"
    assert row["source"] == "hotline-t1" and row["external_id"] == public_id
    assert row["description"] == "楼上漏水 water from upstairs"
    assert row["occurred_at"] == datetime(2026, 5, 1, 1, 30, tzinfo=timezone.utc)
    for personal in ("li@example.com", "Wei", "13800000000", "dev-1", "example.com/p.jpg"):
        assert personal not in row["everything"]
    # it reads back with the same id, position and category, open
    res = get(o311, f"requests/{public_id}.json")
    assert res.status_code == 200
    [got] = res.json()
    assert got["service_request_id"] == public_id and got["status"] == "open"
    assert (got["long"], got["lat"]) == IN_T1
    assert got["service_code"] == "dispute_neighbour"
    assert got["service_name"] == "邻里纠纷 Neighbour dispute"
    assert got["status_notes"] == "待受理 reported" and got["agency_responsible"] == "网格 grid"
    assert got["address"] == "镇1 村1-1 网格001-1" and got["media_url"] is None
    assert got["description"] == "楼上漏水 water from upstairs"
    assert datetime.fromisoformat(got["requested_datetime"]) == row["reported_at"]
    assert datetime.fromisoformat(got["expected_datetime"]) == row["resolve_due_at"]


def test_status_closes_after_the_case_is_handled(o311):
    public_id = created_id(post(o311))
    iid = incident(o311, public_id)["id"]
    before = get(o311, f"requests/{public_id}.json").json()[0]
    for action in ("accept", "resolve"):
        version = api(o311, "GET", f"incidents/{iid}/events",
                      "official-t1").json()["incident"]["version"]
        res = api(o311, "POST", f"incidents/{iid}/transitions", "official-t1",
                  json={"action": action, "version": version})
        assert res.status_code == 200, res.text
        got = get(o311, f"requests/{public_id}.json").json()[0]
        assert got["status"] == ("open" if action == "accept" else "closed")
    assert got["status_notes"] == "已处置 handled"
    assert got["updated_datetime"] > before["updated_datetime"]
    closed = get(o311, "requests.json", status="closed").json()
    assert public_id in {r["service_request_id"] for r in closed}
    assert public_id not in {r["service_request_id"] for r in
                             get(o311, "requests.json", status="open", limit=1000).json()}


def test_list_filters_by_id_service_status_and_dates(o311):
    land = created_id(post(o311, service_code="dispute_land"))
    labour = created_id(post(o311, service_code="dispute_labour"))
    listed = get(o311, "requests.json").json()
    ids = [r["service_request_id"] for r in listed]
    assert ids[:2] == [labour, land]  # newest first
    assert all(r["status"] in ("open", "closed") for r in listed)
    res = get(o311, "requests.json", service_code="dispute_land")
    assert {r["service_code"] for r in res.json()} == {"dispute_land"}
    assert land in {r["service_request_id"] for r in res.json()}
    res = get(o311, "requests.json", service_request_id=f"{land}, {labour}")
    assert sorted(r["service_request_id"] for r in res.json()) == sorted([land, labour])
    assert {r["status"] for r in get(o311, "requests.json", status="open").json()} == {"open"}
    now = datetime.now(timezone.utc)
    window = {"start_date": (now - timedelta(hours=1)).isoformat(),
              "end_date": (now + timedelta(hours=1)).isoformat()}
    assert land in {r["service_request_id"] for r in get(o311, "requests.json", **window).json()}
    assert get(o311, "requests.json", start_date=window["end_date"]).json() == []
    assert get(o311, "requests.json", end_date="2020-01-01").json() == []
    assert len(get(o311, "requests.json", limit=1).json()) == 1
    assert_error(get(o311, "requests.json", status="pending"), 400, "status")
    assert_error(get(o311, "requests.json", start_date="yesterday"), 400, "start_date")
    assert_error(get(o311, "requests.json", limit=1001), 400, "limit")


def test_another_townships_token_sees_nothing_of_it(o311):
    public_id = created_id(post(o311))
    assert_error(get(o311, f"requests/{public_id}.json", who="hotline-t2"), 403)
    missing = assert_error(get(o311, "requests/20000101-999999.json", who="hotline-t2"), 403)
    assert missing["code"] == "forbidden"
    assert public_id not in {r["service_request_id"] for r in
                             get(o311, "requests.json", who="hotline-t2", limit=1000).json()}
    assert get(o311, "requests.json", who="hotline-t2", service_request_id=public_id).json() == []
    # its own request in its own township it does see; the administrator sees both
    own = created_id(post(o311, who="hotline-t2", at=IN_T2))
    assert get(o311, f"requests/{own}.json", who="hotline-t2").status_code == 200
    assert_error(get(o311, f"requests/{own}.json"), 403)
    assert get(o311, f"requests/{public_id}.json", who="o311-admin").status_code == 200
    assert_error(get(o311, "requests/20000101-999999.json", who="o311-admin"), 404)


def test_credentials_are_checked_like_any_token(o311):
    base = f"{o311['base']}/open311/v2"
    fields = {"service_code": "dispute_neighbour", "lat": IN_T1[1], "long": IN_T1[0]}
    res = requests.post(f"{base}/requests.json", data={**fields, "api_key": "ggt_bad"},
                        timeout=30)
    assert_error(res, 401)
    assert res.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(requests.post(f"{base}/requests.json", data=fields, timeout=30), 401)
    assert_error(requests.get(f"{base}/services.json", timeout=30), 401)
    assert_error(requests.get(f"{base}/requests.json", params={"api_key": "ggt_bad"},
                              timeout=30), 401)
    # the Authorization header works as well, and a JSON body too
    res = requests.post(f"{base}/requests.json", json=fields, timeout=30, headers={
        "Authorization": f"Bearer {o311['tokens']['hotline-t1']}"})
    created_id(res)
    created_id(requests.post(f"{base}/requests.json", timeout=30,
                             json={**fields, "api_key": o311["tokens"]["hotline-t1"]}))
    # a role that may not report incidents
    assert_error(post(o311, who="planner-t1"), 403)


def test_bad_requests_answer_400_in_the_apps_error_shape(o311):
    assert_error(post(o311, service_code=None), 400, "service_code")
    assert_error(post(o311, at=(IN_T1[0], None)), 400, "lat")
    error = assert_error(post(o311, at=(None, None), address_string="安达市中央街1号"), 400)
    assert "position is needed" in error["message"] and "address" in error["message"]
    assert_error(post(o311, at=(IN_T1[0], "north")), 400, "lat")
    assert_error(post(o311, at=(200, IN_T1[1])), 400, "long")
    error = assert_error(post(o311, service_code="no_such_service"), 400, "service_code")
    assert "no_such_service" in error["message"] and "dispute_neighbour" in error["message"]
    future = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    assert_error(post(o311, requested_datetime=future), 422, "requested_datetime")
    res = requests.post(f"{o311['base']}/open311/v2/requests.xml", timeout=30,
                        data={"api_key": o311["tokens"]["hotline-t1"]})
    assert "use .json" in assert_error(res, 400, "format")["message"]
