from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget


def _choice_id(value):
    return int(value) if value not in (None, "", "None") else None


class MeetingForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(_l("Give the meeting a title.")), Length(max=120)])
    topic = TextAreaField(_l("Topic"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 3})
    point_id = SelectField(
        _l("Deliberation point"),
        coerce=_choice_id,
        validators=[Optional()],
        description=_l("Leave empty for an online meeting."),
    )
    location = StringField(_l("Room or online link"), validators=[Optional(), Length(max=200)])
    starts_at = DateTimeLocalField(
        _l("Starts"), format="%Y-%m-%dT%H:%M", validators=[DataRequired(_l("Give the start of the meeting."))]
    )
    ends_at = DateTimeLocalField(
        _l("Ends"), format="%Y-%m-%dT%H:%M", validators=[DataRequired(_l("Give the end of the meeting."))]
    )
    invited_group_ids = SelectMultipleField(
        _l("Invite resident groups"), coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
    matter_ids = SelectMultipleField(
        _l("Matters on the agenda"), coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
    submit = SubmitField(_l("Convene the meeting"))


class AgendaForm(FlaskForm):
    matter_id = SelectField(_l("Matter"), coerce=_choice_id, validators=[Optional()])
    title = StringField(_l("Or a free topic"), validators=[Optional(), Length(max=120)])
    submit = SubmitField(_l("Add to the agenda"))


class CancelForm(FlaskForm):
    reason = TextAreaField(
        _l("Why is it cancelled?"),
        validators=[DataRequired(_l("Say why the meeting is cancelled.")), Length(max=2000)],
        render_kw={"rows": 2},
    )
    submit = SubmitField(_l("Cancel the meeting"))


class MinutesForm(FlaskForm):
    minutes = TextAreaField(
        _l("Minutes (Markdown)"), validators=[Optional(), Length(max=50_000)], render_kw={"rows": 10}
    )
    submit = SubmitField(_l("Save the minutes"))


class DecisionForm(FlaskForm):
    decision = TextAreaField(
        _l("Decision"),
        validators=[DataRequired(_l("Write down what was decided.")), Length(max=5000)],
        render_kw={"rows": 2},
    )
    decision_kind = SelectField(
        _l("How it was decided"),
        choices=[SelectChoice("", "—"), SelectChoice("consensus", _l("consensus")), SelectChoice("vote", _l("a vote"))],
        validators=[Optional()],
    )
    votes_for = IntegerField(_l("For"), validators=[Optional(), NumberRange(min=0, max=100_000)])
    votes_against = IntegerField(_l("Against"), validators=[Optional(), NumberRange(min=0, max=100_000)])
    votes_abstain = IntegerField(_l("Abstain"), validators=[Optional(), NumberRange(min=0, max=100_000)])
    matter_action = SelectField(
        _l("The matter"),
        choices=[
            SelectChoice("", _l("stays as it is")),
            SelectChoice("start", _l("work starts")),
            SelectChoice("resolve", _l("is resolved by this decision")),
        ],
        validators=[Optional()],
    )
    agreement_text = TextAreaField(
        _l("Agreement (for a dispute)"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 2}
    )
    submit = SubmitField(_l("Record the decision"))


class CommentForm(FlaskForm):
    body = TextAreaField(
        _l("Your view"),
        validators=[DataRequired(_l("Write something first.")), Length(max=2000)],
        render_kw={"rows": 2},
    )
    submit = SubmitField(_l("Comment"))


class CheckInForm(FlaskForm):
    token = HiddenField()
    name = StringField(_l("Your name"), validators=[Optional(), Length(max=120)])
    phone = StringField(
        _l("Your phone"), validators=[Optional(), Length(max=32)], render_kw={"inputmode": "tel", "autocomplete": "tel"}
    )
    resident_group_id = SelectField(_l("Resident group"), coerce=_choice_id, validators=[Optional()])
    submit = SubmitField(_l("Check in"))


class ManualCheckInForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter your name.")), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=32)])
    resident_group_id = SelectField(_l("Resident group"), coerce=_choice_id, validators=[Optional()])
    submit = SubmitField(_l("Check in by hand"))
