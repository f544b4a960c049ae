"""Deliberation meetings: planning, the agenda of matters, signed QR check-in, minutes, decisions
that move matters through their workflow, online comments, and iCalendar feeds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import icalendar
import markdown_it
import nh3
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from yishi.core import tenancy
from yishi.core.db import db, utcnow
from yishi.core.errors import ConflictError, NotFoundError, PermissionDenied, ValidationFailed
from yishi.core.jobs import enqueue
from yishi.modules.accounts.models import CommunityRole, User
from yishi.modules.accounts.permissions import Actor, register_scopes, require
from yishi.modules.communities.models import Community, ResidentGroup
from yishi.modules.matters import services as matters
from yishi.modules.matters import workflow
from yishi.modules.matters.models import EntryKind, Matter, Outcome, Status
from yishi.modules.meetings.models import (
    AgendaComment,
    AgendaItem,
    Attendance,
    CheckInMethod,
    DecisionKind,
    Invitation,
    Meeting,
    MeetingStatus,
)
from yishi.modules.participation import services as participation
from yishi.modules.participation.models import ParticipationKind, Person
from yishi.modules.points.models import Point

register_scopes(
    {
        "meetings:read": _l("Read deliberation meetings, their agendas, attendance and minutes"),
        "meetings:write": _l("Convene meetings, check people in, write minutes and record decisions"),
    },
    roles={
        CommunityRole.ADMIN: {"meetings:read", "meetings:write"},
        CommunityRole.MODERATOR: {"meetings:read", "meetings:write"},
        CommunityRole.STAFF: {"meetings:read"},
        CommunityRole.RESIDENT: {"meetings:read"},
    },
    street_admin={"meetings:read"},
)

CHECKIN_OPENS_BEFORE = timedelta(minutes=30)
CHECKIN_CLOSES_AFTER = timedelta(minutes=30)
MATTER_ACTIONS = ("", "resolve", "start")
STATUS_LABELS = {
    MeetingStatus.PLANNED: _l("Planned"),
    MeetingStatus.HELD: _l("Held"),
    MeetingStatus.PUBLISHED: _l("Minutes published"),
    MeetingStatus.CANCELLED: _l("Cancelled"),
}


def _invalid(field: str, message) -> ValidationFailed:
    return ValidationFailed(str(message), errors={field: [str(message)]})


# --- reading -------------------------------------------------------------------------------------


def get_meeting(meeting_id: int) -> Meeting:
    meeting = tenancy.get_owned(Meeting, meeting_id)
    if meeting is None:
        raise NotFoundError()
    return meeting


def get_item(meeting: Meeting, item_id: int) -> AgendaItem:
    item = tenancy.get_owned(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        raise NotFoundError()
    return item


def meetings_statement(*, upcoming: bool | None = None, now: datetime | None = None):
    now = now or utcnow()
    statement = select(Meeting)
    if upcoming is True:
        return statement.where(Meeting.ends_at >= now, Meeting.status == MeetingStatus.PLANNED).order_by(
            Meeting.starts_at, Meeting.id
        )
    if upcoming is False:
        statement = statement.where(Meeting.status != MeetingStatus.PLANNED)
    return statement.order_by(Meeting.starts_at.desc(), Meeting.id.desc())


def agenda_of(meeting: Meeting) -> list[AgendaItem]:
    return list(
        db.session.execute(
            select(AgendaItem).where(AgendaItem.meeting_id == meeting.id).order_by(AgendaItem.position, AgendaItem.id)
        ).scalars()
    )


def invitations_of(meeting: Meeting) -> tuple[list[int], list[int]]:
    rows = db.session.execute(
        select(Invitation.resident_group_id, Invitation.user_id).where(Invitation.meeting_id == meeting.id)
    ).all()
    return sorted({g for g, _u in rows if g}), sorted({u for _g, u in rows if u})


@dataclass(frozen=True)
class Attendee:
    name: str
    phone: str
    resident_group_id: int | None
    method: str
    at: datetime


def attendance_of(meeting: Meeting) -> list[Attendee]:
    rows = db.session.execute(
        select(Person.name, Person.phone, Person.resident_group_id, Attendance.method, Attendance.checked_in_at)
        .join(Person, Person.id == Attendance.person_id)
        .where(Attendance.meeting_id == meeting.id)
        .order_by(Attendance.checked_in_at, Attendance.id)
    ).all()
    return [Attendee(name, phone, group, method.value, at) for name, phone, group, method, at in rows]


def attendance_counts(meeting_ids: list[int]) -> dict[int, int]:
    if not meeting_ids:
        return {}
    rows = db.session.execute(
        select(Attendance.meeting_id, func.count(Attendance.id))
        .where(Attendance.meeting_id.in_(meeting_ids))
        .group_by(Attendance.meeting_id)
    ).all()
    return dict(rows)


def comments_of(items: list[AgendaItem]) -> dict[int, list[tuple[str, str, datetime]]]:
    ids = [item.id for item in items]
    result: dict[int, list] = {item_id: [] for item_id in ids}
    if not ids:
        return result
    rows = db.session.execute(
        select(AgendaComment.agenda_item_id, Person.name, AgendaComment.body, AgendaComment.at)
        .join(Person, Person.id == AgendaComment.person_id)
        .where(AgendaComment.agenda_item_id.in_(ids), AgendaComment.hidden.is_(False))
        .order_by(AgendaComment.at, AgendaComment.id)
    ).all()
    for item_id, name, body, at in rows:
        result[item_id].append((name, body, at))
    return result


def meetings_held(start: datetime | None = None, end: datetime | None = None) -> int:
    """Meetings that took place in [start, end) — the seed's 60+."""
    statement = select(func.count(Meeting.id)).where(Meeting.status.in_((MeetingStatus.HELD, MeetingStatus.PUBLISHED)))
    if start is not None:
        statement = statement.where(Meeting.starts_at >= start)
    if end is not None:
        statement = statement.where(Meeting.starts_at < end)
    return db.session.execute(statement).scalar_one()


