"""Matters: intake on every channel, routing, the workflow, the timeline, escalation and the board.

Every function works in the community in scope (the request's, or the job's). Times default to now
and can be given (``at=``) so that a year of matters can be built through these same functions.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from yishi.core import tenancy
from yishi.core.db import db, utcnow
from yishi.core.errors import ConflictError, NotFoundError, PermissionDenied, ValidationFailed
from yishi.core.jobs import enqueue
from yishi.core.storage import storage
from yishi.modules.accounts.models import CommunityMembership, CommunityRole, User
from yishi.modules.accounts.permissions import Actor, can, register_scopes, require, scopes_for
from yishi.modules.calendar.services import due_at
from yishi.modules.categories.models import Category, CategoryKind
from yishi.modules.categories.services import CATEGORY_USAGE_CHECKS
from yishi.modules.communities.models import Community, ResidentGroup
from yishi.modules.matters import photos as photo_files
from yishi.modules.matters import workflow
from yishi.modules.matters.models import (
    Channel,
    DueKind,
    EntryKind,
    Escalation,
    EscalationTarget,
    Matter,
    MatterPhoto,
    Outcome,
    Status,
    TimelineEntry,
    Volunteer,
)
from yishi.modules.matters.workflow import HANDLER, REPORTER, SYSTEM
from yishi.modules.participation import services as participation
from yishi.modules.participation.models import ParticipationKind
from yishi.modules.points.models import Point, PointResidentGroup

PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{7,8})$")  # mobile, landline with or without area code
PHONE_MESSAGE = _l("Enter a mobile number (11 digits) or a landline number.")
TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone
RESOLUTION_ESCALATION_CAP = 24 * 60  # admins are told at most a day after a resolution target passes

register_scopes(
    {
        "matters:read": _l("Read matters, their timelines and photos, with the reporters' contact details"),
        "matters:write": _l("Record matters and move them through the workflow"),
    },
    roles={
        CommunityRole.ADMIN: {"matters:read", "matters:write"},
        CommunityRole.MODERATOR: {"matters:read", "matters:write"},
        CommunityRole.STAFF: {"matters:read"},
    },
    street_admin={"matters:read", "matters:write"},
)

# Who may raise a matter on someone's behalf, by channel.
ON_BEHALF = frozenset({Channel.OFFLINE, Channel.PHONE, Channel.VISIT})


# --- identities ------------------------------------------------------------------------------------


def normalise_phone(phone: str | None) -> str:
    # NFKC first: full-width digits typed on a phone keyboard (１３９…) are the same number
    return re.sub(r"[\s]", "", unicodedata.normalize("NFKC", phone or ""))


def mask_phone_numbers(text: str) -> str:
    """Phone numbers inside free text (a title, a note) masked for the public: 138****1234."""
    return re.sub(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)", r"\1****\3", text or "")


def new_tracking_code() -> str:
    raw = "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def tracking_hash(code: str) -> str:
    normalised = re.sub(r"[^0-9A-Z]", "", (code or "").upper())
    return hashlib.sha256(normalised.encode()).hexdigest()


def find_by_tracking_code(code: str) -> Matter:
    matter = db.session.execute(select(Matter).where(Matter.tracking_hash == tracking_hash(code))).scalar_one_or_none()
    if matter is None:
        raise NotFoundError(_("No matter has this tracking code."))
    return matter


def get_matter(matter_id: int) -> Matter:
    matter = tenancy.get_owned(Matter, matter_id)
    if matter is None:
        raise NotFoundError()
    return matter


def moderator_point_ids(user_id: int | None) -> set[int]:
    """The points where a user serves as moderator today."""
    if user_id is None:
        return set()
    from yishi.modules.selection.services import active_moderators

    return {appointment.point_id for appointment, user in active_moderators() if user.id == user_id}


@dataclass(frozen=True)
class Reach:
    """Which matters an actor handles: every one, or those of their points (and those taken by them)."""

    every: bool
    point_ids: frozenset[int] = frozenset()
    user_id: int | None = None

    def handles(self, matter: Matter) -> bool:
        return (
            self.every
            or matter.point_id is None
            or matter.point_id in self.point_ids
            or (self.user_id is not None and matter.assignee_id == self.user_id)
        )


def reach(actor: Actor, community: Community) -> Reach | None:
    """Moderators handle their points' matters (and those with no point, or taken by them); admins,
    the street office and system tokens with ``matters:write`` handle every matter. None: no one's."""
    if not can(actor, "matters:write", community=community):
        return None
    if actor.user is None or can(actor, "community:write", community=community) or _street_or_platform(actor):
        return Reach(True)
    return Reach(False, frozenset(moderator_point_ids(actor.user_id)), actor.user_id)


