"""OGC API - Features endpoints over the factory boundary set."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse


def test_landing_conformance_and_collections(factory_client):
    landing = factory_client.get("/api/v1/").get_json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "conformance", "data"} <= rels
    conf = factory_client.get("/api/v1/conformance").get_json()["conformsTo"]
    assert any(c.endswith("/conf/core") for c in conf)
    colls = factory_client.get("/api/v1/collections").get_json()["collections"]
    ids = [c["id"] for c in colls]
    assert ids == ["cities", "townships", "villages", "hamlets", "grids", "incidents"]
    grids = next(c for c in colls if c["id"] == "grids")
    assert grids["extent"]["spatial"]["bbox"][0] == [125.0, 46.0, 125.4, 46.4]


def test_items_per_level(factory_client):
    expected = {"cities": 1, "townships": 2, "villages": 4, "hamlets": 2, "grids": 10}
    for coll, n in expected.items():
        res = factory_client.get(f"/api/v1/collections/{coll}/items")
        assert res.status_code == 200 and res.mimetype == "application/geo+json"
        body = res.get_json()
        assert body["type"] == "FeatureCollection"
        assert body["numberMatched"] == n == body["numberReturned"]
        assert all(f["geometry"]["type"] == "MultiPolygon" for f in body["features"])
    village = factory_client.get("/api/v1/collections/villages/items").get_json()["features"][0]
    assert village["properties"]["parent_code"] == "231281101000"


def test_paging_with_next_links(factory_client):
    seen = []
    url = "/api/v1/collections/grids/items?limit=4"
    while url:
        body = factory_client.get(url).get_json()
        seen += [f["properties"]["code"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = None
        if nxt:
            parsed = urlparse(nxt[0])
            assert parse_qs(parsed.query)["limit"] == ["4"]
            url = f"{parsed.path}?{parsed.query}"
    assert len(seen) == 10 and seen == sorted(seen) and len(set(seen)) == 10


def test_bbox_filter(factory_client):
    body = factory_client.get(
        "/api/v1/collections/grids/items?bbox=125.25,46.25,125.35,46.35").get_json()
    codes = {f["properties"]["code"] for f in body["features"]}
    assert codes == {"231281102002001", "231281102002002"}


def test_incidents_datetime_filter(factory_client):
    for i, when in enumerate(["2026-01-10T12:00:00+08:00", "2026-03-10T12:00:00+08:00",
                              "2026-06-10T12:00:00+08:00"]):
        factory_client.post("/api/v1/incidents", json={
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [125.01, 46.01]},
            "properties": {"external_id": f"OGC-{i}", "source": "ogc-test",
                           "category": "petition", "occurred_at": when}})
    url = "/api/v1/collections/incidents/items?datetime=2026-02-01T00:00:00Z/..&limit=10000"
    ids = {f["properties"]["external_id"] for f in factory_client.get(url).get_json()["features"]}
    assert {"OGC-1", "OGC-2"} <= ids and "OGC-0" not in ids
    url = ("/api/v1/collections/incidents/items"
           "?datetime=2026-02-01T00:00:00Z/2026-04-01T00:00:00Z&limit=10000")
    ids = {f["properties"]["external_id"] for f in factory_client.get(url).get_json()["features"]}
    assert "OGC-1" in ids and not {"OGC-0", "OGC-2"} & ids


def test_single_item_and_errors(factory_client):
    first = factory_client.get("/api/v1/collections/townships/items?limit=1").get_json()
    fid = first["features"][0]["id"]
    item = factory_client.get(f"/api/v1/collections/townships/items/{fid}").get_json()
    assert item["properties"]["code"] == "231281101000"
    assert factory_client.get("/api/v1/collections/townships/items/999999").status_code == 404
    assert factory_client.get("/api/v1/collections/roads/items").status_code == 404
    for bad in ("bbox=1,2,3", "bbox=a,b,c,d", "limit=0", "limit=100001", "offset=-1"):
        res = factory_client.get(f"/api/v1/collections/grids/items?{bad}")
        assert res.status_code == 400, bad
        assert res.get_json()["error"]["message"]
    res = factory_client.get("/api/v1/collections/incidents/items?datetime=not-a-date")
    assert res.status_code == 400
