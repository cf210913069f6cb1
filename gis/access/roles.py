"""Who may do what: roles and their permissions, and the account a request acts as (pure)."""
from __future__ import annotations

from dataclasses import dataclass

from gis.access.scope import Scope

ROLES = {
    "admin": ("管理员", "Administrator"),
    "planner": ("规划人员", "Planner"),
    "official": ("干部", "Official"),
    "grid_worker": ("网格员", "Grid worker"),
    "client": ("接口客户端", "Machine client"),
}

# Permissions. "view": pages, maps and feature collections; "incident.manage": move incidents
# through their lifecycle (accept, mediate, resolve, escalate, close); "staff.manage": register
# grid heads and workers; "coverage.manage": cameras, response posts, roads, coverage settings;
# "category.manage": the deployment's incident categories (administrators).
PERMISSIONS = {
    "view", "locate", "incident.read", "incident.create", "incident.import", "incident.export",
    "incident.manage", "boundary.import", "plan.edit", "account.manage", "audit.read",
    "staff.manage", "coverage.manage", "category.manage",
}
ROLE_PERMISSIONS = {
    "admin": frozenset(PERMISSIONS),
    "planner": frozenset({"view", "locate", "incident.read", "plan.edit", "coverage.manage"}),
    "official": frozenset({"view", "locate", "incident.read", "incident.create",
                           "incident.import", "incident.export", "incident.manage",
                           "staff.manage"}),
    "grid_worker": frozenset({"view", "locate", "incident.read", "incident.create",
                              "incident.manage"}),
    "client": frozenset({"locate", "incident.read", "incident.create"}),
}

@dataclass(frozen=True)
class Principal:
    """The account a request or command acts as."""
    account_id: int | None
    username: str
    role: str
    scope: Scope
    via: str = "session"  # session | token | system

    def can(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


SYSTEM = Principal(None, "system", "admin", Scope.all(), via="system")
