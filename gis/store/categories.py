"""Incident categories in PostGIS: the deployment's list (table category, migration 0014). The
rules are gis.categories.rules; the use cases gis.categories.manage."""
from __future__ import annotations

from sqlalchemy import Connection, text

COLUMNS = ("code", "name_zh", "name_en", "parent_class", "active", "sort_order",
           "accept_hours", "resolve_hours")
SELECT = f"SELECT {', '.join(COLUMNS)} FROM category"


def _row(r) -> dict:
    out = dict(r)
    for key in ("accept_hours", "resolve_hours"):
        out[key] = float(out[key]) if out[key] is not None else None
    return out


def all_rows(conn: Connection) -> list[dict]:
    """Every category, active or not, in display order."""
    return [_row(r) for r in conn.execute(text(
        f"{SELECT} ORDER BY sort_order, code COLLATE \"C\"")).mappings()]


def get(conn: Connection, code: str, *, lock: bool = False) -> dict | None:
    row = conn.execute(text(f"{SELECT} WHERE code = :c{' FOR UPDATE' if lock else ''}"),
                       {"c": code}).mappings().first()
    return _row(row) if row else None


def next_sort_order(conn: Connection) -> int:
    """A sort order after every category's (new categories go last)."""
    return int(conn.execute(text(
        "SELECT coalesce(max(sort_order), 0) + 10 FROM category")).scalar_one())


def insert_missing(conn: Connection, rows: list[dict]) -> list[str]:
    """Insert the rows (dicts with COLUMNS) whose code is not stored yet; existing categories
    are left as they are. Returns the codes inserted."""
    if not rows:
        return []
    arrays = {c: [r[c] for r in rows] for c in COLUMNS}
    return list(conn.execute(text(
        "INSERT INTO category (code, name_zh, name_en, parent_class, active, sort_order, "
        "accept_hours, resolve_hours) "
        "SELECT * FROM unnest(CAST(:code AS text[]), CAST(:name_zh AS text[]), "
        "CAST(:name_en AS text[]), CAST(:parent_class AS text[]), CAST(:active AS boolean[]), "
        "CAST(:sort_order AS integer[]), CAST(:accept_hours AS numeric[]), "
        "CAST(:resolve_hours AS numeric[])) "
        "ON CONFLICT (code) DO NOTHING RETURNING code"), arrays).scalars())


def update(conn: Connection, row: dict) -> None:
    """Write every column but the code of the category `row["code"]`."""
    sets = ", ".join(f"{c} = :{c}" for c in COLUMNS[1:])
    conn.execute(text(f"UPDATE category SET {sets}, updated_at = now() WHERE code = :code"),
                 {c: row[c] for c in COLUMNS})


def incident_count(conn: Connection, code: str) -> int:
    """How many incidents carry the category."""
    return int(conn.execute(text("SELECT count(*) FROM incident WHERE category = :c"),
                            {"c": code}).scalar_one())
