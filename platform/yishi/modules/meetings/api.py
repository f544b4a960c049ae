"""REST: deliberation meetings — agenda, attendance, minutes, decisions — and participation figures."""

from __future__ import annotations

import marshmallow as ma
from flask import request, url_for
from flask.views import MethodView

from yishi.core.api import page_schema, paginate
from yishi.core.db import db
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import can, require
from yishi.modules.accounts.services import mask_name, mask_phone
from yishi.modules.communities.context import community_api, current_community
from yishi.modules.meetings import services
from yishi.modules.meetings.models import CheckInMethod, MeetingStatus
from yishi.modules.meetings.schemas import (
    AgendaDecisionSchema,
    AgendaItemSchema,
    AttendeeSchema,
    CancelSchema,
    CheckInResultSchema,
    ManualCheckInSchema,
    MeetingCreateSchema,
    MeetingFilterSchema,
    MeetingSchema,
    MinutesSchema,
    ParticipationArgsSchema,
    ParticipationSchema,
)
from yishi.modules.participation import services as participation

blp = community_api(
    "meetings_api",
    __name__,
    "Deliberation meetings (议事活动): agenda of matters, attendance, minutes, decisions; participation.",
)


@blp.before_request
def _objects_of_the_url_exist():
    """A meeting or agenda item this community does not own answers 404 before any body is read."""
    args = request.view_args or {}
    if "meeting_id" in args:
        require(current_actor(), "meetings:read", community=current_community())
        meeting = services.get_meeting(args["meeting_id"])
        if "item_id" in args:
            services.get_item(meeting, args["item_id"])


def _describe(meeting) -> dict:
    writer = can(current_actor(), "meetings:write", community=current_community())
    published = meeting.status == MeetingStatus.PUBLISHED
    group_ids, _users = services.invitations_of(meeting)
    return {
        "id": meeting.id,
        "title": meeting.title,
        "topic": meeting.topic,
        "point_id": meeting.point_id,
        "location": meeting.location,
        "starts_at": meeting.starts_at,
        "ends_at": meeting.ends_at,
        "status": meeting.status.value,
        "cancel_reason": meeting.cancel_reason,
        "minutes": meeting.minutes if (published or writer) else "",
        "minutes_html": str(services.render_minutes(meeting.minutes)) if (published or writer) else "",
        "held_at": meeting.held_at,
        "minutes_published_at": meeting.minutes_published_at,
        "attendance_count": services.attendance_counts([meeting.id]).get(meeting.id, 0),
        "invited_group_ids": group_ids,
        "agenda": services.agenda_of(meeting),
        "url": url_for("meetings.show", meeting_id=meeting.id, _external=True),
    }


@blp.route("/meetings")
class Meetings(MethodView):
    @blp.arguments(MeetingFilterSchema, location="query")
    @blp.response(200, page_schema(MeetingSchema))
    def get(self, args):
        """Meetings, newest first (``upcoming=true``: the planned ones still to come, soonest first)"""
        require(current_actor(), "meetings:read", community=current_community())
        body, headers = paginate(services.meetings_statement(upcoming=args.get("upcoming")), args)
        body["items"] = [_describe(m) for m in body["items"]]
        return body, headers

    @blp.arguments(MeetingCreateSchema)
    @blp.response(201, MeetingSchema)
    def post(self, data):
        """Convene a meeting (accepts Idempotency-Key)"""
        meeting = services.create_meeting(current_community(), data, actor=current_actor())
        db.session.flush()
        return _describe(meeting), {"Location": url_for(".MeetingById", meeting_id=meeting.id, _external=True)}


@blp.route("/meetings/<int:meeting_id>")
class MeetingById(MethodView):
    @blp.response(200, MeetingSchema)
    def get(self, meeting_id: int):
        """One meeting with its agenda and decisions"""
        return _describe(services.get_meeting(meeting_id))


@blp.route("/meetings/<int:meeting_id>/agenda")
class Agenda(MethodView):
    @blp.arguments(AgendaItemSchema)
    @blp.response(201, AgendaItemSchema)
    def post(self, data, meeting_id: int):
        """Put a matter (or a free topic) on the agenda"""
        item = services.add_agenda_item(
            current_community(),
            services.get_meeting(meeting_id),
            actor=current_actor(),
            matter_id=data.get("matter_id"),
            title=data.get("title", ""),
        )
        db.session.flush()
        return item


