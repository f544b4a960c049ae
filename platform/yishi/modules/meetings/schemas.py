from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from yishi.core.api import PageArgsSchema
from yishi.core.schemas import Flag, Id, Integer
from yishi.modules.meetings.models import MeetingStatus


class MeetingCreateSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    topic = ma.fields.String(load_default="", validate=validate.Length(max=5000))
    point_id = Id(load_default=None, allow_none=True, metadata={"description": "empty for an online meeting"})
    location = ma.fields.String(load_default="", validate=validate.Length(max=200))
    starts_at = ma.fields.AwareDateTime(required=True)
    ends_at = ma.fields.AwareDateTime(required=True)
    invited_group_ids = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=200))
    invited_user_ids = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=500))
    matter_ids = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=50))


class AgendaItemSchema(ma.Schema):
    id = Integer(dump_only=True)
    position = Integer(dump_only=True)
    matter_id = Id(load_default=None, allow_none=True)
    title = ma.fields.String(load_default="", validate=validate.Length(max=120))
    decision = ma.fields.String(dump_only=True)
    decision_kind = ma.fields.String(dump_only=True, allow_none=True)
    votes_for = Integer(dump_only=True, allow_none=True)
    votes_against = Integer(dump_only=True, allow_none=True)
    votes_abstain = Integer(dump_only=True, allow_none=True)
    matter_action = ma.fields.String(dump_only=True)
    decided_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)


class MeetingSchema(ma.Schema):
    id = Integer()
    title = ma.fields.String()
    topic = ma.fields.String()
    point_id = Integer(allow_none=True)
    location = ma.fields.String()
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    status = ma.fields.String(metadata={"enum": [s.value for s in MeetingStatus]})
    cancel_reason = ma.fields.String()
    minutes = ma.fields.String(metadata={"description": "Markdown, once published (or to writers)"})
    minutes_html = ma.fields.String(metadata={"description": "the minutes rendered and sanitised"})
    held_at = ma.fields.AwareDateTime(allow_none=True)
    minutes_published_at = ma.fields.AwareDateTime(allow_none=True)
    attendance_count = Integer()
    invited_group_ids = ma.fields.List(Integer())
    agenda = ma.fields.List(ma.fields.Nested(AgendaItemSchema))
    url = ma.fields.String()


class MeetingFilterSchema(PageArgsSchema):
    upcoming = ma.fields.Boolean(metadata={"description": "true: planned and not over; false: the others"})


class CancelSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class MinutesSchema(ma.Schema):
    minutes = ma.fields.String(required=True, validate=validate.Length(max=50_000))
    publish = Flag(load_default=False)


class AgendaDecisionSchema(ma.Schema):
    decision = ma.fields.String(required=True, validate=validate.Length(min=1, max=5000))
    decision_kind = ma.fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["vote", "consensus"]))
    votes_for = Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=100_000))
    votes_against = Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=100_000))
    votes_abstain = Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=100_000))
    matter_action = ma.fields.String(load_default="", validate=validate.OneOf(["", "start", "resolve"]))
    outcome = ma.fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(["agreement", "no_agreement"])
    )
    agreement_text = ma.fields.String(load_default="", validate=validate.Length(max=5000))


class AttendeeSchema(ma.Schema):
    name = ma.fields.String()
    phone = ma.fields.String()
    resident_group_id = Integer(allow_none=True)
    method = ma.fields.String()
    at = ma.fields.AwareDateTime()


class ManualCheckInSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    phone = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    resident_group_id = Id(required=True)


class CheckInResultSchema(ma.Schema):
    new = ma.fields.Boolean()
    attendance_count = Integer()


class ParticipationArgsSchema(ma.Schema):
    start = ma.fields.AwareDateTime(load_default=None, metadata={"description": "from (inclusive)"})
    end = ma.fields.AwareDateTime(load_default=None, metadata={"description": "until (exclusive)"})


class ParticipationSchema(ma.Schema):
    distinct_participants = Integer()
    by_kind = ma.fields.Dict(keys=ma.fields.String(), values=Integer())
    meetings_held = Integer()
