"""Use-cases for moderator selection (议事长遴选): criteria, rounds, nominations, scores, appointments.

Services take the acting :class:`Actor`, check permissions, and ``flush()``; the request commits once.
Every check runs before the first write, so a refusal leaves nothing half-written.

Scores are secret while a round is open: nothing here returns another evaluator's score values before
the round closes (progress is counted instead), and the audit log records that a score was given,
never its value (admins read the audit log).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

import marshmallow as ma
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import distinct, func, select

from yishi.core import audit, tenancy
from yishi.core.db import db, utcnow
from yishi.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDenied,
    ValidationFailed,
    flatten_validation_messages,
)
from yishi.modules.accounts.models import CommunityMembership, CommunityRole, User
from yishi.modules.accounts.permissions import SYSTEM, Actor, register_scopes, require
from yishi.modules.participation.models import ParticipationKind
from yishi.modules.points.models import Point
from yishi.modules.selection.models import (
    MAX_POSITION,
    MAX_WEIGHT,
    Appointment,
    Candidate,
    RoundCriterion,
    RoundEvaluator,
    RoundStatus,
    Score,
    SelectionCriterion,
    SelectionRound,
)
from yishi.modules.selection.schemas import CriterionFileSchema

register_scopes(
    {
        "selection:read": _l("Read selection criteria, rounds, candidates, rankings and moderator appointments"),
        "selection:write": _l("Manage selection criteria, rounds, evaluators and moderator appointments"),
    },
    roles={
        CommunityRole.ADMIN: {"selection:read", "selection:write"},
        CommunityRole.MODERATOR: {"selection:read"},
        CommunityRole.STAFF: {"selection:read"},
        CommunityRole.RESIDENT: {"selection:read"},
    },
    street_admin={"selection:read"},
)

# 「有威望、有能力、有热情」: the standard Shilipu chose its moderators by.
DEFAULT_CRITERIA = (
    {"code": "prestige", "name_zh": "威望", "name_en": "Prestige", "weight": 1.0},
    {"code": "ability", "name_zh": "能力", "name_en": "Ability", "weight": 1.0},
    {"code": "enthusiasm", "name_zh": "热情", "name_en": "Enthusiasm", "weight": 1.0},
)
SCALE_LIMITS = (0, 100)
MAX_REASON_LENGTH = 2000
MAX_NOTE_LENGTH = 200
CRITERION_FIELDS = frozenset({"name_zh", "name_en", "weight", "position", "active"})


def _require(actor: Actor, scope: str, community) -> None:
    """``require``, except for the system itself (onboarding, tenant files, the demo)."""
    if actor is not SYSTEM:
        require(actor, scope, community=community)


def _refusal(error_class: type, field_name: str, message: str):
    return error_class(message, errors={field_name: [message]})


def _unique(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(ids))


# --- members and points of the community in scope ------------------------------------------------------


def _memberships(user_ids: Iterable[int]) -> dict[int, CommunityMembership]:
    ids = [user_id for user_id in user_ids if user_id is not None]
    if not ids:
        return {}
    rows = db.session.execute(select(CommunityMembership).where(CommunityMembership.user_id.in_(ids))).scalars()
    return {membership.user_id: membership for membership in rows}


def _membership(user_id: int | None) -> CommunityMembership | None:
    return _memberships([user_id]).get(user_id) if user_id is not None else None


def is_member(user_id: int | None) -> bool:
    """Whether the user belongs to the community in scope (any role)."""
    return _membership(user_id) is not None


def members() -> list[tuple[User, CommunityMembership]]:
    """Every member of the community in scope, by name (for choosing candidates and evaluators)."""
    statement = (
        select(User, CommunityMembership)
        .join(CommunityMembership, CommunityMembership.user_id == User.id)
        .order_by(User.name, User.id)
    )
    return [(row[0], row[1]) for row in db.session.execute(statement)]


def user_names(user_ids: Iterable[int | None]) -> dict[int, str]:
    ids = {user_id for user_id in user_ids if user_id is not None}
    if not ids:
        return {}
    statement = select(User.id, User.name).where(User.id.in_(ids))
    return {user_id: name for user_id, name in db.session.execute(statement)}


def list_points() -> list[Point]:
    """The active deliberation points of the community in scope, in display order."""
    statement = select(Point).where(Point.active.is_(True)).order_by(Point.position, Point.code)
    return list(db.session.execute(statement).scalars())


def points_by_id(point_ids: Iterable[int | None]) -> dict[int, Point]:
    ids = {point_id for point_id in point_ids if point_id is not None}
    if not ids:
        return {}
    return {point.id: point for point in db.session.execute(select(Point).where(Point.id.in_(ids))).scalars()}


# --- criteria --------------------------------------------------------------------------------------------


def criteria_statement(*, active_only: bool = False):
    statement = select(SelectionCriterion).order_by(SelectionCriterion.position, SelectionCriterion.code)
    return statement.where(SelectionCriterion.active.is_(True)) if active_only else statement


def list_criteria(*, active_only: bool = False) -> list[SelectionCriterion]:
    return list(db.session.execute(criteria_statement(active_only=active_only)).scalars())


def get_criterion(criterion_id: int) -> SelectionCriterion:
    criterion = tenancy.get_owned(SelectionCriterion, criterion_id)
    if criterion is None:
        raise NotFoundError()
    return criterion


def _weight_errors(weight, field_name: str = "weight") -> dict[str, list[str]]:
    valid = isinstance(weight, int | float) and not isinstance(weight, bool) and math.isfinite(weight) and weight > 0
    if not valid:
        return {field_name: [_("The weight must be a number greater than 0.")]}
    if weight > MAX_WEIGHT:
        maximum = f"{MAX_WEIGHT:g}"
        return {field_name: [_("The weight must be at most %(max)s.", max=maximum)]}
    return {}


def _name_errors(data: Mapping, prefix: str = "") -> dict[str, list[str]]:
    errors = {}
    for key in ("name_zh", "name_en"):
        if key in data and not (data[key] or "").strip():
            errors[prefix + key] = [_("This field is required.")]
    return errors


def _used_by_open_round(criterion: SelectionCriterion) -> bool:
    statement = (
        select(RoundCriterion.id)
        .join(SelectionRound, SelectionRound.id == RoundCriterion.round_id)
        .where(RoundCriterion.criterion_id == criterion.id, SelectionRound.status == RoundStatus.OPEN)
        .limit(1)
    )
    return db.session.execute(statement).first() is not None


def _used_by_any_round(criterion: SelectionCriterion) -> bool:
    statement = select(RoundCriterion.id).where(RoundCriterion.criterion_id == criterion.id).limit(1)
    return db.session.execute(statement).first() is not None


def _refuse_if_in_open_round(criterion: SelectionCriterion, field_name: str) -> None:
    if _used_by_open_round(criterion):
        raise _refusal(
            ConflictError,
            field_name,
            _(
                "An open round uses the criterion “%(name)s”: close the round first.",
                name=criterion.name(str(get_locale() or "")),
            ),
        )


def ensure_default_criteria(community) -> list[SelectionCriterion]:
    """Give ``community`` the default criteria — 威望 prestige, 能力 ability, 热情 enthusiasm, weight 1
    each — if it has no criteria at all. Idempotent: criteria the community already has (edited,
    added or deactivated) are left exactly as they are. Returns the community's active criteria."""
    with tenancy.community_scope(community.id):
        if db.session.execute(select(SelectionCriterion.id).limit(1)).first() is None:
            for position, values in enumerate(DEFAULT_CRITERIA):
                db.session.add(SelectionCriterion(community_id=community.id, position=position, **values))
            db.session.flush()
            audit.record(
                "selection.criteria_defaulted",
                actor=SYSTEM,
                obj=community,
                details={"codes": [values["code"] for values in DEFAULT_CRITERIA]},
            )
        return list_criteria(active_only=True)


