"""The incident centre, my tasks and supervision (use cases over gis.store.cases).

- Case list (事件中心): tabs by stage (待受理 accept, 待派遣 dispatch, 处置中 handle, 待核查
  verify, 已结案 closed, 超期 overdue, 全部 all) with their counts, the map filters
  (gis.incidents.filters), a search by case number, external id or text, server-side sorting
  and paging, and a CSV export of the current list with stage, due times, card and level.
- My tasks (我的待办): what waits for the account (cases dispatched to it or its departments,
  and cases at its handling level waiting to be accepted, dispatched or verified), due soonest
  first; what it did recently (已办); how many arrived since it last looked.
- Supervision (督办): yellow and red cards per unit for the level above, and the carded cases.

Cards are judged against gis.times.now() (tests move it forward).
"""
from __future__ import annotations

import pandas as pd

from gis import times
from gis.access.roles import Principal
from gis.categories.manage import catalogue
from gis.domain import LEVEL_LABELS, LEVELS
from gis.errors import InputError
from gis.files import Download, frame_csv_bytes
from gis.incidents import lifecycle as lc
from gis.incidents.export import plain
from gis.incidents.selection import read_filter, unit_scope
from gis.store import audit
from gis.store import boundaries as bstore
from gis.store import cases as cstore
from gis.store.db import Connection

TABS = {"accept": ("待受理", "To accept"), "dispatch": ("待派遣", "To dispatch"),
        "handle": ("处置中", "In hand"), "verify": ("待核查", "To verify"),
        "closed": ("已结案", "Closed"), "overdue": ("超期", "Overdue"),
        "all": ("全部", "All")}
SORTS = tuple(cstore.SORT_SQL)
MAX_PAGE = 200
MAX_EXPORT = 100_000
MAX_Q = 100
CARD_LABELS = {"yellow": "黄牌 yellow", "red": "红牌 red"}


def _text(args, key: str, default: str, allowed) -> str:
    value = args.get(key) or default
    if value not in allowed:
        raise InputError(f"{key} must be one of {', '.join(allowed)}", field=key)
    return value


def _int(args, key: str, default: int, low: int, high: int) -> int:
    raw = args.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InputError(f"{key} must be a whole number", field=key)
    if not low <= value <= high:
        raise InputError(f"{key} must be between {low} and {high}", field=key)
    return value


def _q(args) -> str | None:
    q = (args.get("q") or "").strip()
    if len(q) > MAX_Q:
        raise InputError(f"q is longer than {MAX_Q} characters", field="q")
    return q or None


def item_json(r: dict, names: dict) -> dict:
    out = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()
           if k not in ("total",)}
    out["status_label"] = lc.STATUS_LABELS[r["status"]]
    stage = lc.STAGE_OF.get(r["status"])
    out["stage"] = stage
    out["stage_label"] = lc.STAGE_LABELS.get(stage) if stage else None
    out["level_label"] = lc.LEVEL_LABELS[r["handling_level"]]
    out["category_label"] = names.get(r["category"], r["category"])
    return out


def _selection(conn: Connection, actor: Principal, args):
    f = read_filter(conn, args)
    return f, unit_scope(conn, actor.scope, f), _q(args)


def _view(args) -> tuple[str, str, str]:
    """(tab, sort, order) of a case list."""
    return (_text(args, "tab", "all", TABS), _text(args, "sort", "reported_at", SORTS),
            _text(args, "order", "desc", ("asc", "desc")))


def list_cases(conn: Connection, actor: Principal, args) -> dict:
    """One page of a tab, with the counts of every tab for the same filters and search."""
    tab, sort, order = _view(args)
    limit = _int(args, "limit", 50, 1, MAX_PAGE)
    offset = _int(args, "offset", 0, 0, 10**7)
    f, narrowed, q = _selection(conn, actor, args)
    now = times.now()
    counts = cstore.counts(conn, actor.scope, actor.account_id, f, narrowed, q, now)
    rows = cstore.page(conn, actor.scope, actor.account_id, f, narrowed, q, tab=tab,
                       sort=sort, descending=order == "desc", limit=limit, offset=offset,
                       now=now)
    names = catalogue(conn).labels()
    return {"tab": tab, "tabs": [{"tab": t, "label": f"{zh} {en}", "count": counts[t]}
                                 for t, (zh, en) in TABS.items()],
            "total": counts[tab], "limit": limit, "offset": offset, "sort": sort,
            "order": order, "filter": f.describe(), "now": now.isoformat(),
            "cases": [item_json(r, names) for r in rows]}


EXPORT_COLUMNS = [
    ("public_id", "案件编号 Case number"), ("external_id", "外部编号 External id"),
    ("source", "来源 Source"), ("category_label", "类别 Category"),
    ("severity", "严重程度 Severity"), ("status_label", "状态 Status"),
    ("stage_label", "环节 Stage"), ("level_label", "办理层级 Handling level"),
    ("card", "督办牌 Card"), ("reported_at", "上报时间 Reported at"),
    ("stage_yellow_at", "黄牌时间 Yellow at"), ("stage_due_at", "环节时限 Stage due"),
    ("accept_due_at", "受理期限 Accept due"), ("resolve_due_at", "办结期限 Resolve due"),
    ("assignee", "承办 Assigned to"), ("grid_name", "网格 Grid"),
    ("village_name", "村/社区 Village"), ("township_name", "乡镇/街道 Township"),
    ("rework_count", "返工次数 Reworked"), ("remind_count", "催办次数 Reminders"),
    ("lon", "经度 Lon"), ("lat", "纬度 Lat"), ("description", "描述 Description")]


