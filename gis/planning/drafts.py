"""Draft plans: the use cases behind `gridgis plans` and /api/v1/plans (each takes a Connection
in the caller's transaction and returns a dataclass of gis.planning.results; errors are
gis.errors). This module: creating, listing, reading, importing and exporting drafts and
generations; saving edits is gis.planning.saving, checks, proposals and comparison
gis.planning.review, publishing gis.planning.publish.

A draft is a working copy of the active generation's grids in one unit (a city, township or
village inside the account's jurisdiction). Every save (an edit, undo or redo, the publish)
carries the version the client last saw; the draft row is locked while saving and a stale
version is refused (Conflict) with the saves made since, so nothing is lost or applied twice.
Edits are gis.planning.edits operations; each one is logged with its Change (the undo/redo stack: an
undo reverts the last applied edit, a redo re-applies the first undone one, a new edit discards
the undone ones). An edit that makes check errors is still saved (work in progress) and the
answer lists them; publishing refuses a draft with errors.

Publishing writes a new generation: the base generation with the unit's grids replaced by the
draft's, every other area and grid copied, and makes it active, in the caller's transaction.
Incident rows are never touched; reassign_history records where past incidents fall under
another generation in incident_assignment.
"""
from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd

from gis.access.roles import Principal
from gis.access.scope import Scope, Unit, not_visible
from gis.domain import PLAN_FORMATS, PLAN_STATUSES
from gis.errors import (
    Conflict,
    Forbidden,
    InputError,
    NotFound,
    UnprocessableError,
    ValidationFailed,
)
from gis.files import Download
from gis.planning.checks import DEFAULT_TARGETS, Targets, check_plan
from gis.planning.edits import Change
from gis.planning.io import (
    GEOJSON_MIME,
    GPKG_MIME,
    PLAN_COLUMNS,
    feature_collection,
    geojson_bytes,
    geopackage_bytes,
    plan_layers,
    read_plan_file,
)
from gis.planning.results import (
    CheckResult,
    Draft,
    DraftDetail,
    History,
    ImportedDraft,
    TargetRange,
)
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import plans as store

EDIT_OPS = ("split_by_line", "split_equal", "merge", "reshape", "move_area", "add_grid",
            "retire", "renumber", "accept_proposal")
HISTORY_OPS = ("undo", "redo")
OPS = EDIT_OPS + HISTORY_OPS
STATUSES = PLAN_STATUSES
MAX_K = 50
MAX_UNDO_STEPS = 100
NAME_MAX, NOTE_MAX = 200, 2000
LINES = ("LineString", "MultiLineString")
POLYGONS = ("Polygon", "MultiPolygon")
VILLAGE_CODE = re.compile(r"^\d{12}$")


# ---- helpers ----

def _text(body: dict, field: str, limit: int, required: bool) -> str | None:
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise UnprocessableError(f"{field} is required", field=field)
        return None
    if not isinstance(value, str) or not value.strip():
        raise UnprocessableError(f"{field} must be a non-empty string", field=field)
    if len(value) > limit:
        raise UnprocessableError(f"{field} is longer than {limit} characters", field=field)
    return value.strip()


