"""Alembic environment: the URL comes from the caller (gis.store.db.migrate) or gridgis config."""
from alembic import context
from sqlalchemy import create_engine

from gis.store.db import database_url
from gis.store.schema import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url") or database_url()


def include_object(obj, name, type_, reflected, compare_to):
    # PostGIS' own tables are not ours.
    return not (type_ == "table" and name in {"spatial_ref_sys"})


if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = create_engine(url)
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=metadata,
                              include_object=include_object)
            with context.begin_transaction():
                context.run_migrations()
        engine.dispose()
    else:
        context.configure(connection=connectable, target_metadata=metadata,
                          include_object=include_object)
        with context.begin_transaction():
            context.run_migrations()
