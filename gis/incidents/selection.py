"""Which incidents a filter selects for an account: the filter read with the deployment's
categories, and the `unit` filter, which narrows the selection inside the jurisdiction
(gis.incidents.filters parses the filter itself)."""
from __future__ import annotations

from datetime import date

from gis.access.scope import Scope
from gis.categories.manage import catalogue
from gis.errors import Forbidden, InputError
from gis.incidents.filters import IncidentFilter, parse_filter
from gis.store import accounts
from gis.store.db import Connection


def read_filter(conn: Connection, args, today: date | None = None) -> IncidentFilter:
    """The filter of URL parameters `args` over the deployment's categories."""
    return parse_filter(args, today, categories=catalogue(conn))


def unit_scope(conn: Connection, scope: Scope, f: IncidentFilter) -> Scope | None:
    """The `unit` filter as a Scope (None without one). A unit outside the account's
    jurisdiction (and not one of its ancestors) is refused before it is looked up, so the
    answer never tells whether it exists."""
    if not f.unit:
        return None
    if not (scope.contains_code(f.unit) or f.unit in scope.ancestor_codes()):
        raise Forbidden("该单元不在您的管辖范围内 The unit is outside your jurisdiction",
                        field="unit")
    try:
        return Scope(tuple(accounts.resolve_units(conn, [f.unit])))
    except InputError as err:
        raise InputError(err.message, field="unit")
