"""Accounts, their jurisdiction units, web sessions and API tokens."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, text

from gis.access.credentials import digest, hash_password, needs_rehash, new_token, verify_password
from gis.access.roles import ROLES, Principal
from gis.access.scope import UNIT_LEVELS, Scope, Unit, check_code
from gis.domain import LEVEL_OF_NUMBER
from gis.errors import Conflict, InputError, NotFound

SESSION_HOURS = 12
ACCOUNT_COLUMNS = "id, username, display_name, role, active, created_at, last_sign_in_at"


def resolve_units(conn: Connection, codes: list[str]) -> list[Unit]:
    """Units for codes of areas or grids of the active generation (level looked up)."""
    units = []
    for raw in codes:
        code = check_code(raw)
        level = conn.execute(text("""
            SELECT a.level FROM admin_area a
            JOIN generation g ON g.id = a.generation_id AND g.is_active WHERE a.code = :c
            UNION ALL
            SELECT 0 FROM grid x JOIN generation g ON g.id = x.generation_id AND g.is_active
            WHERE x.code = :c LIMIT 1"""), {"c": code}).scalar()
        if level is None:
            raise InputError(f"no unit or grid with code {code} in the active boundary "
                             "generation", field="units")
        units.append(Unit(LEVEL_OF_NUMBER.get(level, "grid"), code))
    return units


def create(conn: Connection, username: str, role: str, *, password: str | None,
           units: list[Unit], display_name: str = "") -> dict:
    username = username.strip() if isinstance(username, str) else ""
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise InputError("username must be 1-64 characters without spaces", field="username")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; roles: {', '.join(ROLES)}", field="role")
    if role != "admin" and not units:
        raise InputError("every account except administrators needs a jurisdiction "
                         "(one or more unit or grid codes)", field="units")
    for u in units:
        if u.level not in UNIT_LEVELS:
            raise InputError(f"unknown unit level {u.level!r}", field="units")
    if get_by_username(conn, username):
        raise Conflict(f"account {username!r} exists already", field="username")
    pw_hash = hash_password(password) if password is not None else None
    account_id = conn.execute(text(
        "INSERT INTO account (username, display_name, role, password_hash) "
        "VALUES (:u, :d, :r, :p) RETURNING id"),
        {"u": username, "d": display_name or username, "r": role, "p": pw_hash}).scalar_one()
    set_units(conn, account_id, units)
    return get(conn, account_id)


def set_units(conn: Connection, account_id: int, units: list[Unit]) -> None:
    conn.execute(text("DELETE FROM account_unit WHERE account_id = :a"), {"a": account_id})
    for u in units:
        conn.execute(text("INSERT INTO account_unit (account_id, level, code) VALUES (:a, :l, :c) "
                          "ON CONFLICT DO NOTHING"), {"a": account_id, "l": u.level, "c": u.code})


def update(conn: Connection, account_id: int, *, role=None, active=None, password=None,
           display_name=None, units=None) -> dict:
    current = get(conn, account_id)
    if current is None:
        raise NotFound(f"account {account_id} does not exist")
    if role is not None and role not in ROLES:
        raise InputError(f"unknown role {role!r}", field="role")
    new_role = role or current["role"]
    if new_role != "admin" and units is not None and not units:
        raise InputError("every account except administrators needs a jurisdiction",
                         field="units")
    fields = {"role": role, "active": active, "display_name": display_name}
    for col, value in fields.items():
        if value is not None:
            conn.execute(text(f"UPDATE account SET {col} = :v WHERE id = :id"),
                         {"v": value, "id": account_id})
    if password is not None:
        conn.execute(text("UPDATE account SET password_hash = :p WHERE id = :id"),
                     {"p": hash_password(password), "id": account_id})
    if units is not None:
        set_units(conn, account_id, units)
    if active is False or password is not None:
        # for good: enabling the account again or the old password revives neither
        revoke_sessions(conn, account_id)
        revoke_tokens(conn, account_id)
    return get(conn, account_id)


def _with_units(conn: Connection, row) -> dict | None:
    if row is None:
        return None
    out = dict(row)
    out["units"] = [dict(r) for r in conn.execute(text(
        "SELECT level, code FROM account_unit WHERE account_id = :a ORDER BY level, code"),
        {"a": row["id"]}).mappings()]
    return out


def unit_names(conn: Connection, codes: list[str]) -> dict[str, str]:
    """The names of areas and grids by code, in the active generations."""
    rows = conn.execute(text("""
        SELECT a.code, a.name FROM admin_area a
        JOIN generation g ON g.id = a.generation_id AND g.is_active WHERE a.code = ANY(:c)
        UNION ALL
        SELECT x.code, x.name FROM grid x
        JOIN generation g ON g.id = x.generation_id AND g.is_active WHERE x.code = ANY(:c)"""),
        {"c": codes}).all()
    return {code: name for code, name in rows}


def get(conn: Connection, account_id: int) -> dict | None:
    row = conn.execute(text(f"SELECT {ACCOUNT_COLUMNS} FROM account WHERE id = :id"),
                       {"id": account_id}).mappings().first()
    return _with_units(conn, row)


def get_by_username(conn: Connection, username: str) -> dict | None:
    row = conn.execute(text(f"SELECT {ACCOUNT_COLUMNS} FROM account "
                            "WHERE lower(username) = lower(:u)"), {"u": username}).mappings().first()
    return _with_units(conn, row)


def list_all(conn: Connection) -> list[dict]:
    ids = conn.execute(text("SELECT id FROM account ORDER BY id")).scalars().all()
    return [get(conn, i) for i in ids]


def principal(conn: Connection, account: dict, via: str) -> Principal:
    units = tuple(Unit(u["level"], u["code"]) for u in account["units"])
    scope = Scope.all() if account["role"] == "admin" and not units else Scope(units)
    return Principal(account["id"], account["username"], account["role"], scope, via=via)


def authenticate(conn: Connection, username: str, password: str) -> dict | None:
    """The active account for a username and password, or None (same answer for an unknown
    user and a wrong password)."""
    row = conn.execute(text("SELECT id, password_hash, active FROM account "
                            "WHERE lower(username) = lower(:u)"), {"u": username}).first()
    if row is None:
        verify_password(_DUMMY_HASH, password)  # same cost as a real check
        return None
    if not verify_password(row.password_hash, password) or not row.active:
        return None
    if needs_rehash(row.password_hash):
        conn.execute(text("UPDATE account SET password_hash = :p WHERE id = :id"),
                     {"p": hash_password(password), "id": row.id})
    conn.execute(text("UPDATE account SET last_sign_in_at = now() WHERE id = :id"), {"id": row.id})
    return get(conn, row.id)


_DUMMY_HASH = hash_password("not-a-real-password")


def password_matches(conn: Connection, account_id: int, password: str) -> bool:
    """Whether `password` is the account's password (no sign-in recorded)."""
    stored = conn.execute(text("SELECT password_hash FROM account WHERE id = :id"),
                          {"id": account_id}).scalar()
    return verify_password(stored, password)


