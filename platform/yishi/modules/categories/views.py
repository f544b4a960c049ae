"""Pages: a community's categories, for its admins."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from yishi.core.db import db
from yishi.core.errors import FORM_ERRORS
from yishi.core.forms import perform, show_domain_error
from yishi.core.i18n import current_language
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.forms import ActionForm
from yishi.modules.accounts.permissions import require
from yishi.modules.categories import services
from yishi.modules.categories.forms import CategoryForm, TemplateForm, kind_choices
from yishi.modules.categories.models import CategoryKind
from yishi.modules.communities.context import community_pages

blueprint = community_pages("categories", __name__)


@blueprint.app_context_processor
def _labels():
    def duration(minutes: int) -> str:
        if minutes % 1440 == 0:
            return _("%(count)d days", count=minutes // 1440)
        if minutes % 60 == 0:
            return _("%(count)d hours", count=minutes // 60)
        return _("%(minutes)d min", minutes=minutes)

    return {"category_kind_labels": dict(kind_choices()), "duration": duration}


FIELDS = (
    "code",
    "name_zh",
    "name_en",
    "kind",
    "first_response_minutes",
    "resolution_minutes",
    "description_zh",
    "description_en",
    "active",
)


def _form_data(form: CategoryForm) -> dict:
    data = {field: getattr(form, field).data for field in FIELDS}
    data["description_zh"] = data["description_zh"] or ""
    data["description_en"] = data["description_en"] or ""
    data["kind"] = CategoryKind(data["kind"])
    return data


@blueprint.route("/admin/categories", methods=["GET", "POST"])
@login_required
def index():
    actor = current_actor()
    require(actor, "community:write", community=g.community)
    form = CategoryForm()
    form.kind.choices = kind_choices()
    template_form = TemplateForm(prefix="template")
    templates = services.load_templates()
    template_form.template.choices = [(name, t.label(current_language())) for name, t in templates.items()]
    if form.submit.data and form.validate_on_submit():
        try:
            services.create_category(g.community, _form_data(form), actor=actor)
            db.session.commit()
            flash(_("Category added."), "success")
            return redirect(url_for(".index"))
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(form, error)
    return render_template(
        "categories/index.html",
        form=form,
        template_form=template_form,
        categories=services.list_categories(),
        templates=templates,
        delete_form=ActionForm(),
    )


@blueprint.route("/admin/categories/apply-template", methods=["POST"])
@login_required
def apply_template():
    require(current_actor(), "community:write", community=g.community)
    form = TemplateForm(prefix="template")
    form.template.choices = [(name, name) for name in services.load_templates()]
    if form.validate_on_submit():
        added = services.apply_template(g.community, form.template.data, actor=current_actor())
        db.session.commit()
        flash(_("%(count)d categories added.", count=len(added)), "success")
    return redirect(url_for(".index"))


@blueprint.route("/admin/categories/<int:category_id>", methods=["GET", "POST"])
@login_required
def edit(category_id: int):
    actor = current_actor()
    require(actor, "community:write", community=g.community)
    category = services.get_category(category_id)
    form = CategoryForm(obj=category)
    form.kind.choices = kind_choices()
    if not form.is_submitted():
        form.kind.data = category.kind.value
    if form.validate_on_submit():
        try:
            services.update_category(g.community, category, _form_data(form), actor=actor)
            db.session.commit()
            flash(_("Category saved."), "success")
            return redirect(url_for(".index"))
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(form, error)
    return render_template("categories/edit.html", form=form, category=category)


@blueprint.route("/admin/categories/<int:category_id>/delete", methods=["POST"])
@login_required
def delete(category_id: int):
    actor = current_actor()
    require(actor, "community:write", community=g.community)
    if ActionForm().validate_on_submit():
        category = services.get_category(category_id)
        perform(
            lambda: services.delete_category(g.community, category, actor=actor),
            success=_("Category deleted."),
            category="info",
        )
    return redirect(url_for(".index"))
