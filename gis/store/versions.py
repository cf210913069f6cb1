"""Data versions: counters that move with every write to incidents or coverage data (sequences
bumped by statement triggers, migration 0008). Tile ETags and analysis caches key on them."""
from __future__ import annotations

from sqlalchemy import Connection, text

KINDS = ("incidents", "coverage")


def current(conn: Connection) -> dict[str, int]:
    """{kind: version} now."""
    # a new sequence says last_value 1 before its first nextval too: is_called tells them apart
    row = conn.execute(text(
        "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM incidents_version), "
        "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM coverage_version)")).one()
    return dict(zip(KINDS, (int(v) for v in row)))


TABLES = {"incidents": ("incident", "incident_assignment"),
          "coverage": ("staff", "staff_grid", "camera", "response_post", "road", "response_area",
                       "coverage_setting")}


def writers_active(conn: Connection, kinds) -> bool:
    """Whether another open transaction has written (or is writing) data of these kinds.

    Sequences move when a statement runs, not when its transaction commits: a reader that sees
    a new version while the writer is still open would read the old rows under the new
    version. Whoever writes holds a ROW EXCLUSIVE lock on the table until it ends, so a reader
    that reads the version first and then finds no such lock knows every write counted in that
    version is committed (gis.results.cache stores nothing, and tiles promise nothing, when one
    is open)."""
    tables = [t for k in kinds for t in TABLES[k]]
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = ANY(:t) AND l.mode = 'RowExclusiveLock' "
        "AND l.pid <> pg_backend_pid() AND l.granted)"), {"t": tables}).scalar())