@blp.route("/meetings/<int:meeting_id>/cancel")
class Cancel(MethodView):
    @blp.arguments(CancelSchema)
    @blp.response(200, MeetingSchema)
    def post(self, data, meeting_id: int):
        """Cancel a planned meeting, with the reason"""
        meeting = services.cancel_meeting(
            current_community(), services.get_meeting(meeting_id), data["reason"], actor=current_actor()
        )
        db.session.flush()
        return _describe(meeting)


@blp.route("/meetings/<int:meeting_id>/held")
class Held(MethodView):
    @blp.response(200, MeetingSchema)
    def post(self, meeting_id: int):
        """Record that the meeting took place"""
        meeting = services.mark_held(current_community(), services.get_meeting(meeting_id), actor=current_actor())
        db.session.flush()
        return _describe(meeting)


@blp.route("/meetings/<int:meeting_id>/minutes")
class Minutes(MethodView):
    @blp.arguments(MinutesSchema)
    @blp.response(200, MeetingSchema)
    def put(self, data, meeting_id: int):
        """Write the minutes (Markdown); ``publish: true`` publishes them to the community"""
        community, meeting = current_community(), services.get_meeting(meeting_id)
        services.save_minutes(community, meeting, data["minutes"], actor=current_actor())
        if data["publish"]:
            services.publish_minutes(community, meeting, actor=current_actor())
        db.session.flush()
        return _describe(meeting)


@blp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/decision")
class Decision(MethodView):
    @blp.arguments(AgendaDecisionSchema)
    @blp.response(200, AgendaItemSchema)
    def post(self, data, meeting_id: int, item_id: int):
        """Record an item's decision; ``matter_action`` moves its matter (start, resolve) through the workflow"""
        meeting = services.get_meeting(meeting_id)
        item = services.decide(
            current_community(), meeting, services.get_item(meeting, item_id), data, actor=current_actor()
        )
        db.session.flush()
        return item


@blp.route("/meetings/<int:meeting_id>/attendance")
class MeetingAttendance(MethodView):
    @blp.response(200, AttendeeSchema(many=True))
    def get(self, meeting_id: int):
        """Who attended (phones and names masked without ``meetings:write``)"""
        people = services.attendance_of(services.get_meeting(meeting_id))
        if not can(current_actor(), "meetings:write", community=current_community()):
            people = [
                services.Attendee(mask_name(p.name), mask_phone(p.phone), p.resident_group_id, p.method, p.at)
                for p in people
            ]
        return [p.__dict__ for p in people]

    @blp.arguments(ManualCheckInSchema)
    @blp.response(200, CheckInResultSchema)
    def post(self, data, meeting_id: int):
        """Check someone in by hand, from 30 minutes before the start (409 earlier); each person is counted
        once, and a member's name and phone are the member"""
        community, meeting = current_community(), services.get_meeting(meeting_id)
        require(current_actor(), "meetings:write", community=community)
        _attendance, new = services.check_in_person(
            community, meeting, data, method=CheckInMethod.MANUAL, by=current_actor()
        )
        db.session.flush()
        return {"new": new, "attendance_count": services.attendance_counts([meeting.id]).get(meeting.id, 0)}


@blp.route("/participation")
class Participation(MethodView):
    @blp.arguments(ParticipationArgsSchema, location="query")
    @blp.response(200, ParticipationSchema)
    def get(self, args):
        """Distinct participants (any way of taking part, each person once) and meetings held in [start, end)"""
        require(current_actor(), "meetings:read", community=current_community())
        return {
            "distinct_participants": participation.distinct_participants(args["start"], args["end"]),
            "by_kind": participation.participants_by_kind(args["start"], args["end"]),
            "meetings_held": services.meetings_held(args["start"], args["end"]),
        }


class CommentSchema(ma.Schema):
    name = ma.fields.String(metadata={"description": "masked (张**) without meetings:write"})
    body = ma.fields.String()
    at = ma.fields.AwareDateTime()


@blp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/comments")
class AgendaComments(MethodView):
    @blp.response(200, CommentSchema(many=True))
    def get(self, meeting_id: int, item_id: int):
        """Residents' comments on an agenda item, given online before the meeting (comments are made by
        signed-in residents on the web: a token is not a person)"""
        meeting = services.get_meeting(meeting_id)
        item = services.get_item(meeting, item_id)
        writer = can(current_actor(), "meetings:write", community=current_community())
        return [
            {"name": name if writer else mask_name(name), "body": body, "at": at}
            for name, body, at in services.comments_of([item])[item.id]
        ]