def is_handler(actor: Actor, matter: Matter, community: Community) -> bool:
    handled_by = reach(actor, community)
    return handled_by is not None and handled_by.handles(matter)


def _street_or_platform(actor: Actor) -> bool:
    user = actor.user
    if user is None:
        return False
    if user.is_platform_admin:
        return True
    community = db.session.get(Community, tenancy.require_community_id())
    return "street:read" in scopes_for(actor, community=community)


def is_reporter(actor: Actor, matter: Matter, *, tracked: bool = False) -> bool:
    return tracked or (actor.user is not None and matter.reporter_user_id == actor.user_id)


def roles_for(actor: Actor, matter: Matter, community: Community, *, tracked: bool = False) -> set[str]:
    roles = set()
    if is_handler(actor, matter, community):
        roles.add(HANDLER)
        if actor.token is not None:  # a government system relays the resident's answers too
            roles.add(REPORTER)
    if is_reporter(actor, matter, tracked=tracked):
        roles.add(REPORTER)
    return roles


def may_read(actor: Actor, matter: Matter, community: Community, *, tracked: bool = False) -> bool:
    return bool(roles_for(actor, matter, community, tracked=tracked)) or can(actor, "matters:read", community=community)


def sees_contact(actor: Actor, matter: Matter, community: Community, *, tracked: bool = False) -> bool:
    """Names and phones in full only for those who act on the matter and its reporter."""
    return bool(roles_for(actor, matter, community, tracked=tracked))


# --- intake ----------------------------------------------------------------------------------------


@dataclass
class Submitted:
    matter: Matter
    tracking_code: str | None  # shown once to a reporter without an account


def _invalid(field: str, message) -> ValidationFailed:
    return ValidationFailed(str(message), errors={field: [str(message)]})


def _active_category(category_id) -> Category:
    category = tenancy.get_owned(Category, category_id) if category_id else None
    if category is None or not category.active:
        raise _invalid("category_id", _("Choose one of the community's categories."))
    return category


def _group(group_id) -> ResidentGroup | None:
    if not group_id:
        return None
    group = tenancy.get_owned(ResidentGroup, group_id)
    if group is None:
        raise _invalid("resident_group_id", _("Choose one of the community's resident groups."))
    return group


def _active_point(point_id) -> Point | None:
    if not point_id:
        return None
    point = tenancy.get_owned(Point, point_id)
    if point is None or not point.active:
        raise _invalid("point_id", _("Choose one of the community's deliberation points."))
    return point


def route(group_id: int | None) -> int | None:
    """The active point serving a resident group (the first in display order), or None."""
    if group_id is None:
        return None
    return db.session.execute(
        select(Point.id)
        .join(PointResidentGroup, PointResidentGroup.point_id == Point.id)
        .where(PointResidentGroup.resident_group_id == group_id, Point.active.is_(True))
        .order_by(Point.position, Point.code)
        .limit(1)
    ).scalar_one_or_none()


def may_record_visits(actor: Actor, community: Community) -> bool:
    """Party members and resident representatives collect matters on door-to-door visits."""
    if can(actor, "matters:write", community=community):
        return True
    if actor.user is None:
        return False
    return (
        db.session.execute(
            select(CommunityMembership.id).where(
                CommunityMembership.user_id == actor.user_id,
                or_(CommunityMembership.party_member.is_(True), CommunityMembership.representative.is_(True)),
            )
        ).first()
        is not None
    )


def _check_channel(community: Community, channel: Channel, actor: Actor) -> None:
    if channel == Channel.API:
        if actor.token is None:
            raise PermissionDenied(_("Only API clients raise matters on the api channel."))
        require(actor, "matters:write", community=community)
    elif channel == Channel.VISIT:
        if not may_record_visits(actor, community):
            require(actor, "matters:write", community=community)
    elif channel in ON_BEHALF:
        require(actor, "matters:write", community=community)