def meetings_for_matter(matter: Matter) -> list[Meeting]:
    return list(
        db.session.execute(
            select(Meeting)
            .join(AgendaItem, AgendaItem.meeting_id == Meeting.id)
            .where(AgendaItem.matter_id == matter.id)
            .order_by(Meeting.starts_at)
        ).scalars()
    )


# --- planning ------------------------------------------------------------------------------------


def _check_times(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is None or ends_at is None:
        raise _invalid("starts_at", _("Give the start and the end of the meeting."))
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise _invalid("starts_at", _("Give times with their time zone."))
    if ends_at <= starts_at:
        raise _invalid("ends_at", _("The meeting must end after it starts."))
    if ends_at - starts_at > timedelta(hours=12):
        raise _invalid("ends_at", _("A meeting lasts at most 12 hours."))


def _check_ids(model, ids, field: str, message) -> list[int]:
    unique = sorted(set(ids or []))
    if not unique:
        return []
    found = set(db.session.execute(select(model.id).where(model.id.in_(unique))).scalars())
    if set(unique) - found:
        raise _invalid(field, message)
    return unique


def _check_members(user_ids) -> list[int]:
    from yishi.modules.accounts.models import CommunityMembership

    unique = sorted(set(user_ids or []))
    if not unique:
        return []
    found = set(
        db.session.execute(select(CommunityMembership.user_id).where(CommunityMembership.user_id.in_(unique))).scalars()
    )
    if set(unique) - found:
        raise _invalid("invited_user_ids", _("Invite members of the community only."))
    return unique


def create_meeting(community: Community, data: dict, *, actor: Actor) -> Meeting:
    """Convene a meeting at a point (or online), invite groups or members, and put matters on its agenda."""
    require(actor, "meetings:write", community=community)
    title = (data.get("title") or "").strip()
    if not title:
        raise _invalid("title", _("Give the meeting a title."))
    _check_times(data.get("starts_at"), data.get("ends_at"))
    point_id = data.get("point_id")
    if point_id:
        point = tenancy.get_owned(Point, point_id)
        if point is None or not point.active:
            raise _invalid("point_id", _("Choose one of the community's deliberation points."))
    groups = _check_ids(
        ResidentGroup, data.get("invited_group_ids"), "invited_group_ids", _("Invite the community's groups only.")
    )
    users = _check_members(data.get("invited_user_ids"))
    meeting = Meeting(
        community_id=community.id,
        title=title[:120],
        topic=(data.get("topic") or "").strip(),
        point_id=point_id or None,
        location=(data.get("location") or "").strip()[:200],
        starts_at=data["starts_at"],
        ends_at=data["ends_at"],
        convener_id=actor.user_id,
    )
    db.session.add(meeting)
    db.session.flush()
    for group_id in groups:
        db.session.add(Invitation(community_id=community.id, meeting_id=meeting.id, resident_group_id=group_id))
    for user_id in users:
        db.session.add(Invitation(community_id=community.id, meeting_id=meeting.id, user_id=user_id))
    for matter_id in data.get("matter_ids") or []:
        add_agenda_item(community, meeting, actor=actor, matter_id=matter_id)
    db.session.flush()
    if groups or users:
        enqueue("yishi.modules.meetings.tasks.invite", community_id=community.id, meeting_id=meeting.id)
    return meeting


def _require_state(meeting: Meeting, *states: MeetingStatus, message) -> None:
    if meeting.status not in states:
        raise ConflictError(str(message))


def add_agenda_item(
    community: Community, meeting: Meeting, *, actor: Actor, matter_id: int | None = None, title: str = ""
) -> AgendaItem:
    """An item for a matter (its title by default) or a free topic, at the end of the agenda."""
    require(actor, "meetings:write", community=community)
    _require_state(
        meeting, MeetingStatus.PLANNED, MeetingStatus.HELD, message=_("This meeting's agenda can no longer change.")
    )
    matter = None
    if matter_id:
        matter = tenancy.get_owned(Matter, matter_id)
        if matter is None:
            raise _invalid("matter_id", _("Choose one of the community's matters."))
        if matter.status in workflow.FINAL:
            raise _invalid("matter_id", _("This matter is finished: it needs no meeting."))
        taken = db.session.execute(
            select(AgendaItem.id).where(AgendaItem.meeting_id == meeting.id, AgendaItem.matter_id == matter.id)
        ).first()
        if taken is not None:
            raise ConflictError(_("This matter is on the agenda already."))
    title = (title or "").strip() or (matter.title if matter else "")
    if not title:
        raise _invalid("title", _("Give the agenda item a title, or choose a matter."))
    position = db.session.execute(
        select(func.coalesce(func.max(AgendaItem.position), 0)).where(AgendaItem.meeting_id == meeting.id)
    ).scalar_one()
    item = AgendaItem(
        community_id=community.id,
        meeting_id=meeting.id,
        matter_id=matter.id if matter else None,
        title=title[:120],
        position=position + 1,
    )
    db.session.add(item)
    db.session.flush()
    if matter is not None:
        matters._entry(
            matter,
            EntryKind.NOTE,
            actor=actor,
            role=workflow.HANDLER,
            action="agenda",
            note=_("On the agenda of the meeting “%(title)s”.", title=meeting.title),
        )
    return item


def cancel_meeting(community: Community, meeting: Meeting, reason: str, *, actor: Actor) -> Meeting:
    require(actor, "meetings:write", community=community)
    _require_state(meeting, MeetingStatus.PLANNED, message=_("Only a planned meeting can be cancelled."))
    reason = (reason or "").strip()
    if not reason:
        raise _invalid("reason", _("Say why the meeting is cancelled."))
    meeting.status, meeting.cancel_reason = MeetingStatus.CANCELLED, reason
    db.session.flush()
    return meeting


def mark_held(community: Community, meeting: Meeting, *, actor: Actor, at: datetime | None = None) -> Meeting:
    require(actor, "meetings:write", community=community)
    _require_state(meeting, MeetingStatus.PLANNED, message=_("Only a planned meeting can be marked held."))
    at = at or utcnow()
    if at < meeting.starts_at - CHECKIN_OPENS_BEFORE:
        raise ConflictError(_("This meeting has not started yet."))
    meeting.status, meeting.held_at = MeetingStatus.HELD, at
    db.session.flush()
    return meeting


def save_minutes(community: Community, meeting: Meeting, text: str, *, actor: Actor) -> Meeting:
    require(actor, "meetings:write", community=community)
    _require_state(
        meeting, MeetingStatus.HELD, message=_("Minutes are written once the meeting is held, until published.")
    )
    if len(text or "") > 50_000:
        raise _invalid("minutes", _("The minutes are too long."))
    meeting.minutes = (text or "").strip()
    db.session.flush()
    return meeting


def publish_minutes(community: Community, meeting: Meeting, *, actor: Actor, at: datetime | None = None) -> Meeting:
    require(actor, "meetings:write", community=community)
    _require_state(meeting, MeetingStatus.HELD, message=_("Only the minutes of a held meeting can be published."))
    if not meeting.minutes.strip():
        raise _invalid("minutes", _("Write the minutes before publishing them."))
    meeting.status, meeting.minutes_published_at = MeetingStatus.PUBLISHED, at or utcnow()
    db.session.flush()
    return meeting


_MARKDOWN = markdown_it.MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "ul", "ol", "li", "h1", "h2", "h3", "h4", "blockquote", "code", "pre", "hr",
    "table", "thead", "tbody", "tr", "th", "td", "a",
}  # fmt: skip


