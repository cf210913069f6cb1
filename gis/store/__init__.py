"""The only code that talks to PostGIS: schema, migrations and queries."""
