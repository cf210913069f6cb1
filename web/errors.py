"""How errors answer: JSON {"error": {"code", "message", "field", "details"}} under /api/ and
/tiles/, the app's own pages elsewhere (the sign-in form for 401, error.html otherwise), with
the headers the error carries (Retry-After, WWW-Authenticate)."""
from __future__ import annotations

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from gis.errors import GridgisError, Unauthorized

TITLES = {400: "请求有误 Bad request", 403: "无权访问 Forbidden", 404: "未找到 Not found",
          405: "方法不允许 Method not allowed", 409: "冲突 Conflict",
          413: "请求过大 Request too large", 422: "无法处理 Cannot process",
          429: "请求过多 Too many requests"}


def _is_api() -> bool:
    return request.path.startswith(("/api/", "/tiles/", "/open311/"))


def _page(status: int, message: str):
    title = TITLES.get(status, f"错误 Error {status}")
    return render_template("error.html", title=title, message=message), status


def init_app(app) -> None:
    @app.errorhandler(GridgisError)
    def gridgis_error(err: GridgisError):
        if not _is_api():  # pages answer with pages: the sign-in form, or the error
            if isinstance(err, Unauthorized):
                return render_template("login.html", title="登录 Sign in", error=None,
                                       next_url=request.full_path.rstrip("?")), 401
            body, status = _page(err.status, err.message)
            response = app.make_response((body, status))
        else:
            response = jsonify(error=err.to_dict())
        if isinstance(err, Unauthorized):
            response.headers["WWW-Authenticate"] = 'Bearer realm="gridgis"'
        response.status_code = err.status
        for key, value in getattr(err, "headers", {}).items():
            response.headers[key] = value
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError):
        message = ("表单已过期或缺少 CSRF 令牌，请刷新页面重试 The form is missing its CSRF token "
                   f"or it expired; reload the page and try again ({err.description})")
        if _is_api():
            return jsonify(error={"code": "csrf_failed", "message": message}), 400
        return _page(400, message)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        message = err.description
        if err.code == 413:
            limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"]
            message = (f"the request body is larger than the limit of {limit // 1024} KiB for "
                       "this endpoint")
        if err.code == 429:
            message = f"请求过多，请稍后再试 Too many requests: {err.description}; try again later"
        if _is_api():
            response = jsonify(error={"code": err.name.lower().replace(" ", "_"),
                                      "message": message})
            response.status_code = err.code
        else:
            body, status = _page(err.code, message)
            response = app.make_response((body, status))
        carried = dict(err.get_headers())
        for key in ("Retry-After", "Allow", "WWW-Authenticate"):
            if carried.get(key):
                response.headers[key] = carried[key]
        return response
