"""The database engine of the running app (its DATABASE_URL)."""
from __future__ import annotations

from flask import current_app

from gis.store import db


def engine():
    return db.engine(current_app.config["DATABASE_URL"])