def apply_criteria(community, items: list[dict], *, actor: Actor = SYSTEM) -> list[SelectionCriterion]:
    """The criteria of a tenant file (``CriterionFileSchema`` items): created when missing, updated from
    the file otherwise (matched by code); criteria the file does not list are left alone. All or
    nothing: every item is checked before anything is written. Returns the criteria of the file."""
    try:
        loaded = CriterionFileSchema(many=True).load(items)
    except ma.ValidationError as error:
        raise ValidationFailed(errors=flatten_validation_messages(error.messages)) from error
    _require(actor, "selection:write", community)
    errors: dict[str, list[str]] = {}
    codes = [values["code"] for values in loaded]
    if len(codes) != len(set(codes)):
        errors["code"] = [_("Each criterion code may appear only once.")]
    for index, values in enumerate(loaded):
        errors.update(_weight_errors(values["weight"], f"{index}.weight"))
        errors.update(_name_errors(values, f"{index}."))
    if errors:
        raise ValidationFailed(errors=errors)
    with tenancy.community_scope(community.id):
        existing = {criterion.code: criterion for criterion in list_criteria()}
        for values in loaded:
            criterion = existing.get(values["code"])
            if criterion is not None and criterion.active and not values["active"]:
                _refuse_if_in_open_round(criterion, "active")
        applied, created, updated = [], [], []
        for position, values in enumerate(loaded):
            values = {**values, "position": values.get("position", position)}
            criterion = existing.get(values["code"])
            if criterion is None:
                criterion = SelectionCriterion(community_id=community.id, **values)
                db.session.add(criterion)
                created.append(values["code"])
            elif _assign(criterion, values):
                updated.append(values["code"])
            applied.append(criterion)
        db.session.flush()
        if created or updated:
            audit.record(
                "selection.criteria_applied",
                actor=actor,
                obj=community,
                details={"created": created, "updated": updated},
            )
    return applied


def _assign(obj, values: Mapping) -> list[str]:
    changed = sorted(key for key, value in values.items() if getattr(obj, key) != value)
    for key in changed:
        setattr(obj, key, values[key])
    return changed