# ---- web sessions ----

def open_session(conn: Connection, account_id: int, ip: str | None, user_agent: str | None) -> str:
    token, token_hash = new_token("ggs_")
    conn.execute(text(
        "INSERT INTO web_session (token_sha256, account_id, expires_at, ip, user_agent) "
        "VALUES (:h, :a, :exp, :ip, :ua)"),
        {"h": token_hash, "a": account_id, "ip": ip, "ua": (user_agent or "")[:300],
         "exp": datetime.now(timezone.utc) + timedelta(hours=SESSION_HOURS)})
    return token


def session_account(conn: Connection, token: str) -> dict | None:
    return _account_for(conn, "web_session", digest(token), "last_seen_at",
                        "AND t.expires_at > now()")


def close_session(conn: Connection, token: str) -> None:
    conn.execute(text("UPDATE web_session SET revoked_at = now() "
                      "WHERE token_sha256 = :h AND revoked_at IS NULL"), {"h": digest(token)})


def revoke_sessions(conn: Connection, account_id: int) -> None:
    conn.execute(text("UPDATE web_session SET revoked_at = now() "
                      "WHERE account_id = :a AND revoked_at IS NULL"), {"a": account_id})


def revoke_tokens(conn: Connection, account_id: int) -> None:
    conn.execute(text("UPDATE api_token SET revoked_at = now() "
                      "WHERE account_id = :a AND revoked_at IS NULL"), {"a": account_id})


# ---- API tokens ----

TOKEN_COLUMNS = "id, account_id, name, prefix, created_at, last_used_at, revoked_at"


def create_token(conn: Connection, account_id: int, name: str) -> tuple[dict, str]:
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 100:
        raise InputError("a token needs a name of 1-100 characters", field="name")
    token, token_hash = new_token()
    row = conn.execute(text(
        f"INSERT INTO api_token (account_id, name, prefix, token_sha256) "
        f"VALUES (:a, :n, :p, :h) RETURNING {TOKEN_COLUMNS}"),
        {"a": account_id, "n": name, "p": token[:8], "h": token_hash}).mappings().one()
    return dict(row), token


def token_account(conn: Connection, token: str) -> dict | None:
    return _account_for(conn, "api_token", digest(token), "last_used_at")


TOUCH_SECONDS = 60


def _account_for(conn: Connection, table: str, token_hash: str, seen_column: str,
                 extra: str = "") -> dict | None:
    """The active account behind a live session or token: one read per request; the
    last-seen time is written at most once a minute so reads stay reads."""
    row = conn.execute(text(f"""
        SELECT a.{', a.'.join(ACCOUNT_COLUMNS.split(', '))},
               coalesce((SELECT json_agg(json_build_object('level', u.level, 'code', u.code)
                                         ORDER BY u.level, u.code)
                         FROM account_unit u WHERE u.account_id = a.id), '[]') AS units,
               t.{seen_column} < now() - make_interval(secs => {TOUCH_SECONDS})
                   OR t.{seen_column} IS NULL AS stale
        FROM {table} t JOIN account a ON a.id = t.account_id
        WHERE t.token_sha256 = :h {extra} AND t.revoked_at IS NULL AND a.active"""),
        {"h": token_hash}).mappings().first()
    if row is None:
        return None
    if row["stale"]:
        conn.execute(text(f"UPDATE {table} SET {seen_column} = now() WHERE token_sha256 = :h"),
                     {"h": token_hash})
    return {k: v for k, v in row.items() if k != "stale"}


def list_tokens(conn: Connection, account_id: int | None = None) -> list[dict]:
    where = "WHERE account_id = :a" if account_id is not None else ""
    return [dict(r) for r in conn.execute(text(
        f"SELECT {TOKEN_COLUMNS} FROM api_token {where} ORDER BY id"),
        {"a": account_id}).mappings()]


def get_token(conn: Connection, token_id: int) -> dict | None:
    row = conn.execute(text(f"SELECT {TOKEN_COLUMNS} FROM api_token WHERE id = :id"),
                       {"id": token_id}).mappings().first()
    return dict(row) if row else None


def revoke_token(conn: Connection, token_id: int) -> dict:
    row = conn.execute(text(
        f"UPDATE api_token SET revoked_at = coalesce(revoked_at, now()) WHERE id = :id "
        f"RETURNING {TOKEN_COLUMNS}"), {"id": token_id}).mappings().first()
    if row is None:
        raise NotFound(f"token {token_id} does not exist")
    return dict(row)
