"""Start page."""
from __future__ import annotations

from flask import Blueprint, render_template

from gis.boundaries.generations import active_roots
from gis.features.collections import overview
from web.auth import principal, requires
from web.database import engine

bp = Blueprint("home", __name__)


@bp.get("/")
@requires("view")
def index():
    scope = principal().scope
    with engine().connect() as conn:
        gen, counts = overview(conn, scope)
        roots = active_roots(conn) if scope.everything else []
    return render_template("home/index.html", generation=gen, counts=counts,
                           roots=roots if len(roots) > 1 else [])
