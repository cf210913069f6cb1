"""Flask application: the JSON API (/api/v1, web.api), OGC API - Features, map pages
(web.pages), sign-in (web.auth)."""
from __future__ import annotations

from flask import Flask

from gis.config import WebSettings
from gis.store import db


def register_blueprints(app: Flask) -> None:
    """Every blueprint of the app, explicitly: sign-in, the JSON API with its OpenAPI document
    (web.api.MODULES) and the pages (web.pages.MODULES)."""
    from web import api, auth, pages
    app.register_blueprint(auth.bp)
    for module in api.MODULES:
        app.register_blueprint(module.bp)
    for module in pages.MODULES:
        app.register_blueprint(module.bp)


COMPRESSED = ["text/html", "text/css", "text/csv", "text/javascript", "application/javascript",
              "application/json", "application/geo+json", "application/problem+json",
              "application/vnd.mapbox-vector-tile"]


def _compress(app: Flask) -> None:
    """gzip or brotli for text, JSON and tiles when the client accepts them (fast levels: the
    machine's cores are few and answers are made per request)."""
    from flask_compress import Compress
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_BR_LEVEL", 4)
    app.config.setdefault("COMPRESS_LEVEL", 5)
    app.config.setdefault("COMPRESS_MIN_SIZE", 1024)
    app.config.setdefault("COMPRESS_STREAMS", False)
    Compress(app)


def create_app(config: dict | None = None) -> Flask:
    settings = WebSettings()
    app = Flask(__name__)
    app.config.update(
        DATABASE_URL=None,
        MAX_CONTENT_LENGTH=settings.max_upload_mb * 1024 * 1024,
        MAX_JSON_BYTES=settings.max_json_kb * 1024,
    )
    app.config.update(config or {})
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = db.database_url()
    from web import auth, errors, heavy, limits, security, uploads
    limits.init_app(app)      # first: body limits apply before anything reads a body
    security.init_app(app)
    heavy.init_app(app)
    register_blueprints(app)
    auth.init_app(app)
    errors.init_app(app)
    uploads.init_app(app)
    _compress(app)

    @app.context_processor
    def labels():
        from gis.access.roles import ROLES
        return {"role_labels": ROLES}

    return app
