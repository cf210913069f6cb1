"""Incident categories (pure): a category, the deployment's list of them (Catalogue) and the
checks of what administrators send.

A category has a code (a slug: lower-case letters, digits and underscores, starting with a
letter; it never changes once incidents may carry it), a Chinese and an English name, a parent
class (the major class it belongs to, e.g. 矛盾纠纷 or a CJ/T 214 class such as 市容环境), an
active flag (deactivated categories take no new incidents but stay for the ones they have), a
sort order, and optional deadlines (accept_hours, resolve_hours: None means the handling
level's rule).

The "dispute" group of the filters: every category of the parent class 矛盾纠纷, and every
code starting with "dispute_" (the default set's five disputes).
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field, replace

from gis.errors import UnprocessableError

CODE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
MAX_NAME = 100
MAX_SORT = 1_000_000
MAX_HOURS = 8760          # a deadline of at most one year (as gis.incidents.lifecycle)
DISPUTES = "矛盾纠纷"
GROUPS = ("dispute",)
LISTED = 15               # codes a per-row problem lists at most (a file may repeat it a lot)
# English names of the parent classes that ship with gridgis (others are shown as written)
PARENT_CLASSES = {
    DISPUTES: "Disputes",
    "治安安全": "Public order and safety",
    "群众诉求": "Public requests",
    "市容环境": "City appearance and environment",
    "宣传广告": "Publicity and advertising",
    "施工管理": "Construction management",
    "突发事件": "Emergencies",
    "街面秩序": "Street order",
    "扩展": "Extended events",
}
FIELDS = ("code", "name_zh", "name_en", "parent_class", "active", "sort_order", "accept_hours",
          "resolve_hours")
CHANGEABLE = FIELDS[1:]


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    parent_class: str | None = None
    active: bool = True
    sort_order: int = 0
    accept_hours: float | None = None
    resolve_hours: float | None = None

    @property
    def is_dispute(self) -> bool:
        return self.parent_class == DISPUTES or self.code.startswith("dispute_")

    @property
    def label(self) -> str:
        return f"{self.name_zh} {self.name_en}"

    def as_row(self) -> dict:
        return {k: getattr(self, k) for k in FIELDS}

    def as_json(self) -> dict:
        return {**self.as_row(), "label": self.label,
                "parent_class_en": PARENT_CLASSES.get(self.parent_class or ""),
                "dispute": self.is_dispute}


@dataclass(frozen=True)
class Catalogue:
    """A deployment's categories in display order (sort_order, then code)."""
    categories: tuple[Category, ...]
    _by_code: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        ordered = tuple(sorted(self.categories, key=lambda c: (c.sort_order, c.code)))
        object.__setattr__(self, "categories", ordered)
        object.__setattr__(self, "_by_code", {c.code: c for c in ordered})

    @classmethod
    def of(cls, rows) -> "Catalogue":
        """From dicts with the FIELDS keys (the store's rows)."""
        return cls(tuple(Category(**{k: r[k] for k in FIELDS}) for r in rows))

    def get(self, code: str) -> Category | None:
        return self._by_code.get(code)

    @property
    def codes(self) -> tuple[str, ...]:
        """Every code, active or not (filters reach incidents of deactivated ones too)."""
        return tuple(self._by_code)

    @property
    def active(self) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if c.active)

    @property
    def active_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.active)

    def labels(self) -> dict[str, str]:
        """code -> "中文名 English name" of every category."""
        return {c.code: c.label for c in self.categories}

    def name_zh(self, code: str) -> str:
        c = self.get(code)
        return c.name_zh if c else ""

    def groups(self) -> dict[str, tuple[str, ...]]:
        """Named groups a filter may ask for: "dispute"."""
        return {"dispute": tuple(c.code for c in self.categories if c.is_dispute)}

    def parent_classes(self, active_only: bool = True) -> list[dict]:
        """The parent classes in order of their first category, with their categories."""
        out: dict[str, list] = {}
        for c in (self.active if active_only else self.categories):
            out.setdefault(c.parent_class or "", []).append(c)
        return [{"parent_class": p or None, "label": class_label(p), "categories": cs}
                for p, cs in out.items()]

    def listing(self, limit: int | None = None) -> str:
        """The active codes for an error message (at most `limit` of them named)."""
        codes = self.active_codes
        if not codes:
            return "none is active (an administrator adds them: gridgis categories add)"
        if limit is None or len(codes) <= limit:
            return ", ".join(codes)
        return (f"{', '.join(codes[:limit])} ... ({len(codes)} in all: gridgis categories list, "
                "GET /api/v1/categories)")

    def refusal(self, value, limit: int | None = None) -> str | None:
        """Why a new incident may not carry category `value` (None when it may)."""
        c = self.get(value) if isinstance(value, str) else None
        if c is not None and c.active:
            return None
        shown = str(value)[:40]
        if c is not None:
            return (f"category {shown!r} is deactivated (it takes no new incidents); use one of: "
                    f"{self.listing(limit)}")
        return f"unknown category {shown!r}; use one of: {self.listing(limit)}"


