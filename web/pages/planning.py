"""Planners' map pages: the list of drafts with a form to open one, and the map of a
draft with the Leaflet.draw toolbar and a side panel. The page only renders the map and the
draft as it is; every edit, check, comparison and the publishing go through /api/v1/plans from
web/static/planner.js, which replaces the grid layer with each answer (no full reload)."""
from __future__ import annotations

import shapely
from flask import Blueprint, render_template, url_for
from folium.plugins import Draw
from shapely.geometry import shape

from gis.boundaries.generations import active_generation
from gis.planning import drafts as plans
from web.auth import principal, requires
from web.database import engine
from web.maps import geojson, layer, map_parts, new_map
from web.params import household_targets

bp = Blueprint("planning_pages", __name__, url_prefix="/maps")

UNIT_STYLE = {"color": "#1f5fa8", "weight": 2.5, "fill": False, "dashArray": "6 4"}
# Households per grid against the target range [min, max], "far" meaning beyond 25 %:
# (colour, Chinese, English); planner.js classes the grids with the same colours and bounds.
BALANCE_CLASSES = [
    ("#2166ac", "远低于目标", "far below the range"),
    ("#92c5de", "低于目标", "below the range"),
    ("#5aae61", "在目标范围内", "within the range"),
    ("#f4a582", "高于目标", "above the range"),
    ("#b2182b", "远高于目标", "far above the range"),
]


def _legend(targets) -> list[dict]:
    lo, hi = targets.households_min, targets.households_max
    far_lo, far_hi = 0.75 * lo, 1.25 * hi
    labels = [f"< {far_lo:g}", f"{far_lo:g} – < {lo}", f"{lo} – {hi}", f"> {hi} – {far_hi:g}",
              f"> {far_hi:g}"]
    return [{"color": c, "zh": zh, "en": en, "range": r}
            for (c, zh, en), r in zip(BALANCE_CLASSES, labels)]


@bp.get("/plans")
@requires("plan.edit")
def plan_list():
    p = principal()
    with engine().connect() as conn:
        drafts = [d.to_dict() for d in plans.list_drafts(conn, p.scope, None)]
    units = [u.code for u in p.scope.units if len(u.code) == 12]
    return render_template("planning/planner.html", title="网格规划草案 Draft plans",
                           page="plans",
                           drafts=drafts, unit_codes=units, mine=p.username,
                           config={"api": url_for("planning_api.list_plans"),
                                   "page": url_for("planning_pages.plan_list")})


@bp.get("/plans/<int:plan_id>")
@requires("plan.edit")
def plan_map(plan_id: int):
    targets = household_targets()
    with engine().connect() as conn:
        detail = plans.draft_detail(conn, principal().scope, plan_id).to_dict()
        active = active_generation(conn, principal().scope)
    draft, grids, units = detail["draft"], detail["grids"], detail["units"]
    shapes = [shape(f["geometry"]) for f in units["features"] + grids["features"]
              if f["geometry"]]
    bounds = list(shapely.total_bounds(shapes)) if shapes else None
    m = new_map(bounds)
    m.options["boxZoom"] = False  # shift-click adds a grid to the selection
    geojson(layer(m, "上级单元 Parent units"), units, style=lambda _f: UNIT_STYLE,
            interactive=False)
    drawn = layer(m, "绘制 Drawn shapes", control=False)
    Draw(feature_group=drawn, show_geometry_on_click=False, position="topleft",
         draw_options={"polyline": {"shapeOptions": {"color": "#d62728", "weight": 3}},
                       "polygon": {"allowIntersection": False,
                                   "shapeOptions": {"color": "#9467bd", "weight": 2}},
                       "rectangle": False, "circle": False, "marker": False,
                       "circlemarker": False},
         edit_options={"edit": True, "remove": True}).add_to(m)
    config = {
        "plan": draft["id"], "draft": draft, "grids": grids,
        "units": [f["id"] for f in units["features"]],
        "api": url_for("planning_api.get_plan", plan_id=draft["id"]),
        "list": url_for("planning_pages.plan_list"),
        "targets": {"min": targets.households_min, "max": targets.households_max},
        "colours": [c for c, _, _ in BALANCE_CLASSES],
        "map": m.get_name(), "drawn": drawn.get_name(),
        "active_generation": active["id"] if active else None,
    }
    return render_template("planning/planner.html", title=f"网格规划 Plan: {draft['name']}",
                           page="plans",
                           draft=draft, targets=targets, legend=_legend(targets),
                           active=active, config=config, **map_parts(m))
