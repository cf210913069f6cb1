"""Category use cases: read the deployment's list (any signed-in account: reports, filters and
exports need it), and change it (administrators: add, change, deactivate, load a shipped set).
Every change is an audit event ("category_update") in its transaction. Categories are never
deleted: incidents keep theirs, so a category goes out of use by being deactivated."""
from __future__ import annotations

from gis.access.roles import Principal
from gis.categories import rules
from gis.categories.rules import Catalogue, Category
from gis.categories.sets import SET_LABELS, SETS
from gis.errors import Conflict, Forbidden, NotFound
from gis.store import audit
from gis.store import categories as cstore
from gis.store.db import Connection, Engine

PERMISSION = "category.manage"


def catalogue(conn: Connection) -> Catalogue:
    """The deployment's categories, active or not."""
    return Catalogue.of(cstore.all_rows(conn))


def catalogue_of(engine: Engine) -> Catalogue:
    """catalogue() on a connection of its own (for work that holds no connection yet)."""
    with engine.connect() as conn:
        return catalogue(conn)


def list_categories(conn: Connection, *, inactive: bool = False) -> dict:
    """{"categories": [...], "parent_classes": [...]}: the active categories in display order
    (with `inactive`, the deactivated ones too) and their parent classes."""
    cat = catalogue(conn)
    shown = cat.categories if inactive else cat.active
    return {"categories": [c.as_json() for c in shown],
            "parent_classes": [{"parent_class": g["parent_class"], "label": g["label"],
                                "codes": [c.code for c in g["categories"]]}
                               for g in cat.parent_classes(active_only=not inactive)]}


def _check(actor: Principal) -> None:
    if not actor.can(PERMISSION):
        raise Forbidden(f"role {actor.role} may not change categories ({PERMISSION})")


def create(conn: Connection, actor: Principal, body, *, origin: dict | None = None) -> dict:
    """Add a category (rules.parse_new); Conflict when its code exists (active or not)."""
    _check(actor)
    new = rules.parse_new(body, next_sort=cstore.next_sort_order(conn))
    existing = cstore.get(conn, new.code)
    if existing is not None:
        state = "" if existing["active"] else " (deactivated: PATCH it with active true)"
        raise Conflict(f"category {new.code} exists already{state}", field="code")
    if not cstore.insert_missing(conn, [new.as_row()]):  # added meanwhile by another request
        raise Conflict(f"category {new.code} exists already", field="code")
    audit.record(conn, actor, "category_update", f"category/{new.code}",
                 details={"op": "create", **new.as_row()}, **(origin or {}))
    return new.as_json()


def update(conn: Connection, actor: Principal, code: str, body, *,
           origin: dict | None = None) -> dict:
    """Change a category's names, parent class, order, deadlines or active flag
    (rules.parse_changes); NotFound for an unknown code. A change that changes nothing is not
    recorded."""
    _check(actor)
    row = cstore.get(conn, code, lock=True)
    if row is None:
        raise NotFound(f"no category {code!r}")
    before = Category(**row)
    after = rules.parse_changes(body, before)
    changed = rules.differences(before, after)
    if changed:
        cstore.update(conn, after.as_row())
        details = {"op": "update", "changes": changed}
        if changed.get("active") == [True, False]:
            details["incidents"] = cstore.incident_count(conn, code)
        audit.record(conn, actor, "category_update", f"category/{code}", details=details,
                     **(origin or {}))
    return {**after.as_json(), "changed": sorted(changed)}


def deactivate(conn: Connection, actor: Principal, code: str, *,
               origin: dict | None = None) -> dict:
    """Take a category out of use: no new incidents; its incidents keep it."""
    return update(conn, actor, code, {"active": False}, origin=origin)


def load_set(conn: Connection, actor: Principal, name: str, *,
             origin: dict | None = None) -> dict:
    """Add the categories of a shipped set (sets.SETS) that are not stored yet; categories
    already there (by code) stay exactly as they are, so loading a set again changes
    nothing. {"set", "label", "added": [codes], "present": n}."""
    _check(actor)
    if name not in SETS:
        raise NotFound(f"no category set {name!r}; sets: {', '.join(SETS)}")
    added = cstore.insert_missing(conn, [c.as_row() for c in SETS[name]])
    if added:
        audit.record(conn, actor, "category_update", f"category_set/{name}",
                     details={"op": "load_set", "set": name, "added": added},
                     **(origin or {}))
    return {"set": name, "label": SET_LABELS[name], "added": added,
            "present": len(SETS[name]) - len(added)}
