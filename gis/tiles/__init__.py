"""Vector tiles of the map layers (grids, the unit levels, incidents, stored analysis results)
for the pages to draw: which layers exist, which zooms they are drawn at, and each tile with an
ETag and caching rule. The SQL is gis.store.tiles."""
