"""Administrators' pages: accounts (/admin/accounts) and the audit trail (/admin/audit). Shells:
admin.js reads and changes through the JSON API."""
from __future__ import annotations

from flask import Blueprint, render_template

from gis.access.roles import ROLES
from gis.accounts.audit_trail import ACTIONS
from web.auth import requires

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")


@bp.get("/accounts")
@requires("account.manage")
def accounts():
    return render_template("admin/accounts.html", title="账号管理 Accounts", page="admin",
                           roles=ROLES)


@bp.get("/audit")
@requires("audit.read")
def audit():
    return render_template("admin/audit.html", title="审计日志 Audit trail", page="audit",
                           actions=ACTIONS)
