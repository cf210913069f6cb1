"""Sign-in, sessions, CSRF, tokens, revocation, audit, rate and size limits (real PostGIS)."""
from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import text

from gis.store import db
from tests.helpers import PASSWORD, client_for, csrf_token, make_account, sign_in, unique

@pytest.fixture
def official(factory_db):
    return make_account(factory_db, unique("official"), "official", ["231281101000"])


def test_sign_in_sets_a_safe_session_cookie_and_opens_pages(factory_db, official):
    client = client_for(factory_db, None)
    assert client.get("/maps/coverage").status_code == 401
    res = sign_in(client, official["username"], next_url="/maps/coverage")
    assert res.status_code == 302 and res.headers["Location"].endswith("/maps/coverage")
    cookie = res.headers["Set-Cookie"]
    assert "gridgis_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/maps/coverage").status_code == 200
    me = client.get("/api/v1/me").get_json()
    assert me["username"] == official["username"] and me["via"] == "session"
    assert me["scope"] == "township:231281101000"


def test_passwords_are_stored_as_argon2id(factory_db, official):
    with db.engine(factory_db).connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM account WHERE id = :i"),
                              {"i": official["id"]}).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_wrong_password_and_unknown_user_look_the_same_and_are_audited(factory_db, official):
    client = client_for(factory_db, None)
    a = sign_in(client, official["username"], "wrong-password-123")
    b = sign_in(client, "nobody-" + uuid.uuid4().hex[:6], "wrong-password-123")
    assert a.status_code == b.status_code == 401
    assert "Wrong username or password" in a.get_data(as_text=True)
    assert "Wrong username or password" in b.get_data(as_text=True)
    with db.engine(factory_db).connect() as conn:
        events = conn.execute(text("SELECT username, ip FROM audit_event "
                                   "WHERE action = 'sign_in_failed' AND username = :u"),
                              {"u": official["username"]}).all()
    assert events and events[0].ip == "127.0.0.1"


def test_forms_need_the_csrf_token(factory_db, official):
    client = client_for(factory_db, None)
    res = client.post("/login", data={"username": official["username"], "password": PASSWORD})
    assert res.status_code == 400 and "CSRF" in res.get_data(as_text=True)
    sign_in(client, official["username"])
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [125.05, 46.05]},
               "properties": {"external_id": unique("csrf"), "category": "dispute_land",
                              "occurred_at": "2026-05-01T09:00:00+08:00"}}
    # a session-authenticated API write without the token is refused ...
    res = client.post("/api/v1/incidents", json=feature)
    assert res.status_code == 400 and res.get_json()["error"]["code"] == "csrf_failed"
    # ... and accepted with the token from the page, sent as a header
    token = csrf_token(client, "/")
    res = client.post("/api/v1/incidents", json=feature, headers={"X-CSRFToken": token})
    assert res.status_code == 201


def test_sign_out_revokes_the_session_on_the_server(factory_db, official):
    client = client_for(factory_db, None)
    sign_in(client, official["username"])
    stolen = client.get_cookie("gridgis_session").value
    res = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert res.status_code == 302
    assert client.get("/").status_code == 401
    replay = client_for(factory_db, None)
    replay.set_cookie("gridgis_session", stolen)
    assert replay.get("/").status_code == 401  # the old cookie is dead, not just forgotten


def test_next_only_follows_local_paths(factory_db, official):
    client = client_for(factory_db, None)
    res = sign_in(client, official["username"], next_url="//evil.example/x")
    assert res.status_code == 302 and res.headers["Location"] == "/"


def test_tokens_authenticate_until_revoked(factory_db, official):
    client = client_for(factory_db, official["token"])
    res = client.post("/api/v1/tokens", json={"name": "hotline"})
    assert res.status_code == 201
    body = res.get_json()
    secret, token_id = body["secret"], body["token"]["id"]
    assert secret.startswith("ggt_") and body["token"]["prefix"] == secret[:8]
    second = client_for(factory_db, secret)
    assert second.get("/api/v1/me").get_json()["via"] == "token"
    for bad in ([None], 5, "", "x" * 101):  # schemathesis found a 500 for [null]
        res = client.post("/api/v1/tokens", json={"name": bad})
        assert res.status_code == 400 and res.get_json()["error"]["field"] == "name"
    listed = client.get("/api/v1/tokens").get_json()["tokens"]
    assert secret not in str(listed) and token_id in [t["id"] for t in listed]
    assert second.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    res = second.get("/api/v1/me")
    assert res.status_code == 401 and res.headers["WWW-Authenticate"].startswith("Bearer")