def create_criterion(community, data: Mapping, *, actor: Actor) -> SelectionCriterion:
    """Add a criterion (code, name_zh, name_en, weight > 0, optional position) to the community."""
    _require(actor, "selection:write", community)
    values = {key: data[key] for key in ("code", "name_zh", "name_en", "weight", "position") if key in data}
    values = {key: value.strip() if isinstance(value, str) else value for key, value in values.items()}
    values.setdefault("weight", 1.0)
    errors = {**_weight_errors(values["weight"]), **_name_errors(values)}
    if not (values.get("code") or "").strip():
        errors["code"] = [_("This field is required.")]
    if errors:
        raise ValidationFailed(errors=errors)
    code_taken = select(SelectionCriterion.id).where(SelectionCriterion.code == values["code"])
    if db.session.execute(code_taken).first() is not None:
        raise _refusal(ConflictError, "code", _("A criterion with this code already exists."))
    if values.get("position") is None:
        highest = db.session.execute(select(func.max(SelectionCriterion.position))).scalar_one_or_none()
        # Next after the last, but never past the documented bound (found by fuzzing: 10001 after 10000).
        values["position"] = min(highest + 1, MAX_POSITION) if highest is not None else 0
    criterion = SelectionCriterion(community_id=community.id, **values)
    db.session.add(criterion)
    db.session.flush()
    audit.record(
        "selection.criterion_created",
        actor=actor,
        obj=criterion,
        details={"code": criterion.code, "weight": criterion.weight},
    )
    return criterion


def update_criterion(community, criterion: SelectionCriterion, data: Mapping, *, actor: Actor) -> SelectionCriterion:
    """Rename, reweight, reorder, (de)activate. Rounds already opened keep the weights they were
    opened with; deactivating is refused while an open round uses the criterion."""
    _require(actor, "selection:write", community)
    unknown = set(data) - CRITERION_FIELDS
    if unknown:
        raise ValueError(f"criteria cannot change {sorted(unknown)}")
    errors = _name_errors(data)
    if "weight" in data:
        errors.update(_weight_errors(data["weight"]))
    if errors:
        raise ValidationFailed(errors=errors)
    if data.get("active") is False and criterion.active:
        _refuse_if_in_open_round(criterion, "active")
    values = {key: value.strip() if isinstance(value, str) else value for key, value in data.items()}
    changed = _assign(criterion, values)
    db.session.flush()
    if changed:
        audit.record(
            "selection.criterion_updated",
            actor=actor,
            obj=criterion,
            details={"fields": changed, "weight": criterion.weight},
        )
    return criterion


def remove_criterion(community, criterion: SelectionCriterion, *, actor: Actor) -> str:
    """Remove a criterion: refused while an open round uses it; deactivated (history kept) when only
    closed rounds used it; deleted when no round ever did. Returns ``"deleted"`` or ``"deactivated"``."""
    _require(actor, "selection:write", community)
    _refuse_if_in_open_round(criterion, "criterion")
    if _used_by_any_round(criterion):
        if criterion.active:
            criterion.active = False
            db.session.flush()
            audit.record(
                "selection.criterion_deactivated", actor=actor, obj=criterion, details={"code": criterion.code}
            )
        return "deactivated"
    audit.record("selection.criterion_deleted", actor=actor, obj=criterion, details={"code": criterion.code})
    db.session.delete(criterion)
    db.session.flush()
    return "deleted"


# --- rounds -----------------------------------------------------------------------------------------------


def rounds_statement(*, status: RoundStatus | None = None):
    statement = select(SelectionRound).order_by(SelectionRound.created_at.desc(), SelectionRound.id.desc())
    return statement.where(SelectionRound.status == status) if status is not None else statement


def list_rounds(*, status: RoundStatus | None = None) -> list[SelectionRound]:
    return list(db.session.execute(rounds_statement(status=status)).scalars())


def get_round(round_id: int) -> SelectionRound:
    selection_round = tenancy.get_owned(SelectionRound, round_id)
    if selection_round is None:
        raise NotFoundError()
    return selection_round


def _require_open(selection_round: SelectionRound, message: str) -> None:
    if selection_round.status != RoundStatus.OPEN:
        raise _refusal(ConflictError, "round_id", message)


def _non_member_errors(user_ids: list[int], field_name: str) -> dict[str, list[str]]:
    known = _memberships(user_ids)
    missing = [str(user_id) for user_id in user_ids if user_id not in known]
    if not missing:
        return {}
    return {
        field_name: [_("These users are not members of the community: %(ids)s.", ids=", ".join(missing))],
    }


