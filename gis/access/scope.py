"""Who may do what, and where: roles, permissions and jurisdictions (pure; no database).

A jurisdiction is a set of units, each a (level, code) pair at any level of the ladder
(province, prefecture, city/county, township, village or community, hamlet) or a grid. An
account with no units and the administrator role sees everything. What a jurisdiction contains follows from the codes alone, so it holds across
boundary generations:

- a unit contains every area and grid whose code starts with the unit's significant prefix
  (province: 2 digits, prefecture: 4, city: 6, township: 9, village: 12, hamlet: 15, grid: the
  whole code);
- the chain of its ancestors (province, prefecture, city, township, ...) is visible too, as
  context, but never their other descendants;
- incidents belong to the unit they were assigned under (by id, per generation), and incidents
  outside every grid belong to the area units whose outline covers them.

The SQL for these rules lives in one place: gis.store.scope.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from gis.domain import LEVELS, PREFIX_LENGTH

UNIT_LEVELS = (*LEVELS, "grid")
CODE_RE = re.compile(r"^\d{12}(\d{3}){0,2}$")


@dataclass(frozen=True)
class Unit:
    level: str
    code: str

    @property
    def prefix(self) -> str:
        return self.code[:PREFIX_LENGTH[self.level]] if self.level in PREFIX_LENGTH else self.code


@dataclass(frozen=True)
class Scope:
    units: tuple[Unit, ...] = ()
    everything: bool = False

    @classmethod
    def all(cls) -> "Scope":
        return cls((), True)

    def ancestor_codes(self) -> list[str]:
        out: set[str] = set()
        for u in self.units:
            out.update(ancestor_codes(u.code))
        return sorted(out)

    def contains_code(self, code: str) -> bool:
        """Whether an area or grid code lies inside the jurisdiction (ancestors excluded)."""
        if self.everything:
            return True
        return any(code == u.code if u.level == "grid" else code.startswith(u.prefix)
                   for u in self.units)

    def describe(self) -> str:
        if self.everything:
            return "all"
        return ", ".join(f"{u.level}:{u.code}" for u in self.units) or "nothing"


def ancestor_codes(code: str) -> list[str]:
    """Codes of the areas that could lie above a unit or grid: province, prefecture, city,
    township, village, and (for codes longer than 12 digits) the 15-digit parent. The code
    itself is not included (nor are all-zero prefixes)."""
    base = code[:12]
    out = [base[:n] + "0" * (12 - n) for n in (2, 4, 6, 9)] + [base]
    if len(code) == 18:
        out.append(code[:15])
    return [c for c in dict.fromkeys(out) if c != code and c.strip("0")]


def check_code(code: str) -> str:
    code = str(code).strip()
    if not CODE_RE.match(code):
        from gis.errors import InputError
        raise InputError(f"{code!r} is not a unit or grid code (12, 15 or 18 digits)",
                         field="code")
    return code


OUTSIDE_JURISDICTION = ("不在您的管辖范围内 This place is outside your jurisdiction "
                        "(or not covered by any of your units)")


def not_visible(scope: Scope, kind: str, ident):
    """The error for a record the account cannot see: 404 for accounts that see everything; for
    scoped accounts the same 403 whether or not the record exists elsewhere."""
    from gis.errors import Forbidden, NotFound
    if scope.everything:
        return NotFound(f"{kind} {ident} does not exist")
    return Forbidden(f"{kind} {ident} is not within your jurisdiction")


def covers_city(scope: Scope, city_code: str) -> bool:
    """Whether the jurisdiction is the whole deployment: administrators, or an account of its
    top unit (`city_code`: the city, prefecture or province the boundary set starts at)."""
    return scope.everything or any(u.level != "grid" and u.code == city_code
                                   for u in scope.units)


def require_city_wide(scope: Scope, city_code: str, what: str) -> None:
    """Forbidden unless the jurisdiction covers the whole city: settings and data that apply
    city-wide (coverage settings, deadlines, the road network) are not a township's to change."""
    if not covers_city(scope, city_code):
        from gis.errors import Forbidden
        raise Forbidden(f"{what} 全市通用 applies city-wide: only an account for the whole city "
                        "may change it")
