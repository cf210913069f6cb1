"""Incidents: parsing reports and tables (parse), reporting one (submit, against the
deployment's categories), bulk imports (importing), filters and selections (filters,
selection), exports (export), the lifecycle state machine (lifecycle) and handling incidents
through it (handling)."""
