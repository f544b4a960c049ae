"""marshmallow schemas: the REST API and the tenant files share the same field rules.

Rules that need the database or the round (weights > 0, scores in the round's scale, members only)
live in the services, so that pages, the API and tenant files are refused with the same messages.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from yishi.core.api import PageArgsSchema
from yishi.core.schemas import Flag, Id, IdList, Integer
from yishi.modules.selection.models import MAX_POSITION, MAX_WEIGHT, RoundStatus

CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
_code = validate.Regexp(CODE_PATTERN)
_name_zh = validate.Length(min=1, max=80)
_name_en = validate.Length(min=1, max=120)
_position = validate.Range(min=0, max=MAX_POSITION)
_scale = validate.Range(min=0, max=100)
# Weights are checked by the services (one message for pages, the API and tenant files); the bounds are
# documented here so the OpenAPI document says what the server accepts.
_weight = {
    "description": f"Greater than 0, at most {MAX_WEIGHT:g}.",
    "minimum": 0,
    "exclusiveMinimum": True,
    "maximum": MAX_WEIGHT,
}


# --- criteria ---------------------------------------------------------------------------------------


class CriterionSchema(ma.Schema):
    id = Integer(dump_only=True)
    code = ma.fields.String(required=True, validate=_code)
    name_zh = ma.fields.String(required=True, validate=_name_zh)
    name_en = ma.fields.String(required=True, validate=_name_en)
    weight = ma.fields.Float(load_default=1.0, metadata=_weight)
    position = Integer(validate=_position)
    active = ma.fields.Boolean(dump_only=True)


class CriterionUpdateSchema(ma.Schema):
    """Rename, reweight, reorder or reactivate. The code is the criterion's identity and stays."""

    name_zh = ma.fields.String(validate=_name_zh)
    name_en = ma.fields.String(validate=_name_en)
    weight = ma.fields.Float(metadata=_weight)
    position = Integer(validate=_position)
    active = Flag()


class CriterionFileSchema(ma.Schema):
    """One ``[[selection_criteria]]`` entry of a tenant file."""

    code = ma.fields.String(required=True, validate=_code)
    name_zh = ma.fields.String(required=True, validate=_name_zh)
    name_en = ma.fields.String(required=True, validate=_name_en)
    weight = ma.fields.Float(load_default=1.0, metadata=_weight)
    position = Integer(validate=_position)
    active = Flag(load_default=True)


# --- rounds ------------------------------------------------------------------------------------------


class RoundQueryArgsSchema(PageArgsSchema):
    status = ma.fields.Enum(RoundStatus, by_value=True)


class RoundCreateSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    point_id = Id(load_default=None, allow_none=True, metadata={"description": "None: whole community"})
    scale_min = Integer(load_default=1, validate=_scale)
    scale_max = Integer(load_default=5, validate=_scale)
    evaluator_ids = IdList(load_default=list)


class RoundSchema(ma.Schema):
    """A round in a list: no criteria, evaluators or ranking (see RoundDetailSchema)."""

    id = Integer()
    title = ma.fields.String()
    point_id = Integer(allow_none=True)
    status = ma.fields.Enum(RoundStatus, by_value=True)
    scale_min = Integer()
    scale_max = Integer()
    opened_by_id = Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    closed_at = ma.fields.DateTime(allow_none=True)


class RoundCriterionSchema(ma.Schema):
    criterion_id = Integer()
    code = ma.fields.String()
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    weight = ma.fields.Float(metadata={"description": "The weight when the round was opened."})


class CandidateProgressSchema(ma.Schema):
    candidate_id = Integer()
    evaluators_done = Integer(metadata={"description": "Evaluators who scored every criterion."})
    evaluators_expected = Integer()


class EvaluatorProgressSchema(ma.Schema):
    user_id = Integer()
    candidates_done = Integer()
    candidates_expected = Integer()


class ProgressSchema(ma.Schema):
    candidates = ma.fields.List(ma.fields.Nested(CandidateProgressSchema))
    evaluators = ma.fields.List(ma.fields.Nested(EvaluatorProgressSchema))


class CriterionResultSchema(ma.Schema):
    criterion_id = Integer()
    code = ma.fields.String()
    weight = ma.fields.Float()
    mean = ma.fields.Float(allow_none=True, metadata={"description": "None when nobody scored it."})
    count = Integer(metadata={"description": "Scores given on this criterion."})


class RankingRowSchema(ma.Schema):
    rank = Integer(metadata={"description": "Equal weighted means share a rank."})
    candidate_id = Integer()
    user_id = Integer()
    name = ma.fields.String()
    weighted_mean = ma.fields.Float(
        allow_none=True,
        metadata={"description": "Σ weight·mean over the criteria with a score, divided by Σ of their weights."},
    )
    evaluator_count = Integer(metadata={"description": "Evaluators who scored this candidate."})
    criteria = ma.fields.List(ma.fields.Nested(CriterionResultSchema))


class RoundDetailSchema(RoundSchema):
    criteria = ma.fields.List(ma.fields.Nested(RoundCriterionSchema))
    evaluator_ids = ma.fields.List(Integer())
    progress = ma.fields.Nested(ProgressSchema, metadata={"description": "Counts only: no score is shown."})
    ranking = ma.fields.List(
        ma.fields.Nested(RankingRowSchema),
        allow_none=True,
        metadata={"description": "Only once the round is closed; null while it is open."},
    )


class EvaluatorsSchema(ma.Schema):
    user_ids = IdList(required=True)


# --- candidates --------------------------------------------------------------------------------------


class CandidateCreateSchema(ma.Schema):
    user_id = Id(required=True, metadata={"description": "The member nominated."})
    reason = ma.fields.String(required=True, validate=validate.Length(max=2000))
    nominated_by_id = Id(
        load_default=None, allow_none=True, metadata={"description": "The member who nominated, if known."}
    )


class CandidateSchema(ma.Schema):
    id = Integer()
    round_id = Integer()
    user_id = Integer()
    name = ma.fields.String()
    nominated_by_id = Integer(allow_none=True)
    reason = ma.fields.String()
    created_at = ma.fields.DateTime()


# --- appointments ------------------------------------------------------------------------------------


class AppointmentQueryArgsSchema(PageArgsSchema):
    point_id = Id()
    current = ma.fields.Boolean(metadata={"description": "true: only appointments not ended"})


class AppointmentCreateSchema(ma.Schema):
    user_id = Id(required=True)
    point_id = Id(required=True)
    round_id = Id(
        load_default=None,
        allow_none=True,
        metadata={"description": "The closed round the moderator was selected in; null for a direct appointment."},
    )
    term_start = ma.fields.Date(required=True)
    term_end = ma.fields.Date(load_default=None, allow_none=True)
    note = ma.fields.String(load_default="", validate=validate.Length(max=200))


class AppointmentSchema(ma.Schema):
    id = Integer()
    user_id = Integer()
    name = ma.fields.String()
    point_id = Integer()
    round_id = Integer(allow_none=True)
    term_start = ma.fields.Date()
    term_end = ma.fields.Date(allow_none=True)
    appointed_by_id = Integer(allow_none=True)
    ended_at = ma.fields.DateTime(allow_none=True)
    note = ma.fields.String()
    created_at = ma.fields.DateTime()
