from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from yishi.modules.matters.models import Channel, EscalationTarget, Outcome


def _choice_id(value):
    return int(value) if value not in (None, "", "None") else None


class MatterForm(FlaskForm):
    """What a resident (or a moderator on a resident's behalf) fills in."""

    title = StringField(
        _l("What is the matter?"),
        validators=[DataRequired(message=_l("Give the matter a short title.")), Length(max=120)],
        render_kw={"placeholder": _l("e.g. The streetlight at the bridge is out")},
    )
    category_id = SelectField(_l("Category"), coerce=_choice_id, validators=[DataRequired(_l("Choose a category."))])
    description = TextAreaField(_l("Details"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 4})
    resident_group_id = SelectField(_l("Resident group"), coerce=_choice_id, validators=[Optional()])
    address = StringField(_l("Where"), validators=[Optional(), Length(max=200)])
    parties = TextAreaField(
        _l("Parties involved"),
        description=_l("For a dispute: the people involved, one per line."),
        validators=[Optional(), Length(max=1200)],
        render_kw={"rows": 2},
    )
    reporter_name = StringField(_l("Your name"), validators=[Optional(), Length(max=120)])
    reporter_phone = StringField(
        _l("Your phone"),
        validators=[Optional(), Length(max=32)],
        description=_l("A moderator calls you back. The public board never shows it."),
        render_kw={"inputmode": "tel", "autocomplete": "tel"},
    )
    photos = MultipleFileField(
        _l("Photos"),
        description=_l("Up to 6 photos, JPEG, PNG or WebP, 5 MB each."),
        render_kw={"accept": "image/jpeg,image/png,image/webp", "multiple": True},
    )
    submit = SubmitField(_l("Raise the matter"))


class RecordForm(MatterForm):
    """A moderator records a matter raised at a point or on the phone."""

    channel = RadioField(
        _l("Raised"),
        choices=[
            SelectChoice(Channel.OFFLINE.value, _l("in person at a point")),
            SelectChoice(Channel.PHONE.value, _l("on the phone")),
        ],
        default=Channel.OFFLINE.value,
    )
    point_id = SelectField(_l("Deliberation point"), coerce=_choice_id, validators=[Optional()])


class VisitRowForm(FlaskForm):
    class Meta:
        csrf = False  # part of VisitForm, which carries the token

    title = StringField(_l("Matter"), validators=[Optional(), Length(max=120)])
    category_id = SelectField(_l("Category"), coerce=_choice_id, validators=[Optional()])
    reporter_name = StringField(_l("Resident"), validators=[Optional(), Length(max=120)])
    reporter_phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)])
    description = StringField(_l("Details"), validators=[Optional(), Length(max=1000)])


class VisitForm(FlaskForm):
    """Door-to-door visits: one household round, several matters in one sitting."""

    resident_group_id = SelectField(_l("Resident group visited"), coerce=_choice_id, validators=[Optional()])
    rows = FieldList(FormField(VisitRowForm), min_entries=6, max_entries=20)
    submit = SubmitField(_l("Record the matters"))


class TrackForm(FlaskForm):
    code = StringField(
        _l("Tracking code"),
        validators=[DataRequired(message=_l("Enter the tracking code you were given.")), Length(max=20)],
        render_kw={"placeholder": "ABCDE-23456", "autocomplete": "off", "autocapitalize": "characters"},
    )
    submit = SubmitField(_l("Follow the matter"))


class TransitionForm(FlaskForm):
    action = HiddenField(validators=[DataRequired()])
    version = HiddenField()
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 2})
    public = SelectField(
        _l("Who sees the note"),
        choices=[SelectChoice("1", _l("everyone following the matter")), SelectChoice("0", _l("handlers only"))],
        default="1",
    )
    outcome = SelectField(
        _l("Outcome of the mediation"),
        choices=[
            SelectChoice("", "—"),
            SelectChoice(Outcome.AGREEMENT.value, _l("Agreement reached")),
            SelectChoice(Outcome.NO_AGREEMENT.value, _l("No agreement")),
        ],
        validators=[Optional()],
    )
    agreement_text = TextAreaField(
        _l("The agreement"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 3}
    )
    escalate_to = SelectField(
        _l("Escalate to"),
        choices=[
            SelectChoice(EscalationTarget.COMMUNITY.value, _l("the community admins")),
            SelectChoice(EscalationTarget.STREET.value, _l("the street office")),
        ],
        default=EscalationTarget.COMMUNITY.value,
    )
    submit = SubmitField(_l("Go"))


class NoteForm(FlaskForm):
    note = TextAreaField(
        _l("Add information"),
        validators=[DataRequired(_l("Write something first.")), Length(max=5000)],
        render_kw={"rows": 2},
    )
    public = SelectField(
        _l("Who sees it"),
        choices=[SelectChoice("1", _l("everyone following the matter")), SelectChoice("0", _l("handlers only"))],
        default="1",
    )
    submit = SubmitField(_l("Add"))


class RatingForm(FlaskForm):
    score = RadioField(
        _l("How satisfied are you?"),
        choices=[SelectChoice(str(n), str(n)) for n in range(5, 0, -1)],
        validators=[DataRequired(_l("Rate from 1 to 5."))],
    )
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})
    submit = SubmitField(_l("Send the rating"))


class PhotoForm(FlaskForm):
    photos = MultipleFileField(_l("Photos"), render_kw={"accept": "image/jpeg,image/png,image/webp", "multiple": True})
    submit = SubmitField(_l("Add photos"))


class QueueFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter

    status = SelectField(_l("Status"), validators=[Optional()])
    category_id = SelectField(_l("Category"), coerce=_choice_id, validators=[Optional()])
    resident_group_id = SelectField(_l("Resident group"), coerce=_choice_id, validators=[Optional()])
    point_id = SelectField(_l("Deliberation point"), coerce=_choice_id, validators=[Optional()])
    channel = SelectField(_l("Channel"), validators=[Optional()])
    overdue = SelectField(
        _l("Overdue"),
        choices=[SelectChoice("", _l("all")), SelectChoice("1", _l("overdue only")), SelectChoice("0", _l("on time"))],
        validators=[Optional()],
    )
    q = StringField(_l("Search"), validators=[Optional(), Length(max=100)])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=1_000_000)])
