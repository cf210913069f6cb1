"""Departments in PostgreSQL: name, the unit they serve (level, code), members (accounts)."""
from __future__ import annotations

from sqlalchemy import Connection, text

COLUMNS = ("d.id, d.name, d.unit_level, d.unit_code, d.active, d.created_at, "
           "(SELECT a.name FROM admin_area a WHERE a.code = d.unit_code "
           " ORDER BY a.generation_id DESC LIMIT 1) AS unit_name, "
           "ARRAY(SELECT m.account_id FROM department_member m WHERE m.department_id = d.id "
           "      ORDER BY m.account_id) AS member_ids")


def list_all(conn: Connection, *, inactive: bool = False) -> list[dict]:
    where = "" if inactive else "WHERE d.active"
    return [dict(r) for r in conn.execute(text(
        f"SELECT {COLUMNS} FROM department d {where} ORDER BY d.unit_code, d.name")).mappings()]


def get(conn: Connection, department_id: int) -> dict | None:
    row = conn.execute(text(f"SELECT {COLUMNS} FROM department d WHERE d.id = :id"),
                       {"id": department_id}).mappings().first()
    return dict(row) if row else None


def insert(conn: Connection, name: str, unit_level: str, unit_code: str) -> int | None:
    """The new id, or None when the unit has a department of that name already."""
    return conn.execute(text(
        "INSERT INTO department (name, unit_level, unit_code) VALUES (:n, :l, :c) "
        "ON CONFLICT DO NOTHING RETURNING id"),
        {"n": name, "l": unit_level, "c": unit_code}).scalar()


def update(conn: Connection, department_id: int, *, name: str | None = None,
           active: bool | None = None) -> bool:
    """False when the new name is taken in the department's unit."""
    exists = conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM department o, department d WHERE d.id = :id "
        "AND o.id <> d.id AND o.unit_code = d.unit_code AND lower(o.name) = lower(:n))"),
        {"id": department_id, "n": name or ""}).scalar()
    if name is not None and exists:
        return False
    conn.execute(text("UPDATE department SET name = coalesce(:n, name), "
                      "active = coalesce(:a, active) WHERE id = :id"),
                 {"id": department_id, "n": name, "a": active})
    return True


def set_members(conn: Connection, department_id: int, account_ids: list[int]) -> None:
    conn.execute(text("DELETE FROM department_member WHERE department_id = :d"),
                 {"d": department_id})
    conn.execute(text("INSERT INTO department_member (department_id, account_id) "
                      "SELECT :d, unnest(CAST(:a AS integer[]))"),
                 {"d": department_id, "a": account_ids})


def of_account(conn: Connection, account_id: int) -> list[dict]:
    """The active departments an account is a member of."""
    return [dict(r) for r in conn.execute(text(
        f"SELECT {COLUMNS} FROM department d JOIN department_member m ON m.department_id = d.id "
        "WHERE m.account_id = :a AND d.active ORDER BY d.name"), {"a": account_id}).mappings()]


def existing_accounts(conn: Connection, account_ids: list[int]) -> set[int]:
    return set(conn.execute(text("SELECT id FROM account WHERE id = ANY(:ids)"),
                            {"ids": account_ids}).scalars())


def serving(conn: Connection, units: set[tuple[str, str]]) -> list[dict]:
    """The active departments serving one of the (level, code) units."""
    codes = [c for lv, c in units if lv != "grid"]
    return [dict(r) for r in conn.execute(text(
        f"SELECT {COLUMNS} FROM department d WHERE d.active AND d.unit_code = ANY(:c) "
        "ORDER BY length(d.unit_code), d.unit_code, d.name"), {"c": codes}).mappings()]


def accounts_in(conn: Connection, units: set[tuple[str, str]]) -> list[dict]:
    """Active officials and grid workers with one of the (level, code) units."""
    levels = [lv for lv, _ in units]
    codes = [c for _, c in units]
    return [dict(r) for r in conn.execute(text(
        "SELECT DISTINCT a.id, a.username, a.display_name, a.role, u.level, u.code "
        "FROM account a JOIN account_unit u ON u.account_id = a.id "
        "JOIN unnest(CAST(:l AS text[]), CAST(:c AS text[])) AS x(level, code) "
        "  ON x.level = u.level AND x.code = u.code "
        "WHERE a.active AND a.role IN ('official', 'grid_worker') ORDER BY u.code, a.username"),
        {"l": levels, "c": codes}).mappings()]