def _int(body: dict, field: str, low: int, high: int, default=None) -> int | None:
    value = body.get(field, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UnprocessableError(f"{field} must be a whole number from {low} to {high}",
                                 field=field)
    return value


def _code(body: dict, field: str = "code", required: bool = True) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UnprocessableError(f"{field} must be a grid or unit code", field=field)
    return value.strip()


def _prefix(draft: dict) -> str:
    return Unit(store.LEVEL_NAMES[draft["unit_level"]], draft["unit_code"]).prefix


def _iso(t) -> str | None:
    return t.isoformat() if t is not None else None


def draft_json(draft: dict, active_generation_id: int | set[int] | None = None) -> Draft:
    return Draft(
        **{k: draft[k] for k in ("id", "name", "note", "unit_code", "unit_name", "status",
                                 "version", "base_generation_id", "published_generation_id",
                                 "author")},
        unit_level=store.LEVEL_NAMES.get(draft["unit_level"]),
        grid_count=int(draft["grid_count"]), undo_steps=int(draft["undo_steps"]),
        redo_steps=int(draft["redo_steps"]), created_at=_iso(draft["created_at"]),
        updated_at=_iso(draft["updated_at"]),
        base_is_active=(draft["base_generation_id"] in active_generation_id
                        if isinstance(active_generation_id, set) else
                        active_generation_id == draft["base_generation_id"]
                        if active_generation_id is not None else None))


def save_json(save: dict) -> dict:
    return {"version": save["version"], "action": save["action"], "op": save["op"],
            "author": save["author"], "at": _iso(save["created_at"]),
            "summary": save["summary"]}


def _summary(change: Change) -> dict:
    return {"added": change.added, "removed": change.removed, "changed": change.changed}


def parse_targets(min_value: int | None, max_value: int | None) -> Targets:
    lo = DEFAULT_TARGETS.households_min if min_value is None else min_value
    hi = DEFAULT_TARGETS.households_max if max_value is None else max_value
    if lo > hi:
        raise InputError(f"min ({lo}) must not exceed max ({hi})", field="min")
    return Targets(households_min=lo, households_max=hi)


def targets_json(t: Targets) -> TargetRange:
    return TargetRange(t.households_min, t.households_max, t.compactness_min)


def _active_id(conn) -> set[int]:
    """The ids of the active generations (one per root)."""
    return {g["id"] for g in bstore.active_generations(conn)}


def get_draft(conn, scope: Scope, draft_id: int, *, lock: bool = False) -> dict:
    draft = store.get_draft(conn, draft_id, scope, lock=lock)
    if draft is None:
        raise not_visible(scope, "plan", draft_id)
    return draft


def _units(conn, draft: dict, scope: Scope) -> gpd.GeoDataFrame:
    return store.leaf_units(conn, draft["base_generation_id"], _prefix(draft), scope)


def _open_for_save(conn, actor: Principal, draft_id: int, body: dict) -> dict:
    """Lock the draft, and refuse a save on a closed draft or from a stale version."""
    draft = get_draft(conn, actor.scope, draft_id, lock=True)
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise UnprocessableError("version is required: the draft version this change is based "
                                 "on (from the last answer)", field="version")
    if draft["status"] != "open":
        raise Conflict(f"plan {draft_id} is {draft['status']}; it can no longer be changed",
                       details={"status": draft["status"], "version": draft["version"]})
    if version != draft["version"]:
        since = [save_json(s) for s in store.saves(conn, draft_id,
                                                   max(0, min(version, draft["version"])))]
        raise Conflict(f"plan {draft_id} is at version {draft['version']}, not {version}: "
                       f"{len(since)} change(s) were saved since; reload it and redo your change "
                       f"(nothing was saved)",
                       field="version",
                       details={"version": draft["version"], "your_version": version,
                                "changes": since})
    return draft


def report_json(report) -> CheckResult:
    """A check report, with its problems also as GeoJSON points to show on a map."""
    body = report.to_dict()
    return CheckResult(**body, problem_points={"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p.to_dict(),
         "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]}}
        for p in report.problems if p.lon is not None]})


# ---- drafts ----

def create_draft(conn, actor: Principal, body: dict, *, origin: dict | None = None) -> Draft:
    """A new draft: a copy of the active generation's grids in a city, township or village."""
    name = _text(body, "name", NAME_MAX, required=True)
    note = _text(body, "note", NOTE_MAX, required=False)
    unit_code = _unit_code(body.get("unit_code"))
    gen = bstore.require_active_generation(conn, code=unit_code)
    unit = _unit(conn, actor.scope, gen["id"], unit_code)
    draft_id = store.insert_draft(conn, name=name, note=note, unit_code=unit_code,
                                  base_generation_id=gen["id"], author_id=actor.account_id)
    store.copy_generation_grids(conn, draft_id, gen["id"],
                                Unit(store.LEVEL_NAMES[unit["level"]], unit_code).prefix,
                                actor.scope)
    store.log_first_save(conn, draft_id, "create", actor.account_id, actor.username)
    audit.record(conn, actor, "plan_edit", f"plan/{draft_id}",
                 details={"op": "create", "unit_code": unit_code, "version": 1},
                 **(origin or {}))
    return draft_json(store.get_draft(conn, draft_id, actor.scope), gen["id"])


