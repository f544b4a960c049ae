from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from yishi.core.api import PageArgsSchema
from yishi.core.schemas import Flag, Id, Integer
from yishi.modules.matters.models import Channel, EscalationTarget, Outcome, Status
from yishi.modules.matters.workflow import TRANSITIONS

INTAKE_CHANNELS = [Channel.API.value, Channel.OFFLINE.value, Channel.PHONE.value, Channel.VISIT.value]


class MatterCreateSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    description = ma.fields.String(load_default="", validate=validate.Length(max=5000))
    category_id = Id(required=True)
    resident_group_id = Id(load_default=None, allow_none=True)
    point_id = Id(load_default=None, allow_none=True)
    channel = ma.fields.String(load_default=Channel.API.value, validate=validate.OneOf(INTAKE_CHANNELS))
    address = ma.fields.String(load_default="", validate=validate.Length(max=200))
    latitude = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180))
    reporter_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    reporter_phone = ma.fields.String(load_default="", validate=validate.Length(max=32))
    parties = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=120)), load_default=list, validate=validate.Length(max=10)
    )


class MatterSchema(ma.Schema):
    id = Integer()
    version = Integer()
    title = ma.fields.String()
    description = ma.fields.String()
    status = ma.fields.String(metadata={"enum": [s.value for s in Status]})
    status_label = ma.fields.String()
    channel = ma.fields.String(metadata={"enum": [c.value for c in Channel]})
    category_id = Integer()
    category = ma.fields.String()
    resident_group_id = Integer(allow_none=True)
    resident_group = ma.fields.String()
    point_id = Integer(allow_none=True)
    point = ma.fields.String()
    address = ma.fields.String()
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    reporter_name = ma.fields.String(metadata={"description": "masked unless the caller handles the matter"})
    reporter_phone = ma.fields.String(metadata={"description": "masked (138****1234) unless the caller handles it"})
    parties = ma.fields.List(ma.fields.String())
    assignee = ma.fields.String(allow_none=True)
    escalated_to = ma.fields.String(allow_none=True)
    resolution_note = ma.fields.String()
    outcome = ma.fields.String(allow_none=True)
    agreement_text = ma.fields.String()
    reject_reason = ma.fields.String()
    submitted_at = ma.fields.AwareDateTime()
    accepted_at = ma.fields.AwareDateTime(allow_none=True)
    resolved_at = ma.fields.AwareDateTime(allow_none=True)
    closed_at = ma.fields.AwareDateTime(allow_none=True)
    first_response_due_at = ma.fields.AwareDateTime()
    resolution_due_at = ma.fields.AwareDateTime()
    minutes_to_accept = Integer(allow_none=True)
    minutes_to_resolve = Integer(allow_none=True)
    first_response_met = ma.fields.Boolean(allow_none=True)
    resolution_met = ma.fields.Boolean(allow_none=True)
    overdue = ma.fields.Boolean()
    satisfaction = Integer(allow_none=True)
    satisfaction_comment = ma.fields.String()
    url = ma.fields.String()
    photos = ma.fields.List(ma.fields.Dict(), dump_only=True)


class CreatedMatterSchema(MatterSchema):
    tracking_code = ma.fields.String(
        allow_none=True, metadata={"description": "given once: the reporter follows the matter with it"}
    )


class MatterFilterSchema(PageArgsSchema):
    status = ma.fields.List(
        ma.fields.String(validate=validate.OneOf([s.value for s in Status])), validate=validate.Length(max=len(Status))
    )
    category_id = Id()
    resident_group_id = Id()
    point_id = Id()
    channel = ma.fields.String(validate=validate.OneOf([c.value for c in Channel]))
    overdue = ma.fields.Boolean()
    q = ma.fields.String(load_default="", validate=validate.Length(max=100))


class TransitionSchema(ma.Schema):
    action = ma.fields.String(required=True, validate=validate.OneOf(list(TRANSITIONS)))
    note = ma.fields.String(load_default="", validate=validate.Length(max=5000))
    public = Flag(load_default=True)
    outcome = ma.fields.String(load_default=None, allow_none=True, validate=validate.OneOf([o.value for o in Outcome]))
    agreement_text = ma.fields.String(load_default="", validate=validate.Length(max=5000))
    escalate_to = ma.fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf([t.value for t in EscalationTarget])
    )
    version = Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "the version you read; a newer one answers 409"},
    )


class NoteSchema(ma.Schema):
    note = ma.fields.String(required=True, validate=validate.Length(min=1, max=5000))
    public = Flag(load_default=True)


class RatingSchema(ma.Schema):
    score = Integer(required=True, validate=validate.Range(min=1, max=5))
    comment = ma.fields.String(load_default="", validate=validate.Length(max=2000))


class TimelineEntrySchema(ma.Schema):
    id = Integer()
    at = ma.fields.AwareDateTime()
    kind = ma.fields.String()
    action = ma.fields.String()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String(allow_none=True)
    actor = ma.fields.String()
    actor_role = ma.fields.String()
    note = ma.fields.String()
    public = ma.fields.Boolean()


class PhotoUploadSchema(ma.Schema):
    photos = ma.fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class BoardItemSchema(ma.Schema):
    id = Integer()
    title = ma.fields.String()
    status = ma.fields.String()
    status_label = ma.fields.String()
    category = ma.fields.String()
    resident_group = ma.fields.String()
    point = ma.fields.String()
    channel = ma.fields.String()
    submitted_at = ma.fields.AwareDateTime()
    resolved_at = ma.fields.AwareDateTime(allow_none=True)
    first_response_met = ma.fields.Boolean(allow_none=True)


class VolunteerSchema(ma.Schema):
    name = ma.fields.String()
    note = ma.fields.String()
    at = ma.fields.AwareDateTime()
