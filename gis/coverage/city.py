"""The places coverage work happens in: the active city's outline and its local metric CRS
(metres, gis.geo.measure), and the land of a jurisdiction."""
from __future__ import annotations

import shapely

from gis.access import scope as access_scope
from gis.access.scope import Scope
from gis.errors import InputError
from gis.geo.measure import local_metric_crs
from gis.store import boundaries as bstore
from gis.store.db import Connection

OUTSIDE_CITY = "不在市域内 outside the city: no boundary of the active generation contains it"


def city_outline(conn: Connection, generation_id: int):
    """The outline of a boundary generation: the union of its top units, in EPSG:4326.

    Parameters
    ----------
    conn : Connection
        Database connection.
    generation_id : int
        Id of the boundary generation (normally the active one).

    Returns
    -------
    shapely.Geometry
        (Multi)polygon in EPSG:4326 lon/lat.

    Raises
    ------
    InputError
        The generation has no city outline.
    """
    outline = bstore.city_outline(conn, generation_id)
    if outline is None:
        raise InputError("the active boundary generation has no city outline")
    return outline


def metric_crs(conn: Connection, generation_id: int):
    """The local metric CRS of the active city (its outline's lon/lat extent).

    A transverse Mercator in metres centred on the outline's bounds
    (gis.geo.measure.local_metric_crs).

    Parameters
    ----------
    conn : Connection
        Database connection.
    generation_id : int
        Id of the boundary generation.

    Returns
    -------
    pyproj.CRS
        Projected CRS in metres, x east and y north.

    Raises
    ------
    InputError
        The generation has no city outline.
    """
    b = city_outline(conn, generation_id).bounds
    return local_metric_crs([b[0], b[2]], [b[1], b[3]])


def scope_area(conn: Connection, generation_id: int, scope: Scope):
    """The land of a jurisdiction (None for everything): its area units and its grids.

    Parameters
    ----------
    conn : Connection
        Database connection.
    generation_id : int
        Id of the boundary generation.
    scope : Scope
        The jurisdiction.

    Returns
    -------
    shapely.Geometry or None
        The union of its area units and grids in EPSG:4326; None for a jurisdiction over
        everything, an empty Polygon when none of its units exists in the generation.
    """
    if scope.everything:
        return None
    parts = []
    areas = bstore.area_geometries(conn, generation_id,
                                   [u.code for u in scope.units if u.level != "grid"])
    if areas is not None:
        parts.append(areas)
    grids = [u.code for u in scope.units if u.level == "grid"]
    if grids:
        union = bstore.grids_union(conn, generation_id, grids)
        if union is not None:
            parts.append(union)
    return shapely.union_all(parts) if parts else shapely.Polygon()


def require_city_wide(conn: Connection, actor, what: str) -> None:
    """Forbidden unless the actor's jurisdiction is the whole active city."""
    gen = bstore.require_active_generation(conn, actor.scope)
    access_scope.require_city_wide(actor.scope, bstore.city_code(conn, gen["id"]) or "", what)