def _unit_code(value) -> str:
    if not isinstance(value, str):
        raise UnprocessableError("unit_code is required: the 12-digit code of a city, township "
                                 "or village", field="unit_code")
    value = value.strip()
    if not VILLAGE_CODE.match(value):
        raise UnprocessableError(f"unit_code {value[:40]!r} is not a 12-digit city, township or "
                                 "village code", field="unit_code")
    return value


def _unit(conn, scope: Scope, generation_id: int, unit_code: str) -> dict:
    if not scope.contains_code(unit_code):
        raise Forbidden("不在您的管辖范围内 This unit is not within your jurisdiction",
                        field="unit_code")
    unit = store.unit_in_scope(conn, generation_id, unit_code, scope)
    if unit is None:
        raise UnprocessableError(f"no city, township or village {unit_code} in the active "
                                 f"generation {generation_id}", field="unit_code")
    return unit


def list_drafts(conn, scope: Scope, status: str | None) -> list[Draft]:
    if status is not None and status not in STATUSES:
        raise InputError(f"status must be one of {', '.join(STATUSES)}", field="status")
    active = _active_id(conn)
    return [draft_json(d, active) for d in store.list_drafts(conn, scope, status)]


def draft_detail(conn, scope: Scope, draft_id: int) -> DraftDetail:
    """The draft with its grids and leaf units as GeoJSON."""
    draft = get_draft(conn, scope, draft_id)
    plan = store.load_plan(conn, draft_id, scope)
    units = _units(conn, draft, scope)
    return DraftDetail(draft_json(draft, _active_id(conn)), feature_collection(plan),
                       feature_collection(units, ("code", "name", "kind")))


def draft_grids(conn, scope: Scope, draft_id: int) -> dict:
    get_draft(conn, scope, draft_id)
    return feature_collection(store.load_plan(conn, draft_id, scope))


def history(conn, scope: Scope, draft_id: int) -> History:
    draft = get_draft(conn, scope, draft_id)
    return History(draft_json(draft, _active_id(conn)),
                   [save_json(s) for s in store.saves(conn, draft_id)])


# ---- import and export ----

def import_draft(conn, actor: Principal, path: str | Path, *, name: str,
                 note: str | None = None, unit_code: str | None = None,
                 crs: str | None = None, source: str | None = None,
                 origin: dict | None = None) -> ImportedDraft:
    """A plan file (GeoPackage, GeoJSON, Shapefile) as a new draft of the active generation.
    The unit is given or found from the grids' parent codes (the smallest city, township or
    village holding them all). source: the file's original name (default: the path's)."""
    name = _text({"name": name}, "name", NAME_MAX, required=True)
    note = _text({"note": note}, "note", NOTE_MAX, required=False)
    plan, notes = read_plan_file(path, crs)
    if not len(plan):
        raise ValidationFailed("the plan file holds no grids; nothing was imported")
    unit_code = _unit_code(unit_code) if unit_code else _common_unit(plan["parent_code"])
    gen = bstore.require_active_generation(conn, code=unit_code)
    unit = _unit(conn, actor.scope, gen["id"], unit_code)
    prefix = Unit(store.LEVEL_NAMES[unit["level"]], unit_code).prefix
    outside = [{"row": None, "code": c, "error": f"grid {c} (parent {p}) lies outside unit "
                f"{unit_code}"} for c, p in zip(plan["code"], plan["parent_code"])
               if not (c.startswith(prefix) and p.startswith(prefix))]
    if outside:
        raise ValidationFailed(f"{len(outside)} grid(s) lie outside unit {unit_code}; nothing "
                               "was imported", details=outside)
    draft_id = store.insert_draft(conn, name=name, note=note, unit_code=unit_code,
                                  base_generation_id=gen["id"], author_id=actor.account_id)
    store.insert_grids(conn, draft_id, plan)
    source = source or Path(path).name
    store.log_first_save(conn, draft_id, "import", actor.account_id, actor.username,
                         summary={"source": source, "grids": len(plan)})
    draft = store.get_draft(conn, draft_id, actor.scope)
    report = check_plan(store.load_plan(conn, draft_id, actor.scope), _units(conn, draft,
                                                                             actor.scope))
    audit.record(conn, actor, "plan_edit", f"plan/{draft_id}",
                 details={"op": "import", "source": source, "unit_code": unit_code,
                          "grids": int(draft["grid_count"])}, **(origin or {}))
    return ImportedDraft(draft_json(draft, gen["id"]), notes, report_json(report))


