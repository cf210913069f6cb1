"""Coverage use cases shared by the CLI and the web API: staff, camera, post and road imports
(each all-or-nothing, audited in its own transaction) and the recomputation of response areas.

Metric work happens in a local transverse Mercator centred on the active city (see
gis.analysis.projection); storage stays EPSG:4326.
"""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine

from gis.access import SYSTEM, Principal, Scope
from gis.analysis.projection import local_metric_crs
from gis.boundaries import file_digest
from gis.coverage import inputs, network, response
from gis.errors import InputError, ValidationFailed
from gis.service import OUTSIDE_JURISDICTION
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import coverage as cstore

OUTSIDE_CITY = "不在市域内 outside the city: no boundary of the active generation contains it"


def metric_crs(conn: Connection, generation_id: int):
    """The local metric CRS of the active city (its outline's lon/lat extent)."""
    b = _city(conn, generation_id).bounds
    return local_metric_crs([b[0], b[2]], [b[1], b[3]])


def _city(conn: Connection, generation_id: int):
    from sqlalchemy import text
    wkb = conn.execute(text("SELECT ST_AsBinary(ST_Union(geom)) FROM admin_area "
                            "WHERE generation_id = :g AND level = 1"),
                       {"g": generation_id}).scalar()
    if wkb is None:
        raise InputError("the active boundary generation has no city outline")
    return shapely.from_wkb(bytes(wkb))


def scope_area(conn: Connection, generation_id: int, scope: Scope):
    """The land of a jurisdiction (None for everything): its area units and its grids."""
    if scope.everything:
        return None
    from sqlalchemy import text
    parts = []
    areas = bstore.area_geometries(conn, generation_id,
                                   [u.code for u in scope.units if u.level != "grid"])
    if areas is not None:
        parts.append(areas)
    grids = [u.code for u in scope.units if u.level == "grid"]
    if grids:
        wkb = conn.execute(text("SELECT ST_AsBinary(ST_Union(geom)) FROM grid "
                                "WHERE generation_id = :g AND code = ANY(:c)"),
                           {"g": generation_id, "c": grids}).scalar()
        if wkb is not None:
            parts.append(shapely.from_wkb(bytes(wkb)))
    return shapely.union_all(parts) if parts else shapely.Polygon()


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
    city = _city(conn, gen["id"])
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
        city = _city(conn, gen["id"])
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


# ---- response areas ----

def recompute_response_areas(conn: Connection, progress=None) -> dict:
    """Recompute 1/3/5-minute areas for every post: along the road network when the post is
    within reach of it (pgRouting when installed, else SciPy's Dijkstra on the same graph),
    otherwise a speed buffer. Returns the number of posts per method."""
    gen = bstore.require_active_generation(conn)
    crs_m = metric_crs(conn, gen["id"])
    settings = cstore.settings(conn)
    speed, access = settings["buffer_speed_kmh"], settings["access_m"]
    posts = cstore.points_frame(conn, "response_post")
    edges = cstore.roads_frame(conn)
    engine_name = None
    if len(edges):
        edges = edges.to_crs(crs_m)
        nodes = cstore.nodes_frame(conn).to_crs(crs_m)
        use_pgr = cstore.has_pgrouting(conn)
        engine_name = "pgRouting pgr_drivingDistance" if use_pgr else "SciPy Dijkstra"
    posts_m = posts.to_crs(crs_m)
    budget_max = max(response.MINUTES) * 60
    areas, methods = [], {"network": 0, "buffer": 0}
    for i, post in enumerate(posts_m.itertuples()):
        x, y = post.geometry.x, post.geometry.y
        cache: dict = {}

        def costs(start, limit, _cache=cache):
            if start not in _cache:
                _cache[start] = (cstore.pgr_costs(conn, start, budget_max) if use_pgr else
                                 network.node_costs(edges, [start], budget_max)[start])
            return {n: c for n, c in _cache[start].items() if c <= limit}

        for minutes in response.MINUTES:
            geom, note, method = None, None, "buffer"
            if len(edges):
                geom, info = response.network_area(edges, nodes, x, y, minutes, costs,
                                                   speed_kmh=speed, access_m=access)
                if geom is not None:
                    method = "network"
                    note = (f"{engine_name}; start node {info.get('start_node')}, "
                            f"{info.get('approach_m', 0):.0f} m to the road")
                else:
                    note = (f"more than {response.SNAP_M:.0f} m from the road network: "
                            f"speed buffer at {speed:g} km/h")
            if geom is None:
                geom = response.speed_buffer(x, y, minutes, speed_kmh=speed)
                note = note or f"no road network loaded: speed buffer at {speed:g} km/h"
            areas.append({"post_id": int(post.id), "minutes": minutes, "method": method,
                          "note": note, "geom": geom})
        methods[method] += 1  # the same for each minute mark of a post
        if progress:
            progress(1)
    if areas:
        geoms = gpd.GeoSeries([a["geom"] for a in areas], crs=crs_m).to_crs("EPSG:4326")
        for a, g in zip(areas, geoms):
            a["geom"] = g
    cstore.replace_response_areas(conn, areas)
    return {"posts": len(posts), "areas": len(areas), **methods}


def update_settings(engine: Engine, values: dict, *, actor: Principal = SYSTEM,
                    origin: dict | None = None) -> dict:
    clean = {}
    for key, value in values.items():
        if key not in cstore.SETTINGS:
            raise InputError(f"unknown setting {key!r}; known: {', '.join(cstore.SETTINGS)}",
                             field=key)
        _default, low, high, _what = cstore.SETTINGS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not (low <= value <= high):
            raise InputError(f"{key} must be a number in [{low:g}, {high:g}]", field=key)
        clean[key] = float(value)
    with engine.begin() as conn:
        before = cstore.settings(conn)
        cstore.set_settings(conn, clean, actor.username)
        result = {"settings": cstore.settings(conn)}
        if any(before[k] != clean[k] for k in clean if k in ("buffer_speed_kmh", "access_m")):
            result["response_areas"] = recompute_response_areas(conn)
        audit.record(conn, actor, "coverage_settings", None, details=clean, **(origin or {}))
    return result
