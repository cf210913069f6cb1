"""Results of heavy analyses kept in PostgreSQL (shared by every app process) and background
work on them: gis.results.cache, gis.results.jobs."""
