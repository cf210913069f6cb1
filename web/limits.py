"""Limits every request is held to before any view (or the CSRF check) reads its body: the body
size (JSON and forms up to GRIDGIS_MAX_JSON_KB, uploads up to GRIDGIS_MAX_UPLOAD_MB: 413), JSON
nesting (at most MAX_JSON_DEPTH levels: 400 instead of a RecursionError), and NUL characters
(PostgreSQL text cannot hold them: 400)."""
from __future__ import annotations

import json

from flask import request
from flask.json.provider import DefaultJSONProvider

from gis.errors import InputError
from web.uploads import accepts_upload

MAX_JSON_DEPTH = 64


def json_depth(value) -> int:
    """How deeply lists and objects nest in a parsed JSON value (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            items = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in items)
    return deepest


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON with UTF-8 output in key order, refusing bodies nested too deeply (a
    ValueError, which request.get_json treats as malformed JSON)."""
    ensure_ascii = False
    sort_keys = False

    def loads(self, s, **kwargs):
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep") from None
        if json_depth(value) > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
        return value


def _nul_path(value, path: str = "") -> str | None:
    """Where in a parsed JSON value a NUL character occurs (dotted path), or None."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where
            continue
        if isinstance(item, dict):
            pairs = item.items()
        elif isinstance(item, list):
            pairs = enumerate(item)
        else:
            continue
        for key, child in reversed(list(pairs)):
            key_path = f"{where}.{key}" if where else str(key)
            if "\x00" in str(key):
                return key_path
            stack.append((child, key_path))
    return None


def init_app(app) -> None:
    """Register the limits; call before anything else that reads request bodies."""
    app.json = JSONProvider(app)

    @app.before_request
    def body_limit():
        view = app.view_functions.get(request.endpoint)
        if not accepts_upload(view):
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
