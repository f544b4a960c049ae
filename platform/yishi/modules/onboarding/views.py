"""Pages: register a community; the street office's applications and invitations; the setup checklist."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from yishi.core.db import db
from yishi.core.errors import FORM_ERRORS
from yishi.core.forms import perform, show_domain_error
from yishi.core.i18n import current_language
from yishi.core.security import limiter
from yishi.modules.accounts import services as accounts
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.forms import ActionForm
from yishi.modules.accounts.permissions import require
from yishi.modules.categories.services import load_templates
from yishi.modules.communities import services as communities
from yishi.modules.communities.context import community_pages, street_pages
from yishi.modules.onboarding import services
from yishi.modules.onboarding.forms import InvitationForm, RegistrationForm, RejectForm

blueprint = Blueprint("onboarding", __name__)
street_admin = street_pages("street_onboarding", __name__)
community_admin = community_pages("setup", __name__)


def _registration_form() -> RegistrationForm:
    form = RegistrationForm()
    english = current_language() == "en"
    form.street.choices = [("", _("— choose —"))] + [
        (s.slug, s.name_en if english else s.name_zh) for s in communities.list_streets()
    ]
    labels = {
        "agriculture": _("agriculture-related community"),
        "urban": _("urban community"),
        "old_town": _("old-town community"),
        "mixed": _("mixed community"),
    }
    form.kind.choices = list(labels.items())
    form.template.choices = [("", _("none: I will add categories myself"))] + [
        (name, t.label(current_language())) for name, t in load_templates().items()
    ]
    if current_user.is_authenticated:  # a signed-in person applies with their own account
        for field in ("admin_name", "admin_email", "admin_password", "admin_phone"):
            delattr(form, field)
    return form


@blueprint.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def register():
    form = _registration_form()
    if form.validate_on_submit():
        data = {name: field.data for name, field in form._fields.items() if name not in ("csrf_token", "submit")}
        data["description_en"] = ""
        user = current_user._get_current_object() if current_user.is_authenticated else None
        try:
            community, user = services.register_community(data, user=user)
            db.session.commit()
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(form, error)
        else:
            if not current_user.is_authenticated:
                locale = session.get("locale")
                session.clear()
                if locale:
                    session["locale"] = locale
                login_user(user)
                accounts.record_login(user)
                db.session.commit()
            if community.is_active:
                flash(_("%(name)s is active. Let's set it up.", name=community.name_zh), "success")
            else:
                flash(
                    _("Application sent. Your street office will review it; you will find its answer in your inbox."),
                    "success",
                )
            return redirect(url_for("setup.checklist", community_slug=community.slug))
    return render_template("onboarding/register.html", form=form), 400 if form.errors else 200


@street_admin.route("/admin/applications")
@login_required
def applications():
    require(current_actor(), "street:write", street=g.street)
    return render_template(
        "onboarding/applications.html",
        pending=services.pending_applications(g.street),
        decided=services.recent_decisions(g.street),
        approve_form=ActionForm(),
        reject_form=RejectForm(),
    )


@street_admin.route("/admin/applications/<community_slug>/approve", methods=["POST"])
@login_required
def approve(community_slug: str):
    require(current_actor(), "street:write", street=g.street)
    community = services.community_of_street(g.street, community_slug)
    if ActionForm().validate_on_submit():
        perform(
            lambda: services.approve(community, actor=current_actor()),
            success=_("%(name)s is approved and active.", name=community.name_zh),
        )
    return redirect(url_for(".applications"))


@street_admin.route("/admin/applications/<community_slug>/reject", methods=["POST"])
@login_required
def reject(community_slug: str):
    require(current_actor(), "street:write", street=g.street)
    community = services.community_of_street(g.street, community_slug)
    form = RejectForm()
    if form.validate_on_submit():
        perform(
            lambda: services.reject(community, form.reason.data, actor=current_actor()),
            success=_("%(name)s was rejected.", name=community.name_zh),
            category="info",
        )
    else:
        flash(_("Say why, so the community can apply again."), "danger")
    return redirect(url_for(".applications"))


@street_admin.route("/admin/invitations", methods=["GET", "POST"])
@login_required
def invitations():
    actor = current_actor()
    require(actor, "street:write", street=g.street)
    form = InvitationForm()
    new_code = None
    if form.validate_on_submit():
        _invitation, new_code = services.issue_invitation(g.street, actor=actor, uses=form.uses.data)
        db.session.commit()
    return render_template(
        "onboarding/invitations.html", form=form, new_code=new_code, invitations=services.invitations_of(g.street)
    )


@community_admin.route("/admin/setup")
@login_required
def checklist():
    require(current_actor(), "community:write", community=g.community)
    return render_template("onboarding/checklist.html", items=services.checklist(g.community))