def render_minutes(text: str) -> Markup:
    """Markdown to HTML that can carry no script: raw HTML is not passed through by the renderer,
    and what it produces is sanitised again (nh3) to an allow-list of tags, attributes and URL schemes."""
    html = _MARKDOWN.render(text or "")
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # noqa: S704 - sanitised just above


# --- decisions -------------------------------------------------------------------------------------


def decide(community: Community, meeting: Meeting, item: AgendaItem, data: dict, *, actor: Actor,
           at: datetime | None = None) -> AgendaItem:  # fmt: skip
    """Record an item's decision (and a vote, or consensus); it may move the item's matter through its
    workflow — resolve it with the agreement, or start the work — so the matter's timeline shows it."""
    require(actor, "meetings:write", community=community)
    _require_state(meeting, MeetingStatus.HELD, message=_("Decisions are recorded once the meeting is held."))
    text = (data.get("decision") or "").strip()
    if not text:
        raise _invalid("decision", _("Write down what was decided."))
    kind = data.get("decision_kind") or None
    errors: dict[str, list[str]] = {}
    votes = {}
    if kind == DecisionKind.VOTE.value:
        for key in ("votes_for", "votes_against", "votes_abstain"):
            value = data.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100_000:
                errors[key] = [_("Give the number of votes (0 or more).")]
            votes[key] = value
    elif kind not in (None, DecisionKind.CONSENSUS.value):
        errors["decision_kind"] = [_("Choose a vote or consensus.")]
    action = data.get("matter_action") or ""
    if action not in MATTER_ACTIONS:
        errors["matter_action"] = [_("Choose what happens to the matter.")]
    elif action and item.matter_id is None:
        errors["matter_action"] = [_("This item has no matter to move.")]
    if errors:
        raise ValidationFailed(errors=errors)
    at = at or utcnow()
    item.decision, item.decided_at, item.matter_action = text, at, action
    item.decision_kind = DecisionKind(kind) if kind else None
    item.votes_for, item.votes_against, item.votes_abstain = (
        votes.get("votes_for"), votes.get("votes_against"), votes.get("votes_abstain"),
    )  # fmt: skip
    db.session.flush()
    if action:
        _move_matter(community, meeting, item, action, text, data, actor=actor, at=at)
    return item


