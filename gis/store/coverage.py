"""Coverage tables: staff and their grids, cameras, response posts, the road network, response
areas and coverage settings. Loaders return (Geo)DataFrames in EPSG:4326 for gis.coverage."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from gis.access.scope import Scope
from gis.domain import LEVEL_NUMBER
from gis.store.boundaries import area_geometries, grids_union
from gis.store.scope import area_clause, grid_clause

# name: (default, lower bound, upper bound, what it is)
SETTINGS = {
    "households_per_worker": (150.0, 1.0, 5000.0,
                              "target households per full-time-equivalent grid worker"),
    "buffer_speed_kmh": (30.0, 1.0, 150.0,
                         "response speed for speed buffers and the way onto the road network"),
    "access_m": (100.0, 1.0, 1000.0,
                 "distance either side of a reachable road counted as reached (on foot)"),
}


def _geo_frame(rows, columns: list[str]) -> gpd.GeoDataFrame:
    """Mapping rows with the given columns and a `wkb` geometry as a GeoDataFrame (EPSG:4326)."""
    df = pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)
    geoms = shapely.from_wkb([bytes(r["wkb"]) for r in rows]) if rows else []
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"),
                            crs="EPSG:4326")


def settings(conn: Connection) -> dict[str, float]:
    stored = dict(conn.execute(text("SELECT key, value FROM coverage_setting")).all())
    return {k: float(stored.get(k, default)) for k, (default, *_rest) in SETTINGS.items()}


def set_settings(conn: Connection, values: dict[str, float], by: str | None) -> None:
    for key, value in values.items():
        conn.execute(text(
            "INSERT INTO coverage_setting (key, value, updated_by) VALUES (:k, :v, :by) "
            "ON CONFLICT (key) DO UPDATE SET value = :v, updated_by = :by, updated_at = now()"),
            {"k": key, "v": float(value), "by": by})


# ---- staff ----

def existing_grid_codes(conn: Connection, generation_id: int) -> set[str]:
    return set(conn.execute(text("SELECT code FROM grid WHERE generation_id = :g"),
                            {"g": generation_id}).scalars())


def staff_by_external_id(conn: Connection, external_ids: list[str]) -> dict[str, dict]:
    rows = conn.execute(text(
        "SELECT s.id, s.external_id, s.name, s.role, s.phone, s.active, s.synthetic, "
        "coalesce(array_agg(sg.grid_code ORDER BY sg.grid_code) "
        "FILTER (WHERE sg.grid_code IS NOT NULL), '{}') AS grids "
        "FROM staff s LEFT JOIN staff_grid sg ON sg.staff_id = s.id "
        "WHERE s.external_id = ANY(:ids) GROUP BY s.id"), {"ids": list(external_ids)}).mappings()
    return {r["external_id"]: dict(r) for r in rows}


STAFF_FIELDS = ("name", "role", "phone", "active")


def upsert_staff(conn: Connection, rows: pd.DataFrame, synthetic: bool = False) -> dict:
    """Insert new staff, update changed ones (fields and grids), leave identical ones alone.
    Returns counts {inserted, updated, unchanged}."""
    existing = staff_by_external_id(conn, rows["external_id"].tolist())
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    new, changed = [], []
    for r in rows.to_dict("records"):
        grids = sorted(r["grids"])
        old = existing.get(r["external_id"])
        if old is None:
            new.append({**r, "grids": grids})
        elif any(old[f] != r[f] for f in STAFF_FIELDS) or list(old["grids"]) != grids:
            changed.append({**r, "grids": grids, "id": old["id"]})
        else:
            counts["unchanged"] += 1
    for r in new:
        r["id"] = conn.execute(text(
            "INSERT INTO staff (external_id, name, role, phone, active, synthetic) "
            "VALUES (:external_id, :name, :role, :phone, :active, :synthetic) RETURNING id"),
            {**r, "synthetic": synthetic}).scalar_one()
    if changed:
        conn.execute(text(
            "UPDATE staff SET name = :name, role = :role, phone = :phone, active = :active, "
            "updated_at = now() WHERE id = :id"), changed)
        conn.execute(text("DELETE FROM staff_grid WHERE staff_id = ANY(:ids)"),
                     {"ids": [r["id"] for r in changed]})
    links = [{"s": r["id"], "g": g} for r in new + changed for g in r["grids"]]
    if links:
        conn.execute(text("INSERT INTO staff_grid (staff_id, grid_code) VALUES (:s, :g)"), links)
    counts["inserted"], counts["updated"] = len(new), len(changed)
    counts["inserted_ids"] = [r["external_id"] for r in new]
    counts["updated_ids"] = [r["external_id"] for r in changed]
    return counts


def _staff_scope(scope: Scope) -> tuple[str, dict]:
    """Staff with at least one grid inside the jurisdiction."""
    clause, params = grid_clause(scope, "sgc")
    return (f"EXISTS (SELECT 1 FROM (SELECT grid_code AS code FROM staff_grid "
            f"WHERE staff_id = s.id) sgc WHERE {clause})", params)


def list_staff(conn: Connection, scope: Scope, *, grid_code: str | None = None,
               role: str | None = None, limit: int = 1000, offset: int = 0) -> list[dict]:
    clause, params = _staff_scope(scope)
    where = [clause]
    if grid_code:
        where.append("EXISTS (SELECT 1 FROM staff_grid x WHERE x.staff_id = s.id "
                     "AND x.grid_code = :grid_code)")
        params["grid_code"] = grid_code
    if role:
        where.append("s.role = :role")
        params["role"] = role
    rows = conn.execute(text(
        "SELECT s.external_id, s.name, s.role, s.phone, s.active, s.synthetic, "
        "array(SELECT grid_code FROM staff_grid WHERE staff_id = s.id ORDER BY grid_code) "
        "AS grids, s.updated_at FROM staff s WHERE " + " AND ".join(where) +
        " ORDER BY s.external_id LIMIT :limit OFFSET :offset"),
        {**params, "limit": limit, "offset": offset}).mappings()
    return [dict(r) for r in rows]


def staff_in_scope(conn: Connection, scope: Scope, external_id: str) -> dict | None:
    clause, params = _staff_scope(scope)
    row = conn.execute(text(f"SELECT s.external_id FROM staff s WHERE s.external_id = :e "
                            f"AND {clause}"), {**params, "e": external_id}).first()
    return staff_by_external_id(conn, [external_id]).get(external_id) if row else None


def assignments(conn: Connection) -> pd.DataFrame:
    rows = conn.execute(text(
        "SELECT sg.staff_id, sg.grid_code, s.role, s.active FROM staff_grid sg "
        "JOIN staff s ON s.id = sg.staff_id")).all()
    return pd.DataFrame(rows, columns=["staff_id", "grid_code", "role", "active"])


def synthetic_kinds(conn: Connection) -> list[str]:
    """Which coverage tables hold synthetic (demo) records: staff, cameras, posts, roads."""
    row = conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM staff WHERE synthetic), "
        "EXISTS (SELECT 1 FROM camera WHERE synthetic), "
        "EXISTS (SELECT 1 FROM response_post WHERE synthetic), "
        "EXISTS (SELECT 1 FROM road_network WHERE synthetic)")).one()
    return [k for k, flag in zip(("staff", "cameras", "posts", "roads"), row) if flag]


# ---- cameras and posts ----

POINT_TABLES = {
    "camera": ("name", "range_m", "direction_deg", "fov_deg"),
    "response_post": ("name", "kind"),
}


def upsert_points(conn: Connection, table: str, rows: pd.DataFrame,
                  synthetic: bool = False) -> dict:
    """Insert or update by external_id; rows identical to what is stored are not touched."""
    fields = POINT_TABLES[table]
    records = []
    for r in rows.to_dict("records"):
        rec = {"external_id": r["external_id"], "lon": float(r["lon"]), "lat": float(r["lat"]),
               "synthetic": synthetic}
        for f in fields:
            v = r.get(f)
            rec[f] = None if isinstance(v, float) and np.isnan(v) else v
        records.append(rec)
    if not records:
        return {"inserted": 0, "updated": 0, "unchanged": 0}
    cols = ", ".join(fields)
    vals = ", ".join(f":{f}" for f in fields)
    sets = ", ".join(f"{f} = EXCLUDED.{f}" for f in fields)
    differs = " OR ".join(f"t.{f} IS DISTINCT FROM EXCLUDED.{f}" for f in fields)
    sql = text(
        f"INSERT INTO {table} AS t (external_id, {cols}, synthetic, geom) VALUES "
        f"(:external_id, {vals}, :synthetic, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
        f"ON CONFLICT (external_id) DO UPDATE SET {sets}, geom = EXCLUDED.geom "
        f"WHERE {differs} OR NOT ST_Equals(t.geom, EXCLUDED.geom) "
        f"RETURNING (xmax = 0) AS inserted")
    inserted, updated = [], []
    for rec in records:
        row = conn.execute(sql, rec).first()
        if row is not None:
            (inserted if row.inserted else updated).append(rec["external_id"])
    return {"inserted": len(inserted), "updated": len(updated),
            "unchanged": len(records) - len(inserted) - len(updated),
            "inserted_ids": inserted, "updated_ids": updated}


def points_by_external_id(conn: Connection, table: str, external_ids: list[str]
                          ) -> pd.DataFrame:
    """external_id, lon, lat of the stored cameras or posts with these ids."""
    rows = conn.execute(text(
        f"SELECT external_id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM {table} "
        f"WHERE external_id = ANY(:ids)"), {"ids": list(external_ids)}).all()
    return pd.DataFrame(rows, columns=["external_id", "lon", "lat"])


def points_frame(conn: Connection, table: str, near=None, margin_m: float = 0.0
                 ) -> gpd.GeoDataFrame:
    """Cameras or posts (all, or within margin_m of the shapely geometry `near`)."""
    fields = POINT_TABLES[table]
    where, params = "TRUE", {}
    if near is not None:
        where = ("ST_DWithin(geom::geography, ST_GeomFromWKB(:near, 4326)::geography, :m)")
        params = {"near": shapely.to_wkb(shapely.envelope(near)), "m": margin_m}
    rows = conn.execute(text(
        f"SELECT id, external_id, {', '.join(fields)}, synthetic, ST_X(geom) AS lon, "
        f"ST_Y(geom) AS lat FROM {table} WHERE {where} ORDER BY external_id"), params).mappings()
    df = pd.DataFrame([dict(r) for r in rows],
                      columns=["id", "external_id", *fields, "synthetic", "lon", "lat"])
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"].astype(float),
                                                            df["lat"].astype(float)),
                            crs="EPSG:4326")


# ---- roads ----

def replace_roads(conn: Connection, edges: gpd.GeoDataFrame, nodes: gpd.GeoDataFrame, *,
                  source: str, sha256: str | None, synthetic: bool = False) -> int:
    """Replace the whole network (edges and nodes in EPSG:4326)."""
    conn.execute(text("DELETE FROM road; DELETE FROM road_node; DELETE FROM road_network"))
    conn.execute(text(
        "INSERT INTO road_node (id, geom) VALUES (:id, ST_GeomFromWKB(:wkb, 4326))"),
        [{"id": int(i), "wkb": shapely.to_wkb(g)} for i, g in zip(nodes["id"], nodes.geometry)])
    records = [{"name": r["name"], "kind": r["kind"], "speed": float(r["speed_kmh"]),
                "length": float(r["length_m"]), "cost": float(r["cost_s"]),
                "source": int(r["source"]), "target": int(r["target"]),
                "wkb": shapely.to_wkb(r["geometry"]), "syn": synthetic}
               for r in edges.to_dict("records")]
    conn.execute(text(
        "INSERT INTO road (name, kind, speed_kmh, length_m, cost_s, source, target, synthetic, "
        "geom) VALUES (:name, :kind, :speed, :length, :cost, :source, :target, :syn, "
        "ST_GeomFromWKB(:wkb, 4326))"), records)
    conn.execute(text("INSERT INTO road_network (source, source_sha256, synthetic) "
                      "VALUES (:s, :h, :syn)"), {"s": source, "h": sha256, "syn": synthetic})
    return len(records)


def road_network(conn: Connection) -> dict | None:
    row = conn.execute(text(
        "SELECT n.source, n.source_sha256, n.imported_at, n.synthetic, "
        "(SELECT count(*) FROM road) AS edges, (SELECT count(*) FROM road_node) AS nodes, "
        "(SELECT coalesce(sum(length_m), 0) FROM road) AS length_m FROM road_network n"
    )).mappings().first()
    return dict(row) if row else None


def roads_frame(conn: Connection, near=None, margin_m: float = 0.0) -> gpd.GeoDataFrame:
    where, params = "TRUE", {}
    if near is not None:
        where = "ST_DWithin(geom::geography, ST_GeomFromWKB(:near, 4326)::geography, :m)"
        params = {"near": shapely.to_wkb(shapely.envelope(near)), "m": margin_m}
    rows = conn.execute(text(
        f"SELECT id, name, kind, speed_kmh, length_m, cost_s, source, target, "
        f"ST_AsBinary(geom) AS wkb FROM road WHERE {where} ORDER BY id"), params).mappings().all()
    return _geo_frame(rows, ["id", "name", "kind", "speed_kmh", "length_m", "cost_s", "source", "target"])


def nodes_frame(conn: Connection) -> gpd.GeoDataFrame:
    rows = conn.execute(text("SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM road_node "
                             "ORDER BY id")).all()
    df = pd.DataFrame(rows, columns=["id", "lon", "lat"])
    return gpd.GeoDataFrame({"id": df["id"]}, geometry=gpd.points_from_xy(df["lon"], df["lat"]),
                            crs="EPSG:4326")


def has_pgrouting(conn: Connection) -> bool:
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgrouting')")).scalar())


def pgr_costs(conn: Connection, start_node: int, limit_s: float) -> dict[int, float]:
    """Travel time in seconds from start_node to every node reached within limit_s
    (pgr_drivingDistance over the road table, undirected)."""
    rows = conn.execute(text(
        "SELECT node, agg_cost FROM pgr_drivingDistance("
        "'SELECT id, source, target, cost_s AS cost FROM road', CAST(:s AS bigint), "
        "CAST(:lim AS float8), false)"), {"s": int(start_node), "lim": float(limit_s)}).all()
    return {int(n): float(c) for n, c in rows}


# ---- response areas ----

def replace_response_areas(conn: Connection, areas: list[dict]) -> None:
    """areas: dicts post_id, minutes, method, note, geom (shapely, EPSG:4326)."""
    conn.execute(text("DELETE FROM response_area"))
    if areas:
        conn.execute(text(
            "INSERT INTO response_area (post_id, minutes, method, note, geom) VALUES "
            "(:post_id, :minutes, :method, :note, "
            "ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_GeomFromWKB(:wkb, 4326)), 3)))"),
            [{**{k: a[k] for k in ("post_id", "minutes", "method", "note")},
              "wkb": shapely.to_wkb(a["geom"])} for a in areas])


def response_areas_frame(conn: Connection) -> gpd.GeoDataFrame:
    rows = conn.execute(text(
        "SELECT ra.post_id, p.external_id, p.name, p.kind, ra.minutes, ra.method, ra.note, "
        "ra.computed_at, ST_AsBinary(ra.geom) AS wkb FROM response_area ra "
        "JOIN response_post p ON p.id = ra.post_id ORDER BY ra.minutes DESC, p.external_id"
    )).mappings().all()
    return _geo_frame(rows, ["post_id", "external_id", "name", "kind", "minutes", "method", "note",
            "computed_at"])


# ---- grids and units for the reports ----

def grids_frame(conn: Connection, generation_id: int, scope: Scope) -> gpd.GeoDataFrame:
    """Grids of the jurisdiction with their village (id, code, name) and township (code,
    name)."""
    clause, params = grid_clause(scope, "g")
    rows = conn.execute(text(
        f"SELECT g.id, g.code, g.name, g.households, g.population, g.village_id, "
        f"v.code AS village_code, v.name AS village_name, t.code AS township_code, "
        f"t.name AS township_name, "
        f"ST_AsBinary(g.geom) AS wkb FROM grid g JOIN admin_area v ON v.id = g.village_id "
        f"JOIN admin_area t ON t.id = g.township_id WHERE g.generation_id = :gen AND {clause} "
        f"ORDER BY g.code COLLATE \"C\""), {**params, "gen": generation_id}).mappings().all()
    return _geo_frame(rows, ["id", "code", "name", "households", "population", "village_id",
                             "village_code", "village_name", "township_code", "township_name"])


def townships_frame(conn: Connection, generation_id: int, scope: Scope) -> gpd.GeoDataFrame:
    """Townships of the jurisdiction, each cut to the jurisdiction's own land: its area units
    and grids (a village official's township is just their village, a grid worker's their
    grid)."""
    clause, params = area_clause(scope, "a")
    rows = conn.execute(text(
        f"SELECT a.code, a.name, a.kind, ST_AsBinary(a.geom) AS wkb FROM admin_area a "
        f"WHERE a.generation_id = :gen AND a.level = :township AND {clause} ORDER BY a.code"),
        {**params, "gen": generation_id, "township": LEVEL_NUMBER["township"]}).mappings().all()
    frame = _geo_frame(rows, ["code", "name", "kind"])
    if not scope.everything and len(frame) and not any(
            LEVEL_NUMBER.get(u.level, 99) < LEVEL_NUMBER["township"] for u in scope.units):
        grid_codes = [u.code for u in scope.units if u.level == "grid"]
        parts = [area_geometries(conn, generation_id, [u.code for u in scope.units
                                                       if u.level != "grid"]),
                 grids_union(conn, generation_id, grid_codes) if grid_codes else None]
        parts = [p for p in parts if p is not None]
        if parts:  # the jurisdiction's own land: its area units and its grids
            frame = frame.set_geometry(frame.geometry.intersection(shapely.union_all(parts)))
    return frame[~frame.geometry.is_empty].reset_index(drop=True)


def uncovered_incidents(conn: Connection, scope: Scope) -> pd.DataFrame:
    """Incidents that fell outside every grid, with lon/lat."""
    from gis.store.incidents import uncovered
    return pd.DataFrame(uncovered(conn, scope, limit=100_000),
                        columns=["external_id", "category", "occurred_at", "lon", "lat"])


def posts_without_areas(conn: Connection) -> int:
    """Posts that have no response area yet."""
    return conn.execute(text(
        "SELECT count(*) FROM response_post p WHERE NOT EXISTS "
        "(SELECT 1 FROM response_area a WHERE a.post_id = p.id)")).scalar()


def points_on_land(conn: Connection, table: str, generation_id: int, scope: Scope) -> int:
    """How many cameras or posts lie on the jurisdiction's own land (the rule of their tiles,
    gis.store.tiles.point_clause)."""
    from gis.store.tiles import point_clause
    if table not in POINT_TABLES:
        raise ValueError(table)
    clause, params = point_clause(scope, "c")
    return int(conn.execute(text(f"SELECT count(*) FROM {table} c WHERE {clause}"),
                            {**params, "gen": generation_id}).scalar())


def has_synthetic(conn: Connection) -> bool:
    """Whether any synthetic (demo) staff, camera, post or road network is stored."""
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM staff WHERE synthetic) "
        "OR EXISTS (SELECT 1 FROM camera WHERE synthetic) "
        "OR EXISTS (SELECT 1 FROM response_post WHERE synthetic) "
        "OR EXISTS (SELECT 1 FROM road_network WHERE synthetic)")).scalar())


def post_count(conn: Connection) -> int:
    return conn.execute(text("SELECT count(*) FROM response_post")).scalar_one()
