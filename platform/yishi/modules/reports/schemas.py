from __future__ import annotations

from datetime import date

import marshmallow as ma
from flask_babel import lazy_gettext as _l
from marshmallow import validate

from yishi.core.schemas import Integer


class ReportCreateSchema(ma.Schema):
    """A month (``2026-10``), a quarter (``2026-Q3``), a year (``2026``), or ``start`` and ``end`` days."""

    month = ma.fields.String(validate=validate.Regexp(r"^20\d\d-(0[1-9]|1[0-2])$", error=_l("A month like 2026-10.")))
    quarter = ma.fields.String(validate=validate.Regexp(r"^20\d\d-Q[1-4]$", error=_l("A quarter like 2026-Q3.")))
    year = Integer(validate=validate.Range(min=2000, max=2100))
    start = ma.fields.Date(
        validate=validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31)),
        metadata={"description": "first day, included"},
    )
    end = ma.fields.Date(
        validate=validate.Range(min=date(2000, 1, 1), max=date(2100, 12, 31)),
        metadata={"description": "last day, included"},
    )

    @ma.validates_schema
    def _one_period(self, data, **kwargs):
        given = [key for key in ("month", "quarter", "year") if key in data]
        custom = "start" in data or "end" in data
        if len(given) + custom != 1:
            raise ma.ValidationError(str(_l("Give exactly one of month, quarter, year, or start and end.")), "_schema")
        if custom and not ("start" in data and "end" in data):
            raise ma.ValidationError(str(_l("Give both start and end.")), "end")


class ReportSchema(ma.Schema):
    id = Integer()
    kind = ma.fields.String()
    title = ma.fields.String()
    label = ma.fields.String()
    period_start = ma.fields.AwareDateTime()
    period_end = ma.fields.AwareDateTime()
    status = ma.fields.String(metadata={"enum": ["queued", "running", "finished", "failed"]})
    progress = Integer()
    created_at = ma.fields.AwareDateTime()
    finished_at = ma.fields.AwareDateTime(allow_none=True)
    definitions_version = ma.fields.String()
    snapshot = ma.fields.Dict(allow_none=True, metadata={"description": "the figures as computed then"})
    exports = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    url = ma.fields.String()


class ExportArgsSchema(ma.Schema):
    locale = ma.fields.String(load_default="zh_CN", validate=validate.OneOf(["zh_CN", "en"]))
