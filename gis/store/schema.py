"""Tables. Geometries are stored in EPSG:4326 with GiST indexes.

Boundary generations: every administrative area and grid belongs to one generation; exactly one
generation is active (partial unique index). An incident keeps the generation, grid and ancestors
it was assigned under, so redrawing grids never rewrites where past incidents were counted.
"""
from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
                        BigInteger,
                        Boolean,
                        CheckConstraint,
                        Column,
                        DateTime,
                        Float,
                        ForeignKey,
                        Index,
                        Integer,
                        MetaData,
                        SmallInteger,
                        Table,
                        Text,
                        UniqueConstraint,
                        func,
                        text,
)

metadata = MetaData()

generation = Table(
    "generation", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("note", Text),
    Column("source", Text),
    Column("source_sha256", Text),
    # digest of what the set holds (gis.boundaries.identity), whatever the file is called
    Column("content_sha256", Text),
    Column("demo", Boolean, nullable=False, server_default=text("false")),
    # the set's top unit: one generation is active per root (migration 0013)
    Column("root_code", Text),
    Column("root_level", SmallInteger),
    Column("is_active", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("activated_at", DateTime(timezone=True)),
    Index("generation_one_active", "root_code", unique=True,
          postgresql_where=text("is_active")),
)

admin_area = Table(
    "admin_area", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("generation_id", Integer, ForeignKey("generation.id", ondelete="CASCADE"),
           nullable=False),
    Column("level", SmallInteger, nullable=False),
    Column("kind", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("parent_id", BigInteger, ForeignKey("admin_area.id", ondelete="CASCADE")),
    Column("synthetic", Boolean, nullable=False, server_default=text("false")),
    Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
    UniqueConstraint("generation_id", "code", name="admin_area_generation_code"),
    # the national ladder, gis.domain.LEVEL_NUMBER: province 1 ... hamlet 6
    CheckConstraint("level between 1 and 6", name="admin_area_level"),
    Index("admin_area_geom_gist", "geom", postgresql_using="gist"),
    Index("admin_area_parent", "parent_id"),
    Index("admin_area_generation_level", "generation_id", "level"),
)

grid = Table(
    "grid", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("generation_id", Integer, ForeignKey("generation.id", ondelete="CASCADE"),
           nullable=False),
    Column("code", Text, nullable=False),
    Column("name", Text, nullable=False),
    # The leaf unit holding the grid (a hamlet, or a community/village without hamlets) and its
    # ancestors at each level of the ladder (NULL where the set skips the level), fixed for the
    # life of the generation.
    Column("area_id", BigInteger, ForeignKey("admin_area.id", ondelete="CASCADE"), nullable=False),
    Column("hamlet_id", BigInteger, ForeignKey("admin_area.id")),
    Column("village_id", BigInteger, ForeignKey("admin_area.id")),
    Column("township_id", BigInteger, ForeignKey("admin_area.id")),
    Column("city_id", BigInteger, ForeignKey("admin_area.id")),
    Column("prefecture_id", BigInteger, ForeignKey("admin_area.id")),
    Column("province_id", BigInteger, ForeignKey("admin_area.id")),
    Column("households", Integer, nullable=False, server_default=text("0")),
    Column("population", Integer, nullable=False, server_default=text("0")),
    Column("synthetic", Boolean, nullable=False, server_default=text("false")),
    Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
    UniqueConstraint("generation_id", "code", name="grid_generation_code"),
    CheckConstraint("households >= 0 and population >= 0", name="grid_counts_nonnegative"),
    Index("grid_geom_gist", "geom", postgresql_using="gist"),
    Index("grid_generation", "generation_id"),
)

incident = Table(
    "incident", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("source", Text, nullable=False),
    Column("external_id", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("description", Text),
    Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
    # What the client sent, before conversion to EPSG:4326.
    Column("input_crs", Text, nullable=False),
    Column("input_x", Float, nullable=False),
    Column("input_y", Float, nullable=False),
    # Assignment of record: under which generation, to which grid and units. NULL grid = uncovered.
    # References checked per statement by triggers (migration 0009), not by row-level keys.
    Column("generation_id", Integer, nullable=False),
    Column("grid_id", BigInteger),
    Column("hamlet_id", BigInteger),
    Column("village_id", BigInteger),
    Column("township_id", BigInteger),
    Column("city_id", BigInteger),
    Column("prefecture_id", BigInteger),
    Column("province_id", BigInteger),
    # The unit of the account that reported it from outside its own jurisdiction (else NULL):
    # that unit keeps seeing the report (gis.store.scope.incident_clause(reported=True)).
    Column("reporter_unit", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("source", "external_id", name="incident_source_external_id"),
    Index("incident_geom_gist", "geom", postgresql_using="gist"),
    Index("incident_occurred_at", "occurred_at"),
    Index("incident_grid", "grid_id"),
    Index("incident_category", "category"),
)
