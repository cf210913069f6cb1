"""Runtime settings, read from the environment (all optional)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# State of this checkout (embedded cluster, secret key, demo accounts): GRIDGIS_HOME or .gridgis/
STATE_DIR = Path(os.environ.get("GRIDGIS_HOME", PROJECT_ROOT / ".gridgis"))


def normalise_database_url(url: str) -> str:
    """Accept plain libpq URLs and select the psycopg 3 driver for SQLAlchemy."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def configured_database_url() -> str | None:
    """GRIDGIS_DATABASE_URL (normalised), or None when the embedded cluster is to be used."""
    env = os.environ.get("GRIDGIS_DATABASE_URL")
    return normalise_database_url(env) if env else None


def uses_embedded_database() -> bool:
    return not os.environ.get("GRIDGIS_DATABASE_URL")


@dataclass(frozen=True)
class MapSettings:
    # A Leaflet tile URL template (internal tile server, Tianditu with key...), or empty: no basemap.
    basemap_url: str = os.environ.get("GRIDGIS_BASEMAP_URL", "")
    basemap_attribution: str = os.environ.get("GRIDGIS_BASEMAP_ATTRIBUTION", "basemap")


def secret_key() -> str:
    """GRIDGIS_SECRET_KEY, or a random key kept in .gridgis/secret_key (created once, mode 600)."""
    env = os.environ.get("GRIDGIS_SECRET_KEY")
    if env:
        return env
    import secrets

    path = STATE_DIR / "secret_key"
    if not path.exists():
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


@dataclass(frozen=True)
class WebSettings:
    # Send cookies only over HTTPS; turn on whenever gridgis is served behind TLS.
    secure_cookies: bool = os.environ.get("GRIDGIS_SECURE_COOKIES", "0") == "1"
    # flask-limiter: default limit per account (or per address before sign-in) and storage.
    rate_limit: str = os.environ.get("GRIDGIS_RATE_LIMIT", "3000 per minute")
    sign_in_limit: str = os.environ.get("GRIDGIS_SIGN_IN_LIMIT", "10 per minute")
    rate_limit_storage: str = os.environ.get("GRIDGIS_RATE_LIMIT_STORAGE", "memory://")
    max_upload_mb: int = int(os.environ.get("GRIDGIS_MAX_UPLOAD_MB", "64"))
    max_json_kb: int = int(os.environ.get("GRIDGIS_MAX_JSON_KB", "1024"))
    # Heavy work (imports, analyses, proposals): how many run at once, how many may wait for a
    # slot, how many one account may have in flight; beyond that 429 with Retry-After.
    heavy_slots: int = int(os.environ.get("GRIDGIS_HEAVY_SLOTS", "2"))
    heavy_queue: int = int(os.environ.get("GRIDGIS_HEAVY_QUEUE", "2"))
    heavy_per_account: int = int(os.environ.get("GRIDGIS_HEAVY_PER_ACCOUNT", "2"))
