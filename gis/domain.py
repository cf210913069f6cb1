"""Vocabulary of the domain: levels, the default incident categories, severities, statuses,
code rules."""
from __future__ import annotations

import re

# Administrative levels: the national ladder, top to bottom. A deployment's boundary set starts
# at any of them and skips those its place does not have (a county-level city starts at `city`;
# a prefecture-level city at `prefecture`, with its districts and counties at `city`; Dongguan
# has townships right under the prefecture). `city` is the county rung (county, district or
# county-level city), named so since the first deployments were county-level cities. Grids hang
# below the lowest unit present (a hamlet in the countryside, a community in town).
LEVELS = ("province", "prefecture", "city", "township", "village", "hamlet")
LEVELS_UP = tuple(reversed(LEVELS))  # the units an incident or grid names, bottom up
LEVEL_NUMBER = {name: i + 1 for i, name in enumerate(LEVELS)}
LEVEL_OF_NUMBER = {n: name for name, n in LEVEL_NUMBER.items()}
LEVEL_LABELS = {
    "province": ("省/自治区/直辖市", "Province"),
    "prefecture": ("地级市/州/盟", "Prefecture-level city"),
    "city": ("县/区/县级市", "County / district / county-level city"),
    "township": ("乡镇/街道", "Township / subdistrict"),
    "village": ("村/社区", "Village / community"),
    "hamlet": ("屯", "Hamlet"),
    "grid": ("网格", "Grid"),
}
AREA_KINDS = {
    "province": {"province", "autonomous_region", "municipality"},
    "prefecture": {"prefecture", "prefecture_city", "autonomous_prefecture", "league"},
    "city": {"city", "county_city", "county", "district", "banner"},
    "township": {"township", "town", "subdistrict"},
    "village": {"village", "community"},
    "hamlet": {"hamlet"},
}
# Each level's name in the plural: its OGC collection and its tile layer.
LEVEL_PLURAL = {"province": "provinces", "prefecture": "prefectures", "city": "cities",
                "township": "townships", "village": "villages", "hamlet": "hamlets"}
# Digits of the 12-digit statistical code that a unit of each level fixes (2+2+2+3+3); hamlets
# add 3 digits to their village's code and grids 3 to their holder's.
PREFIX_LENGTH = {"province": 2, "prefecture": 4, "city": 6, "township": 9, "village": 12,
                 "hamlet": 15}

# The default set of incident categories (code -> Chinese, English): what migration 0014 seeds
# every deployment's list with (gis.categories.sets.DEFAULT adds their parent classes). The
# deployment's own list is data (table category, gis.categories); read it, not this.
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
# Incident statuses (gis.incidents.lifecycle): the case-handling workflow
# 上报 reported -> 受理 accepted (or 退回 returned) -> 立案 registered -> 派遣 dispatched ->
# 处置 mediating -> 处置反馈 resolved -> 核查 verified -> 结案 closed -> 评价 evaluated;
# escalated: sent one level up, awaiting acceptance there.
STATUSES = ("reported", "accepted", "mediating", "resolved", "escalated", "closed",
            "returned", "registered", "dispatched", "verified", "evaluated")
AWAITING_ACCEPTANCE = ("reported", "escalated")
OPEN = ("reported", "accepted", "registered", "dispatched", "mediating", "escalated")
DONE = ("resolved", "verified", "closed", "evaluated")
FINAL = ("returned", "evaluated")
# The stage whose clock runs in each status (limits in stage_limit, working hours)
STAGES = ("accept", "dispatch", "handle", "verify")
STAGE_OF = {"reported": "accept", "escalated": "accept", "accepted": "dispatch",
            "registered": "dispatch", "dispatched": "handle", "mediating": "handle",
            "resolved": "verify"}
VERIFY_METHODS = ("on_site", "phone")
SATISFACTION = ("satisfied", "basic", "unsatisfied")
# Handling levels of the incident lifecycle, bottom to top (gis.incidents.lifecycle).
# Above the county rung (`city`), the prefecture and the province where a deployment has them.
HANDLING_LEVELS = ("grid", "village", "township", "city", "prefecture", "province")
# The lifecycle columns of an incident (gis.incidents.lifecycle.State)
LIFECYCLE_FIELDS = ("status", "handling_level", "version", "accepted_at", "mediated_at",
                    "resolved_at", "closed_at", "escalated_at", "accept_due_at",
                    "resolve_due_at", "resolved_level", "returned_at", "registered_at",
                    "dispatched_at", "verified_at", "evaluated_at", "assignee_account_id",
                    "assignee_department_id", "resolved_by", "verified_by", "verify_method",
                    "satisfaction", "rework_count", "stage_started_at", "stage_yellow_at",
                    "stage_due_at")

# Draft plans: their statuses and the file formats they and generations export to.
PLAN_STATUSES = ("open", "published", "discarded")
PLAN_FORMATS = ("gpkg", "geojson")
BOUNDARY_LAYERS = (*LEVELS, "grid")

# 12-digit statistical division codes: province 2, prefecture 2, county 2, township 3, village 3.
# Hamlets extend their village's code by 3 digits; grids extend their holder's code by 3 digits.
STAT_CODE = re.compile(r"^\d{12}$")
CHILD_SUFFIX = re.compile(r"^\d{3}$")


def code_problem(level: str, code: str, parent_code: str | None,
                 parent_level: str | None = None) -> str | None:
    """Why `code` is inconsistent with its level and parent, or None when it is fine.

    A unit down to villages has a 12-digit code that sets the digits of its own level (not all
    zero), zeros after them, and repeats its parent's significant digits (the parent may sit
    any number of levels up: a township right under a prefecture sets digits 5-9). Hamlets and
    grids are their parent's code plus 3 digits."""
    if level in PREFIX_LENGTH and level != "hamlet":
        if not STAT_CODE.match(code):
            return f"{level} code {code!r} is not a 12-digit statistical code"
        own = PREFIX_LENGTH[level]
        if code[own:] != "0" * (12 - own):
            return f"{level} code {code} must end in {12 - own} zeros"
        if parent_code is None:  # the set's top unit
            return None if code[:own] != "0" * own else f"{level} code {code} is all zeros"
        above = PREFIX_LENGTH.get(parent_level or _level_of_code(parent_code), 0)
        if code[:above] != parent_code[:above]:
            return f"{level} code {code} does not extend {parent_level or 'parent'} code " \
                   f"{parent_code}"
        if above >= own or code[above:own] == "0" * (own - above):
            return f"{level} code {code} must set digits {above + 1}-{own} under " \
                   f"{parent_code}"
        return None
    # hamlet or grid: parent code + 3 digits
    if not parent_code or not code.startswith(parent_code) or \
            not CHILD_SUFFIX.match(code[len(parent_code):]):
        return f"{level} code {code!r} must be its parent's code {parent_code} plus 3 digits"
    return None


def _level_of_code(code: str) -> str:
    """The level of a 12-digit code: the lowest whose own digits are set."""
    for i in range(len(LEVELS) - 2, -1, -1):  # village up to province
        start = PREFIX_LENGTH[LEVELS[i - 1]] if i else 0
        if code[start:PREFIX_LENGTH[LEVELS[i]]].strip("0"):
            return LEVELS[i]
    return "province"
