from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from yishi.core.schemas import Flag, IdList, Integer

CODE = validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,39}$")


class PointSchema(ma.Schema):
    id = Integer(dump_only=True)
    code = ma.fields.String(required=True, validate=CODE)
    name_zh = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    name_en = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    address = ma.fields.String(load_default="", validate=validate.Length(max=200))
    latitude = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = ma.fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180))
    opening_hours = ma.fields.String(load_default="", validate=validate.Length(max=500))
    active = Flag(load_default=True)
    position = Integer(load_default=0, validate=validate.Range(min=0, max=10000))
    resident_group_ids = IdList(load_default=list)
    moderators = ma.fields.List(ma.fields.String(), dump_only=True)
    page_url = ma.fields.String(dump_only=True)
    poster_url = ma.fields.String(dump_only=True)
    qr_svg_url = ma.fields.String(dump_only=True)
    qr_png_url = ma.fields.String(dump_only=True)


class PointUpdateSchema(PointSchema):
    """Every field optional: use it as ``PointUpdateSchema(partial=True)``."""


class CoverageGroupSchema(ma.Schema):
    id = Integer()
    code = ma.fields.String()
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    point_codes = ma.fields.List(ma.fields.String())


class CoverageSchema(ma.Schema):
    groups = ma.fields.List(ma.fields.Nested(CoverageGroupSchema))
    uncovered_count = Integer()