def open_round(community, data: Mapping, *, actor: Actor) -> SelectionRound:
    """Open a selection round: ``title``, ``point_id`` (None for the whole community), ``scale_min`` and
    ``scale_max`` (default 1–5) and ``evaluator_ids`` (members). The community's active criteria and
    their weights are copied into the round, so later edits do not change it."""
    _require(actor, "selection:write", community)
    title = (data.get("title") or "").strip()
    scale_min, scale_max = data.get("scale_min", 1), data.get("scale_max", 5)
    point_id = data.get("point_id")
    evaluator_ids = _unique(data.get("evaluator_ids") or [])
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = [_("This field is required.")]
    elif len(title) > 200:
        errors["title"] = [_("Longer than the maximum length %(max)s.", max=200)]
    low, high = SCALE_LIMITS
    if not (isinstance(scale_min, int) and low <= scale_min <= high):
        errors["scale_min"] = [_("Must be between %(min)s and %(max)s.", min=low, max=high)]
    if not (isinstance(scale_max, int) and low <= scale_max <= high):
        errors["scale_max"] = [_("Must be between %(min)s and %(max)s.", min=low, max=high)]
    elif "scale_min" not in errors and scale_min >= scale_max:
        errors["scale_max"] = [_("The highest score must be greater than the lowest.")]
    if point_id is not None and tenancy.get_owned(Point, point_id) is None:
        errors["point_id"] = [_("Choose a deliberation point of this community.")]
    errors.update(_non_member_errors(evaluator_ids, "evaluator_ids"))
    criteria = list_criteria(active_only=True)
    if not criteria:
        errors["criteria"] = [_("Add at least one active selection criterion before opening a round.")]
    if errors:
        raise ValidationFailed(errors=errors)
    selection_round = SelectionRound(
        community_id=community.id,
        title=title,
        point_id=point_id,
        scale_min=scale_min,
        scale_max=scale_max,
        status=RoundStatus.OPEN,
        opened_by_id=actor.user_id,
    )
    db.session.add(selection_round)
    db.session.flush()
    for criterion in criteria:
        db.session.add(
            RoundCriterion(
                community_id=community.id,
                round_id=selection_round.id,
                criterion_id=criterion.id,
                weight=criterion.weight,
            )
        )
    for user_id in evaluator_ids:
        db.session.add(RoundEvaluator(community_id=community.id, round_id=selection_round.id, user_id=user_id))
    db.session.flush()
    audit.record(
        "selection.round_opened",
        actor=actor,
        obj=selection_round,
        details={
            "title": title,
            "point_id": point_id,
            "scale": [scale_min, scale_max],
            "weights": {criterion.code: criterion.weight for criterion in criteria},
            "evaluator_ids": evaluator_ids,
        },
    )
    return selection_round


def set_evaluators(
    community, selection_round: SelectionRound, user_ids: Iterable[int], *, actor: Actor, field_name: str = "user_ids"
) -> list[int]:
    """Replace the evaluators of an open round with ``user_ids`` (members). An evaluator taken off the
    list loses the scores they gave in this round. Returns the evaluators' user ids."""
    _require(actor, "selection:write", community)
    _require_open(selection_round, _("This round is closed: its evaluators can no longer change."))
    wanted = _unique(user_ids)
    errors = _non_member_errors(wanted, field_name)
    if errors:
        raise ValidationFailed(errors=errors)
    rows = {row.user_id: row for row in _evaluator_rows(selection_round)}
    removed = sorted(set(rows) - set(wanted))
    added = [user_id for user_id in wanted if user_id not in rows]
    if removed:
        scores = db.session.execute(
            select(Score).where(Score.round_id == selection_round.id, Score.evaluator_id.in_(removed))
        ).scalars()
        for score in scores:
            db.session.delete(score)
        for user_id in removed:
            db.session.delete(rows[user_id])
    for user_id in added:
        db.session.add(RoundEvaluator(community_id=community.id, round_id=selection_round.id, user_id=user_id))
    db.session.flush()
    if added or removed:
        audit.record(
            "selection.evaluators_set", actor=actor, obj=selection_round, details={"added": added, "removed": removed}
        )
    return evaluator_ids(selection_round)


def close_round(community, selection_round: SelectionRound, *, actor: Actor) -> SelectionRound:
    """Close a round: scoring and nominating stop, and the ranking becomes visible."""
    _require(actor, "selection:write", community)
    _require_open(selection_round, _("This round is already closed."))
    selection_round.status = RoundStatus.CLOSED
    selection_round.closed_at = utcnow()
    db.session.flush()
    audit.record("selection.round_closed", actor=actor, obj=selection_round, details={"title": selection_round.title})
    return selection_round


def round_criteria(selection_round: SelectionRound) -> list[tuple[RoundCriterion, SelectionCriterion]]:
    """The criteria the round was opened with, and the weights they had then."""
    statement = (
        select(RoundCriterion, SelectionCriterion)
        .join(SelectionCriterion, SelectionCriterion.id == RoundCriterion.criterion_id)
        .where(RoundCriterion.round_id == selection_round.id)
        .order_by(SelectionCriterion.position, SelectionCriterion.code)
    )
    return [(row[0], row[1]) for row in db.session.execute(statement)]


def _evaluator_rows(selection_round: SelectionRound) -> list[RoundEvaluator]:
    statement = select(RoundEvaluator).where(RoundEvaluator.round_id == selection_round.id)
    return list(db.session.execute(statement).scalars())


def evaluator_ids(selection_round: SelectionRound) -> list[int]:
    return sorted(row.user_id for row in _evaluator_rows(selection_round))


def evaluators_of(selection_round: SelectionRound) -> list[User]:
    statement = (
        select(User)
        .join(RoundEvaluator, RoundEvaluator.user_id == User.id)
        .where(RoundEvaluator.round_id == selection_round.id)
        .order_by(User.name, User.id)
    )
    return list(db.session.execute(statement).scalars())


def is_evaluator(selection_round: SelectionRound, user_id: int | None) -> bool:
    if user_id is None:
        return False
    statement = select(RoundEvaluator.id).where(
        RoundEvaluator.round_id == selection_round.id, RoundEvaluator.user_id == user_id
    )
    return db.session.execute(statement).first() is not None


# --- candidates --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateEntry:
    candidate: Candidate
    user: User
    nominated_by: User | None


def candidates_statement(selection_round: SelectionRound):
    return select(Candidate).where(Candidate.round_id == selection_round.id).order_by(Candidate.id)


