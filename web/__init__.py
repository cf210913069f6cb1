"""Flask application: the JSON API (/api/v1, web.api), OGC API - Features, map pages
(web.pages), sign-in (web.auth)."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from gis.config import WebSettings
from gis.errors import Forbidden, GridgisError, InputError, Unauthorized
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
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    register_blueprints(app)
    from web import auth, uploads
    auth.init_app(app)

    @app.before_request
    def body_limit():
        view = app.view_functions.get(request.endpoint)
        if not uploads.accepts_upload(view):
            request.max_content_length = min(app.config["MAX_JSON_BYTES"],
                                             app.config["MAX_CONTENT_LENGTH"])

    @app.before_request
    def refuse_nul_characters():
        """PostgreSQL text cannot hold NUL; refuse it in any input instead of failing later."""
        sources = [("query", request.args), ("form", request.form)]
        for where, values in sources:
            for key, value in values.items(multi=True):
                key = key or ""  # werkzeug gives None for a multipart name it cannot parse
                if "\x00" in key or "\x00" in (value or ""):
                    raise InputError(f"{where} parameter {key!r} contains a NUL character",
                                     field=key.replace("\x00", ""))
        if request.is_json:
            bad = _nul_path(request.get_json(silent=True))
            if bad is not None:
                raise InputError(f"{bad or 'the body'} contains a NUL character",
                                 field=bad or None)

    @app.context_processor
    def labels():
        from gis.access.roles import ROLES
        return {"role_labels": ROLES}

    @app.errorhandler(GridgisError)
    def gridgis_error(err: GridgisError):
        if not request.path.startswith("/api/") and isinstance(err, (Unauthorized, Forbidden)):
            if isinstance(err, Unauthorized):
                return render_template("login.html", title="登录 Sign in", error=None,
                                       next_url=request.full_path.rstrip("?")), 401
            return render_template("error.html", title="无权访问 Forbidden",
                                   message=err.message), 403
        response = jsonify(error=err.to_dict())
        if isinstance(err, Unauthorized):
            response.headers["WWW-Authenticate"] = 'Bearer realm="gridgis"'
        return response, err.status

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError):
        message = ("表单已过期或缺少 CSRF 令牌，请刷新页面重试 The form is missing its CSRF token "
                   f"or it expired; reload the page and try again ({err.description})")
        if request.path.startswith("/api/"):
            return jsonify(error={"code": "csrf_failed", "message": message}), 400
        return render_template("error.html", title="请求被拒绝 Request refused",
                               message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if request.path.startswith("/api/"):
            body = {"code": err.name.lower().replace(" ", "_"), "message": err.description}
            if err.code == 413:
                limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"]
                body["message"] = (f"the request body is larger than the limit of "
                                   f"{limit // 1024} KiB for this endpoint")
            response = jsonify(error=body)
            response.status_code = err.code
            return response
        return err

    return app


def _nul_path(value, path: str = "") -> str | None:
    """Where in a parsed JSON value a NUL character occurs (dotted path), or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        key_path = f"{path}.{key}" if path else str(key)
        if "\x00" in str(key):
            return key_path
        found = _nul_path(item, key_path)
        if found is not None:
            return found
    return None
