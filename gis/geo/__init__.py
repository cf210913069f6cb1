"""Spatial kernel shared by every feature: coordinate systems (crs), measuring in metres
(measure), geometry helpers (shapes) and point-in-grid assignment (assign)."""