def candidates_of(selection_round: SelectionRound) -> list[CandidateEntry]:
    """The round's candidates with who they are and who nominated them, by name."""
    candidates = list(db.session.execute(candidates_statement(selection_round)).scalars())
    wanted = {c.user_id for c in candidates} | {c.nominated_by_id for c in candidates if c.nominated_by_id}
    users = {user.id: user for user in db.session.execute(select(User).where(User.id.in_(wanted))).scalars()}
    entries = [CandidateEntry(c, users[c.user_id], users.get(c.nominated_by_id)) for c in candidates]
    return sorted(entries, key=lambda entry: (entry.user.name, entry.candidate.id))


def candidate_views(candidates: list[Candidate]) -> list[dict]:
    """Candidates with their names, for the API."""
    names = user_names(c.user_id for c in candidates)
    return [
        {
            "id": c.id,
            "round_id": c.round_id,
            "user_id": c.user_id,
            "name": names.get(c.user_id, ""),
            "nominated_by_id": c.nominated_by_id,
            "reason": c.reason,
            "created_at": c.created_at,
        }
        for c in candidates
    ]


def get_candidate(selection_round: SelectionRound, candidate_id: int) -> Candidate:
    candidate = tenancy.get_owned(Candidate, candidate_id)
    if candidate is None or candidate.round_id != selection_round.id:
        raise NotFoundError()
    return candidate


def nominate(
    community,
    selection_round: SelectionRound,
    *,
    user_id: int | None,
    reason: str,
    actor: Actor,
    nominated_by_id: int | None = None,
) -> Candidate:
    """Nominate a member as a candidate of an open round, with a reason. Any member may nominate (the
    nominator is then the signed-in user); an API token needs ``selection:write`` and may name the
    member who nominated in ``nominated_by_id``. A member is a candidate once per round."""
    if actor.user is not None:
        require(actor, "community:read", community=community)
        if _membership(actor.user.id) is None:
            raise PermissionDenied(_("Only members of the community can nominate candidates."))
        nominated_by_id = actor.user.id
    else:
        _require(actor, "selection:write", community)
    _require_open(selection_round, _("This round is closed: it takes no more nominations."))
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Say why this member would make a good moderator.")]
    elif len(reason) > MAX_REASON_LENGTH:
        errors["reason"] = [_("Longer than the maximum length %(max)s.", max=MAX_REASON_LENGTH)]
    if _membership(user_id) is None:
        errors["user_id"] = [_("Only members of the community can be nominated.")]
    if nominated_by_id is not None and _membership(nominated_by_id) is None:
        errors["nominated_by_id"] = [_("The nominator must be a member of the community.")]
    if errors:
        raise ValidationFailed(errors=errors)
    duplicate = select(Candidate.id).where(Candidate.round_id == selection_round.id, Candidate.user_id == user_id)
    if db.session.execute(duplicate).first() is not None:
        raise _refusal(ConflictError, "user_id", _("This member is already a candidate in this round."))
    candidate = Candidate(
        community_id=community.id,
        round_id=selection_round.id,
        user_id=user_id,
        nominated_by_id=nominated_by_id,
        reason=reason,
    )
    db.session.add(candidate)
    db.session.flush()
    audit.record(
        "selection.candidate_nominated",
        actor=actor,
        obj=candidate,
        details={"round_id": selection_round.id, "user_id": user_id, "nominated_by_id": nominated_by_id},
    )
    _took_part(ParticipationKind.NOMINATED, user_id, selection_round.id)
    return candidate


def _took_part(kind, user_id: int | None, round_id: int) -> None:
    from yishi.modules.participation import services as participation

    user = db.session.get(User, user_id) if user_id else None
    if user is not None:
        participation.record(kind, participation.person_for(user=user), "selection_round", round_id)


# --- scores ---------------------------------------------------------------------------------------------------


def require_evaluator(community, selection_round: SelectionRound, *, actor: Actor) -> None:
    """Raise unless ``actor`` is a signed-in evaluator of the round (strangers to the community: 404)."""
    require(actor, "selection:read", community=community)
    if actor.user is None:
        raise PermissionDenied(_("Scores are given by signed-in evaluators, not by API tokens."))
    if not is_evaluator(selection_round, actor.user.id):
        raise PermissionDenied(_("Only the evaluators of this round can give scores."))


