"""The JSON API under /api/v1 (and the map tiles under /tiles): one module per feature, each
with its blueprint `bp` and the OpenAPI description of its routes (OPENAPI_PATHS, gathered by
web.api.openapi)."""
from __future__ import annotations

from web.api import (accounts, analysis, attachments, boundaries, cases, categories,
                     coverage, departments, features, incidents, lifecycle, open311, openapi,
                     planning, tiles)

MODULES = (boundaries, incidents, lifecycle, cases, attachments, departments, analysis, accounts,
           features, planning, coverage, categories, tiles, open311, openapi)
