"""marshmallow schemas: tenant files (TOML) and the REST API share the same field rules."""

from __future__ import annotations

from zoneinfo import available_timezones

import marshmallow as ma
from marshmallow import validate

from yishi.core.schemas import Integer
from yishi.modules.communities.models import SLUG_PATTERN, CommunityKind, CommunityStatus

_slug = validate.Regexp(SLUG_PATTERN)
_name = validate.Length(min=1, max=120)


def _time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ma.ValidationError("Not a valid time zone.")


class ResidentGroupSchema(ma.Schema):
    id = Integer(dump_only=True)
    code = ma.fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"))
    name_zh = ma.fields.String(required=True, validate=_name)
    name_en = ma.fields.String(required=True, validate=validate.Length(min=1, max=160))
    household_count = Integer(allow_none=True, validate=validate.Range(min=0, max=100_000))
    position = Integer(load_default=0, validate=validate.Range(min=0, max=10000))


class ResidentGroupUpdateSchema(ResidentGroupSchema):
    code = ma.fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"))
    name_zh = ma.fields.String(validate=_name)
    name_en = ma.fields.String(validate=validate.Length(min=1, max=160))
    position = Integer(validate=validate.Range(min=0, max=10000))


class CommunitySchema(ma.Schema):
    slug = ma.fields.String(dump_only=True)
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    street = ma.fields.String(attribute="street_slug", dump_only=True)
    kind = ma.fields.Enum(CommunityKind, by_value=True)
    time_zone = ma.fields.String()
    resident_count = Integer()
    status = ma.fields.Enum(CommunityStatus, by_value=True, dump_only=True)
    resident_group_count = Integer(dump_only=True)


class StreetSchema(ma.Schema):
    slug = ma.fields.String(dump_only=True)
    name_zh = ma.fields.String(dump_only=True)
    name_en = ma.fields.String(dump_only=True)
    city = ma.fields.String(dump_only=True)
    time_zone = ma.fields.String(dump_only=True)


# --- tenant files -----------------------------------------------------------------------------------


class StreetFileSchema(ma.Schema):
    slug = ma.fields.String(required=True, validate=_slug)
    name_zh = ma.fields.String(required=True, validate=_name)
    name_en = ma.fields.String(required=True, validate=validate.Length(min=1, max=160))
    city = ma.fields.String(load_default="")
    time_zone = ma.fields.String(load_default="Asia/Shanghai", validate=_time_zone)


class CommunityFileSchema(ma.Schema):
    slug = ma.fields.String(required=True, validate=_slug)
    name_zh = ma.fields.String(required=True, validate=_name)
    name_en = ma.fields.String(required=True, validate=validate.Length(min=1, max=160))
    street = ma.fields.String(required=True, validate=_slug)
    kind = ma.fields.Enum(CommunityKind, by_value=True, load_default=CommunityKind.URBAN)
    time_zone = ma.fields.String(load_default="Asia/Shanghai", validate=_time_zone)
    default_locale = ma.fields.String(load_default="zh_CN", validate=validate.OneOf(["zh_CN", "en"]))
    resident_count = Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))
    status = ma.fields.Enum(CommunityStatus, by_value=True, load_default=None)
    description_zh = ma.fields.String(load_default="")
    description_en = ma.fields.String(load_default="")


class PointFileSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,39}$"))
    name_zh = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    name_en = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    address = ma.fields.String(load_default="")
    opening_hours = ma.fields.String(load_default="")
    latitude = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180))
    groups = ma.fields.List(ma.fields.String(), load_default=list)


class CriterionFileSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,39}$"))
    name_zh = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    name_en = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    weight = ma.fields.Float(load_default=1.0, validate=validate.Range(min=0, min_inclusive=False))


class TenantFileSchema(ma.Schema):
    """One file of tenants/: either a ``[street]`` or a ``[community]`` with its ``[[resident_groups]]``,
    ``template`` (a category template), ``[[categories]]``, ``[[points]]`` and ``[[criteria]]``."""

    street = ma.fields.Nested(StreetFileSchema)
    community = ma.fields.Nested(CommunityFileSchema)
    template = ma.fields.String(load_default=None)
    resident_groups = ma.fields.List(ma.fields.Nested(ResidentGroupSchema), load_default=list)
    categories = ma.fields.List(ma.fields.Dict(), load_default=list)
    points = ma.fields.List(ma.fields.Nested(PointFileSchema), load_default=list)
    criteria = ma.fields.List(ma.fields.Nested(CriterionFileSchema), load_default=list)

    @ma.validates_schema
    def _one_kind(self, data, **kwargs):
        if ("street" in data) == ("community" in data):
            raise ma.ValidationError("A tenant file has either a [street] or a [community] table.")
        if "street" in data and any(
            data.get(k) for k in ("resident_groups", "categories", "points", "criteria", "template")
        ):
            raise ma.ValidationError("Groups, categories, points and criteria belong to a community, not a street.")
        codes = [g["code"] for g in data.get("resident_groups", [])]
        if len(codes) != len(set(codes)):
            raise ma.ValidationError("Resident group codes must be unique.", "resident_groups")