def _reporter(data: dict, channel: Channel, actor: Actor) -> tuple[int | None, str, str]:
    name = (data.get("reporter_name") or "").strip()
    phone = normalise_phone(data.get("reporter_phone"))
    errors: dict[str, list[str]] = {}
    if phone and not PHONE.match(phone):
        errors["reporter_phone"] = [str(PHONE_MESSAGE)]
    if channel in (Channel.WEB, Channel.QR) and actor.user is not None:
        return actor.user_id, name or actor.user.name, phone or (actor.user.phone or "")
    if not name:
        errors["reporter_name"] = [_("Enter the name of the resident who raises the matter.")]
    if channel in (Channel.WEB, Channel.QR) and not phone:
        errors["reporter_phone"] = [_("Enter a phone number so that a moderator can call back.")]
    if errors:
        raise ValidationFailed(errors=errors)
    return None, name, phone


def submit(
    community: Community,
    data: dict,
    *,
    channel: Channel,
    actor: Actor,
    photos: list[tuple[str, bytes]] = (),
    at: datetime | None = None,
) -> Submitted:
    """Record a matter, route it to a point, give it its due times, and tell the point's moderators
    (through a job, after commit). Raises ValidationFailed (field messages) or PermissionDenied."""
    channel = Channel(channel)
    at = at or utcnow()
    _check_channel(community, channel, actor)
    title = (data.get("title") or "").strip()
    if not title:
        raise _invalid("title", _("Give the matter a short title."))
    category = _active_category(data.get("category_id"))
    group = _group(data.get("resident_group_id"))
    point = _active_point(data.get("point_id"))
    if channel == Channel.QR and point is None:
        raise _invalid("point_id", _("A matter raised from a QR code needs its point."))
    parties = [p.strip() for p in (data.get("parties") or []) if p and p.strip()]
    if category.kind == CategoryKind.DISPUTE and not parties:
        raise _invalid("parties", _("Name the parties of the dispute."))
    reporter_user_id, name, phone = _reporter(data, channel, actor)
    if len(photos) > photo_files.MAX_PHOTOS:
        raise _invalid("photos", _("At most 6 photos."))
    cleaned = [photo_files.clean(content, filename) for filename, content in photos]

    code = None if reporter_user_id else new_tracking_code()
    first_due = due_at(at, category.first_response_minutes)
    resolution_due = due_at(at, category.resolution_minutes)
    matter = Matter(
        community_id=community.id,
        title=title[:120],
        description=(data.get("description") or "").strip(),
        category_id=category.id,
        resident_group_id=group.id if group else None,
        point_id=point.id if point else route(group.id if group else None),
        channel=channel,
        status=Status.SUBMITTED,
        address=(data.get("address") or "").strip()[:200],
        latitude=data.get("latitude"),
        longitude=data.get("longitude"),
        reporter_user_id=reporter_user_id,
        reporter_name=name[:120],
        reporter_phone=phone,
        recorded_by_id=actor.user_id if channel in ON_BEHALF else None,
        tracking_hash=tracking_hash(code) if code else None,
        parties=parties[:10],
        submitted_at=at,
        first_response_due_at=first_due,
        first_response_escalate_at=due_at(first_due, category.first_response_minutes),
        resolution_due_at=resolution_due,
        resolution_escalate_at=due_at(resolution_due, min(category.resolution_minutes, RESOLUTION_ESCALATION_CAP)),
    )
    db.session.add(matter)
    db.session.flush()
    _entry(
        matter,
        EntryKind.TRANSITION,
        actor=actor,
        role=HANDLER if channel in ON_BEHALF | {Channel.API} else REPORTER,
        action="submit",
        to_status=Status.SUBMITTED,
        at=at,
    )
    for image in cleaned:
        _store_photo(matter, image, at=at)
    reporter = db.session.get(User, reporter_user_id) if reporter_user_id else None
    participation.record(
        ParticipationKind.RAISED,
        participation.person_for(user=reporter, name=name, phone=phone, group_id=matter.resident_group_id),
        "matter",
        matter.id,
        at=at,
    )
    enqueue("yishi.modules.matters.tasks.tell", community_id=community.id, matter_id=matter.id, event="submitted")
    return Submitted(matter, code)


