"""Sign-in, sessions, API tokens, CSRF, rate limits, and the access check every request passes.

Every endpoint is closed unless it is listed in PUBLIC_ENDPOINTS or declares its permission
with @requires(...); enforce_access() runs before each view and answers 401 (not signed in) or
403 (role lacks the permission). What a permitted account may see is decided by its Scope in the
query layer (gis.store.scope).
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from gis.access.roles import Principal
from gis.access.scope import not_visible as _not_visible
from gis.accounts import sessions
from gis.config import WebSettings, secret_key
from gis.errors import Forbidden, Unauthorized
from web.database import engine

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
PUBLIC_ENDPOINTS = {"static", "auth.login", "auth.health", "openapi.document"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def requires(permission: str):
    """Declare the permission a view needs (checked by enforce_access before the view runs)."""
    def mark(view):
        view.required_permission = permission
        return view
    return mark


def principal() -> Principal:
    p = g.get("principal")
    if p is None:
        raise Unauthorized("sign in or send an API token (Authorization: Bearer ...)")
    return p


def client_ip() -> str | None:
    return request.remote_addr


def origin() -> dict:
    """Where the request came from, for the audit trail."""
    return {"ip": client_ip(), "user_agent": request.headers.get("User-Agent")}


def not_visible(kind: str, ident) -> Exception:
    """The error for a record outside the signed-in account's jurisdiction (or missing)."""
    return _not_visible(principal().scope, kind, ident)


def _load_principal() -> None:
    g.principal = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        with engine().begin() as conn:
            g.principal = sessions.principal_for_token(conn, token.strip())
        if g.principal is None:
            raise Unauthorized("the API token is unknown, revoked, or its account is disabled")
        return
    sid = session.get("sid")
    if sid:
        with engine().begin() as conn:
            g.principal = sessions.principal_for_session(conn, sid)
        if g.principal is None:
            session.clear()


def _rate_key() -> str:
    p = g.get("principal")
    return f"account:{p.account_id}" if p is not None else f"ip:{get_remote_address()}"


def enforce_access() -> None:
    endpoint = request.endpoint
    if endpoint is None:  # 404 / 405 answered by the error handlers
        return
    p = g.get("principal")
    public = endpoint in PUBLIC_ENDPOINTS
    needed = None
    if not public:  # who you are first: no credentials is 401 whatever else is wrong
        needed = getattr(current_app.view_functions[endpoint], "required_permission", None)
        if needed is None:
            raise Forbidden(f"endpoint {endpoint} declares no permission; closed by default")
        if p is None:
            raise Unauthorized("sign in or send an API token (Authorization: Bearer ...)")
    if request.method not in SAFE_METHODS and (p is None or p.via == "session"):
        csrf.protect()
    if public:
        return
    if needed != "signed_in" and not p.can(needed):
        raise Forbidden(f"role {p.role} may not do this ({needed})")


def init_app(app) -> None:
    settings = WebSettings()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key()
    app.config.update(
        SESSION_COOKIE_NAME="gridgis_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=sessions.SESSION_HOURS),
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    app.config.setdefault("RATELIMIT_ENABLED", True)
    app.config.setdefault("RATE_LIMIT", settings.rate_limit)
    app.config.setdefault("SIGN_IN_LIMIT", settings.sign_in_limit)
    csrf.init_app(app)
    app.before_request(_load_principal)
    limiter = Limiter(_rate_key, app=app, default_limits=[lambda: app.config["RATE_LIMIT"]],
                      storage_uri=settings.rate_limit_storage, headers_enabled=True,
                      enabled=app.config["RATELIMIT_ENABLED"])
    # the limiter checks inside the wrapper it returns, so the wrapper becomes the view
    app.view_functions["auth.login"] = limiter.limit(
        lambda: app.config["SIGN_IN_LIMIT"], key_func=get_remote_address, methods=["POST"])(login)
    limiter.exempt(health)
    app.extensions["gridgis_limiter"] = limiter
    app.before_request(enforce_access)

    @app.context_processor
    def inject_principal():
        return {"principal": g.get("principal"), "unit_label": _unit_label}


def _unit_label() -> str:
    """The signed-in account's units by name (computed when a page header asks)."""
    from gis.accounts.manage import unit_label
    p = g.get("principal")
    if p is None:
        return ""
    if "unit_label" not in g:
        with engine().connect() as conn:
            g.unit_label = unit_label(conn, p.scope)
    return g.unit_label


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in."""
    if not target:
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    next_url = request.values.get("next")
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        with engine().begin() as conn:
            sid = sessions.sign_in(conn, username, password, origin=origin())
        if sid is not None:
            session.clear()
            session["sid"] = sid
            session.permanent = True
            return redirect(_safe_next(next_url))
        error = "用户名或密码错误 Wrong username or password"
    status = 401 if error else 200
    return render_template("login.html", title="登录 Sign in", error=error,
                           next_url=next_url or ""), status


@bp.post("/logout")
@requires("signed_in")
def logout():
    sid = session.get("sid")
    if sid:
        with engine().begin() as conn:
            sessions.sign_out(conn, g.principal, sid, origin=origin())
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/health")
def health():
    return {"status": "ok"}
