"""Engine, migrations, and the database types the use cases pass around (Connection, Engine:
features import them from here, so that only gis.store imports SQLAlchemy)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine

from gis.config import configured_database_url, uses_embedded_database

__all__ = ["Connection", "Engine", "database_url", "engine", "lost_connection", "migrate",
           "ready_engine"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url() -> str:
    """GRIDGIS_DATABASE_URL, or the embedded cluster in .gridgis/ of the checkout."""
    configured = configured_database_url()
    if configured:
        return configured
    from gis.store import local_cluster
    return local_cluster.url()


def ready_engine() -> Engine:
    """Start the embedded cluster when it is the one in use, migrate, return an Engine."""
    if uses_embedded_database():
        from gis.store import local_cluster
        local_cluster.start()
    url = database_url()
    migrate(url)
    return engine(url)


@lru_cache(maxsize=8)
def engine(url: str | None = None) -> Engine:
    return create_engine(url or database_url(), pool_pre_ping=True, pool_size=10,
                         max_overflow=10,
                         # JIT compilation costs ~0.1 s and pays off only for long analytics
                         connect_args={"connect_timeout": 10, "options": "-c jit=off"})


def alembic_config(url: str):
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str | None = None) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    from alembic import command
    command.upgrade(alembic_config(url or database_url()), "head")


def lost_connection(err: BaseException) -> str | None:
    """Why the database connection was lost or refused, when `err` says so (else None)."""
    from sqlalchemy.exc import InterfaceError, OperationalError
    if not isinstance(err, (OperationalError, InterfaceError)):
        return None
    return str(getattr(err, "orig", None) or err).strip().splitlines()[0]