def _store_photo(matter: Matter, image: photo_files.CleanImage, *, at: datetime) -> MatterPhoto:
    key = photo_files.storage_key(matter.community_id, image.extension)
    storage().save(key, image.data)
    photo = MatterPhoto(
        community_id=matter.community_id,
        matter_id=matter.id,
        storage_key=key,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        size=len(image.data),
        uploaded_at=at,
    )
    db.session.add(photo)
    db.session.flush()
    return photo


def matters_of(user_id: int) -> list[Matter]:
    """A resident's own matters, newest first."""
    return list(
        db.session.execute(
            select(Matter)
            .where(Matter.reporter_user_id == user_id)
            .order_by(Matter.submitted_at.desc(), Matter.id.desc())
            .limit(200)
        ).scalars()
    )


def photos_of(matter: Matter) -> list[MatterPhoto]:
    return list(
        db.session.execute(
            select(MatterPhoto).where(MatterPhoto.matter_id == matter.id).order_by(MatterPhoto.id)
        ).scalars()
    )


def get_photo(matter: Matter, photo_id: int) -> MatterPhoto:
    photo = tenancy.get_owned(MatterPhoto, photo_id)
    if photo is None or photo.matter_id != matter.id:
        raise NotFoundError()
    return photo


def add_photos(
    community: Community,
    matter: Matter,
    photos: list[tuple[str, bytes]],
    *,
    actor: Actor,
    tracked: bool = False,
    at: datetime | None = None,
) -> list[MatterPhoto]:
    """More photos from a handler or the reporter, up to six in all."""
    roles = roles_for(actor, matter, community, tracked=tracked)
    if not roles:
        raise NotFoundError() if not may_read(actor, matter, community) else PermissionDenied()
    if matter.status in workflow.FINAL:
        raise ConflictError(_("This matter is finished: it takes no more photos."))
    if not photos:
        raise _invalid("photos", _("Choose at least one photo."))
    if len(photos_of(matter)) + len(photos) > photo_files.MAX_PHOTOS:
        raise _invalid("photos", _("At most 6 photos."))
    at = at or utcnow()
    cleaned = [photo_files.clean(content, filename) for filename, content in photos]
    stored = [_store_photo(matter, image, at=at) for image in cleaned]
    _entry(
        matter,
        EntryKind.PHOTO,
        actor=actor,
        role=HANDLER if HANDLER in roles else REPORTER,
        note=_("%(count)d photos added", count=len(stored)),
        at=at,
    )
    return stored


# --- the workflow ----------------------------------------------------------------------------------


