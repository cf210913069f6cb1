"""Small geometry helpers shared by the features."""
from __future__ import annotations

from shapely.geometry import MultiPolygon

DISPLAY_SIMPLIFY_DEG = 0.00005  # about 5 m: geometries simplified for display only


def zoom_point(geom) -> tuple[float | None, float | None]:
    """A lon/lat inside a geometry for a message to zoom to (None, None for no geometry)."""
    if geom is None or geom.is_empty:
        return None, None
    p = geom.representative_point()
    return round(float(p.x), 6), round(float(p.y), 6)


def to_multipolygons(geoms) -> list:
    """Promote Polygons to MultiPolygons, the storage type."""
    return [MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in geoms]
