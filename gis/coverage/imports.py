"""Coverage imports shared by the CLI and the web API: staff, camera, post and road files, each
all-or-nothing and audited in its own transaction; posts and roads recompute the response
areas (gis.coverage.response_areas).

Metric work happens in a local transverse Mercator centred on the active city
(gis.coverage.city); storage stays EPSG:4326.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gis.access.roles import SYSTEM, Principal
from gis.access.scope import OUTSIDE_JURISDICTION, Scope
from gis.coverage import inputs, network
from gis.coverage.city import (OUTSIDE_CITY, city_outline, metric_crs, require_city_wide,
                               scope_area)
from gis.coverage.response_areas import recompute_response_areas
from gis.errors import ValidationFailed
from gis.files import file_digest
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import coverage as cstore
from gis.store.db import Connection, Engine


MAX_AUDITED_IDS = 10_000


def _split_ids(counts: dict) -> tuple[dict, dict]:
    """(the counts the caller gets, the audit details: counts plus the external ids changed)."""
    changed = sorted(counts.pop("inserted_ids") + counts.pop("updated_ids"))
    details = {**counts, "changed": changed[:MAX_AUDITED_IDS]}
    if len(changed) > MAX_AUDITED_IDS:
        details["changed_truncated"] = len(changed)
    return counts, details


def _refuse(problems: list[dict], total: int, what: str) -> None:
    if problems:
        rows = len({p.get("row", p.get("feature")) for p in problems})
        raise ValidationFailed(f"{rows} of {total} {what} are invalid; nothing was imported",
                               details=problems)


# ---- staff ----

def check_staff_grids(conn: Connection, rows: pd.DataFrame, scope: Scope) -> list[dict]:
    """Problems for grid codes unknown in the active generation or outside the jurisdiction.

    Parameters
    ----------
    conn : Connection
        Database connection.
    rows : pandas.DataFrame
        Checked staff rows (external_id, grids as lists of codes, optional row).
    scope : Scope
        The jurisdiction of the account importing them.

    Returns
    -------
    list of dict
        {"row", "external_id", "error"} per staff row with unknown grid codes (the first five
        named), and per row with grids outside the jurisdiction.

    Raises
    ------
    NotFound
        No active boundary generation.
    """
    gen = bstore.require_active_generation(conn, scope)
    known = cstore.existing_grid_codes(conn, gen["id"])
    problems = []
    for r in rows.to_dict("records"):
        unknown = [g for g in r["grids"] if g not in known]
        if unknown:
            problems.append({"row": r.get("row"), "external_id": r["external_id"],
                             "error": f"unknown grid code(s) in the active generation: "
                                      f"{', '.join(unknown[:5])}"})
        foreign = [g for g in r["grids"] if g in known and not scope.contains_code(g)]
        if foreign:
            problems.append({"row": r.get("row"), "external_id": r["external_id"],
                             "error": f"{len(foreign)} grid(s): {OUTSIDE_JURISDICTION}"})
    return problems


def save_staff(conn: Connection, rows: pd.DataFrame, *, scope: Scope, actor: Principal,
               origin: dict | None = None, source: str = "api", synthetic: bool = False,
               raw_rows: int | None = None, problems: list | None = None) -> dict:
    """Write checked staff rows, all or nothing, and audit the import, in conn's transaction.

    Parameters
    ----------
    conn : Connection
        Database connection.
    rows : pandas.DataFrame
        Good rows of gis.coverage.inputs.check_staff.
    scope : Scope
        The jurisdiction every grid, and every grid of an existing staff member, must lie in.
    actor : Principal
        Who imports (for the audit event).
    origin : dict, optional
        Where the request came from (ip, user_agent, via), recorded with the audit event.
    source : str, default "api"
        Audit target: the file name or "api:<external_id>".
    synthetic : bool, default False
        Mark new records as demo data.
    raw_rows : int, optional
        Rows in the file, for the message (default len(rows)).
    problems : list of dict, optional
        Problems found while reading; any of them refuses the import.

    Returns
    -------
    dict
        rows, inserted, updated and unchanged (number of staff).

    Raises
    ------
    ValidationFailed
        Any problem (from reading, unknown grid codes, grids outside the jurisdiction; details
        list them by row), or existing staff members with grids outside the jurisdiction.
    NotFound
        No active boundary generation.
    """
    problems = sorted((problems or []) + check_staff_grids(conn, rows, scope),
                      key=lambda p: p.get("row") or 0)
    _refuse(problems, raw_rows or len(rows), "staff rows")
    existing = cstore.staff_by_external_id(conn, rows["external_id"].tolist())
    foreign = [e for e, s in existing.items()
               if not all(scope.contains_code(g) for g in s["grids"])]
    if foreign:
        raise ValidationFailed(
            f"{len(foreign)} staff member(s) already belong to grids outside your jurisdiction; "
            "nothing was imported",
            details=[{"external_id": e, "error": OUTSIDE_JURISDICTION} for e in foreign])
    counts, details = _split_ids(cstore.upsert_staff(conn, rows, synthetic=synthetic))
    audit.record(conn, actor, "staff_import", source,
                 details={"rows": len(rows), **details}, **(origin or {}))
    return {"rows": len(rows), **counts}


def import_staff(engine: Engine, path: str | Path, *, scope: Scope = Scope.all(),
                 actor: Principal = SYSTEM, origin: dict | None = None,
                 synthetic: bool = False, filename: str | None = None) -> dict:
    """Import a staff file, all or nothing and audited, in its own transaction.

    Parameters
    ----------
    engine : Engine
        Database engine.
    path : str or Path
        Staff CSV (see gis.coverage.inputs.read_staff).
    scope : Scope, default everything
        The importing account's jurisdiction.
    actor : Principal, default SYSTEM
        Who imports (for the audit event).
    origin : dict, optional
        Where the request came from (ip, user_agent, via), recorded with the audit event.
    synthetic : bool, default False
        Mark new records as demo data.

    Returns
    -------
    dict
        rows, inserted, updated and unchanged (number of staff).

    Raises
    ------
    InputError
        The file cannot be read or lacks a column.
    ValidationFailed
        Any row problem (see `save_staff`); nothing is written.
    NotFound
        No active boundary generation.
    """
    good, problems = inputs.read_staff(path)
    total = len(good) + len({p["row"] for p in problems})
    with engine.begin() as conn:
        return save_staff(conn, good, scope=scope, actor=actor, origin=origin,
                          source=filename or Path(path).name, synthetic=synthetic,
                          raw_rows=total, problems=problems)


# ---- cameras and posts ----

def _check_places(conn: Connection, table: str, rows: pd.DataFrame,
                  scope: Scope) -> list[dict]:
    """Problems for rows placed outside the city or the jurisdiction, and for rows whose
    external_id is a stored camera or post outside the jurisdiction (an import may touch
    nothing outside it, by id or by place, old or new)."""
    gen = bstore.require_active_generation(conn, scope)
    lon, lat = rows["lon"].to_numpy(float), rows["lat"].to_numpy(float)
    problems = []
    city = city_outline(conn, gen["id"])
    inside_city = shapely.intersects_xy(city, lon, lat)
    area = scope_area(conn, gen["id"], scope)
    inside_scope = np.ones(len(rows), bool) if area is None else shapely.intersects_xy(
        area, lon, lat)
    foreign = set()
    if area is not None:
        old = cstore.points_by_external_id(conn, table, rows["external_id"].tolist())
        outside = ~shapely.intersects_xy(area, old["lon"].to_numpy(float),
                                         old["lat"].to_numpy(float))
        foreign = set(old["external_id"][outside])
    for i, r in enumerate(rows.to_dict("records")):
        if r["external_id"] in foreign:
            problems.append({"row": r["row"], "external_id": r["external_id"],
                             "error": f"this external_id is a record {OUTSIDE_JURISDICTION}"})
        elif not inside_city[i]:
            problems.append({"row": r["row"], "external_id": r["external_id"],
                             "error": f"{OUTSIDE_CITY} ({r['lon']:.6f}, {r['lat']:.6f})"})
        elif not inside_scope[i]:
            problems.append({"row": r["row"], "external_id": r["external_id"],
                             "error": OUTSIDE_JURISDICTION})
    return problems


def _import_points(engine: Engine, table: str, reader, path, crs, *, scope, actor, origin,
                   synthetic, action, what, recompute, progress=None, filename=None) -> dict:
    good, problems = reader(path, crs)
    total = len(good) + len({p["row"] for p in problems})
    with engine.begin() as conn:
        problems = sorted(problems + _check_places(conn, table, good, scope),
                          key=lambda p: p["row"])
        _refuse(problems, total, what)
        counts, details = _split_ids(cstore.upsert_points(conn, table, good,
                                                          synthetic=synthetic))
        report = {"rows": len(good), **counts}
        if recompute and (counts["inserted"] or counts["updated"]):
            report["response_areas"] = recompute_response_areas(conn, progress=progress)
        audit.record(conn, actor, action, filename or Path(path).name,
                     details={**report, **details}, **(origin or {}))
    return report


def import_cameras(engine: Engine, path: str | Path, crs: str | None = None, *,
                   scope: Scope = Scope.all(), actor: Principal = SYSTEM,
                   origin: dict | None = None, synthetic: bool = False,
                   filename: str | None = None) -> dict:
    """Import cameras (CSV or GeoJSON points), all or nothing and audited, in its own transaction.

    Every camera must lie in the active city and the jurisdiction; cameras are inserted or updated
    by external_id, identical ones left alone.

    Parameters
    ----------
    engine : Engine
        Database engine.
    path : str or Path
        Cameras file (see gis.coverage.inputs.read_cameras).
    crs : str, optional
        CRS of the coordinates (EPSG:4326 by default; GCJ02, BD09 or EPSG:xxxx).
    scope : Scope, default everything
        The importing account's jurisdiction.
    actor : Principal, default SYSTEM
        Who imports (for the audit event).
    origin : dict, optional
        Where the request came from (ip, user_agent, via), recorded with the audit event.
    synthetic : bool, default False
        Mark new records as demo data.

    Returns
    -------
    dict
        rows, inserted, updated and unchanged (number of cameras).

    Raises
    ------
    InputError
        The file cannot be read, lacks a column or has an unknown CRS; no city outline.
    ValidationFailed
        Any row problem, cameras outside the city or the jurisdiction included (details list
        them by row); nothing is written.
    NotFound
        No active boundary generation.
    """
    return _import_points(engine, "camera", inputs.read_cameras, path, crs, scope=scope,
                          actor=actor, origin=origin, synthetic=synthetic,
                          action="camera_import", what="cameras", recompute=False,
                          filename=filename)


def import_posts(engine: Engine, path: str | Path, crs: str | None = None, *,
                 scope: Scope = Scope.all(), actor: Principal = SYSTEM,
                 origin: dict | None = None, synthetic: bool = False, progress=None,
                 filename: str | None = None) -> dict:
    """Import police posts and patrol stations, all or nothing and audited, in its own transaction.

    Every post must lie in the active city and the jurisdiction; posts are inserted or updated by
    external_id, identical ones left alone. When any post is new or changed, the response areas of
    every post are recomputed in the same transaction.

    Parameters
    ----------
    engine : Engine
        Database engine.
    path : str or Path
        Posts file (see gis.coverage.inputs.read_posts).
    crs : str, optional
        CRS of the coordinates (EPSG:4326 by default; GCJ02, BD09 or EPSG:xxxx).
    scope : Scope, default everything
        The importing account's jurisdiction.
    actor : Principal, default SYSTEM
        Who imports (for the audit event).
    origin : dict, optional
        Where the request came from (ip, user_agent, via), recorded with the audit event.
    synthetic : bool, default False
        Mark new records as demo data.
    progress : callable, optional
        Called with 1 after each post of the recomputation.

    Returns
    -------
    dict
        rows, inserted, updated and unchanged (number of posts), and response_areas (the counts
        of `recompute_response_areas`) when they were recomputed.

    Raises
    ------
    InputError
        The file cannot be read, lacks a column or has an unknown CRS; no city outline.
    ValidationFailed
        Any row problem, posts outside the city or the jurisdiction included (details list them
        by row); nothing is written.
    NotFound
        No active boundary generation.
    """
    return _import_points(engine, "response_post", inputs.read_posts, path, crs, scope=scope,
                          actor=actor, origin=origin, synthetic=synthetic,
                          action="post_import", what="posts", recompute=True,
                          progress=progress, filename=filename)


# ---- roads ----

def import_roads(engine: Engine, path: str | Path, crs: str | None = None, *,
                 actor: Principal = SYSTEM, origin: dict | None = None,
                 synthetic: bool = False, progress=None, filename: str | None = None) -> dict:
    """Replace the road network from a file, in one transaction.

    Read, check every feature, node it at crossings, write it and recompute the response areas.
    Features wholly outside the active city are refused. The roads are noded in the city's metric
    CRS (gis.coverage.network.build_network) and stored in EPSG:4326; the import is audited.

    Parameters
    ----------
    engine : Engine
        Database engine.
    path : str or Path
        Roads file (.gpkg or .geojson; see gis.coverage.inputs.read_roads).
    crs : str, optional
        CRS of the file, overriding the one it declares (needed when it declares none).
    actor : Principal, default SYSTEM
        Who imports (for the audit event).
    origin : dict, optional
        Where the request came from (ip, user_agent, via), recorded with the audit event.
    synthetic : bool, default False
        Mark the network as demo data.
    progress : callable, optional
        Called with 1 after each post of the recomputation.

    Returns
    -------
    dict
        features (road features read), edges and nodes (numbers stored), length_km (total edge
        length in km, 3 decimals) and response_areas (the counts of `recompute_response_areas`).

    Raises
    ------
    InputError
        The file cannot be read or has no line layer, no or an unknown CRS, no usable road line;
        no city outline.
    ValidationFailed
        Bad features, or features wholly outside the city (details list them by feature number
        from 1); nothing is written.
    NotFound
        No active boundary generation.
    """
    path = Path(path)
    roads, problems = inputs.read_roads(path, crs)
    if problems:
        raise ValidationFailed(f"{len(problems)} of {len(roads) + len(problems)} road features "
                               "are invalid; nothing was imported", details=problems)
    with engine.begin() as conn:
        require_city_wide(conn, actor, "路网 The road network")
        gen = bstore.require_active_generation(conn, actor.scope)
        city = city_outline(conn, gen["id"])
        outside = ~shapely.intersects(roads.geometry.to_numpy(), city)
        if outside.any():
            raise ValidationFailed(
                f"{int(outside.sum())} road feature(s) lie wholly outside the city; nothing was "
                "imported (wrong CRS, or another city's roads?)",
                details=[{"feature": int(i) + 1, "error": OUTSIDE_CITY}
                         for i in np.flatnonzero(outside)[:100]])
        crs_m = metric_crs(conn, gen["id"])
        edges, nodes = network.build_network(roads.to_crs(crs_m), roads["speed_kmh"])
        edges = edges.to_crs("EPSG:4326")
        nodes = nodes.to_crs("EPSG:4326")
        count = cstore.replace_roads(conn, edges, nodes, source=path.name,
                                     sha256=file_digest(path), synthetic=synthetic)
        report = {"features": len(roads), "edges": count, "nodes": len(nodes),
                  "length_km": round(float(edges.to_crs(crs_m).length.sum()) / 1000, 3)}
        report["response_areas"] = recompute_response_areas(conn, progress=progress)
        audit.record(conn, actor, "road_import", filename or path.name, details=report,
                     **(origin or {}))
    return report
