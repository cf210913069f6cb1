"""Start page."""
from __future__ import annotations

from flask import Blueprint, render_template
from gis.store import boundaries as bstore
from gis.store import features
from web import engine
from web.auth import principal, requires

bp = Blueprint("pages", __name__)


@bp.get("/")
@requires("view")
def index():
    with engine().connect() as conn:
        gen = bstore.active_generation(conn)
        counts = features.summary(conn, gen["id"] if gen else None, principal().scope)
    return render_template("index.html", generation=gen, counts=counts)
