from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from yishi.core.schemas import Flag, Integer
from yishi.modules.communities.models import SLUG_PATTERN, CommunityKind


class RegistrationSchema(ma.Schema):
    """A community applying (web form and street API share these rules)."""

    slug = ma.fields.String(required=True, validate=validate.Regexp(SLUG_PATTERN))
    name_zh = ma.fields.String(required=True, validate=validate.Length(min=2, max=120))
    name_en = ma.fields.String(required=True, validate=validate.Length(min=2, max=160))
    kind = ma.fields.Enum(CommunityKind, by_value=True, load_default=CommunityKind.URBAN)
    resident_count = Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))
    template = ma.fields.String(load_default=None, allow_none=True)
    description_zh = ma.fields.String(load_default="", validate=validate.Length(max=2000))
    description_en = ma.fields.String(load_default="", validate=validate.Length(max=2000))
    admin_name = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    admin_email = ma.fields.Email(required=True)
    admin_password = ma.fields.String(required=True, load_only=True, validate=validate.Length(min=8, max=200))
    admin_phone = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    activate = Flag(load_default=False)


class DecisionSchema(ma.Schema):
    reason = ma.fields.String(load_default="", validate=validate.Length(max=2000))


class RejectionSchema(ma.Schema):
    """A rejection says why, so the community can apply again (the service refuses a blank reason)."""

    reason = ma.fields.String(required=True, validate=validate.Length(max=2000), metadata={"pattern": r"\S"})


class ApplicationSchema(ma.Schema):
    slug = ma.fields.String()
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    kind = ma.fields.Enum(CommunityKind, by_value=True)
    status = ma.fields.Function(lambda c: c.status.value)
    resident_count = Integer()
    category_template = ma.fields.String(allow_none=True)
    applied_at = ma.fields.AwareDateTime(allow_none=True)
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    decision_reason = ma.fields.String()


class InvitationArgsSchema(ma.Schema):
    uses = Integer(load_default=1, validate=validate.Range(min=1, max=100))


class InvitationSchema(ma.Schema):
    code = ma.fields.String()
    uses_left = Integer()
    expires_at = ma.fields.AwareDateTime()
