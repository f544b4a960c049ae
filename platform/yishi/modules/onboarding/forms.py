from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, PasswordField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, Regexp

from yishi.modules.communities.models import SLUG_PATTERN


class RegistrationForm(FlaskForm):
    name_zh = StringField(_l("Community name (Chinese)"), validators=[DataRequired(), Length(min=2, max=120)])
    name_en = StringField(_l("Community name (English)"), validators=[DataRequired(), Length(min=2, max=160)])
    slug = StringField(
        _l("Web address"),
        validators=[
            DataRequired(),
            Regexp(SLUG_PATTERN, message=_l("3 to 64 lower-case letters, digits and -, starting with a letter.")),
        ],
        description=_l("Your pages will be at /c/<address>/, e.g. shilipu."),
    )
    street = SelectField(_l("Street office"), validators=[DataRequired()])
    kind = SelectField(_l("Kind of community"), validators=[DataRequired()])
    resident_count = IntegerField(_l("Residents"), validators=[Optional(), NumberRange(min=0, max=1_000_000)])
    template = SelectField(_l("Category template"), validators=[Optional()])
    description_zh = TextAreaField(_l("About the community (Chinese)"), validators=[Optional(), Length(max=2000)])
    admin_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=120)])
    admin_email = EmailField(_l("Your email"), validators=[DataRequired(), Email()])
    admin_password = PasswordField(_l("Choose a password"), validators=[DataRequired(), Length(min=8, max=200)])
    admin_phone = StringField(_l("Your phone"), validators=[Optional(), Length(max=32)])
    invitation_code = StringField(
        _l("Invitation code (optional)"),
        validators=[Optional(), Length(max=40)],
        description=_l("From your street office: the community is activated at once."),
    )
    submit = SubmitField(_l("Apply"))


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Reject"))


class InvitationForm(FlaskForm):
    uses = IntegerField(
        _l("How many communities may use it"), default=1, validators=[DataRequired(), NumberRange(min=1, max=100)]
    )
    submit = SubmitField(_l("Issue an invitation code"))
