"""What the planning use cases return: one dataclass per answer (the API sends
`dataclasses.asdict` of it; grids and units are GeoJSON FeatureCollections in EPSG:4326)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


class Result:
    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Draft(Result):
    """A draft plan as users see it."""
    id: int
    name: str
    note: str | None
    unit_code: str
    unit_name: str | None
    status: str
    version: int
    base_generation_id: int
    published_generation_id: int | None
    author: str | None
    unit_level: str | None
    grid_count: int
    undo_steps: int
    redo_steps: int
    created_at: str | None
    updated_at: str | None
    base_is_active: bool | None = None   # None when not asked for


@dataclass
class TargetRange(Result):
    households_min: int
    households_max: int
    compactness_min: float


@dataclass
class CheckResult(Result):
    """A check report: its problems, also as GeoJSON points to show on a map."""
    ok: bool
    errors: int
    warnings: int
    problems: list[dict]
    problem_points: dict | None = None


@dataclass
class DraftDetail(Result):
    draft: Draft
    grids: dict
    units: dict


@dataclass
class History(Result):
    draft: Draft
    saves: list[dict]


@dataclass
class DraftChecks(Result):
    draft: Draft
    check: CheckResult
    metrics: dict
    targets: TargetRange

    def to_dict(self) -> dict:  # the check's fields at the top level, as the API has them
        body = asdict(self)
        return {"draft": body["draft"], **body["check"], "metrics": body["metrics"],
                "targets": body["targets"]}


@dataclass
class EditResult(Result):
    """One save: an edit, or an undo/redo of `steps` edits."""
    draft: Draft
    version: int
    op: str
    steps: list[str]
    added: list[str]
    removed: list[str]
    changed: list[str]
    grids: dict
    check: dict
    metrics: dict
    targets: TargetRange


@dataclass
class ProposalResult(Result):
    draft: Draft
    code: str
    k: int
    blocks: int
    objective: float
    added: list[str]
    removed: list[str]
    changed: list[str]
    grids: dict
    replaced: dict
    check: dict
    metrics: dict
    targets: TargetRange


@dataclass
class Comparison(Result):
    """A draft against the active generation's grids of its unit."""
    draft: Draft
    generation_id: int
    counts: dict
    changes: dict
    before: dict
    metrics: dict
    incidents: dict
    targets: TargetRange


@dataclass
class Published(Result):
    draft: Draft
    version: int
    generation_id: int
    previous_generation_id: int | None
    warnings: int


@dataclass
class Reassigned(Result):
    generation_id: int
    generation_name: str
    considered: int
    inserted: int
    assigned: int
    uncovered: int


@dataclass
class ImportedDraft(Result):
    draft: Draft
    notes: list[str] = field(default_factory=list)
    check: CheckResult | None = None

    def to_dict(self) -> dict:
        body = asdict(self)
        return {"draft": body["draft"], "notes": body["notes"], **(body["check"] or {})}
