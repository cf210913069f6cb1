"""gridgis spatial core: domain model, validation, assignment and analysis (no Flask)."""
