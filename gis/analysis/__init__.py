"""Spatial statistics for officials' maps: kernel density, hot spots, legend classes, rates.

Pure functions on arrays and GeoDataFrames in EPSG:4326; metres are measured in a transverse
Mercator centred on the data. Nothing here touches the database or Flask.
"""
