"""A test module's own database with the factory boundaries, a point inside every grid, and
signed-in API clients for a set of accounts."""
from __future__ import annotations

import json
import uuid
from contextlib import contextmanager

from shapely.geometry import shape
from sqlalchemy import text

from gis.store import db, scratch
from tests.helpers import client_for, make_account


@contextmanager
def factory_world(admin_engine, template_db, factory_gpkg, label: str, accounts: dict):
    """{"url", "points" (grid code -> a point inside it), "accounts", "clients"}; accounts:
    name -> (role, unit codes), created as <label>-<name>; the database goes afterwards."""
    from gis.boundaries.importing import import_boundaries
    name = f"gridgis_test_{label}_{uuid.uuid4().hex[:6]}"
    url = scratch.create_database(admin_engine, name, template=template_db)
    try:
        import_boundaries(db.engine(url), factory_gpkg, commit=True, name="factory")
        with db.engine(url).connect() as conn:
            points = {code: shape(json.loads(p)) for code, p in conn.execute(text(
                "SELECT code, ST_AsGeoJSON(ST_PointOnSurface(geom)) FROM grid")).all()}
        made = {n: make_account(url, f"{label}-{n}", role, units)
                for n, (role, units) in accounts.items()}
        clients = {n: client_for(url, a["token"], RATELIMIT_ENABLED=False)
                   for n, a in made.items()}
        yield {"url": url, "points": points, "accounts": made, "clients": clients}
    finally:
        db.engine(url).dispose()
        scratch.drop_database(admin_engine, name)
