"""Flask application: API (/api/v1), OGC API - Features, and map pages."""
from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from gis.config import database_url
from gis.errors import GridgisError
from gis.store import db


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        DATABASE_URL=None,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = database_url()
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from web import api, maps, ogc, pages
    app.register_blueprint(api.bp)
    app.register_blueprint(ogc.bp)
    app.register_blueprint(maps.bp)
    app.register_blueprint(pages.bp)

    @app.errorhandler(GridgisError)
    def gridgis_error(err: GridgisError):
        return jsonify(error=err.to_dict()), err.status

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if request.path.startswith("/api/"):
            body = {"code": err.name.lower().replace(" ", "_"), "message": err.description}
            return jsonify(error=body), err.code
        return err

    return app


def engine():
    from flask import current_app
    return db.engine(current_app.config["DATABASE_URL"])
