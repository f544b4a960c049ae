"""Pages: the platform's front page, a community's home, its audit log, a street office's page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from yishi.core.audit import AuditEntry
from yishi.core.db import db
from yishi.core.errors import FORM_ERRORS
from yishi.core.forms import show_domain_error
from yishi.core.jobs import start_task
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.forms import ActionForm
from yishi.modules.accounts.permissions import can, require, scopes_for
from yishi.modules.communities import services, tasks
from yishi.modules.communities.context import community_pages, street_pages
from yishi.modules.communities.forms import ResidentGroupForm

site = Blueprint("site", __name__)
community_site = community_pages("community", __name__)
street_site = street_pages("street", __name__)

AUDIT_PAGE_SIZE = 50


@site.app_context_processor
def _labels():
    return {
        "kind_labels": {
            "agriculture": _("agriculture-related community"),
            "urban": _("urban community"),
            "old_town": _("old-town community"),
            "mixed": _("mixed community"),
        },
        "status_labels": {
            "pending": _("pending approval"),
            "active": _("active"),
            "suspended": _("suspended"),
            "rejected": _("rejected"),
        },
    }


@site.route("/")
def home():
    streets = [
        (street, services.list_communities(street=street, active_only=True)) for street in services.list_streets()
    ]
    return render_template("communities/platform_home.html", streets=streets)


@community_site.route("/")
def home_page():
    community = g.community
    actor = current_actor()
    from yishi.modules.points.services import coverage

    return render_template(
        "communities/community_home.html",
        resident_groups=services.list_resident_groups(),
        coverage=coverage(),
        scopes=scopes_for(actor, community=community) if actor.user else frozenset(),
    )


@community_site.route("/admin/groups", methods=["GET", "POST"])
@login_required
def resident_groups():
    """The community's resident groups: the first step of its setup."""
    actor = current_actor()
    require(actor, "community:write", community=g.community)
    form = ResidentGroupForm()
    if form.validate_on_submit():
        groups = services.list_resident_groups()
        data = {
            "code": form.code.data,
            "name_zh": form.name_zh.data,
            "name_en": form.name_en.data,
            "household_count": form.household_count.data,
            "position": len(groups) + 1,
        }
        try:
            services.create_resident_group(g.community, data, actor=actor)
            db.session.commit()
            flash(_("Resident group added."), "success")
            return redirect(url_for(".resident_groups"))
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(form, error)
    return render_template("communities/resident_groups.html", form=form, groups=services.list_resident_groups())


@community_site.route("/admin/audit")
@login_required
def audit_log():
    require(current_actor(), "audit:read", community=g.community)
    page = max(1, request.args.get("page", 1, type=int))
    entries = (
        db.session.execute(
            select(AuditEntry)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(AUDIT_PAGE_SIZE + 1)
            .offset((page - 1) * AUDIT_PAGE_SIZE)
        )
        .scalars()
        .all()
    )
    return render_template(
        "communities/audit.html", entries=entries[:AUDIT_PAGE_SIZE], page=page, has_next=len(entries) > AUDIT_PAGE_SIZE
    )


@street_site.route("/")
def street_home():
    street = g.street
    actor = current_actor()
    is_admin = can(actor, "street:read", street=street)
    communities = services.list_communities(street=street, active_only=not is_admin)
    return render_template("communities/street_home.html", communities=communities, is_admin=is_admin)


@community_site.route("/admin/audit/export", methods=["POST"])
@login_required
def export_audit_log():
    actor = current_actor()
    require(actor, "audit:read", community=g.community)
    if not ActionForm().validate_on_submit():
        abort(400)
    task = start_task(
        tasks.export_audit_log,
        title=_("Audit log export"),
        arguments={"community_id": g.community.id},
        community_id=g.community.id,
        user_id=actor.user_id,
    )
    db.session.commit()
    return redirect(url_for("tasks.show", task_id=task.id))