def _entry(
    matter: Matter,
    kind: EntryKind,
    *,
    actor: Actor | None,
    role: str,
    action: str = "",
    from_status: Status | None = None,
    to_status: Status | None = None,
    note: str = "",
    public: bool = True,
    at: datetime | None = None,
) -> TimelineEntry:
    entry = TimelineEntry(
        community_id=matter.community_id,
        matter_id=matter.id,
        at=at or utcnow(),
        kind=kind,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor_user_id=actor.user_id if actor else None,
        actor_label=(actor.label if actor and (actor.user or actor.token) else "")[:160],
        actor_role=role,
        note=note,
        public=public,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def _minutes(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() // 60))


def transition(
    community: Community,
    matter: Matter,
    action: str,
    *,
    actor: Actor,
    tracked: bool = False,
    note: str = "",
    public: bool = True,
    outcome: str | None = None,
    agreement_text: str = "",
    escalate_to: str | None = None,
    expected_version: int | None = None,
    at: datetime | None = None,
    system: bool = False,
) -> Matter:
    """Move a matter along :data:`workflow.TRANSITIONS`. Refused moves raise ConflictError (wrong
    state, or someone changed it meanwhile), PermissionDenied (not yours to make) or
    ValidationFailed (a required note or outcome is missing)."""
    move = workflow.TRANSITIONS.get(action)
    if move is None:
        raise _invalid("action", _("Unknown action “%(action)s”.", action=action))
    roles = {SYSTEM} if system else roles_for(actor, matter, community, tracked=tracked)
    if not roles and not may_read(actor, matter, community, tracked=tracked):
        raise NotFoundError()
    if expected_version is not None and expected_version != matter.version:
        raise ConflictError(_("Someone else changed this matter meanwhile: reload it and try again."))
    if matter.status not in move.sources:
        raise ConflictError(
            _(
                "A matter that is “%(status)s” cannot be moved with “%(action)s”.",
                status=workflow.STATUS_LABELS[matter.status],
                action=move.label,
            )
        )
    if not move.by & roles:
        raise PermissionDenied(_("Only %(who)s may do this.", who=_who(move.by)))
    note = (note or "").strip()
    if move.needs_note and not note:
        raise _invalid("note", _("Say why: this step needs a note."))
    at = at or utcnow()
    category = db.session.get(Category, matter.category_id)
    previous = matter.status
    if action == "accept":
        if matter.accepted_at is None:
            matter.accepted_at = at
            matter.minutes_to_accept = _minutes(matter.submitted_at, at)
            matter.first_response_met = at <= matter.first_response_due_at
        matter.assignee_id = actor.user_id if actor.user else matter.assignee_id
        matter.escalated_to = None
    elif action == "resolve":
        _resolve(matter, category, note=note, outcome=outcome, agreement_text=agreement_text, at=at)
    elif action == "close":
        matter.closed_at = at
    elif action == "reopen":
        _reopen(matter, category, at=at)
    elif action == "reject":
        matter.reject_reason = note
        matter.closed_at = at
    elif action == "withdraw":
        matter.closed_at = at
    elif action == "escalate":
        try:
            matter.escalated_to = EscalationTarget(escalate_to or EscalationTarget.COMMUNITY)
        except ValueError as error:
            raise _invalid("escalate_to", _("Escalate to the community or to the street office.")) from error
    matter.status = move.target
    role = SYSTEM if system else (HANDLER if HANDLER in roles & move.by else REPORTER)
    try:  # the entry's flush writes the matter too: its version check may fail there
        _entry(
            matter,
            EntryKind.TRANSITION,
            actor=None if system else actor,
            role=role,
            action=action,
            from_status=previous,
            to_status=move.target,
            note=note,
            public=public or role != HANDLER,
            at=at,
        )
        db.session.flush()
    except StaleDataError as error:  # another request moved it between our read and our write
        raise ConflictError(_("Someone else changed this matter meanwhile: reload it and try again.")) from error
    if action in ("resolve", "reopen", "escalate") or (action == "withdraw" and previous != Status.SUBMITTED):
        enqueue("yishi.modules.matters.tasks.tell", community_id=community.id, matter_id=matter.id, event=action)
    return matter


def _who(roles: frozenset[str]) -> str:
    names = {HANDLER: _("its moderators"), REPORTER: _("whoever raised it"), SYSTEM: _("the system")}
    return _(" or ").join(names[r] for r in (HANDLER, REPORTER, SYSTEM) if r in roles)


def _resolve(matter: Matter, category: Category, *, note: str, outcome, agreement_text: str, at: datetime) -> None:
    if category.kind == CategoryKind.DISPUTE:
        try:
            chosen = Outcome(outcome)
        except ValueError as error:
            raise _invalid("outcome", _("Say whether the parties reached an agreement.")) from error
        agreement_text = (agreement_text or "").strip()
        if chosen == Outcome.AGREEMENT and not agreement_text:
            raise _invalid("agreement_text", _("Write down the agreement the parties reached."))
        matter.outcome, matter.agreement_text = chosen, agreement_text  # a refused move changes nothing
    matter.resolution_note = note
    matter.resolved_at = at
    matter.minutes_to_resolve = _minutes(matter.submitted_at, at)
    matter.resolution_met = at <= matter.resolution_due_at
    matter.escalated_to = None


def _reopen(matter: Matter, category: Category, *, at: datetime) -> None:
    """Not solved after all: new due times from now; the first times stay for the reports."""
    # Every due time first: due_at queries the calendar, and a query would flush a half-changed
    # matter outside transition's check for someone else's concurrent change.
    first_due = due_at(at, category.first_response_minutes)
    first_escalate = due_at(first_due, category.first_response_minutes)
    resolution_due = due_at(at, category.resolution_minutes)
    resolution_escalate = due_at(resolution_due, min(category.resolution_minutes, RESOLUTION_ESCALATION_CAP))
    matter.first_response_due_at, matter.first_response_escalate_at = first_due, first_escalate
    matter.resolution_due_at, matter.resolution_escalate_at = resolution_due, resolution_escalate
    matter.resolved_at = None
    matter.resolution_met = None
    matter.outcome = None


def add_note(
    community: Community,
    matter: Matter,
    note: str,
    *,
    actor: Actor,
    tracked: bool = False,
    public: bool = True,
    at: datetime | None = None,
) -> TimelineEntry:
    """A handler's note (public, or internal to handlers), or more information from the reporter."""
    roles = roles_for(actor, matter, community, tracked=tracked)
    if not roles:
        raise NotFoundError() if not may_read(actor, matter, community) else PermissionDenied()
    note = (note or "").strip()
    if not note:
        raise _invalid("note", _("Write something first."))
    if matter.status in workflow.FINAL:
        raise ConflictError(_("This matter is finished: it takes no more notes."))
    if HANDLER in roles:
        return _entry(matter, EntryKind.NOTE, actor=actor, role=HANDLER, note=note, public=public, at=at)
    entry = _entry(matter, EntryKind.INFO, actor=actor, role=REPORTER, note=note, at=at)
    enqueue("yishi.modules.matters.tasks.tell", community_id=community.id, matter_id=matter.id, event="info")
    return entry


def rate(
    community: Community,
    matter: Matter,
    score: int,
    comment: str = "",
    *,
    actor: Actor,
    tracked: bool = False,
    at: datetime | None = None,
) -> Matter:
    """The reporter's satisfaction (1-5) once the matter is resolved; once only."""
    if REPORTER not in roles_for(actor, matter, community, tracked=tracked):
        raise NotFoundError() if not may_read(actor, matter, community) else PermissionDenied()
    if matter.status not in (Status.RESOLVED, Status.CLOSED):
        raise ConflictError(_("A matter is rated once it is resolved."))
    if matter.satisfaction is not None:
        raise ConflictError(_("This matter has been rated already."))
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise _invalid("score", _("Rate from 1 to 5."))
    at = at or utcnow()
    matter.satisfaction, matter.satisfaction_comment, matter.rated_at = score, (comment or "").strip(), at
    _entry(matter, EntryKind.RATING, actor=actor, role=REPORTER, note=f"{score}/5 {matter.satisfaction_comment}", at=at)
    return matter


def timeline(matter: Matter, *, internal: bool) -> list[TimelineEntry]:
    statement = select(TimelineEntry).where(TimelineEntry.matter_id == matter.id)
    if not internal:
        statement = statement.where(TimelineEntry.public.is_(True))
    return list(db.session.execute(statement.order_by(TimelineEntry.at, TimelineEntry.id)).scalars())


# --- escalation and auto-close -------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    due_kind: DueKind
    level: int
    statuses: frozenset[Status]
    due_column: object  # the due time that is the escalation's key
    fire_column: object  # when this level fires


RULES = (
    Rule(
        DueKind.FIRST_RESPONSE,
        1,
        workflow.AWAITING_RESPONSE,
        Matter.first_response_due_at,
        Matter.first_response_due_at,
    ),
    Rule(
        DueKind.FIRST_RESPONSE,
        2,
        workflow.AWAITING_RESPONSE,
        Matter.first_response_due_at,
        Matter.first_response_escalate_at,
    ),
    Rule(DueKind.RESOLUTION, 1, workflow.OPEN, Matter.resolution_due_at, Matter.resolution_due_at),
    Rule(DueKind.RESOLUTION, 2, workflow.OPEN, Matter.resolution_due_at, Matter.resolution_escalate_at),
)


def sweep(community: Community, *, now: datetime | None = None) -> dict:
    """Escalate the community's late matters and close the resolved ones nobody confirmed.

    Level 1 reminds the point's moderators when a due time passes; level 2 tells the community
    admins a while later. Each (matter, due time, level) is escalated once, ever: the unique key of
    :class:`Escalation` decides, so two schedulers running this at once send one escalation.
    """
    now = now or utcnow()
    sent = {"reminders": 0, "escalations": 0, "closed": 0}
    for rule in RULES:
        already = exists().where(
            Escalation.matter_id == Matter.id,
            Escalation.due_kind == rule.due_kind,
            Escalation.level == rule.level,
            Escalation.due_at == rule.due_column,
        )
        late = db.session.execute(
            select(Matter.id, rule.due_column)
            .where(Matter.status.in_(rule.statuses), rule.fire_column <= now, ~already)
            .order_by(Matter.id)
        ).all()
        for matter_id, due in late:
            if _escalate_once(community, matter_id, rule, due, now):
                sent["reminders" if rule.level == 1 else "escalations"] += 1
    cutoff = now - timedelta(days=community.auto_close_days)
    stale = db.session.execute(
        select(Matter).where(Matter.status == Status.RESOLVED, Matter.resolved_at <= cutoff).order_by(Matter.id)
    ).scalars()
    for matter in list(stale):
        note = _("Closed automatically %(days)d days after it was resolved.", days=community.auto_close_days)
        due = matter.resolved_at + timedelta(days=community.auto_close_days)
        transition(community, matter, "close", actor=Actor(), system=True, note=note, at=min(due, now))
        sent["closed"] += 1
    return sent


def _escalate_once(community: Community, matter_id: int, rule: Rule, due: datetime, now: datetime) -> bool:
    matter = db.session.get(Matter, matter_id)
    try:
        with db.session.begin_nested():
            db.session.add(
                Escalation(
                    community_id=community.id,
                    matter_id=matter_id,
                    due_kind=rule.due_kind,
                    level=rule.level,
                    due_at=due,
                    sent_at=now,
                )
            )
            db.session.flush()
            what = _("first response") if rule.due_kind == DueKind.FIRST_RESPONSE else _("resolution")
            note = (
                _("The %(target)s target passed: the point's moderators are reminded.", target=what)
                if rule.level == 1
                else _("Still late on the %(target)s target: the community admins are told.", target=what)
            )
            _entry(
                matter,
                EntryKind.REMINDER if rule.level == 1 else EntryKind.ESCALATION,
                actor=None,
                role=SYSTEM,
                action=f"{rule.due_kind.value}:{rule.level}",
                note=note,
                public=False,
                at=now,
            )
    except IntegrityError:  # another sweep sent this one first
        return False
    enqueue(
        "yishi.modules.matters.tasks.tell",
        community_id=community.id,
        matter_id=matter_id,
        event="reminder" if rule.level == 1 else "late",
    )
    return True


# --- lists: the work queue, the API and the public board --------------------------------------------


@dataclass
class Filters:
    status: list[str] | None = None
    category_id: int | None = None
    resident_group_id: int | None = None
    point_id: int | None = None
    channel: str | None = None
    overdue: bool | None = None
    q: str = ""
    open_only: bool = False
    mine: bool = False  # only the points the user moderates


def overdue_condition(now: datetime):
    return or_(
        and_(Matter.status.in_(workflow.AWAITING_RESPONSE), Matter.first_response_due_at <= now),
        and_(Matter.status.in_(workflow.OPEN), Matter.resolution_due_at <= now),
    )


def list_statement(filters: Filters, *, actor: Actor | None = None, now: datetime | None = None):
    """Matters matching ``filters``; overdue first, then oldest first."""
    now = now or utcnow()
    overdue = overdue_condition(now)
    statement = select(Matter)
    if filters.status:
        statement = statement.where(Matter.status.in_([Status(s) for s in filters.status]))
    elif filters.open_only:
        statement = statement.where(Matter.status.in_(workflow.OPEN))
    for column, value in (
        (Matter.category_id, filters.category_id),
        (Matter.resident_group_id, filters.resident_group_id),
        (Matter.point_id, filters.point_id),
    ):
        if value:
            statement = statement.where(column == value)
    if filters.channel:
        statement = statement.where(Matter.channel == Channel(filters.channel))
    if filters.overdue is True:
        statement = statement.where(overdue)
    elif filters.overdue is False:
        statement = statement.where(~overdue)
    if filters.q:
        pattern = f"%{_escape_like(filters.q.strip())}%"
        statement = statement.where(
            or_(Matter.title.ilike(pattern, escape="\\"), Matter.description.ilike(pattern, escape="\\"))
        )
    if filters.mine and actor is not None and actor.user is not None:
        points = moderator_point_ids(actor.user_id)
        statement = statement.where(or_(Matter.point_id.in_(points), Matter.assignee_id == actor.user_id))
    return statement.order_by(case((overdue, 0), else_=1), Matter.submitted_at, Matter.id)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def board_statement():
    """The public board: every matter but the withdrawn ones, newest first."""
    return (
        select(Matter).where(Matter.status != Status.WITHDRAWN).order_by(Matter.submitted_at.desc(), Matter.id.desc())
    )


def board_counts() -> dict[str, int]:
    rows = db.session.execute(
        select(Matter.status, func.count(Matter.id)).where(Matter.status != Status.WITHDRAWN).group_by(Matter.status)
    ).all()
    return {status.value: count for status, count in rows}


def is_overdue(matter: Matter, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if matter.status in workflow.AWAITING_RESPONSE and matter.first_response_due_at <= now:
        return True
    return matter.status in workflow.OPEN and matter.resolution_due_at <= now


def matters_using_category(category: Category) -> bool:
    with tenancy.community_scope(category.community_id):
        return (
            db.session.execute(select(Matter.id).where(Matter.category_id == category.id).limit(1)).first() is not None
        )


CATEGORY_USAGE_CHECKS.append(matters_using_category)


def community_admins(community: Community):
    return list(
        db.session.execute(
            select(User)
            .join(CommunityMembership, CommunityMembership.user_id == User.id)
            .where(CommunityMembership.role == CommunityRole.ADMIN, User.active.is_(True))
            .order_by(User.id)
        ).scalars()
    )


# --- volunteers (参与解决) --------------------------------------------------------------------------


def volunteer(community: Community, matter: Matter, *, actor: Actor, note: str = "", at: datetime | None = None):
    """A signed-in member offers to help solve an open matter; offering twice changes nothing."""
    require(actor, "community:read", community=community)
    if actor.user is None:
        raise PermissionDenied(_("Sign in to volunteer."))
    if matter.status not in workflow.OPEN:
        raise ConflictError(_("This matter is not open: it needs no more help."))
    person = participation.person_for(user=actor.user)
    existing = db.session.execute(
        select(Volunteer).where(Volunteer.matter_id == matter.id, Volunteer.person_id == person.id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    at = at or utcnow()
    offer = Volunteer(
        community_id=community.id, matter_id=matter.id, person_id=person.id, note=(note or "").strip()[:500], at=at
    )
    db.session.add(offer)
    db.session.flush()
    participation.record(ParticipationKind.VOLUNTEERED, person, "matter", matter.id, at=at)
    _entry(
        matter, EntryKind.NOTE, actor=actor, role=REPORTER, action="volunteer", note=_("Volunteered to help."), at=at
    )
    return offer


def volunteers_of(matter: Matter) -> list:
    from yishi.modules.participation.models import Person

    return list(
        db.session.execute(
            select(Person.name, Volunteer.note, Volunteer.at)
            .join(Person, Person.id == Volunteer.person_id)
            .where(Volunteer.matter_id == matter.id)
            .order_by(Volunteer.at, Volunteer.id)
        ).all()
    )


def escalated_to_street(community_ids: list[int]) -> list[Matter]:
    """The matters of these communities (a street's own) escalated to the street office and not yet
    taken up again, oldest first."""
    ids = sorted(set(community_ids))
    if not ids:
        return []
    with tenancy.communities_scope(ids, reason="a street office reads the matters escalated to it"):
        return list(
            db.session.execute(
                select(Matter)
                .where(
                    Matter.community_id.in_(ids),
                    Matter.status == Status.ESCALATED,
                    Matter.escalated_to == EscalationTarget.STREET,
                )
                .order_by(Matter.submitted_at, Matter.id)
                .limit(500)
            ).scalars()
        )