def test_disabled_accounts_lose_tokens_and_sessions(factory_db, factory_admin):
    user = make_account(factory_db, unique("leaver"), "grid_worker", ["231281101002001"])
    browser = client_for(factory_db, None)
    sign_in(browser, user["username"])
    assert browser.get("/").status_code == 200
    admin = client_for(factory_db, factory_admin["token"])
    assert admin.patch(f"/api/v1/accounts/{user['id']}",
                       json={"active": False}).get_json()["active"] is False
    assert client_for(factory_db, user["token"]).get("/api/v1/me").status_code == 401
    assert browser.get("/").status_code == 401
    assert sign_in(client_for(factory_db, None), user["username"]).status_code == 401


def test_administrator_creates_accounts_with_checked_input(factory_db, factory_admin):
    admin = client_for(factory_db, factory_admin["token"])
    name = unique("planner")
    res = admin.post("/api/v1/accounts", json={"username": name, "role": "planner",
                                                "password": "a-long-password",
                                                "units": ["231281102001"]})
    assert res.status_code == 201
    assert res.get_json()["units"] == [{"level": "village", "code": "231281102001"}]
    bad = [({"username": name, "role": "planner", "password": "a-long-password",
             "units": ["231281102001"]}, 409, "username"),
           ({"username": unique("x"), "role": "pope", "password": "a-long-password",
             "units": ["231281102001"]}, 400, "role"),
           ({"username": unique("x"), "role": "official", "password": "short",
             "units": ["231281102001"]}, 400, "password"),
           ({"username": unique("x"), "role": "official", "password": "a-long-password"},
            400, "units"),
           ({"username": unique("x"), "role": "official", "password": "a-long-password",
             "units": ["999999999999"]}, 400, "units")]
    for body, status, field in bad:
        res = admin.post("/api/v1/accounts", json=body)
        assert res.status_code == status, body
        assert res.get_json()["error"]["field"] == field


def test_audit_trail_records_who_when_where(factory_db, factory_admin, official):
    client = client_for(factory_db, None)
    sign_in(client, official["username"])
    ext = unique("audited")
    client.post("/api/v1/incidents", headers={"X-CSRFToken": csrf_token(client, "/")}, json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [125.15, 46.3]},
        "properties": {"external_id": ext, "category": "dispute_land",
                       "occurred_at": "2026-05-01T09:00:00+08:00"}})
    admin = client_for(factory_db, factory_admin["token"])
    events = admin.get(f"/api/v1/audit?username={official['username']}").get_json()["events"]
    actions = [e["action"] for e in events]
    assert actions[:2] == ["incident_create", "sign_in"]
    created = events[0]
    assert created["details"]["external_id"] == ext and created["ip"] == "127.0.0.1"
    assert created["target"].startswith("incident/")
    assert client_for(factory_db, official["token"]).get("/api/v1/audit").status_code == 403
    res = admin.get("/api/v1/audit?action=nonsense")
    assert res.status_code == 400 and res.get_json()["error"]["field"] == "action"
    # by target (a prefix), and the same selection as CSV
    target = created["target"]
    by_target = admin.get(f"/api/v1/audit?target={target}").get_json()["events"]
    assert [e["target"] for e in by_target] == [target]
    assert admin.get("/api/v1/audit?target=incident/%25_").get_json()["events"] == []
    res = admin.get(f"/api/v1/audit?format=csv&username={official['username']}")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    lines = res.data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("时间 At,账号 Account,操作 Action")
    assert len(lines) == 1 + len(events) and ext in res.data.decode("utf-8-sig")
    assert admin.get("/api/v1/audit?format=xml").status_code == 400