def score_candidate(
    community, selection_round: SelectionRound, candidate: Candidate, scores: Mapping[int, int], *, actor: Actor
) -> list[Score]:
    """An evaluator scores one candidate: ``scores`` maps criterion ids of the round to whole numbers in
    the round's scale. Scoring again replaces the earlier score. Only the round's evaluators, signed
    in (a token is not a person), never on themselves, and only while the round is open."""
    require_evaluator(community, selection_round, actor=actor)
    _require_open(selection_round, _("This round is closed: its scores can no longer change."))
    if candidate.round_id != selection_round.id:
        raise NotFoundError()
    if candidate.user_id == actor.user.id:
        raise _refusal(ValidationFailed, "candidate_id", _("You cannot score yourself."))
    criteria_ids = {rc.criterion_id for rc, _criterion in round_criteria(selection_round)}
    low, high = selection_round.scale_min, selection_round.scale_max
    errors: dict[str, list[str]] = {}
    if not scores:
        errors["scores"] = [_("Give at least one score.")]
    for criterion_id, value in scores.items():
        key = f"scores.{criterion_id}"
        if criterion_id not in criteria_ids:
            errors[key] = [_("This criterion is not part of the round.")]
        elif isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[key] = [_("Give a whole number from %(min)d to %(max)d.", min=low, max=high)]
    if errors:
        raise ValidationFailed(errors=errors)
    existing = {
        score.criterion_id: score
        for score in db.session.execute(
            select(Score).where(Score.candidate_id == candidate.id, Score.evaluator_id == actor.user.id)
        ).scalars()
    }
    saved = []
    for criterion_id, value in scores.items():
        score = existing.get(criterion_id)
        if score is None:
            score = Score(
                community_id=community.id,
                round_id=selection_round.id,
                candidate_id=candidate.id,
                evaluator_id=actor.user.id,
                criterion_id=criterion_id,
                score=value,
            )
            db.session.add(score)
        else:
            score.score = value
        saved.append(score)
    db.session.flush()
    # The values stay out of the audit log: admins read it, and scores are secret until the round closes.
    audit.record(
        "selection.candidate_scored",
        actor=actor,
        obj=candidate,
        details={"round_id": selection_round.id, "criteria": len(saved)},
    )
    _took_part(ParticipationKind.EVALUATED, actor.user.id, selection_round.id)
    return saved


def own_scores(selection_round: SelectionRound, user_id: int) -> dict[int, dict[int, int]]:
    """The scores one evaluator gave in a round: {candidate id: {criterion id: score}}. Only ever
    called for the signed-in evaluator themself."""
    result: dict[int, dict[int, int]] = defaultdict(dict)
    statement = select(Score.candidate_id, Score.criterion_id, Score.score).where(
        Score.round_id == selection_round.id, Score.evaluator_id == user_id
    )
    for candidate_id, criterion_id, value in db.session.execute(statement):
        result[candidate_id][criterion_id] = value
    return dict(result)


@dataclass(frozen=True)
class CandidateProgress:
    candidate_id: int
    evaluators_done: int
    evaluators_expected: int


@dataclass(frozen=True)
class EvaluatorProgress:
    user_id: int
    candidates_done: int
    candidates_expected: int


@dataclass(frozen=True)
class RoundProgress:
    """How far scoring has gone, in counts only: safe to show before the round closes."""

    candidates: list[CandidateProgress]
    evaluators: list[EvaluatorProgress]

    def of_candidate(self, candidate_id: int) -> CandidateProgress | None:
        return next((p for p in self.candidates if p.candidate_id == candidate_id), None)

    def of_evaluator(self, user_id: int) -> EvaluatorProgress | None:
        return next((p for p in self.evaluators if p.user_id == user_id), None)


def progress(selection_round: SelectionRound) -> RoundProgress:
    """Per candidate, how many evaluators scored every criterion; per evaluator, how many candidates
    they scored completely (nobody scores themselves, so they are not expected to)."""
    criteria_count = len(round_criteria(selection_round))
    candidates = list(
        db.session.execute(select(Candidate.id, Candidate.user_id).where(Candidate.round_id == selection_round.id))
    )
    evaluators = evaluator_ids(selection_round)
    counts = {
        (candidate_id, evaluator_id): count
        for candidate_id, evaluator_id, count in db.session.execute(
            select(Score.candidate_id, Score.evaluator_id, func.count(Score.id))
            .where(Score.round_id == selection_round.id)
            .group_by(Score.candidate_id, Score.evaluator_id)
        )
    }

    def done(candidate_id: int, evaluator_id: int) -> bool:
        return counts.get((candidate_id, evaluator_id), 0) >= criteria_count > 0

    return RoundProgress(
        candidates=[
            CandidateProgress(
                candidate_id,
                sum(1 for e in evaluators if e != user_id and done(candidate_id, e)),
                sum(1 for e in evaluators if e != user_id),
            )
            for candidate_id, user_id in candidates
        ],
        evaluators=[
            EvaluatorProgress(
                evaluator_id,
                sum(
                    1
                    for candidate_id, user_id in candidates
                    if user_id != evaluator_id and done(candidate_id, evaluator_id)
                ),
                sum(1 for _candidate_id, user_id in candidates if user_id != evaluator_id),
            )
            for evaluator_id in evaluators
        ],
    )


# --- the ranking ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CriterionResult:
    criterion_id: int
    code: str
    name_zh: str
    name_en: str
    weight: float
    mean: float | None  # None when nobody scored the candidate on it
    count: int

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh


@dataclass(frozen=True)
class RankingRow:
    rank: int | None  # None for a candidate nobody scored
    candidate: Candidate
    user: User
    weighted_mean: float | None
    evaluator_count: int
    criteria: list[CriterionResult] = field(default_factory=list)

    @property
    def candidate_id(self) -> int:
        return self.candidate.id

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name


