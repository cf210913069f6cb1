"""Attachments: the content checks (pure), and through the API against a real PostGIS: photos
stored without EXIF (the location returned as a suggestion), thumbnails, PDFs as downloads,
refused content and limits storing nothing, the jurisdiction, tokens and sessions."""
from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import text

from gis.attachments import content
from gis.errors import TooLarge, UnprocessableError
from gis.store import db
from tests.helpers import client_for, csrf_token, sign_in
from tests.helpers.worlds import factory_world

T1_GRID = "231281101001001001"
T2_GRID = "231281102001001"
ACCOUNTS = {
    "admin": ("admin", []),
    "township": ("official", ["231281101000"]),
    "foreign": ("official", ["231281102000"]),
    "planner": ("planner", ["231281101000"]),
    "client": ("client", ["231281101000"]),
}
LON, LAT = 125.123456, 46.234567
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    return float(d), float(m), round((value - d - m / 60) * 3600, 4)


def jpeg(size=(1200, 800), lon=LON, lat=LAT, orientation=6) -> bytes:
    """A JPEG with EXIF: a camera maker, an orientation and a GPS IFD (0x8825)."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = ("N" if lat >= 0 else "S"), dms(abs(lat))
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), dms(abs(lon))
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def png(size=(640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (200, 30, 30, 128)).save(out, "PNG")
    return out.getvalue()


# ---- content, pure ----

def test_exif_gps_is_read_as_lon_lat_and_south_west_are_negative():
    p = content.prepare("a.jpg", jpeg(lon=-70.5, lat=-33.25))
    assert p.gps == pytest.approx((-70.5, -33.25), abs=1e-6)
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "JPEG")
    assert content.prepare("b.jpg", out.getvalue()).gps is None


def test_type_comes_from_the_content_not_the_name():
    assert content.prepare("scan.jpg", PDF).content_type == "application/pdf"
    assert content.prepare("photo", png()).filename == "photo.png"
    for data, found in ((b"<!DOCTYPE html><script>alert(1)</script>", "HTML"),
                        (b"MZ\x90\x00\x03" + bytes(100), "Windows program"),
                        (b"PK\x03\x04" + bytes(30), "ZIP"), (b"\x00\x01\x02", "unknown")):
        with pytest.raises(UnprocessableError) as err:
            content.prepare("photo.jpg", data)
        assert found in err.value.message and "JPEG, PNG, WebP, GIF" in err.value.message
    with pytest.raises(UnprocessableError, match="cannot be read"):
        content.prepare("broken.jpg", jpeg()[:200])
    with pytest.raises(TooLarge):
        content.prepare("big.jpg", b"\xff\xd8\xff" + bytes(content.MAX_FILE_BYTES))


def test_images_beyond_the_pixel_limit_are_refused_before_decoding():
    out = io.BytesIO()
    Image.new("1", (8000, 6000)).save(out, "PNG")  # 48 million pixels in a few kB
    with pytest.raises(UnprocessableError, match="too large an image"):
        content.prepare("bomb.png", out.getvalue())


def test_file_names_lose_folders_and_control_characters():
    assert content.clean_filename("C:\\Users\\x\\现场.JPG", (".jpg",)) == "现场.JPG"
    assert content.clean_filename("../../etc/pa\x00ss\"wd", (".pdf",)) == "passwd.pdf"
    assert content.clean_filename("", (".png",)) == "attachment.png"
    assert len(content.clean_filename("x" * 500 + ".jpg", (".jpg",))) == content.MAX_NAME


# ---- through the API, against PostGIS ----

@pytest.fixture(scope="module")
def aw(admin_engine, template_db, factory_gpkg):
    """A database of its own: the factory boundaries and one account per role."""
    with factory_world(admin_engine, template_db, factory_gpkg, "att", ACCOUNTS) as w:
        yield w


def report(aw, who="admin", grid=T1_GRID) -> int:
    p = aw["points"][grid]
    res = aw["clients"][who].post("/api/v1/incidents", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [p.x, p.y]},
        "properties": {"external_id": f"att-{uuid.uuid4().hex[:8]}", "category": "dispute_land",
                       "occurred_at": "2026-05-01T09:00:00+08:00"}})
    assert res.status_code == 201, res.get_json()
    return res.get_json()["id"]


def upload(aw, who, incident_id, *files, client=None, **form):
    data = {"file": [(io.BytesIO(body), name) for name, body in files], **form}
    return (client or aw["clients"][who]).post(
        f"/api/v1/incidents/{incident_id}/attachments", data=data,
        content_type="multipart/form-data")


def stored(aw, incident_id) -> tuple[int, int]:
    """(attachments, audit events) stored for the incident."""
    with db.engine(aw["url"]).connect() as conn:
        return tuple(conn.execute(text(
            "SELECT (SELECT count(*) FROM incident_attachment WHERE incident_id = :i), "
            "(SELECT count(*) FROM audit_event WHERE action = 'attachment_add' "
            "AND target = :t)"), {"i": incident_id, "t": f"incident/{incident_id}"}).one())


def test_a_photo_is_stored_without_exif_and_its_location_is_a_suggestion(aw):
    iid = report(aw)
    original = jpeg()
    res = upload(aw, "township", iid, ("现场照片.jpg", original))
    assert res.status_code == 201, res.get_json()
    (meta,) = res.get_json()["attachments"]
    assert meta["kind"] == "photo" and meta["content_type"] == "image/jpeg"
    assert meta["filename"] == "现场照片.jpg" and meta["username"] == "att-township"
    assert meta["gps_suggestion"] == pytest.approx({"lon": LON, "lat": LAT}, abs=1e-6)
    assert (meta["width"], meta["height"]) == (800, 1200)  # turned upright by its orientation
    assert meta["incident_id"] == iid and meta["event_id"] is None

    served = aw["clients"]["township"].get(meta["url"])
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    body = served.get_data()
    assert hashlib.sha256(body).hexdigest() == meta["sha256"] == served.headers["ETag"].strip('"')
    assert len(body) == meta["size_bytes"]
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("inline;")
    assert "UTF-8''" in served.headers["Content-Disposition"]
    assert "private" in served.headers["Cache-Control"]
    image = Image.open(io.BytesIO(body))
    image.load()
    assert image.format == "JPEG" and image.size == (800, 1200)
    assert not image.getexif() and not image.getexif().get_ifd(0x8825)
    assert b"SecretCam" not in body and b"Exif" not in body
    again = aw["clients"]["township"].get(meta["url"], headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304

    thumb = aw["clients"]["township"].get(meta["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    small = Image.open(io.BytesIO(thumb.get_data()))
    assert max(small.size) <= content.THUMB_SIDE and small.size == (213, 320)
    assert not small.getexif()

    listed = aw["clients"]["township"].get(f"/api/v1/incidents/{iid}/attachments").get_json()
    assert listed["attachments"] == [meta]
    assert stored(aw, iid) == (1, 1)
    with db.engine(aw["url"]).connect() as conn:
        details = conn.execute(text("SELECT details FROM audit_event WHERE action = "
                                    "'attachment_add' AND target = :t"),
                               {"t": f"incident/{iid}"}).scalar_one()
    assert details["attachments"][0]["sha256"] == meta["sha256"]


def test_png_and_pdf_are_accepted_and_the_pdf_is_served_as_a_download(aw):
    iid = report(aw)
    res = upload(aw, "township", iid, ("plan.png", png()), ("协议书.pdf", PDF))
    assert res.status_code == 201, res.get_json()
    photo, document = res.get_json()["attachments"]
    assert (photo["content_type"], photo["width"], photo["height"]) == ("image/png", 640, 480)
    assert photo["gps_suggestion"] is None and photo["thumbnail_url"]
    thumb = Image.open(io.BytesIO(aw["clients"]["township"].get(photo["thumbnail_url"]).data))
    assert thumb.size == (320, 240)
    assert Image.open(io.BytesIO(aw["clients"]["township"].get(photo["url"]).data)).format \
        == "PNG"
    assert document["kind"] == "document" and document["thumbnail_url"] is None
    assert document["width"] is None and document["sha256"] == hashlib.sha256(PDF).hexdigest()
    served = aw["clients"]["township"].get(document["url"])
    assert served.status_code == 200 and served.mimetype == "application/pdf"
    assert served.data == PDF
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert aw["clients"]["township"].get(
        f"/api/v1/attachments/{document['id']}/thumbnail").status_code == 404
    assert stored(aw, iid) == (2, 1)


def test_disguised_and_oversized_files_are_refused_and_nothing_is_stored(aw):
    iid = report(aw)
    for name, body in (("photo.jpg", b"<html><body><script>alert(1)</script></body></html>"),
                       ("photo.jpg", b"MZ\x90\x00" + bytes(2000))):
        res = upload(aw, "township", iid, ("ok.jpg", jpeg()), (name, body))
        assert res.status_code == 422, res.get_json()
        err = res.get_json()["error"]
        assert err["field"] == "file" and "photo.jpg" in err["message"]
        assert "PDF" in err["message"]
    big = b"\xff\xd8\xff" + bytes(content.MAX_FILE_BYTES)
    res = upload(aw, "township", iid, ("big.jpg", big))
    assert res.status_code == 413 and "10 MiB" in res.get_json()["error"]["message"]
    res = upload(aw, "township", iid)
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "file"
    res = upload(aw, "township", iid, ("a.png", png()), event_id="first")
    assert res.status_code == 400 and res.get_json()["error"]["field"] == "event_id"
    assert stored(aw, iid) == (0, 0)


def test_too_many_files_are_refused_all_or_nothing(aw):
    iid = report(aw)
    small = [(f"p{n}.png", png((40, 30))) for n in range(content.MAX_FILES + 1)]
    res = upload(aw, "township", iid, *small)
    assert res.status_code == 422 and res.get_json()["error"]["details"]["max"] == 9
    assert stored(aw, iid) == (0, 0)
    assert upload(aw, "township", iid, *small[:content.MAX_FILES - 1]).status_code == 201
    res = upload(aw, "township", iid, *small[:2])
    assert res.status_code == 422 and "it has 8" in res.get_json()["error"]["message"]
    assert stored(aw, iid) == (content.MAX_FILES - 1, 1)
    assert upload(aw, "township", iid, small[0]).status_code == 201
    assert stored(aw, iid) == (content.MAX_FILES, 2)


def test_another_township_sees_nothing_and_cannot_upload(aw):
    iid = report(aw)
    meta = upload(aw, "township", iid, ("a.jpg", jpeg())).get_json()["attachments"][0]
    foreign = aw["clients"]["foreign"]
    missing_incident, missing = iid + 100_000, meta["id"] + 100_000
    for path, absent in ((f"/api/v1/incidents/{iid}/attachments",
                          f"/api/v1/incidents/{missing_incident}/attachments"),
                         (meta["url"], f"/api/v1/attachments/{missing}"),
                         (meta["thumbnail_url"], f"/api/v1/attachments/{missing}/thumbnail")):
        a, b = foreign.get(path), foreign.get(absent)
        # not_visible: a scoped account gets the same answer as for a record that does not exist
        assert a.status_code == b.status_code and a.status_code in (403, 404), path
        assert meta["sha256"] not in a.get_data(as_text=True)
        assert a.get_data(as_text=True).replace(str(meta["id"]), "N").replace(str(iid), "N") == \
            b.get_data(as_text=True).replace(str(missing), "N").replace(str(missing_incident),
                                                                        "N")
    res = upload(aw, "foreign", iid, ("b.jpg", jpeg()))
    assert res.status_code in (403, 404)
    assert stored(aw, iid) == (1, 1)
    admin = aw["clients"]["admin"]
    assert admin.get(f"/api/v1/attachments/{missing}").status_code == 404
    assert admin.get(meta["url"]).status_code == 200


def test_readers_without_create_or_manage_may_list_but_not_upload(aw):
    iid = report(aw)
    res = upload(aw, "planner", iid, ("a.png", png()))
    assert res.status_code == 403 and "incident.create" in res.get_json()["error"]["message"]
    assert aw["clients"]["planner"].get(f"/api/v1/incidents/{iid}/attachments").get_json() \
        == {"attachments": []}
    assert stored(aw, iid) == (0, 0)


def test_a_client_token_attaches_photos_to_the_incident_it_reported(aw):
    iid = report(aw, "client")
    res = upload(aw, "client", iid, ("scene.jpg", jpeg()))
    assert res.status_code == 201, res.get_json()
    meta = res.get_json()["attachments"][0]
    assert meta["username"] == "att-client"
    assert aw["clients"]["client"].get(meta["url"]).status_code == 200


def test_attachments_may_document_an_event_of_their_incident(aw):
    iid = report(aw)
    res = aw["clients"]["township"].post(f"/api/v1/incidents/{iid}/transitions",
                                         json={"action": "accept", "version": 1})
    assert res.status_code == 200, res.get_json()
    event_id = res.get_json()["event"]["id"]
    res = upload(aw, "township", iid, ("on-site.png", png()), event_id=str(event_id))
    assert res.status_code == 201 and res.get_json()["attachments"][0]["event_id"] == event_id
    other = report(aw)
    res = upload(aw, "township", other, ("x.png", png()), event_id=str(event_id))
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "event_id"
    assert stored(aw, other) == (0, 0)


def test_web_sessions_need_the_csrf_token(aw):
    iid = report(aw)
    c = client_for(aw["url"], None, RATELIMIT_ENABLED=False)
    sign_in(c, aw["accounts"]["township"]["username"])
    res = upload(aw, None, iid, ("a.png", png()), client=c)
    assert res.status_code == 400 and res.get_json()["error"]["code"] == "csrf_failed"
    assert stored(aw, iid) == (0, 0)
    res = upload(aw, None, iid, ("a.png", png()), client=c, csrf_token=csrf_token(c, "/"))
    assert res.status_code == 201, res.get_json()