def test_rate_limit_answers_429_with_retry_after(factory_db, official):
    client = client_for(factory_db, official["token"], RATE_LIMIT="5 per minute")
    codes = [client.get("/api/v1/me").status_code for _ in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    res = client.get("/api/v1/me")
    assert res.get_json()["error"]["code"] == "too_many_requests"
    assert int(res.headers["Retry-After"]) > 0


def test_sign_in_is_rate_limited_per_address(factory_db, official):
    client = client_for(factory_db, None, SIGN_IN_LIMIT="3 per minute")
    codes = [sign_in(client, official["username"], "wrong-password-123").status_code
             for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_request_bodies_are_limited_with_a_clear_error(factory_db, official):
    client = client_for(factory_db, official["token"], MAX_JSON_BYTES=64 * 1024,
                        MAX_CONTENT_LENGTH=512 * 1024)
    big = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [125.05, 46.05]},
           "properties": {"external_id": "big", "category": "dispute_land",
                          "occurred_at": "2026-05-01T09:00:00+08:00", "description": "x" * 100_000}}
    res = client.post("/api/v1/incidents", json=big)
    assert res.status_code == 413 and "64 KiB" in res.get_json()["error"]["message"]
    # uploads may be larger than JSON bodies, up to the upload limit
    rows = "".join(f"up-{i},dispute_land,2026-05-01 09:00,125.05,46.05\n" for i in range(3000))
    csv = ("external_id,category,occurred_at,lon,lat\n" + rows).encode()
    assert 64 * 1024 < len(csv) < 512 * 1024 < 4 * len(csv)
    res = client.post("/api/v1/imports/incidents", content_type="multipart/form-data",
                      data={"file": (io.BytesIO(csv), "many.csv")})
    assert res.status_code == 201 and res.get_json()["inserted"] == 3000
    res = client.post("/api/v1/imports/incidents", content_type="multipart/form-data",
                      data={"file": (io.BytesIO(csv * 4), "huge.csv")})
    assert res.status_code == 413 and "512 KiB" in res.get_json()["error"]["message"]


def test_upload_refuses_wrong_kinds_of_file(factory_db, official):
    client = client_for(factory_db, official["token"])
    res = client.post("/api/v1/imports/incidents", content_type="multipart/form-data",
                      data={"file": (io.BytesIO(b"MZ\x00\x01"), "tool.exe")})
    assert res.status_code == 400 and res.get_json()["error"]["field"] == "file"
    res = client.post("/api/v1/imports/incidents", content_type="multipart/form-data", data={})
    assert res.status_code == 400 and "multipart" in res.get_json()["error"]["message"]


def test_nul_characters_are_refused_not_crashing(factory_db, factory_admin):
    """PostgreSQL text cannot hold NUL; found by the schemathesis run as a 500."""
    client = client_for(factory_db, factory_admin["token"])
    res = client.post("/api/v1/tokens", json={"name": "a\x00b"})
    assert res.status_code == 400 and res.get_json()["error"]["field"] == "name"
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [125.05, 46.05]},
               "properties": {"external_id": "nul", "category": "dispute_land",
                              "occurred_at": "2026-05-01T09:00:00+08:00", "description": "\x00"}}
    res = client.post("/api/v1/incidents", json=feature)
    assert res.get_json()["error"]["field"] == "properties.description"
    assert client.get("/api/v1/audit?username=a%00b").status_code == 400
    anonymous = client_for(factory_db, None)
    res = anonymous.post("/login", data={"username": "x\x00", "password": "y"})
    assert res.status_code == 400


def test_incident_exports_are_audited(factory_db, factory_admin, official):
    client = client_for(factory_db, official["token"])
    client.post("/api/v1/incidents", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [125.15, 46.25]},
        "properties": {"external_id": unique("exported"), "category": "dispute_land",
                       "occurred_at": "2026-05-01T09:00:00+08:00"}})
    assert client.get("/api/v1/collections/incidents/items?limit=5").status_code == 200
    admin = client_for(factory_db, factory_admin["token"])
    events = admin.get(f"/api/v1/audit?action=export&username={official['username']}"
                       ).get_json()["events"]
    assert events and events[0]["details"]["query"] == "limit=5"
    assert events[0]["target"] == "collections/incidents/items"