def class_label(parent_class: str | None) -> str:
    """A parent class as shown: Chinese first, then its English name when it is known."""
    if not parent_class:
        return "其他 Other"
    en = PARENT_CLASSES.get(parent_class)
    return f"{parent_class} {en}" if en else parent_class


# ---- what administrators send ----

def _text(body: dict, key: str, required: bool) -> str | None:
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise UnprocessableError(f"{key} is required", field=key)
        return None
    if not isinstance(value, str):
        raise UnprocessableError(f"{key} must be a string", field=key)
    value = " ".join(value.split())
    if len(value) > MAX_NAME:
        raise UnprocessableError(f"{key} is longer than {MAX_NAME} characters", field=key)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in value):
        raise UnprocessableError(f"{key} holds a control or unassigned character", field=key)
    return value


def check_code(value) -> str:
    if not isinstance(value, str) or not CODE.match(value):
        raise UnprocessableError(
            f"code {str(value)[:70]!r} is not a category code: 2-64 characters, lower-case "
            "letters, digits and underscores, starting with a letter (e.g. cj_street_vendor)",
            field="code")
    return value


def _hours(body: dict, key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not 0 < value <= MAX_HOURS:
        raise UnprocessableError(f"{key} must be a number of hours above 0 and at most "
                                 f"{MAX_HOURS}, or null for the handling level's rule",
                                 field=key)
    return float(value)


def _sort(body: dict) -> int | None:
    value = body.get("sort_order")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SORT:
        raise UnprocessableError(f"sort_order must be a whole number from 0 to {MAX_SORT}",
                                 field="sort_order")
    return value


def _active(body: dict) -> bool | None:
    value = body.get("active")
    if value is not None and not isinstance(value, bool):
        raise UnprocessableError("active must be true or false", field="active")
    return value


def _check_unknown(body: dict, allowed) -> None:
    unknown = sorted(str(k) for k in body if k not in allowed)
    if unknown:
        raise UnprocessableError(f"unknown field(s): {', '.join(unknown)}; send "
                                 f"{', '.join(allowed)}", field=unknown[0])


def _check_order(c: Category) -> Category:
    if c.accept_hours is not None and c.resolve_hours is not None \
            and c.accept_hours > c.resolve_hours:
        raise UnprocessableError(f"accept_hours ({c.accept_hours:g}) is more than "
                                 f"resolve_hours ({c.resolve_hours:g})", field="accept_hours")
    return c


def parse_new(body, next_sort: int = 0) -> Category:
    """A new category from {"code", "name_zh", "name_en", "parent_class"?, "sort_order"?,
    "active"?, "accept_hours"?, "resolve_hours"?}; sort_order defaults to next_sort."""
    if not isinstance(body, dict):
        raise UnprocessableError("send a JSON object with code, name_zh and name_en")
    _check_unknown(body, FIELDS)
    sort = _sort(body)
    active = _active(body)
    return _check_order(Category(
        code=check_code(body.get("code")), name_zh=_text(body, "name_zh", True),
        name_en=_text(body, "name_en", True), parent_class=_text(body, "parent_class", False),
        active=True if active is None else active,
        sort_order=next_sort if sort is None else sort,
        accept_hours=_hours(body, "accept_hours"), resolve_hours=_hours(body, "resolve_hours")))


def parse_changes(body, current: Category) -> Category:
    """`current` with the changes in `body` (any of CHANGEABLE; null clears parent_class and
    the hours). The code itself never changes."""
    if not isinstance(body, dict) or not body:
        raise UnprocessableError(f"send a JSON object with any of: {', '.join(CHANGEABLE)}")
    if "code" in body and body["code"] != current.code:
        raise UnprocessableError("a category's code does not change (incidents carry it); "
                                 "add a new category and deactivate this one", field="code")
    _check_unknown(body, FIELDS)
    changes: dict = {}
    for key in ("name_zh", "name_en"):
        if key in body:
            changes[key] = _text(body, key, True)
    if "parent_class" in body:
        changes["parent_class"] = _text(body, "parent_class", False)
    if body.get("sort_order") is not None:
        changes["sort_order"] = _sort(body)
    if body.get("active") is not None:
        changes["active"] = _active(body)
    for key in ("accept_hours", "resolve_hours"):
        if key in body:
            changes[key] = _hours(body, key)
    return _check_order(replace(current, **changes))


def differences(before: Category, after: Category) -> dict:
    """{field: [before, after]} of what changed."""
    return {k: [getattr(before, k), getattr(after, k)] for k in CHANGEABLE
            if getattr(before, k) != getattr(after, k)}
