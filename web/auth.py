"""Sign-in, sessions, API tokens, CSRF, rate limits, and the access check every request passes.

Every endpoint is closed unless it is listed in PUBLIC_ENDPOINTS or declares its permission
with @requires(...); enforce_access() runs before each view and answers 401 (not signed in) or
403 (role lacks the permission). What a permitted account may see is decided by its Scope in the
query layer (gis.store.scope).
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import (Blueprint, current_app, g, redirect, render_template, request, session,
                   url_for)
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from gis.access import Principal
from gis.config import WebSettings, secret_key
from gis.errors import Forbidden, Unauthorized
from gis.store import accounts
from gis.store import audit
from web import engine

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


def audit_event(action: str, target: str | None = None, details: dict | None = None,
                conn=None, username: str | None = None) -> None:
    """Record an audit event for the current request (in conn's transaction when given)."""
    kwargs = dict(ip=client_ip(), user_agent=request.headers.get("User-Agent"), details=details,
                  username=username)
    if conn is not None:
        audit.record(conn, g.get("principal"), action, target, **kwargs)
    else:
        with engine().begin() as c:
            audit.record(c, g.get("principal"), action, target, **kwargs)


def _load_principal() -> None:
    g.principal = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        with engine().begin() as conn:
            account = accounts.token_account(conn, token.strip())
            if account is None:
                raise Unauthorized("the API token is unknown, revoked, or its account is "
                                   "disabled")
            g.principal = accounts.principal(conn, account, via="token")
        return
    sid = session.get("sid")
    if sid:
        with engine().begin() as conn:
            account = accounts.session_account(conn, sid)
            if account is None:
                session.clear()
                return
            g.principal = accounts.principal(conn, account, via="session")


def _rate_key() -> str:
    p = g.get("principal")
    return f"account:{p.account_id}" if p is not None else f"ip:{get_remote_address()}"


def enforce_access() -> None:
    endpoint = request.endpoint
    if endpoint is None:  # 404 / 405 answered by the error handlers
        return
    p = g.get("principal")
    if request.method not in SAFE_METHODS and (p is None or p.via == "session"):
        csrf.protect()
    if endpoint in PUBLIC_ENDPOINTS:
        return
    view = current_app.view_functions[endpoint]
    needed = getattr(view, "required_permission", None)
    if needed is None:
        raise Forbidden(f"endpoint {endpoint} declares no permission; closed by default")
    if p is None:
        raise Unauthorized("sign in or send an API token (Authorization: Bearer ...)")
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
        PERMANENT_SESSION_LIFETIME=timedelta(hours=accounts.SESSION_HOURS),
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
        return {"principal": g.get("principal")}


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in."""
    if not target:
        return url_for("pages.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    next_url = request.values.get("next")
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        with engine().begin() as conn:
            account = accounts.authenticate(conn, username, password)
            if account is None:
                audit.record(conn, None, "sign_in_failed", username[:64], ip=client_ip(),
                             user_agent=request.headers.get("User-Agent"),
                             username=username[:64])
            else:
                sid = accounts.open_session(conn, account["id"], client_ip(),
                                            request.headers.get("User-Agent"))
                p = accounts.principal(conn, account, via="session")
                audit.record(conn, p, "sign_in", p.username, ip=client_ip(),
                             user_agent=request.headers.get("User-Agent"))
        if account is not None:
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
            accounts.close_session(conn, sid)
            audit.record(conn, g.principal, "sign_out", g.principal.username, ip=client_ip(),
                         user_agent=request.headers.get("User-Agent"))
    session.clear()
    return redirect(url_for("auth.login"))


@bp.get("/health")
def health():
    return {"status": "ok"}