def _move_matter(community, meeting, item, action, text, data, *, actor, at) -> None:
    matter = tenancy.get_owned(Matter, item.matter_id)
    if matter is None:
        raise _invalid("matter_action", _("This item has no matter to move."))
    note = _("Decided at the meeting “%(title)s”: %(decision)s", title=meeting.title, decision=text)
    if matter.status in (Status.SUBMITTED, Status.REOPENED) or (
        matter.status == Status.ESCALATED and action == "start"
    ):
        matters.transition(community, matter, "accept", actor=actor, at=at)
    if action == "start":
        if matter.status == Status.ACCEPTED:
            matters.transition(community, matter, "start", actor=actor, note=note, at=at)
        elif matter.status != Status.IN_PROGRESS:
            raise ConflictError(
                _("The matter cannot start now: it is “%(status)s”.", status=workflow.STATUS_LABELS[matter.status])
            )
        return
    agreement = (data.get("agreement_text") or "").strip()
    outcome = data.get("outcome") or (Outcome.AGREEMENT.value if agreement else Outcome.NO_AGREEMENT.value)
    matters.transition(
        community, matter, "resolve", actor=actor, note=note, outcome=outcome, agreement_text=agreement, at=at
    )


# --- attendance ------------------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="yishi.meeting-checkin")


