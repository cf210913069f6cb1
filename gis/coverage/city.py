"""The places coverage work happens in: the active city's outline and its local metric CRS
(metres, gis.geo.measure), and the land of a jurisdiction."""
from __future__ import annotations

import shapely

from gis.access.scope import Scope
from gis.errors import InputError
from gis.geo.measure import local_metric_crs
from gis.store import boundaries as bstore
from gis.store.db import Connection

OUTSIDE_CITY = "不在市域内 outside the city: no boundary of the active generation contains it"


def city_outline(conn: Connection, generation_id: int):
    outline = bstore.city_outline(conn, generation_id)
    if outline is None:
        raise InputError("the active boundary generation has no city outline")
    return outline


def metric_crs(conn: Connection, generation_id: int):
    """The local metric CRS of the active city (its outline's lon/lat extent)."""
    b = city_outline(conn, generation_id).bounds
    return local_metric_crs([b[0], b[2]], [b[1], b[3]])


def scope_area(conn: Connection, generation_id: int, scope: Scope):
    """The land of a jurisdiction (None for everything): its area units and its grids."""
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
