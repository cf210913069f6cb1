"""Feature collections (OGC API - Features): the boundary levels, grids and incidents of the
active generation as GeoJSON for GIS clients, within the jurisdiction."""