def checkin_token(meeting: Meeting) -> str:
    """What the meeting's check-in QR code carries: signed with the server's key, for this meeting only."""
    return _serializer().dumps({"m": meeting.id, "c": meeting.community_id})


def checkin_window(meeting: Meeting) -> tuple[datetime, datetime]:
    return meeting.starts_at - CHECKIN_OPENS_BEFORE, meeting.ends_at + CHECKIN_CLOSES_AFTER


def _refuse_before_opening(meeting: Meeting, at: datetime) -> None:
    """A meeting has "started" for check-in when its window opens, 30 minutes before the start: people
    arrive early, and a moderator checking them in by hand at the door follows the same clock as the
    QR code on the wall (and as marking the meeting held)."""
    if at < checkin_window(meeting)[0]:
        raise ConflictError(_("Check-in opens 30 minutes before the meeting starts."))


def verify_checkin(meeting: Meeting, token: str, *, now: datetime | None = None) -> None:
    """Refuse a forged token, another meeting's, and any outside the meeting's window."""
    try:
        payload = _serializer().loads(token or "")
    except BadSignature as error:
        raise ValidationFailed(_("This check-in code is not valid.")) from error
    if not isinstance(payload, dict) or payload.get("m") != meeting.id or payload.get("c") != meeting.community_id:
        raise ValidationFailed(_("This check-in code is not valid."))
    if meeting.status not in (MeetingStatus.PLANNED, MeetingStatus.HELD):
        raise ConflictError(_("Check-in for this meeting is closed."))
    now = now or utcnow()
    _refuse_before_opening(meeting, now)
    if now > checkin_window(meeting)[1]:
        raise ConflictError(_("Check-in for this meeting is closed."))


def _may_check_in_by_hand(community: Community, meeting: Meeting, by: Actor | None, at: datetime) -> None:
    require(by, "meetings:write", community=community)
    if meeting.status not in (MeetingStatus.PLANNED, MeetingStatus.HELD):
        raise ConflictError(_("Check-in for this meeting is closed."))
    _refuse_before_opening(meeting, at)


