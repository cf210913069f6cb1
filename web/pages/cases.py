"""Case-handling pages: the incident centre (/incidents), one incident (/incidents/<id>), my
tasks (/tasks), supervision (/supervision) and the report form (/report). The pages are
shells: their scripts (cases.js, incident.js, report.js) read and act through the JSON API."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from gis.categories.manage import catalogue
from gis.incidents import cases
from gis.incidents import lifecycle as lc
from gis.incidents.filters import parse_filter
from web.auth import principal, requires
from web.database import engine
from web.pages.analysis import SEVERITY_LABELS

bp = Blueprint("case_pages", __name__)


def _form() -> dict:
    with engine().connect() as conn:
        cats = catalogue(conn)
    f = parse_filter(request.args, categories=cats)
    return {"args": f.raw, "filter_args": f.args(),
            "category_groups": cats.parent_classes(active_only=False),
            "severities": SEVERITY_LABELS, "statuses": lc.STATUS_LABELS}


@bp.get("/incidents")
@requires("view")
def incident_centre():
    return render_template("cases/list.html", title="事件中心 Incident centre", page="cases",
                           tabs=cases.TABS, tab=request.args.get("tab", "all"),
                           q=request.args.get("q", ""), **_form())


@bp.get("/incidents/<int:incident_id>")
@requires("view")
def incident_page(incident_id: int):
    return render_template("cases/incident.html", title=f"事件 Incident {incident_id}",
                           page="cases", incident_id=incident_id,
                           actions=lc.ACTION_LABELS, methods=lc.VERIFY_METHOD_LABELS,
                           satisfaction=lc.SATISFACTION_LABELS, levels=lc.LEVEL_LABELS)


@bp.get("/tasks")
@requires("view")
def tasks():
    return render_template("cases/tasks.html", title="我的待办 My tasks", page="tasks")


@bp.get("/supervision")
@requires("view")
def supervision():
    return render_template("cases/supervision.html", title="督办 Supervision",
                           page="supervision")


@bp.get("/report")
@requires("incident.create")
def report():
    with engine().connect() as conn:
        cats = catalogue(conn)
    return render_template("cases/report.html", title="上报事件 Report an incident",
                           page="report", category_groups=cats.parent_classes(),
                           severities=SEVERITY_LABELS)
