"""Error types shared by the spatial core, the store and the web layer.

Every error a user can cause is an InputError (or subclass) carrying a message that says what is
wrong, an optional field name and optional details (per-row or per-unit problems). The web layer
renders them as {"error": {"code", "message", "field", "details"}} with a 4xx status.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


class GridgisError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, details=None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.details is not None:
            body["details"] = self.details
        return body


class InputError(GridgisError):
    status = 400
    code = "invalid_input"


class UnprocessableError(GridgisError):
    status = 422
    code = "unprocessable"


class ValidationFailed(GridgisError):
    """A boundary set or import file failed validation; details lists each problem."""
    status = 422
    code = "validation_failed"


class NotFound(GridgisError):
    status = 404
    code = "not_found"


class Conflict(GridgisError):
    status = 409
    code = "conflict"


class Unauthorized(GridgisError):
    status = 401
    code = "unauthorized"


class Forbidden(GridgisError):
    """Not allowed; for records outside the jurisdiction the message never says whether the
    record exists."""
    status = 403
    code = "forbidden"


class Busy(GridgisError):
    """Too many requests at once (429); `retry_after` seconds to wait."""
    status = 429
    code = "busy"

    def __init__(self, message: str, *, retry_after: int = 5, **kwargs):
        super().__init__(message, **kwargs)
        self.headers = {"Retry-After": str(retry_after)}


class TooLarge(GridgisError):
    """A body or file beyond a size limit (413)."""
    status = 413
    code = "too_large"


SEVERITY_ORDER = {"error": 0, "warning": 1}


@dataclass(frozen=True)
class Problem:
    """One finding of a check, at a place: boundary validation (`level` is the unit's level)
    and plan checks (`severity` error or warning) list these; `code` is the unit or grid it is
    about, lon/lat a point to zoom to."""
    rule: str
    code: str
    message: str
    lon: float | None = None
    lat: float | None = None
    level: str | None = None
    severity: str = "error"

    def to_dict(self) -> dict:
        body = asdict(self)
        if self.level is None:
            del body["level"]
        return body

    def sort_key(self):
        return (SEVERITY_ORDER[self.severity], self.code, self.rule, self.message)

    def __str__(self) -> str:
        where = f" at {self.lon:.6f},{self.lat:.6f}" if self.lon is not None else ""
        about = f"{self.level} {self.code}" if self.level else self.code
        return f"[{about}] {self.rule}: {self.message}{where}"
