"""Audit trail: who did what, when, from where."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, text

from gis.access.roles import Principal

ACTIONS = ("sign_in", "sign_in_failed", "sign_out", "token_create", "token_revoke",
           "account_create", "account_update", "boundary_import", "incident_create",
           "incident_import", "export", "plan_edit", "plan_publish", "incident_transition",
           "history_reassign", "deadline_update", "staff_import", "camera_import",
           "post_import", "road_import", "coverage_settings", "boundary_activate",
           "demo_remove", "category_update", "department_update", "calendar_update",
           "stage_limit_update", "attachment_add")


def record(conn: Connection, principal: Principal | None, action: str, target: str | None = None,
           *, ip: str | None = None, user_agent: str | None = None, details: dict | None = None,
           username: str | None = None, via: str | None = None) -> None:
    """One audit event in conn's transaction. ip, user_agent and via (e.g. "cli") describe where
    the action came from (a use case's `origin`); via is kept in the details."""
    if via:
        details = {**(details or {}), "via": via}
    conn.execute(text(
        "INSERT INTO audit_event (account_id, username, action, target, ip, user_agent, details) "
        "VALUES (:a, :u, :act, :t, :ip, :ua, CAST(:d AS jsonb))"),
        {"a": principal.account_id if principal else None,
         "u": username or (principal.username if principal else None), "act": action,
         "t": target, "ip": ip, "ua": (user_agent or "")[:300] or None,
         "d": json.dumps(details, ensure_ascii=False, default=str) if details else None})


def query(conn: Connection, *, action: str | None = None, username: str | None = None,
          since: datetime | None = None, until: datetime | None = None, limit: int = 100,
          offset: int = 0, target: str | None = None) -> tuple[list[dict], int]:
    where, params = [], {}
    if target:
        where.append("target LIKE :target ESCAPE '\\'")
        params["target"] = target.replace("\\", "\\\\").replace("%", "\\%") \
            .replace("_", "\\_") + "%"
    if action:
        where.append("action = :action")
        params["action"] = action
    if username:
        where.append("lower(username) = lower(:username)")
        params["username"] = username
    if since:
        where.append("at >= :since")
        params["since"] = since
    if until:
        where.append("at <= :until")
        params["until"] = until
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    total = conn.execute(text(f"SELECT count(*) FROM audit_event {clause}"), params).scalar_one()
    rows = conn.execute(text(
        f"SELECT id, at, account_id, username, action, target, ip, user_agent, details "
        f"FROM audit_event {clause} ORDER BY id DESC LIMIT :limit OFFSET :offset"),
        {**params, "limit": limit, "offset": offset}).mappings().all()
    return [dict(r) for r in rows], total
