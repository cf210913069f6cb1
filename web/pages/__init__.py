"""HTML pages: one module per feature, each with its blueprint `bp`."""
from __future__ import annotations

from web.pages import analysis, coverage, home, planning

MODULES = (home, coverage, analysis, planning)