def ranking(selection_round: SelectionRound) -> list[RankingRow]:
    """The candidates of a closed round by weighted mean score, highest first; equal means by name.

    weighted mean = Σ weight·mean_c / Σ weight, over the criteria c with at least one score, with the
    weights the round was opened with. Computed exactly (fractions), then given as floats."""
    if selection_round.status != RoundStatus.CLOSED:
        raise ConflictError(_("The ranking is shown once the round is closed."))
    criteria = round_criteria(selection_round)
    totals = {
        (candidate_id, criterion_id): (int(total), int(count))
        for candidate_id, criterion_id, total, count in db.session.execute(
            select(Score.candidate_id, Score.criterion_id, func.sum(Score.score), func.count(Score.id))
            .where(Score.round_id == selection_round.id)
            .group_by(Score.candidate_id, Score.criterion_id)
        )
    }
    evaluator_counts = {
        candidate_id: evaluators
        for candidate_id, evaluators in db.session.execute(
            select(Score.candidate_id, func.count(distinct(Score.evaluator_id)))
            .where(Score.round_id == selection_round.id)
            .group_by(Score.candidate_id)
        )
    }
    unranked = []
    for entry in candidates_of(selection_round):
        results, weighted_sum, weight_sum = [], Fraction(0), Fraction(0)
        for round_criterion, criterion in criteria:
            total, count = totals.get((entry.candidate.id, criterion.id), (0, 0))
            mean = Fraction(total, count) if count else None
            if mean is not None:
                weight = Fraction(round_criterion.weight)
                weighted_sum += weight * mean
                weight_sum += weight
            results.append(
                CriterionResult(
                    criterion.id,
                    criterion.code,
                    criterion.name_zh,
                    criterion.name_en,
                    round_criterion.weight,
                    float(mean) if mean is not None else None,
                    count,
                )
            )
        exact = weighted_sum / weight_sum if weight_sum else None
        unranked.append((exact, entry, results))
    unranked.sort(key=lambda item: (item[0] is None, -(item[0] or 0), item[1].user.name, item[1].candidate.id))
    rows, previous, rank = [], None, 0
    for position, (exact, entry, results) in enumerate(unranked, start=1):
        if exact is not None and exact != previous:
            rank, previous = position, exact
        rows.append(
            RankingRow(
                rank=rank if exact is not None else None,
                candidate=entry.candidate,
                user=entry.user,
                weighted_mean=float(exact) if exact is not None else None,
                evaluator_count=evaluator_counts.get(entry.candidate.id, 0),
                criteria=results,
            )
        )
    return rows


def round_view(selection_round: SelectionRound) -> dict:
    """A round with its criteria, evaluators, progress and — only once closed — its ranking (API)."""
    closed = selection_round.status == RoundStatus.CLOSED
    round_progress = progress(selection_round)
    return {
        "id": selection_round.id,
        "title": selection_round.title,
        "point_id": selection_round.point_id,
        "status": selection_round.status,
        "scale_min": selection_round.scale_min,
        "scale_max": selection_round.scale_max,
        "opened_by_id": selection_round.opened_by_id,
        "created_at": selection_round.created_at,
        "closed_at": selection_round.closed_at,
        "criteria": [
            {
                "criterion_id": criterion.id,
                "code": criterion.code,
                "name_zh": criterion.name_zh,
                "name_en": criterion.name_en,
                "weight": round_criterion.weight,
            }
            for round_criterion, criterion in round_criteria(selection_round)
        ],
        "evaluator_ids": evaluator_ids(selection_round),
        "progress": {"candidates": round_progress.candidates, "evaluators": round_progress.evaluators},
        "ranking": ranking(selection_round) if closed else None,
    }


# --- appointments ------------------------------------------------------------------------------------------------


def appointments_statement(*, point_id: int | None = None, current: bool | None = None):
    """Appointments, newest term first; ``current`` True: not ended, False: ended."""
    statement = select(Appointment).order_by(Appointment.term_start.desc(), Appointment.id.desc())
    if point_id is not None:
        statement = statement.where(Appointment.point_id == point_id)
    if current is True:
        statement = statement.where(Appointment.ended_at.is_(None))
    elif current is False:
        statement = statement.where(Appointment.ended_at.is_not(None))
    return statement


def appointment_history(*, point_id: int | None = None) -> list[tuple[Appointment, User, Point]]:
    """Every appointment, ended ones included, with the moderator and the point."""
    statement = (
        appointments_statement(point_id=point_id)
        .add_columns(User, Point)
        .join(User, User.id == Appointment.user_id)
        .join(Point, Point.id == Appointment.point_id)
    )
    return [(row[0], row[1], row[2]) for row in db.session.execute(statement)]


def appointment_views(appointments: list[Appointment]) -> list[dict]:
    """Appointments with the moderator's name, for the API."""
    names = user_names(a.user_id for a in appointments)
    return [
        {
            "id": a.id,
            "user_id": a.user_id,
            "name": names.get(a.user_id, ""),
            "point_id": a.point_id,
            "round_id": a.round_id,
            "term_start": a.term_start,
            "term_end": a.term_end,
            "appointed_by_id": a.appointed_by_id,
            "ended_at": a.ended_at,
            "note": a.note,
            "created_at": a.created_at,
        }
        for a in appointments
    ]


def get_appointment(appointment_id: int) -> Appointment:
    appointment = tenancy.get_owned(Appointment, appointment_id)
    if appointment is None:
        raise NotFoundError()
    return appointment


def _terms_overlap(start: date, end: date | None, other_start: date, other_end: date | None) -> bool:
    return start <= (other_end or date.max) and other_start <= (end or date.max)


