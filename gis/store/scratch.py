"""Throwaway databases on the configured server (tests and benchmarks): create, migrate, drop."""
from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from gis.config import uses_embedded_database
from gis.store import db
from gis.store.db import database_url


def admin_engine() -> Engine:
    """AUTOCOMMIT engine on the server's `postgres` database (starts the embedded cluster)."""
    if uses_embedded_database():
        from gis.store import local_cluster
        local_cluster.start()
    url = make_url(database_url()).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT")


def url_of(name: str) -> str:
    return make_url(database_url()).set(database=name).render_as_string(hide_password=False)


def create_database(admin: Engine, name: str, template: str | None = None) -> str:
    """Create `name` (a copy of `template`, else empty and migrated); returns its URL."""
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    url = url_of(name)
    if not template:
        db.migrate(url)
    return url


def drop_database(admin: Engine, name: str) -> None:
    db.engine(url_of(name)).dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
