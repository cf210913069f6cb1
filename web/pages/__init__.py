"""HTML pages: one module per feature, each with its blueprint `bp`."""
from __future__ import annotations

from web.pages import admin, analysis, cases, coverage, home, planning

MODULES = (home, cases, coverage, analysis, planning, admin)
