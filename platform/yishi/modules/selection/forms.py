"""Forms of the selection pages. Their checks are for the browser's sake; the services decide."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, FloatField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from yishi.modules.accounts.forms import MultiCheckboxField
from yishi.modules.selection.schemas import CODE_PATTERN


def optional_int(value) -> int | None:
    """A select's value: "" (nothing chosen) is None, anything else a whole number."""
    if value in (None, ""):
        return None
    return int(value)


class CriterionForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Regexp(CODE_PATTERN, message=_l("Lower-case letters, digits, - and _ only."))],
        description=_l("A short name in Latin letters that never changes, e.g. “fairness”."),
    )
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=80)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=120)])
    weight = FloatField(
        _l("Weight"),
        default=1.0,
        validators=[InputRequired()],
        description=_l("How much this criterion counts in the ranking; greater than 0."),
        render_kw={"inputmode": "decimal"},
    )
    submit = SubmitField(_l("Add criterion"))


class CriterionEditForm(FlaskForm):
    name_zh = StringField(_l("Name (Chinese)"), validators=[DataRequired(), Length(max=80)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=120)])
    weight = FloatField(
        _l("Weight"),
        validators=[InputRequired()],
        description=_l("Rounds already opened keep the weight they were opened with."),
        render_kw={"inputmode": "decimal"},
    )
    position = IntegerField(
        _l("Position"),
        validators=[InputRequired(), NumberRange(min=0, max=10000)],
        description=_l("Criteria are listed from the lowest position to the highest."),
    )
    submit = SubmitField(_l("Save"))


class RoundForm(FlaskForm):
    title = StringField(
        _l("Title"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("e.g. “Moderators of the east point, 2026”."),
    )
    point_id = SelectField(_l("Deliberation point"), coerce=optional_int)
    scale_min = IntegerField(_l("Lowest score"), default=1, validators=[InputRequired(), NumberRange(min=0, max=100)])
    scale_max = IntegerField(_l("Highest score"), default=5, validators=[InputRequired(), NumberRange(min=0, max=100)])
    evaluator_ids = MultiCheckboxField(_l("Evaluators"), coerce=int)
    submit = SubmitField(_l("Open the round"))


class EvaluatorsForm(FlaskForm):
    evaluator_ids = MultiCheckboxField(_l("Evaluators"), coerce=int)
    submit = SubmitField(_l("Save evaluators"))


class NominateForm(FlaskForm):
    user_id = SelectField(_l("Member"), coerce=optional_int, validators=[DataRequired()])
    reason = TextAreaField(
        _l("Why this member?"),
        validators=[DataRequired(), Length(max=2000)],
        description=_l("Prestige, ability, enthusiasm: say what you have seen them do."),
        render_kw={"rows": 3},
    )
    submit = SubmitField(_l("Nominate"))


class AppointForm(FlaskForm):
    user_id = SelectField(_l("Moderator"), coerce=optional_int, validators=[DataRequired()])
    point_id = SelectField(_l("Deliberation point"), coerce=optional_int, validators=[DataRequired()])
    term_start = DateField(_l("Term starts"), validators=[DataRequired()])
    term_end = DateField(
        _l("Term ends"), validators=[Optional()], description=_l("Leave empty for a term without a set end.")
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Appoint"))


def score_form_class(criteria: list[tuple[int, str]], scale_min: int, scale_max: int) -> type[FlaskForm]:
    """One whole-number field ``score_<criterion id>`` per criterion of a round, labelled with the
    criterion's name (``criteria``: (id, label) pairs, in the reader's language). A field left empty
    leaves that criterion unscored: the ranking averages over the criteria that were scored."""

    class ScoreForm(FlaskForm):
        submit = SubmitField(_l("Save scores"))

    for criterion_id, label in criteria:
        setattr(
            ScoreForm,
            f"score_{criterion_id}",
            IntegerField(
                label,
                validators=[Optional()],  # left empty: not scored on this criterion (yet)
                render_kw={"min": scale_min, "max": scale_max, "inputmode": "numeric"},
            ),
        )
    return ScoreForm