def check_in(
    community: Community,
    meeting: Meeting,
    person: Person,
    *,
    method: CheckInMethod,
    by: Actor | None = None,
    at: datetime | None = None,
) -> tuple[Attendance, bool]:
    """Put a person on the attendance list once; returns (their attendance, whether it is new).

    By hand, a moderator may check people in from the opening of the window until the minutes are
    published, so that a paper sign-in list can be typed in after the meeting; never before it opens."""
    at = at or utcnow()
    if method == CheckInMethod.MANUAL:
        _may_check_in_by_hand(community, meeting, by, at)
    existing = db.session.execute(
        select(Attendance).where(Attendance.meeting_id == meeting.id, Attendance.person_id == person.id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    attendance = Attendance(
        community_id=community.id,
        meeting_id=meeting.id,
        person_id=person.id,
        method=method,
        checked_in_at=at,
        checked_in_by_id=by.user_id if by else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(attendance)
    except IntegrityError:  # the same person scanned twice at once
        existing = db.session.execute(
            select(Attendance).where(Attendance.meeting_id == meeting.id, Attendance.person_id == person.id)
        ).scalar_one()
        return existing, False
    participation.record(ParticipationKind.ATTENDED, person, "meeting", meeting.id, at=at)
    return attendance, True


def person_from(data: dict, *, user: User | None = None) -> Person:
    """The person checking in: the signed-in account, or a name, phone and resident group."""
    if user is not None:
        return participation.person_for(user=user)
    name = (data.get("name") or "").strip()
    phone = matters.normalise_phone(data.get("phone"))
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [_("Enter your name.")]
    if not phone or not matters.PHONE.match(phone):
        errors["phone"] = [str(matters.PHONE_MESSAGE)]
    group_id = data.get("resident_group_id")
    if not group_id or tenancy.get_owned(ResidentGroup, group_id) is None:
        errors["resident_group_id"] = [_("Choose your resident group.")]
    if errors:
        raise ValidationFailed(errors=errors)
    return participation.person_for(name=name, phone=phone, group_id=group_id)


def check_in_person(
    community: Community,
    meeting: Meeting,
    data: dict,
    *,
    method: CheckInMethod,
    user: User | None = None,
    by: Actor | None = None,
) -> tuple[Attendance, bool]:
    """Check in the signed-in ``user``, or the person ``data`` names (name, phone, resident group).
    A hand check-in is refused before the person is looked up, so a refusal writes nothing."""
    if method == CheckInMethod.MANUAL:
        _may_check_in_by_hand(community, meeting, by, utcnow())
    return check_in(community, meeting, person_from(data, user=user), method=method, by=by)


# --- online comments -------------------------------------------------------------------------------


def comment(community: Community, meeting: Meeting, item: AgendaItem, body: str, *, actor: Actor,
            at: datetime | None = None) -> AgendaComment:  # fmt: skip
    """A member's comment on an agenda item, before the meeting is held (线上议事)."""
    require(actor, "meetings:read", community=community)
    if actor.user is None:
        raise PermissionDenied(_("Sign in to comment."))
    _require_state(meeting, MeetingStatus.PLANNED, message=_("Comments close when the meeting is held."))
    body = (body or "").strip()
    if not body:
        raise _invalid("body", _("Write something first."))
    if len(body) > 2000:
        raise _invalid("body", _("At most 2000 characters."))
    person = participation.person_for(user=actor.user)
    at = at or utcnow()
    entry = AgendaComment(community_id=community.id, agenda_item_id=item.id, person_id=person.id, body=body, at=at)
    db.session.add(entry)
    db.session.flush()
    participation.record(ParticipationKind.COMMENTED, person, "agenda_item", item.id, at=at)
    return entry


# --- iCalendar ------------------------------------------------------------------------------------


def _event(meeting: Meeting, community: Community, url: str, location: str) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"meeting-{meeting.id}@{community.slug}.yishi")
    event.add("summary", meeting.title)
    event.add("dtstart", meeting.starts_at)
    event.add("dtend", meeting.ends_at)
    event.add("dtstamp", meeting.created_at or utcnow())
    if location:
        event.add("location", location)
    if meeting.topic:
        event.add("description", meeting.topic)
    event.add("url", url)
    event.add("status", "CANCELLED" if meeting.status == MeetingStatus.CANCELLED else "CONFIRMED")
    return event


def ical(community: Community, meetings_with_links: list[tuple[Meeting, str, str]]) -> bytes:
    """An iCalendar document of the given meetings: (meeting, its page URL, its place)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Yishi//community deliberation//ZH")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{community.name_zh} 议事活动")
    for meeting, url, location in meetings_with_links:
        calendar.add_component(_event(meeting, community, url, location))
    return calendar.to_ical()
