"""Start page."""
from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import text

from gis.store import boundaries as bstore
from web import engine

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    with engine().connect() as conn:
        gen = bstore.active_generation(conn)
        counts = conn.execute(text("""
            SELECT (SELECT count(*) FROM grid WHERE generation_id = :g) AS grids,
                   (SELECT count(*) FROM admin_area WHERE generation_id = :g AND level = 2)
                       AS townships,
                   (SELECT count(*) FROM admin_area WHERE generation_id = :g AND level = 3)
                       AS villages,
                   (SELECT count(*) FROM incident) AS incidents,
                   (SELECT count(*) FROM incident WHERE grid_id IS NULL) AS uncovered
            """), {"g": gen["id"] if gen else None}).mappings().first()
    return render_template("index.html", generation=gen, counts=counts)
