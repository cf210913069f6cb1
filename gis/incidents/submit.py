"""Report one incident (the API's POST): parse, locate, check the jurisdiction, store; and the
JSON form of a stored incident."""
from __future__ import annotations

from gis.access.roles import Principal
from gis.access.scope import OUTSIDE_JURISDICTION, Scope, not_visible
from gis.boundaries.locate import UNIT_KEYS
from gis.categories.manage import catalogue
from gis.errors import Conflict, Forbidden, UnprocessableError
from gis.incidents.parse import parse_feature
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import incidents as istore
from gis.store.db import Connection
from gis.store.scope import point_in_scope, reporter_unit


def _assignment(gen_id: int, grid: dict | None) -> dict:
    out = {"generation_id": gen_id, "grid_id": None}
    out.update({f"{k}_id": None for k in UNIT_KEYS})
    if grid:
        out["grid_id"] = grid["id"]
        out.update({f"{k}_id": grid[f"{k}_id"] for k in UNIT_KEYS})
    return out


def incident_body(conn: Connection, row: dict, scope: Scope | None = None) -> dict:
    """An incident as a GeoJSON Feature with its assignment. For a viewer whose jurisdiction
    does not hold where it lies (a report made from outside), the grid and units outside the
    jurisdiction and its ancestors are left out (null); `covered` still says whether a grid
    holds it."""
    props = {k: row[k] for k in ("public_id", "source", "external_id", "category", "severity",
                                 "status", "description", "input_crs", "generation_id")}
    props["occurred_at"] = row["occurred_at"].isoformat()
    props["reported_at"] = row["reported_at"].isoformat()
    props["covered"] = row["grid_code"] is not None
    # reported from outside the reporter's jurisdiction: the reporter's unit, else None
    props["reporter_unit"] = row.get("reporter_unit")
    context = set(scope.ancestor_codes()) if scope is not None and not scope.everything else None
    for k in ("grid", *UNIT_KEYS):
        code = row[f"{k}_code"]
        shown = context is None or code is None or code in context or scope.contains_code(code)
        props[f"{k}_code"] = code if shown else None
        props[f"{k}_name"] = row[f"{k}_name"] if shown else None
    return {"type": "Feature", "id": row["id"], "properties": props,
            "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]}}


def get_incident(conn: Connection, incident_id: int, scope: Scope,
                 account_id: int | None = None) -> dict:
    """One incident inside the jurisdiction (or dispatched to account_id or its departments)
    as a GeoJSON Feature (else not_visible)."""
    row = istore.get(conn, incident_id, scope=scope)
    if row is None and account_id is not None:
        # dispatched here from elsewhere: the handler sees where it lies in full
        row = istore.get(conn, incident_id, scope=scope, account_id=account_id)
        if row is not None:
            return incident_body(conn, row, None)
    if row is None:
        raise not_visible(scope, "incident", incident_id)
    return incident_body(conn, row, scope)


def account_source(actor: Principal) -> str | None:
    """The source a scoped account's incidents are stored under: its own name, so that one
    account can neither claim nor probe another's (source, external_id) keys. None for accounts
    that see everything (administrators, the command line), which may name any source."""
    return None if actor.scope.everything else actor.username


def _with_source(feature, actor: Principal):
    fixed = account_source(actor)
    if fixed is None or not isinstance(feature, dict) or \
            not isinstance(feature.get("properties"), dict):
        return feature
    given = feature["properties"].get("source")
    if given not in (None, "", fixed):
        raise UnprocessableError(f"source is set by your account: {fixed!r} (leave it out)",
                                 field="source")
    return {**feature, "properties": {**feature["properties"], "source": fixed}}


def report_incident(conn: Connection, feature, crs: str | None, *, actor: Principal,
                    origin: dict | None = None) -> tuple[dict, bool]:
    """An account reports one incident (submit_incident within its jurisdiction, under the
    account's source), audited when it is stored."""
    body, created = submit_incident(conn, _with_source(feature, actor), crs, scope=actor.scope,
                                    reported_by=actor.account_id)
    if created:
        audit.record(conn, actor, "incident_create", f"incident/{body['id']}",
                     details={"external_id": body["properties"]["external_id"],
                              "grid_code": body["properties"]["grid_code"]}, **(origin or {}))
    return body, created


def submit_incident(conn: Connection, feature, crs: str | None = None, *,
                    scope: Scope, reported_by: int | None = None) -> tuple[dict, bool]:
    """Store one incident. Returns (feature, created). The same (source, external_id) sent again
    with the same content answers the stored incident (created False); with different content
    it is a Conflict and nothing changes.

    A point outside the scope is still stored, where it lies (in another unit's grid, or
    uncovered), keeping the reporting account's unit so that unit goes on seeing it (the body's
    `reporter_unit`). Only an account with no unit at all is Forbidden.

    A report without external_id (made in the app) gets a new case number (public_id) as
    its external_id; systems that have ids of their own keep them."""
    public_id = None
    if isinstance(feature, dict) and isinstance(feature.get("properties"), dict) \
            and feature["properties"].get("external_id") in (None, ""):
        public_id = istore.next_public_id(conn)
        feature = {**feature, "properties": {**feature["properties"], "external_id": public_id}}
    inc = parse_feature(feature, crs, categories=catalogue(conn))
    gen_id, grid = bstore.locate_active(conn, inc.lon, inc.lat)
    if gen_id is None:  # outside every root: kept under the reader's own
        gen_id = bstore.require_active_generation(conn, scope)["id"]
    inside = point_in_scope(conn, scope, inc.lon, inc.lat, gen_id,
                            grid["code"] if grid else None)
    reporter = None if inside else reporter_unit(scope)
    if not inside and reporter is None:
        raise Forbidden(OUTSIDE_JURISDICTION)
    new_id = istore.insert_one(conn, inc, _assignment(gen_id, grid), reporter,
                               reported_by=reported_by, public_id=public_id)
    if new_id is not None:
        return incident_body(conn, istore.get(conn, new_id, scope=scope), scope), True
    existing = istore.get_by_key(conn, inc.source, inc.external_id, scope=scope)
    if existing is None:  # stored under the same key, but outside this account's jurisdiction
        raise Conflict(f"incident {inc.source}/{inc.external_id} exists already")
    same = (existing["category"] == inc.category and existing["occurred_at"] == inc.occurred_at
            and abs(existing["input_x"] - inc.input_x) < 1e-9
            and abs(existing["input_y"] - inc.input_y) < 1e-9)
    if not same:
        raise Conflict(f"incident {inc.source}/{inc.external_id} exists with different content",
                       details={"existing_id": existing["id"]})
    return incident_body(conn, existing, scope), False


# ---- imports ----