def export_cases(conn: Connection, actor: Principal, args, *, query: str = "",
                 origin: dict | None = None) -> Download:
    """The current list (tab, filters, search, sort) as CSV, every page."""
    tab, sort, order = _view(args)
    f, narrowed, q = _selection(conn, actor, args)
    rows = cstore.page(conn, actor.scope, actor.account_id, f, narrowed, q, tab=tab,
                       sort=sort, descending=order == "desc", limit=MAX_EXPORT + 1, offset=0,
                       now=times.now())
    if len(rows) > MAX_EXPORT:
        raise InputError(f"more than {MAX_EXPORT:,} cases match; narrow the filter")
    names = catalogue(conn).labels()
    items = [item_json(r, names) for r in rows]
    for it in items:
        it["card"] = CARD_LABELS.get(it["card"], "")
        it["assignee"] = it["assignee_department"] or it["assignee_username"] or ""
    audit.record(conn, actor, "export", "exports/cases",
                 details={"query": query[:500], "format": "csv", "rows": len(items)},
                 **(origin or {}))
    table = pd.DataFrame([[plain(it[k]) for k, _ in EXPORT_COLUMNS] for it in items],
                         columns=[label for _, label in EXPORT_COLUMNS])
    return Download(frame_csv_bytes(table), "text/csv", f"cases-{tab}.csv")


def _levels(actor: Principal) -> list[str]:
    """The handling levels an account's units act at (the tasks waiting there are its); none
    for roles that do not handle incidents."""
    if not actor.can("incident.manage"):
        return []
    if actor.scope.everything:
        return list(lc.HANDLING_LEVELS)
    return sorted({lc.UNIT_HANDLING_LEVEL[u.level] for u in actor.scope.units},
                  key=lc.LEVEL_RANK.__getitem__)


def my_tasks(conn: Connection, actor: Principal, args) -> dict:
    """What waits for the account, due soonest first, and what it did recently (已办)."""
    limit = _int(args, "limit", 50, 1, MAX_PAGE)
    offset = _int(args, "offset", 0, 0, 10**7)
    if actor.account_id is None:
        return {"tasks": [], "total": 0, "done": [], "unread": 0, "limit": limit,
                "offset": offset}
    levels = _levels(actor)
    now = times.now()
    unread = cstore.unread(conn, actor.scope, actor.account_id, levels)
    rows, total = cstore.tasks(conn, actor.scope, actor.account_id, levels, limit=limit,
                               offset=offset, now=now)
    names = catalogue(conn).labels()
    done = cstore.done_by(conn, actor.account_id, limit=20)
    return {"tasks": [item_json(r, names) for r in rows], "total": total, "unread": unread,
            "limit": limit, "offset": offset, "now": now.isoformat(),
            "done": [{**item_json(r, names),
                      "done_label": lc.ACTION_LABELS.get(r["done_action"], (r["done_action"],
                                                                             ""))[0]}
                     for r in done]}


def mark_seen(conn: Connection, actor: Principal) -> dict:
    if actor.account_id is not None:
        cstore.mark_tasks_seen(conn, actor.account_id)
    return {"unread": unread_tasks(conn, actor)}


def unread_tasks(conn: Connection, actor: Principal) -> int:
    if actor.account_id is None:
        return 0
    levels = _levels(actor)
    return cstore.unread(conn, actor.scope, actor.account_id, levels)


def supervision(conn: Connection, actor: Principal, args) -> dict:
    """Yellow and red cards per unit one level below the account's top unit (or at ?level=),
    and the carded cases (of ?unit= when given)."""
    gen = bstore.require_active_generation(conn, actor.scope, root=args.get("root"))
    level = args.get("level") or _child_level(actor)
    if level not in (*LEVELS, "grid"):
        raise InputError(f"level must be one of {', '.join((*LEVELS, 'grid'))}", field="level")
    f = read_filter(conn, {"unit": args.get("unit")} if args.get("unit") else {})
    narrowed = unit_scope(conn, actor.scope, f)
    now = times.now()
    units = cstore.cards_by_unit(conn, actor.scope, level, gen["id"], now)
    names = catalogue(conn).labels()
    cases = cstore.carded(conn, actor.scope, narrowed, limit=_int(args, "limit", 100, 1, 500),
                          now=now)
    return {"level": level, "level_label": " ".join(LEVEL_LABELS[level]), "now": now.isoformat(),
            "units": units,
            "totals": {k: sum(u[k] for u in units) for k in ("open", "yellow", "red",
                                                               "reminders")},
            "cases": [item_json(r, names) for r in cases]}


def _child_level(actor: Principal) -> str:
    if actor.scope.everything or not actor.scope.units:
        return "township"
    order = (*LEVELS, "grid")
    top = min(order.index(u.level) for u in actor.scope.units)
    return order[min(top + 1, len(order) - 1)]
