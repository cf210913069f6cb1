"""The JSON API under /api/v1 (and the map tiles under /tiles): one module per feature, each
with its blueprint `bp` and the OpenAPI description of its routes (OPENAPI_PATHS, gathered by
web.api.openapi)."""
from __future__ import annotations

from web.api import (accounts, analysis, boundaries, categories, coverage, features, incidents,
                     lifecycle, openapi, planning, tiles)

MODULES = (boundaries, incidents, lifecycle, analysis, accounts, features, planning, coverage,
           categories, tiles, openapi)
