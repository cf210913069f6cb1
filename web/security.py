"""Response headers every answer carries: a Content-Security-Policy that lets scripts and styles
come only from the app (inline ones only with the request's nonce), no framing, no MIME
sniffing, no referrer to other sites.

Inline scripts: the Folium map script of a page and Folium's own header scripts carry the nonce
(web.maps.with_nonce); templates use static files otherwise. style-src-attr allows inline
style attributes (legend swatches, Leaflet's positioning); Leaflet sets styles from scripts,
which CSP does not restrict."""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import g

from gis.config import MapSettings


def csp_nonce() -> str:
    """The nonce of this request's inline scripts and styles (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def basemap_source(url: str) -> str | None:
    """The CSP source of a Leaflet tile URL template (its origin; a {s} subdomain becomes *)."""
    if not url:
        return None
    parts = urlsplit(url.replace("{s}", "SUBDOMAIN"))
    if not parts.scheme or not parts.hostname:
        return None
    host = parts.hostname
    if "subdomain" in host:
        host = "*." + host.split(".", 1)[1] if "." in host else None
    if host is None:
        return None
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def policy(nonce: str) -> str:
    images = ["'self'", "data:"]
    tiles = basemap_source(MapSettings().basemap_url)
    if tiles:
        images.append(tiles)
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        "style-src-attr 'unsafe-inline'",
        f"img-src {' '.join(images)}",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def init_app(app) -> None:
    @app.context_processor
    def nonce():
        return {"csp_nonce": csp_nonce}

    @app.after_request
    def headers(response):
        response.headers["Content-Security-Policy"] = policy(csp_nonce())
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        return response