def _common_unit(parents) -> str:
    parents = [str(p) for p in parents]
    for width, pad in ((12, ""), (9, "000"), (6, "000000")):
        heads = {p[:width] for p in parents}
        if len(heads) == 1 and all(len(p) >= 12 for p in parents):
            return next(iter(heads)) + pad
    raise ValidationFailed("the grids' parent codes share no city; give unit_code",
                           field="unit_code")


MEDIA_TYPES = {"gpkg": GPKG_MIME, "geojson": GEOJSON_MIME}
FORMATS = {fmt: (MEDIA_TYPES[fmt], fmt) for fmt in PLAN_FORMATS}  # format: (media type, suffix)


def _format(fmt: str | None) -> str:
    fmt = (fmt or "geojson").lower()
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}", field="format")
    return fmt


def export_draft(conn, actor: Principal, draft_id: int, fmt: str | None, *,
                 origin: dict | None = None) -> Download:
    """A draft as GeoPackage (layer grid) or GeoJSON (an audited export)."""
    fmt = _format(fmt)
    get_draft(conn, actor.scope, draft_id)
    plan = store.load_plan(conn, draft_id, actor.scope)
    data = geopackage_bytes(plan_layers(plan)) if fmt == "gpkg" else \
        geojson_bytes(plan, PLAN_COLUMNS)
    audit.record(conn, actor, "export", f"plan/{draft_id}", details={"format": fmt},
                 **(origin or {}))
    return Download(data, FORMATS[fmt][0], f"plan-{draft_id}.{FORMATS[fmt][1]}")


def export_generation(conn, actor: Principal, generation_id: int, fmt: str | None,
                      layer: str | None = None, *, origin: dict | None = None) -> Download:
    """A generation (active or not) inside the jurisdiction: GeoPackage with the five layers of
    the boundary-set format, or one layer (default grid) as GeoJSON (an audited export)."""
    download = _generation_file(conn, actor.scope, generation_id, fmt, layer)
    audit.record(conn, actor, "export", f"generation/{generation_id}",
                 details={"file": download.filename}, **(origin or {}))
    return download


def _generation_file(conn, scope: Scope, generation_id: int, fmt: str | None,
                     layer: str | None) -> Download:
    fmt = _format(fmt)
    layer = layer or "grid"
    if layer not in ("city", "township", "village", "hamlet", "grid"):
        raise InputError("layer must be city, township, village, hamlet or grid", field="layer")
    if store.generation_exists(conn, generation_id) is None:
        raise NotFound(f"generation {generation_id} does not exist")
    layers = store.generation_layers(conn, generation_id, scope)
    if fmt == "gpkg":
        data = geopackage_bytes({k: v for k, v in layers.items() if len(v) or k == "grid"})
        return Download(data, GPKG_MIME, f"generation-{generation_id}.gpkg")
    frame = layers[layer]
    columns = [c for c in frame.columns if c != frame.geometry.name]
    return Download(geojson_bytes(frame, columns), GEOJSON_MIME,
                    f"generation-{generation_id}-{layer}.geojson")
