"""Incident categories as data: a deployment's list (gis.store.categories), the pure rules
(rules), the sets that ship with gridgis (sets: the default ten and CJ/T 214) and the use cases
administrators change them with (manage)."""
