"""Coverage figures for the maps and the API: staffing gaps, camera coverage, response areas
and blind spots, per grid and per unit, for one jurisdiction.

Loads from gis.store.coverage, computes with the pure functions of gis.coverage in the active
city's local metric CRS (metres), returns GeoDataFrames in EPSG:4326 and plain tables.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.access.roles import Principal
from gis.access.scope import Scope
from gis.coverage import cameras as camera_geom
from gis.coverage import response as response_geom
from gis.coverage import shares, staffing
from gis.coverage.city import metric_crs
from gis.coverage.inputs import MAX_RANGE_M
from gis.domain import LEVEL_NUMBER
from gis.errors import InputError, NotFound
from gis.files import Download, frame_csv_bytes
from gis.geo.shapes import DISPLAY_SIMPLIFY_DEG as SIMPLIFY_DEG
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import coverage as cstore
from gis.store.db import Connection

OUTSIDE_TOWNSHIPS = "乡镇/街道以外 Outside every township"
# Pieces of a difference that are rounding, not land: under 10 m², or thinner than 1 m on
# average (2 x area / perimeter), like the slivers along edges that two layers draw with
# slightly different vertices.
SLIVER_M2 = 10.0
SLIVER_WIDTH_M = 1.0
UNIT_COLUMNS = {"township": ("township_code", "township_name"),
                "village": ("village_code", "village_name")}


@dataclass
class Context:
    """What the coverage figures of one jurisdiction are computed from, loaded once by `context`.

    Computed figures are cached on it (staffing, cameras, response).

    Attributes
    ----------
    generation : dict
        The active boundary generation.
    crs : pyproj.CRS
        The active city's local metric CRS (transverse Mercator, metres).
    scope : Scope
        The jurisdiction.
    settings : dict
        Coverage settings: households_per_worker (households per FTE worker), buffer_speed_kmh
        (km/h) and access_m (metres).
    grids : geopandas.GeoDataFrame
        The jurisdiction's grids in EPSG:4326: id, code, name, households, population,
        village_code, village_name, township_code, township_name and geometry, by code.
    grids_m : numpy.ndarray
        The same geometries in `crs` (metres), same order.
    townships : geopandas.GeoDataFrame
        Townships in EPSG:4326 (code, name, kind, geometry), cut to the jurisdiction.
    townships_m : numpy.ndarray
        The same geometries in `crs` (metres).
    synthetic : list of str
        Coverage tables holding demo records: any of staff, cameras, posts, roads.
    """
    generation: dict
    crs: object
    scope: Scope
    settings: dict
    grids: gpd.GeoDataFrame            # EPSG:4326, with village/township columns
    grids_m: np.ndarray                # the same geometries in metres
    townships: gpd.GeoDataFrame        # EPSG:4326, cut to the jurisdiction
    townships_m: np.ndarray
    synthetic: list = field(default_factory=list)  # coverage tables holding demo records
    _cache: dict = field(default_factory=dict)

    @property
    def extent(self):
        """The jurisdiction's land in EPSG:4326 (for loading nearby assets).

        The union of its townships, or of its grids when it has no township.
        """
        return shapely.union_all(self.townships.geometry.to_numpy()) if len(self.townships) \
            else shapely.union_all(self.grids.geometry.to_numpy())


def context(conn: Connection, scope: Scope) -> Context:
    """Load the coverage context of a jurisdiction in the active boundary generation.

    Parameters
    ----------
    conn : Connection
        Database connection.
    scope : Scope
        The jurisdiction.

    Returns
    -------
    Context
        Grids and townships in EPSG:4326 and in the city's metric CRS, settings and demo flags.

    Raises
    ------
    NotFound
        No active boundary generation.
    InputError
        The active generation has no city outline.
    """
    gen = bstore.require_active_generation(conn, scope)
    crs_m = metric_crs(conn, gen["id"])
    grids = cstore.grids_frame(conn, gen["id"], scope)
    towns = cstore.townships_frame(conn, gen["id"], scope)
    return Context(gen, crs_m, scope, cstore.settings(conn), grids,
                   grids.to_crs(crs_m).geometry.to_numpy(), towns,
                   towns.to_crs(crs_m).geometry.to_numpy(), cstore.synthetic_kinds(conn))


def _to_4326(geoms, crs_m) -> gpd.GeoSeries:
    return gpd.GeoSeries(list(geoms), crs=crs_m).to_crs("EPSG:4326")


def _unit_names(ctx: Context, level: str) -> pd.DataFrame:
    code, name = UNIT_COLUMNS[level]
    return ctx.grids[[code, name]].drop_duplicates(code).rename(
        columns={code: "unit_code", name: "unit_name"})


# ---- staffing ----

def staff_per_grid(conn: Connection, ctx: Context) -> gpd.GeoDataFrame:
    """Staffing per grid of the jurisdiction (cached on ctx).

    Parameters
    ----------
    conn : Connection
        Database connection.
    ctx : Context
        The jurisdiction's coverage context.

    Returns
    -------
    geopandas.GeoDataFrame
        ctx.grids (EPSG:4326) with the columns of gis.coverage.staffing.grid_staffing (heads,
        full_time, part_time, worker_fte, households_per_worker and the flags no_head, no_worker,
        no_staff, over_target), the target being the households_per_worker setting.
    """
    if "staff" not in ctx._cache:
        per_grid = staffing.grid_staffing(ctx.grids, cstore.assignments(conn),
                                          target=ctx.settings["households_per_worker"])
        ctx._cache["staff"] = gpd.GeoDataFrame(per_grid, geometry="geometry", crs="EPSG:4326")
    return ctx._cache["staff"]


def staff_units(conn: Connection, ctx: Context, level: str = "township") -> pd.DataFrame:
    """Staffing per township or village of the jurisdiction.

    Parameters
    ----------
    conn : Connection
        Database connection.
    ctx : Context
        The jurisdiction's coverage context.
    level : str, default "township"
        "township" or "village".

    Returns
    -------
    pandas.DataFrame
        One row per unit: unit_code, unit_name, then the columns of
        gis.coverage.staffing.unit_gaps (grids, households, heads, worker_fte,
        households_per_worker and the number of grids with each flag).
    """
    per_grid = staff_per_grid(conn, ctx)
    code, _name = UNIT_COLUMNS[level]
    table = staffing.unit_gaps(pd.DataFrame(per_grid.drop(columns="geometry")), code)
    table = table.reset_index() if code not in table.columns else table
    table = table.rename(columns={code: "unit_code"})
    return _unit_names(ctx, level).merge(table, on="unit_code", how="right")


# ---- cameras ----

def camera_coverage(conn: Connection, ctx: Context) -> dict:
    """Camera coverage of the jurisdiction's grids: area and road length in view (cached on ctx).

    Cameras within MAX_RANGE_M (5 km) of the jurisdiction's bounding box and the roads near it are
    loaded; the footprints (gis.coverage.cameras.footprints) are unioned and measured in the
    city's metric CRS.

    Parameters
    ----------
    conn : Connection
        Database connection.
    ctx : Context
        The jurisdiction's coverage context.

    Returns
    -------
    dict
        per_grid: ctx.grids (EPSG:4326) with cameras (number of cameras in the grid), area_share
        (0..1 of its area in view), road_m and road_covered_m (metres of road in the grid, and of
        that in view), road_share (0..1; NaN without roads) and no_camera (no part in view);
        cameras: the cameras loaded (GeoDataFrame, EPSG:4326);
        footprints: GeoDataFrame in EPSG:4326 with external_id, name, range_m, direction_deg,
        fov_deg and the footprint polygon;
        roads_covered, roads_uncovered: GeoDataFrames of road lines in EPSG:4326 (geometry only);
        has_roads: whether any road was loaded.
    """
    if "cameras" in ctx._cache:
        return ctx._cache["cameras"]
    extent = ctx.extent
    cams = cstore.points_frame(conn, "camera", near=extent, margin_m=MAX_RANGE_M)
    cams_m = cams.to_crs(ctx.crs)
    if len(cams_m):
        prints = camera_geom.footprints(cams_m.geometry.x.to_numpy(), cams_m.geometry.y.to_numpy(),
                                        cams_m["range_m"].to_numpy(float),
                                        cams_m["direction_deg"].to_numpy(float),
                                        cams_m["fov_deg"].to_numpy(float))
        cover = shares.union_of_overlapping(prints)
    else:
        prints, cover = np.array([], dtype=object), shapely.Polygon()
    roads = cstore.roads_frame(conn, near=extent)
    roads_m = roads.to_crs(ctx.crs).geometry.to_numpy()
    area = shares.area_shares(ctx.grids_m, cover)
    road_total, road_covered = shares.line_coverage(ctx.grids_m, roads_m, cover)
    per_grid = ctx.grids.copy()
    per_grid["cameras"] = _count_in(ctx.grids_m, cams_m.geometry.to_numpy())
    per_grid["area_share"] = area
    per_grid["road_m"] = road_total
    per_grid["road_covered_m"] = road_covered
    with np.errstate(invalid="ignore", divide="ignore"):
        per_grid["road_share"] = np.where(road_total > 0, road_covered / road_total, np.nan)
    per_grid["no_camera"] = area <= 0
    inside, outside = shares.split_lines(roads_m, cover) if len(roads_m) else ([], [])
    result = {
        "per_grid": per_grid,
        "cameras": cams,
        "footprints": gpd.GeoDataFrame(
            cams[["external_id", "name", "range_m", "direction_deg", "fov_deg"]],
            geometry=_to_4326(prints, ctx.crs), crs="EPSG:4326"),
        "roads_covered": _lines_frame(inside, ctx.crs),
        "roads_uncovered": _lines_frame(outside, ctx.crs),
        "has_roads": bool(len(roads_m)),
    }
    ctx._cache["cameras"] = result
    return result


def _lines_frame(geoms, crs_m) -> gpd.GeoDataFrame:
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    return gpd.GeoDataFrame(geometry=_to_4326(geoms, crs_m), crs="EPSG:4326")


def _count_in(zones_m: np.ndarray, points_m: np.ndarray) -> np.ndarray:
    if not len(points_m) or not len(zones_m):
        return np.zeros(len(zones_m), dtype=int)
    tree = shapely.STRtree(zones_m)
    _pts, zone = tree.query(points_m, predicate="intersects")
    return np.bincount(zone, minlength=len(zones_m))


def camera_units(conn: Connection, ctx: Context, level: str = "township") -> pd.DataFrame:
    """Camera coverage per township or village of the jurisdiction.

    Parameters
    ----------
    conn : Connection
        Database connection.
    ctx : Context
        The jurisdiction's coverage context.
    level : str, default "township"
        "township" or "village".

    Returns
    -------
    pandas.DataFrame
        One row per unit, by code: unit_code, unit_name, grids, cameras (summed over its grids),
        area_share (0..1 of its grids' area in view; NaN without area), road_km (km of road),
        road_share (0..1 of the road length in view; NaN without roads) and
        grids_without_camera.
    """
    per_grid = camera_coverage(conn, ctx)["per_grid"]
    code, _name = UNIT_COLUMNS[level]
    area_m2 = shapely.area(ctx.grids_m)
    df = pd.DataFrame({"unit_code": per_grid[code], "area": area_m2,
                       "covered": area_m2 * per_grid["area_share"],
                       "road_m": per_grid["road_m"], "road_covered_m": per_grid["road_covered_m"],
                       "no_camera": per_grid["no_camera"], "cameras": per_grid["cameras"]})
    g = df.groupby("unit_code", sort=True)
    table = pd.DataFrame({
        "grids": g.size(), "cameras": g["cameras"].sum(),
        "area_share": g["covered"].sum() / g["area"].sum().replace(0, np.nan),
        "road_km": g["road_m"].sum() / 1000,
        "road_share": g["road_covered_m"].sum() / g["road_m"].sum().replace(0, np.nan),
        "grids_without_camera": g["no_camera"].sum(),
    }).reset_index()
    return _unit_names(ctx, level).merge(table, on="unit_code", how="right")


# ---- response areas ----

def response_coverage(conn: Connection, ctx: Context) -> dict:
    """Response areas, their union per minute mark, and the share of each grid inside each.

    The stored areas of every post (also posts outside the jurisdiction) are unioned per minute
    mark (1, 3, 5) in the city's metric CRS; a grid's households are assumed spread evenly over
    it, so its area share is also its household share. Cached on ctx.

    Parameters
    ----------
    conn : Connection
        Database connection.
    ctx : Context
        The jurisdiction's coverage context.

    Returns
    -------
    dict
        areas: the stored response areas (GeoDataFrame, EPSG:4326: post_id, external_id, name,
        kind, minutes, method, note, computed_at, geometry);
        posts: the posts (GeoDataFrame, EPSG:4326);
        per_grid: ctx.grids with share_1, share_3 and share_5 (0..1 of the grid's area inside
        that minute's union);
        unions: {minutes: union geometry in EPSG:4326};
        outside: GeoDataFrame in EPSG:4326, per township (code, name) its land outside every
        5-minute area, without slivers (under 10 m² or thinner than 1 m);
        outside_km2: array of that land's area per township in km²;
        methods: {"network" or "buffer": number of posts};
        engines: routing engines named in the notes of network areas;
        buffer_reasons: why posts got a speed buffer;
        buffer_speed_kmh: the buffer speed setting (km/h).
    """
    if "response" in ctx._cache:
        return ctx._cache["response"]
    areas = cstore.response_areas_frame(conn)
    posts = cstore.points_frame(conn, "response_post")
    areas_m = areas.to_crs(ctx.crs)
    per_grid = ctx.grids.copy()
    unions = {}
    for minutes in response_geom.MINUTES:
        geoms = areas_m.geometry[areas_m["minutes"] == minutes].to_numpy()
        unions[minutes] = shapely.union_all(geoms) if len(geoms) else shapely.Polygon()
        per_grid[f"share_{minutes}"] = shares.area_shares(ctx.grids_m, unions[minutes])
    last = max(response_geom.MINUTES)
    outside = shapely.difference(ctx.townships_m, unions[last]) if len(ctx.townships_m) \
        else np.array([])
    outside = np.array([_drop_slivers(g) for g in outside], dtype=object)
    methods = areas.drop_duplicates("post_id")["method"].value_counts().to_dict() \
        if len(areas) else {}
    result = {
        "areas": areas, "posts": posts, "per_grid": per_grid,
        "unions": {m: _to_4326([u], ctx.crs).iloc[0] for m, u in unions.items()},
        "outside": gpd.GeoDataFrame(ctx.townships[["code", "name"]].copy(),
                                    geometry=_to_4326(outside, ctx.crs), crs="EPSG:4326"),
        "outside_km2": shapely.area(outside) / 1e6 if len(outside) else np.array([]),
        "methods": methods,
        "engines": _notes(areas, "network"),
        "buffer_reasons": _notes(areas, "buffer"),
        "buffer_speed_kmh": ctx.settings["buffer_speed_kmh"],
    }
    ctx._cache["response"] = result
    return result


def _notes(areas, method: str) -> list[str]:
    """Distinct first clauses of the notes of one method: the routing engine, or why a post
    got a buffer."""
    if not len(areas):
        return []
    notes = areas.loc[areas["method"] == method, "note"].dropna()
    return sorted({n.split(";")[0].split(":")[0] for n in notes})


def _drop_slivers(geom):
    if geom is None or geom.is_empty:
        return shapely.Polygon()
    parts = shapely.get_parts(geom)
    area = shapely.area(parts)
    width = 2 * area / np.maximum(shapely.length(parts), 1e-9)
    parts = parts[(area >= SLIVER_M2) & (width >= SLIVER_WIDTH_M)]
    return shapely.union_all(parts) if len(parts) else shapely.Polygon()


def response_units(conn: Connection, ctx: Context, level: str = "township") -> pd.DataFrame:
    """Response-area coverage per township or village of the jurisdiction.

    Parameters
    ----------
    conn : Connection
        Database connection.
    ctx : Context
        The jurisdiction's coverage context.
    level : str, default "township"
        "township" or "village".

    Returns
    -------
    pandas.DataFrame
        One row per unit, by code: unit_code, unit_name, grids, households, and for each minute
        mark m in 1, 3, 5: area_share_m (0..1 of its grids' area inside the m-minute areas; NaN
        without area) and household_share_m (0..1 of its households, spread evenly over each
        grid; NaN without households).
    """
    per_grid = response_coverage(conn, ctx)["per_grid"]
    code, _name = UNIT_COLUMNS[level]
    area_m2 = shapely.area(ctx.grids_m)
    df = pd.DataFrame({"unit_code": per_grid[code], "area": area_m2,
                       "households": per_grid["households"]})
    cols = {}
    for m in response_geom.MINUTES:
        df[f"a{m}"] = area_m2 * per_grid[f"share_{m}"]
        df[f"h{m}"] = per_grid["households"] * per_grid[f"share_{m}"]
    g = df.groupby("unit_code", sort=True)
    cols["grids"] = g.size()
    cols["households"] = g["households"].sum()
    for m in response_geom.MINUTES:
        cols[f"area_share_{m}"] = g[f"a{m}"].sum() / g["area"].sum().replace(0, np.nan)
        cols[f"household_share_{m}"] = g[f"h{m}"].sum() / g["households"].sum().replace(0, np.nan)
    table = pd.DataFrame(cols).reset_index()
    return _unit_names(ctx, level).merge(table, on="unit_code", how="right")


# ---- blind spots ----

def blind_spots(conn: Connection, ctx: Context) -> dict:
    """Everything that is not covered, in one place, with counts per township.

    Land inside the city in no grid, incidents outside every grid, grids without staff, grids
    without camera coverage, land outside every 5-minute response area.

    Parameters
    ----------
    conn : Connection
        Database connection.
    ctx : Context
        The jurisdiction's coverage context.

    Returns
    -------
    dict
        table: pandas.DataFrame, one row per township of the jurisdiction with unit_code,
        unit_name, ungridded_km2 (km² in no grid, without slivers), uncovered_incidents, grids,
        grids_without_staff, grids_without_camera, outside_5min_km2 (km²) and
        households_outside_5min (households, spread evenly over each grid); plus a row with
        unit_code None (OUTSIDE_TOWNSHIPS) for uncovered incidents in no township.
        layers: for the map, in EPSG:4326: ungridded and outside_5min (GeoDataFrames of code,
        name and the land, empty ones dropped), uncovered_incidents (DataFrame of external_id,
        category, occurred_at, lon, lat), grids_without_staff and grids_without_camera (rows of
        the per-grid tables).
        response: the result of `response_coverage`.
    """
    ungridded = _ungridded(ctx)
    incidents = cstore.uncovered_incidents(conn, ctx.scope)
    inc_pts = shapely.points(incidents["lon"].to_numpy(float), incidents["lat"].to_numpy(float)) \
        if len(incidents) else np.array([], dtype=object)
    towns_4326 = ctx.townships.geometry.to_numpy()
    incident_town = _containing(towns_4326, inc_pts)
    staff = staff_per_grid(conn, ctx)
    cams = camera_coverage(conn, ctx)["per_grid"]
    resp = response_coverage(conn, ctx)
    codes = ctx.townships["code"].tolist()
    table = pd.DataFrame({
        "unit_code": codes, "unit_name": ctx.townships["name"].tolist(),
        "ungridded_km2": shapely.area(ungridded) / 1e6 if len(ungridded) else [],
        "uncovered_incidents": np.bincount(incident_town[incident_town >= 0],
                                           minlength=len(codes)) if len(codes) else [],
        "grids": [int((ctx.grids["township_code"] == c).sum()) for c in codes],
        "grids_without_staff": [int(staff["no_staff"][staff["township_code"] == c].sum())
                                for c in codes],
        "grids_without_camera": [int(cams["no_camera"][cams["township_code"] == c].sum())
                                 for c in codes],
        "outside_5min_km2": resp["outside_km2"],
        "households_outside_5min": [
            float((resp["per_grid"]["households"] * (1 - resp["per_grid"]["share_5"]))
                  [resp["per_grid"]["township_code"] == c].sum()) for c in codes],
    })
    beyond = int((incident_town < 0).sum())
    if beyond:  # reported outside the city outline: still a gap, in no township
        table = pd.concat([table, pd.DataFrame([{
            "unit_code": None, "unit_name": OUTSIDE_TOWNSHIPS, "ungridded_km2": 0.0,
            "uncovered_incidents": beyond, "grids": 0, "grids_without_staff": 0,
            "grids_without_camera": 0, "outside_5min_km2": 0.0,
            "households_outside_5min": 0.0}])], ignore_index=True)
    layers = {
        "ungridded": gpd.GeoDataFrame({"code": codes, "name": ctx.townships["name"].tolist()},
                                      geometry=_to_4326(ungridded, ctx.crs), crs="EPSG:4326")
        if len(codes) else gpd.GeoDataFrame({"code": [], "name": []}, geometry=[],
                                            crs="EPSG:4326"),
        "uncovered_incidents": incidents,
        "grids_without_staff": staff[staff["no_staff"]],
        "grids_without_camera": cams[cams["no_camera"]],
        "outside_5min": resp["outside"],
    }
    layers["ungridded"] = layers["ungridded"][~layers["ungridded"].is_empty]
    layers["outside_5min"] = layers["outside_5min"][~layers["outside_5min"].is_empty]
    return {"table": table, "layers": layers, "response": resp}


def _ungridded(ctx: Context) -> np.ndarray:
    """Per township, its land in no grid (metric). The difference is taken in EPSG:4326, where
    boundaries are stored and tile exactly; in a projection a straight edge of a township no
    longer runs through the vertices its grids have on it, which leaves false slivers."""
    if not len(ctx.townships):
        return np.array([], dtype=object)
    union = shares.union_of_tiles(ctx.grids.geometry.to_numpy())
    rest = shapely.difference(ctx.townships.geometry.to_numpy(), union)
    rest_m = gpd.GeoSeries(rest, crs="EPSG:4326").to_crs(ctx.crs).to_numpy()
    return np.array([_drop_slivers(g) for g in rest_m], dtype=object)


def _containing(zones: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Index of the first zone containing each point, -1 when none."""
    out = np.full(len(points), -1, dtype=int)
    if len(points) and len(zones):
        pts, zone = shapely.STRtree(zones).query(points, predicate="intersects")
        first = pd.Series(zone).groupby(pts).min()
        out[first.index.to_numpy()] = first.to_numpy()
    return out


# ---- tables for the API and the pages ----

THEMES = ("staffing", "cameras", "response", "blind-spots")
LEVELS = ("township", "village", "grid")
_GRID_BASE = ["code", "name", "village_code", "village_name", "township_code", "township_name",
              "households"]
GRID_COLUMNS = {
    "staffing": ["heads", "full_time", "part_time", "worker_fte", "households_per_worker",
                 "no_head", "no_worker", "no_staff", "over_target"],
    "cameras": ["cameras", "area_share", "road_m", "road_covered_m", "road_share", "no_camera"],
    "response": [f"share_{m}" for m in response_geom.MINUTES],
}


def table(conn: Connection, ctx: Context, theme: str, level: str = "township") -> pd.DataFrame:
    """One theme's figures per township, village or grid (blind spots: per township).

    Parameters
    ----------
    conn : Connection
        Database connection.
    ctx : Context
        The jurisdiction's coverage context.
    theme : str
        One of THEMES: "staffing", "cameras", "response" or "blind-spots" (not checked here).
    level : str, default "township"
        "township", "village" or "grid"; ignored for "blind-spots".

    Returns
    -------
    pandas.DataFrame
        Per unit: the table of `staff_units`, `camera_units` or `response_units`. Per grid: code,
        name, village_code, village_name, township_code, township_name, households and the
        theme's GRID_COLUMNS. For "blind-spots": the table of `blind_spots`.
    """
    if theme == "blind-spots":
        return blind_spots(conn, ctx)["table"]
    if level == "grid":
        per_grid = {"staffing": lambda: staff_per_grid(conn, ctx),
                    "cameras": lambda: camera_coverage(conn, ctx)["per_grid"],
                    "response": lambda: response_coverage(conn, ctx)["per_grid"]}[theme]()
        return pd.DataFrame(per_grid[_GRID_BASE + GRID_COLUMNS[theme]])
    return {"staffing": staff_units, "cameras": camera_units,
            "response": response_units}[theme](conn, ctx, level)


def plain(value):
    """A JSON-ready scalar: NaN becomes None, numpy scalars plain Python.

    Parameters
    ----------
    value : object
        A value of a table cell.

    Returns
    -------
    object
        None for a float NaN, value.item() for a numpy scalar (anything with .item()), else value.
    """
    if isinstance(value, float) and value != value:
        return None
    return value.item() if hasattr(value, "item") else value


def records(frame: pd.DataFrame) -> list[dict]:
    """A table as JSON-ready rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.

    Returns
    -------
    list of dict
        One dict per row, column -> value; missing values (NaN, None, NaT) become None and numpy
        scalars plain Python (`plain`).
    """
    return [{k: plain(v) for k, v in r.items()}
            for r in frame.astype(object).where(frame.notna(), None).to_dict("records")]


def theme_table(conn: Connection, actor: Principal, theme: str, level: str | None,
                fmt: str | None, *, origin: dict | None = None):
    """One theme's figures for the account's jurisdiction: a dict (JSON) or an audited CSV Download.

    Parameters
    ----------
    conn : Connection
        Database connection; a CSV export is audited in its transaction.
    actor : Principal
        The signed-in account; its jurisdiction bounds the figures.
    theme : str
        One of THEMES: "staffing", "cameras", "response" or "blind-spots".
    level : str or None
        "township" (default), "village" or "grid"; only "township" for "blind-spots".
    fmt : str or None
        "json" (default) or "csv".
    origin : dict, optional
        Where the request came from (ip, user_agent, via), recorded with the audit event.

    Returns
    -------
    dict or Download
        JSON: {"theme", "level", "settings", "rows"} with rows as from `records` (see `table`).
        CSV: a Download of UTF-8 CSV with a BOM named coverage-<theme>-<level>.csv; audited.

    Raises
    ------
    NotFound
        An unknown theme, or no active boundary generation.
    InputError
        A bad level (field "level") or format ("format"), or no city outline in the active
        generation.
    """
    if theme not in THEMES:
        raise NotFound(f"no coverage theme {theme!r}; themes: {', '.join(THEMES)}")
    level = level or "township"
    if level not in LEVELS or (theme == "blind-spots" and level != "township"):
        allowed = "township" if theme == "blind-spots" else ", ".join(LEVELS)
        raise InputError(f"level must be {allowed}", field="level")
    fmt = fmt or "json"
    if fmt not in ("json", "csv"):
        raise InputError("format must be json or csv", field="format")
    ctx = context(conn, actor.scope)
    frame = table(conn, ctx, theme, level)
    if fmt == "json":
        return {"theme": theme, "level": level, "settings": ctx.settings,
                "rows": records(frame)}
    audit.record(conn, actor, "export", f"coverage/{theme}",
                 details={"format": "csv", "level": level}, **(origin or {}))
    return Download(frame_csv_bytes(frame), "text/csv",
                    f"coverage-{theme}-{level}.csv")


# ---- summaries the pages show ----

def grid_overview(conn: Connection, scope: Scope) -> dict:
    """The coverage map of the jurisdiction: the active generation, the city's name, the extent
    of its grids, how many grids and households it has and how many incidents fell outside
    every grid, the household classes of grids and villages for the legend, and points for the
    township names. The grids themselves come as tiles (gis.tiles).

    Parameters
    ----------
    conn : Connection
        Database connection.
    scope : Scope
        The reader's jurisdiction.

    Returns
    -------
    dict
        generation (dict), city (str), bounds ([min lon, min lat, max lon, max lat] or None),
        totals ({grids, households, uncovered}), grid_breaks and village_breaks (upper bounds
        of 5 quantile classes of households), labels ([{code, name, lon, lat}]).
    """
    from gis.store import features
    gen = bstore.require_active_generation(conn, scope)
    cities = features.label_points(conn, gen["id"], scope, LEVEL_NUMBER["city"], min_share=0)
    return {"generation": gen, "city": cities[0]["name"] if cities else "",
            "bounds": features.extent(conn, features.COLLECTIONS["grids"], gen["id"], scope),
            "totals": features.grid_totals(conn, gen["id"], scope),
            "grid_breaks": features.household_breaks(conn, gen["id"], scope, "grid"),
            "village_breaks": features.household_breaks(conn, gen["id"], scope, "village"),
            "labels": features.label_points(conn, gen["id"], scope, LEVEL_NUMBER["township"])}


def camera_totals(ctx: Context, per_grid: gpd.GeoDataFrame) -> dict:
    """Shares of the jurisdiction's grid area and street length within camera view.

    Parameters
    ----------
    ctx : Context
        The jurisdiction's coverage context (for its metric CRS).
    per_grid : geopandas.GeoDataFrame
        The per_grid frame of `camera_coverage` (EPSG:4326, with area_share, road_m and
        road_covered_m).

    Returns
    -------
    dict
        area_share (0..1 of the grids' total area in m², weighted by area) and road_share (0..1
        of the road length; None without roads).
    """
    area_m2 = per_grid.to_crs(ctx.crs).area
    area = float((per_grid["area_share"] * area_m2).sum() / max(area_m2.sum(), 1))
    road_total = per_grid["road_m"].sum()
    road = float(per_grid["road_covered_m"].sum() / road_total) if road_total else None
    return {"area_share": area, "road_share": road}


def household_shares(per_grid: pd.DataFrame) -> dict[int, float]:
    """Share of the jurisdiction's households inside each minute's response areas.

    Households are assumed spread evenly over each grid.

    Parameters
    ----------
    per_grid : pandas.DataFrame
        The per_grid frame of `response_coverage` (households, share_1, share_3, share_5).

    Returns
    -------
    dict of int to float
        {minutes: share in 0..1} for minutes 1, 3 and 5; 0.0 each without households.
    """
    hh = per_grid["households"].sum() or 1
    return {m: float((per_grid["households"] * per_grid[f"share_{m}"]).sum() / hh)
            for m in response_geom.MINUTES}
