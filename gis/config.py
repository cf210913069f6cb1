"""Runtime settings, read from the environment (all optional)."""
from __future__ import annotations

import os
from dataclasses import dataclass


def normalise_database_url(url: str) -> str:
    """Accept plain libpq URLs and select the psycopg 3 driver for SQLAlchemy."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_url() -> str:
    """GRIDGIS_DATABASE_URL, or the embedded cluster in .gridgis/ of the checkout."""
    env = os.environ.get("GRIDGIS_DATABASE_URL")
    if env:
        return normalise_database_url(env)
    from gis.store import local_cluster
    return local_cluster.url()


def uses_embedded_database() -> bool:
    return not os.environ.get("GRIDGIS_DATABASE_URL")


@dataclass(frozen=True)
class MapSettings:
    # A Leaflet tile URL template (internal tile server, Tianditu with key...), or empty: no basemap.
    basemap_url: str = os.environ.get("GRIDGIS_BASEMAP_URL", "")
    basemap_attribution: str = os.environ.get("GRIDGIS_BASEMAP_ATTRIBUTION", "basemap")
