"""Vocabulary of the domain: levels, incident categories, severities, statuses, code rules."""
from __future__ import annotations

import re

# Administrative levels, top to bottom. Grids hang below the lowest unit present (a hamlet in
# the countryside, a community in town).
LEVELS = ("city", "township", "village", "hamlet")
LEVEL_NUMBER = {name: i + 1 for i, name in enumerate(LEVELS)}
LEVEL_LABELS = {
    "city": ("市", "City"),
    "township": ("乡镇/街道", "Township / subdistrict"),
    "village": ("村/社区", "Village / community"),
    "hamlet": ("屯", "Hamlet"),
    "grid": ("网格", "Grid"),
}
AREA_KINDS = {
    "city": {"city", "county_city"},
    "township": {"township", "town", "subdistrict"},
    "village": {"village", "community"},
    "hamlet": {"hamlet"},
}

CATEGORIES = {
    "dispute_neighbour": ("邻里纠纷", "Neighbour dispute"),
    "dispute_family": ("婚姻家庭纠纷", "Family dispute"),
    "dispute_land": ("土地纠纷", "Land dispute"),
    "dispute_labour": ("劳资纠纷", "Labour dispute"),
    "dispute_property": ("物业纠纷", "Property-management dispute"),
    "traffic_accident": ("交通事故纠纷", "Traffic accident"),
    "public_security": ("治安事件", "Public-security event"),
    "safety_hazard": ("公共安全隐患", "Safety hazard"),
    "hotline_12345": ("12345热线诉求", "12345 hotline complaint"),
    "petition": ("信访", "Petition"),
}
SEVERITIES = ("low", "medium", "high")
STATUSES = ("reported", "accepted", "mediating", "resolved", "escalated", "closed")
AWAITING_ACCEPTANCE = ("reported", "escalated")
OPEN = ("reported", "accepted", "mediating", "escalated")
DONE = ("resolved", "closed")
# Handling levels of the incident lifecycle, bottom to top (gis.incidents.lifecycle).
HANDLING_LEVELS = ("grid", "village", "township", "city")
# The lifecycle columns of an incident (gis.incidents.lifecycle.State)
LIFECYCLE_FIELDS = ("status", "handling_level", "version", "accepted_at", "mediated_at",
                    "resolved_at", "closed_at", "escalated_at", "accept_due_at",
                    "resolve_due_at", "resolved_level")

# Draft plans: their statuses and the file formats they and generations export to.
PLAN_STATUSES = ("open", "published", "discarded")
PLAN_FORMATS = ("gpkg", "geojson")
BOUNDARY_LAYERS = ("city", "township", "village", "hamlet", "grid")

# 12-digit statistical division codes: province 2, city 2, county 2, township 3, village 3.
# Hamlets extend their village's code by 3 digits; grids extend their holder's code by 3 digits.
STAT_CODE = re.compile(r"^\d{12}$")
CHILD_SUFFIX = re.compile(r"^\d{3}$")


def code_problem(level: str, code: str, parent_code: str | None) -> str | None:
    """Why `code` is inconsistent with its level and parent, or None when it is fine."""
    if level in ("city", "township", "village"):
        if not STAT_CODE.match(code):
            return f"{level} code {code!r} is not a 12-digit statistical code"
        if level == "city":
            return None if code.endswith("000000") else f"city code {code!r} must end in 000000"
        if level == "township":
            if code[:6] != (parent_code or "")[:6]:
                return f"township code {code} does not extend city code {parent_code}"
            if code[9:] != "000" or code[6:9] == "000":
                return f"township code {code} must have digits 7-9 set and end in 000"
            return None
        if code[:9] != (parent_code or "")[:9] or code[9:] == "000":
            return f"village code {code} does not extend township code {parent_code}"
        return None
    # hamlet or grid: parent code + 3 digits
    if not parent_code or not code.startswith(parent_code) or \
            not CHILD_SUFFIX.match(code[len(parent_code):]):
        return f"{level} code {code!r} must be its parent's code {parent_code} plus 3 digits"
    return None