def appoint(
    community,
    *,
    user_id: int | None,
    point_id: int | None,
    term_start: date | None,
    term_end: date | None = None,
    selection_round: SelectionRound | None = None,
    note: str = "",
    actor: Actor,
) -> Appointment:
    """Appoint a moderator (议事长) to a point for a term (``term_end`` None: open-ended).

    From a round: only one of its candidates, and only once it is closed. Without a round: a direct
    appointment of any member (moderators chosen before the community used Yishi). A resident or
    staff member becomes a moderator of the community, keeping their Party member / representative
    flags; admins and moderators keep their role."""
    _require(actor, "selection:write", community)
    if selection_round is not None:
        require_closed(selection_round)
    note = (note or "").strip()
    errors: dict[str, list[str]] = {}
    if point_id is None or tenancy.get_owned(Point, point_id) is None:
        errors["point_id"] = [_("Choose a deliberation point of this community.")]
    membership = _membership(user_id)
    if selection_round is not None and not _is_candidate(selection_round, user_id):
        errors["user_id"] = [_("Only candidates of this round can be appointed from it.")]
    elif membership is None:
        errors["user_id"] = [_("Only members of the community can be appointed.")]
    if term_start is None:
        errors["term_start"] = [_("This field is required.")]
    elif term_end is not None and term_end < term_start:
        errors["term_end"] = [_("The term cannot end before it starts.")]
    if len(note) > MAX_NOTE_LENGTH:
        errors["note"] = [_("Longer than the maximum length %(max)s.", max=MAX_NOTE_LENGTH)]
    if errors:
        raise ValidationFailed(errors=errors)
    current = db.session.execute(
        select(Appointment).where(
            Appointment.user_id == user_id, Appointment.point_id == point_id, Appointment.ended_at.is_(None)
        )
    ).scalars()
    if any(_terms_overlap(term_start, term_end, a.term_start, a.term_end) for a in current):
        raise _refusal(ConflictError, "user_id", _("This member is already a moderator of this point for that term."))
    appointment = Appointment(
        community_id=community.id,
        user_id=user_id,
        point_id=point_id,
        round_id=selection_round.id if selection_round is not None else None,
        term_start=term_start,
        term_end=term_end,
        appointed_by_id=actor.user_id,
        note=note,
    )
    db.session.add(appointment)
    db.session.flush()
    before = membership.role
    if before in (CommunityRole.RESIDENT, CommunityRole.STAFF):
        membership.role = CommunityRole.MODERATOR
        db.session.flush()
        audit.record(
            "member.role_set",
            actor=actor,
            obj=membership,
            details={"user_id": user_id, "from": before.value, "to": CommunityRole.MODERATOR.value},
        )
    audit.record(
        "selection.moderator_appointed",
        actor=actor,
        obj=appointment,
        details={
            "user_id": user_id,
            "point_id": point_id,
            "round_id": appointment.round_id,
            "term_start": term_start.isoformat(),
            "term_end": term_end.isoformat() if term_end else None,
        },
    )
    return appointment


def require_closed(selection_round: SelectionRound) -> None:
    """Moderators are appointed from a round only once it is closed."""
    if selection_round.status != RoundStatus.CLOSED:
        raise _refusal(ConflictError, "round_id", _("Appoint from a round only after it is closed."))


def _is_candidate(selection_round: SelectionRound, user_id: int | None) -> bool:
    if user_id is None:
        return False
    statement = select(Candidate.id).where(Candidate.round_id == selection_round.id, Candidate.user_id == user_id)
    return db.session.execute(statement).first() is not None


def end_appointment(community, appointment: Appointment, *, actor: Actor) -> Appointment:
    """End an appointment now. It is kept, with ``ended_at`` set, in the moderators' history. The
    member's community role is left as it is."""
    _require(actor, "selection:write", community)
    if appointment.ended_at is not None:
        raise _refusal(ConflictError, "appointment_id", _("This appointment has already ended."))
    appointment.ended_at = utcnow()
    db.session.flush()
    audit.record(
        "selection.appointment_ended",
        actor=actor,
        obj=appointment,
        details={"user_id": appointment.user_id, "point_id": appointment.point_id},
    )
    return appointment


def community_today() -> date:
    """Today's date where the community in scope is (Asia/Shanghai by default), not in UTC."""
    from yishi.modules.calendar.services import today_in
    from yishi.modules.communities.models import Community

    return today_in(db.session.get(Community, tenancy.require_community_id()))


def active_moderators(point_id: int | None = None, on: date | None = None) -> list[tuple[Appointment, User]]:
    """The moderators serving on ``on`` (default: today, UTC) in the community in scope, or at one
    point: appointments not ended whose term covers that day, by point (display order) then name."""
    on = on or community_today()
    statement = (
        select(Appointment, User)
        .join(User, User.id == Appointment.user_id)
        .join(Point, Point.id == Appointment.point_id)
        .where(
            Appointment.ended_at.is_(None),
            Appointment.term_start <= on,
            (Appointment.term_end.is_(None)) | (Appointment.term_end >= on),
        )
        .order_by(Point.position, Point.code, User.name, Appointment.id)
    )
    if point_id is not None:
        statement = statement.where(Appointment.point_id == point_id)
    return [(row[0], row[1]) for row in db.session.execute(statement)]
