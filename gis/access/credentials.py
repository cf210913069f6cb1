"""Passwords (Argon2id via argon2-cffi) and random tokens (stored only as SHA-256 digests)."""
from __future__ import annotations

import hashlib
import secrets as _secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gis.errors import InputError

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "ggt_"


def hash_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InputError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters",
                         field="password")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash or not password:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str = TOKEN_PREFIX) -> tuple[str, str]:
    """A random bearer secret and its digest (the only form stored)."""
    token = prefix + _secrets.token_urlsafe(32)
    return token, digest(token)


def new_password() -> str:
    return _secrets.token_urlsafe(12)
