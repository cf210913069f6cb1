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
from gis.coverage.city import OUTSIDE_CITY, city_outline, metric_crs, scope_area
from gis.coverage.response_areas import recompute_response_areas
from gis.errors import ValidationFailed
from gis.files import file_digest
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import coverage as cstore
from gis.store.db import Connection, Engine


def _refuse(problems: list[dict], total: int, what: str) -> None:
    if problems:
        rows = len({p.get("row", p.get("feature")) for p in problems})
        raise ValidationFailed(f"{rows} of {total} {what} are invalid; nothing was imported",
                               details=problems)


# ---- staff ----

def check_staff_grids(conn: Connection, rows: pd.DataFrame, scope: Scope) -> list[dict]:
    """Problems for grid codes that do not exist in the active generation or lie outside the
    jurisdiction."""
    gen = bstore.require_active_generation(conn)
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
    counts = cstore.upsert_staff(conn, rows, synthetic=synthetic)
    audit.record(conn, actor, "staff_import", source,
                 details={"rows": len(rows), **counts}, **(origin or {}))
    return {"rows": len(rows), **counts}


def import_staff(engine: Engine, path: str | Path, *, scope: Scope = Scope.all(),
                 actor: Principal = SYSTEM, origin: dict | None = None,
                 synthetic: bool = False) -> dict:
    good, problems = inputs.read_staff(path)
    total = len(good) + len({p["row"] for p in problems})
    with engine.begin() as conn:
        return save_staff(conn, good, scope=scope, actor=actor, origin=origin,
                          source=Path(path).name, synthetic=synthetic, raw_rows=total,
                          problems=problems)


# ---- cameras and posts ----

def _check_places(conn: Connection, rows: pd.DataFrame, scope: Scope) -> list[dict]:
    gen = bstore.require_active_generation(conn)
    lon, lat = rows["lon"].to_numpy(float), rows["lat"].to_numpy(float)
    problems = []
    city = city_outline(conn, gen["id"])
    inside_city = shapely.intersects_xy(city, lon, lat)
    area = scope_area(conn, gen["id"], scope)
    inside_scope = np.ones(len(rows), bool) if area is None else shapely.intersects_xy(
        area, lon, lat)
    for i, r in enumerate(rows.to_dict("records")):
        if not inside_city[i]:
            problems.append({"row": r["row"], "external_id": r["external_id"],
                             "error": f"{OUTSIDE_CITY} ({r['lon']:.6f}, {r['lat']:.6f})"})
        elif not inside_scope[i]:
            problems.append({"row": r["row"], "external_id": r["external_id"],
                             "error": OUTSIDE_JURISDICTION})
    return problems


def _import_points(engine: Engine, table: str, reader, path, crs, *, scope, actor, origin,
                   synthetic, action, what, recompute, progress=None) -> dict:
    good, problems = reader(path, crs)
    total = len(good) + len({p["row"] for p in problems})
    with engine.begin() as conn:
        problems = sorted(problems + _check_places(conn, good, scope), key=lambda p: p["row"])
        _refuse(problems, total, what)
        counts = cstore.upsert_points(conn, table, good, synthetic=synthetic)
        report = {"rows": len(good), **counts}
        if recompute and (counts["inserted"] or counts["updated"]):
            report["response_areas"] = recompute_response_areas(conn, progress=progress)
        audit.record(conn, actor, action, Path(path).name, details=report, **(origin or {}))
    return report


def import_cameras(engine: Engine, path: str | Path, crs: str | None = None, *,
                   scope: Scope = Scope.all(), actor: Principal = SYSTEM,
                   origin: dict | None = None, synthetic: bool = False) -> dict:
    return _import_points(engine, "camera", inputs.read_cameras, path, crs, scope=scope,
                          actor=actor, origin=origin, synthetic=synthetic,
                          action="camera_import", what="cameras", recompute=False)


def import_posts(engine: Engine, path: str | Path, crs: str | None = None, *,
                 scope: Scope = Scope.all(), actor: Principal = SYSTEM,
                 origin: dict | None = None, synthetic: bool = False, progress=None) -> dict:
    return _import_points(engine, "response_post", inputs.read_posts, path, crs, scope=scope,
                          actor=actor, origin=origin, synthetic=synthetic,
                          action="post_import", what="posts", recompute=True,
                          progress=progress)


# ---- roads ----

def import_roads(engine: Engine, path: str | Path, crs: str | None = None, *,
                 actor: Principal = SYSTEM, origin: dict | None = None,
                 synthetic: bool = False, progress=None) -> dict:
    """Replace the road network: read, check every feature, node it at crossings, write it and
    recompute the response areas, in one transaction."""
    path = Path(path)
    roads, problems = inputs.read_roads(path, crs)
    if problems:
        raise ValidationFailed(f"{len(problems)} of {len(roads) + len(problems)} road features "
                               "are invalid; nothing was imported", details=problems)
    with engine.begin() as conn:
        gen = bstore.require_active_generation(conn)
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
        audit.record(conn, actor, "road_import", path.name, details=report, **(origin or {}))
    return report
