"""Coverage analysis: staffing, camera footprints, response areas, shares.

Pure functions; inputs in a metric CRS.
"""
