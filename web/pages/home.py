"""Start page."""
from __future__ import annotations

from flask import Blueprint, render_template

from gis.features.collections import overview
from web.auth import principal, requires
from web.database import engine

bp = Blueprint("home", __name__)


@bp.get("/")
@requires("view")
def index():
    with engine().connect() as conn:
        gen, counts = overview(conn, principal().scope)
    return render_template("home/index.html", generation=gen, counts=counts)
