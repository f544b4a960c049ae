from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from yishi.core.schemas import Flag, Integer
from yishi.modules.categories.models import CategoryKind

CODE = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MINUTES = validate.Range(min=1, max=365 * 24 * 60)


class CategorySchema(ma.Schema):
    id = Integer(dump_only=True)
    code = ma.fields.String(required=True, validate=CODE)
    name_zh = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    name_en = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    description_zh = ma.fields.String(load_default="", validate=validate.Length(max=2000))
    description_en = ma.fields.String(load_default="", validate=validate.Length(max=2000))
    kind = ma.fields.Enum(CategoryKind, by_value=True, load_default=CategoryKind.OTHER)
    first_response_minutes = Integer(load_default=15, validate=MINUTES)
    resolution_minutes = Integer(load_default=7 * 24 * 60, validate=MINUTES)
    active = Flag(load_default=True)
    position = Integer(load_default=0, validate=validate.Range(min=0, max=10000))
    template = ma.fields.String(dump_only=True, allow_none=True)


class CategoryUpdateSchema(CategorySchema):
    """Every field optional: use it as ``CategoryUpdateSchema(partial=True)``."""


class TemplateSchema(ma.Schema):
    """tenants/templates/<name>.toml"""

    name_zh = ma.fields.String(required=True)
    name_en = ma.fields.String(required=True)
    categories = ma.fields.List(
        ma.fields.Nested(CategorySchema(exclude=("active", "position"))), required=True, validate=validate.Length(min=1)
    )


class ApplyTemplateSchema(ma.Schema):
    template = ma.fields.String(required=True)
