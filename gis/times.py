"""Times: ISO 8601 everywhere; a time without an offset is China Standard Time (+08:00), and a
date is a China day whatever the server's time zone."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gis.errors import UnprocessableError

CST = timezone(timedelta(hours=8))
# the years a record's times may lie in (what every reader, pandas included, can hold)
EARLIEST = datetime(1900, 1, 1, tzinfo=CST)
LATEST = datetime(2200, 1, 1, tzinfo=CST)


def parse_time(value, field: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise UnprocessableError(f"{field} must be an ISO 8601 date-time string", field=field)
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UnprocessableError(f"{field} {value!r} is not an ISO 8601 date-time", field=field)
    dt = dt if dt.tzinfo else dt.replace(tzinfo=CST)
    if not EARLIEST <= dt < LATEST:
        raise UnprocessableError(f"{field} {value!r} is outside {EARLIEST.year}-"
                                 f"{LATEST.year - 1}", field=field)
    return dt


def now() -> datetime:
    """The current time, for what is judged against it (stage cards, the overdue tab). One
    function, so that tests can move the clock forward."""
    return datetime.now(timezone.utc)
