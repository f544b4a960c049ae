"""Pages: a point's public page (what its QR code opens), its A4 poster and QR images; admin pages."""

from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from yishi.core.db import db
from yishi.core.errors import FORM_ERRORS
from yishi.core.forms import show_domain_error
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import require
from yishi.modules.communities import services as community_services
from yishi.modules.communities.context import community_pages
from yishi.modules.points import presenters, services
from yishi.modules.points.forms import PointForm

blueprint = community_pages("points", __name__)

FIELDS = (
    "code",
    "name_zh",
    "name_en",
    "address",
    "opening_hours",
    "latitude",
    "longitude",
    "resident_group_ids",
    "active",
)


def _public_url(point) -> str:
    return url_for("points.show", point_code=point.code, _external=True)


@blueprint.route("/p/<point_code>/")
def show(point_code: str):
    """What a resident sees after scanning the point's QR code."""
    point = services.get_point_by_code(point_code, active_only=True)
    return render_template(
        "points/show.html",
        point=point,
        groups=services.groups_of(point),
        moderators=presenters.moderators_by_point([point.id])[point.id],
    )


@blueprint.route("/p/<point_code>/poster")
def poster(point_code: str):
    point = services.get_point_by_code(point_code, active_only=True)
    return render_template(
        "points/poster.html",
        point=point,
        groups=services.groups_of(point),
        moderators=presenters.moderators_by_point([point.id])[point.id],
        qr_url=_public_url(point),
    )


@blueprint.route("/p/<point_code>/qr.svg")
def qr_svg(point_code: str):
    point = services.get_point_by_code(point_code, active_only=True)
    response = Response(services.qr_svg(_public_url(point)), mimetype="image/svg+xml")
    response.headers["Content-Disposition"] = f'inline; filename="point-{point.code}.svg"'
    return response


@blueprint.route("/p/<point_code>/qr.png")
def qr_png(point_code: str):
    point = services.get_point_by_code(point_code, active_only=True)
    response = Response(services.qr_png(_public_url(point)), mimetype="image/png")
    response.headers["Content-Disposition"] = f'inline; filename="point-{point.code}.png"'
    return response


@blueprint.route("/points/")
def index():
    """Every active point and the groups it serves; the groups no point serves."""
    points = services.list_points(active_only=True)
    return render_template(
        "points/index.html",
        points=presenters.describe(points),
        coverage=services.coverage(),
        groups={g.id: g for g in community_services.list_resident_groups()},
    )


def _point_form(point=None) -> PointForm:
    form = PointForm(obj=point)
    form.resident_group_ids.choices = [(g.id, g.name_zh) for g in community_services.list_resident_groups()]
    if point is not None and not form.is_submitted():
        form.resident_group_ids.data = services.group_ids_by_point([point.id]).get(point.id, [])
    return form


def _save(form: PointForm, point=None):
    data = {field: getattr(form, field).data for field in FIELDS}
    data["address"] = data["address"] or ""
    data["opening_hours"] = data["opening_hours"] or ""
    try:
        if point is None:
            point = services.create_point(g.community, data, actor=current_actor())
        else:
            services.update_point(g.community, point, data, actor=current_actor())
        db.session.commit()
    except FORM_ERRORS as error:
        db.session.rollback()
        show_domain_error(form, error)
        return None
    flash(_("Deliberation point saved."), "success")
    return redirect(url_for(".admin"))


@blueprint.route("/admin/points", methods=["GET", "POST"])
@login_required
def admin():
    require(current_actor(), "community:write", community=g.community)
    form = _point_form()
    if form.validate_on_submit():
        done = _save(form)
        if done is not None:
            return done
    return render_template(
        "points/admin.html",
        form=form,
        points=presenters.describe(services.list_points()),
        coverage=services.coverage(),
        groups={g.id: g for g in community_services.list_resident_groups()},
    )


@blueprint.route("/admin/points/<int:point_id>", methods=["GET", "POST"])
@login_required
def edit(point_id: int):
    require(current_actor(), "community:write", community=g.community)
    point = services.get_point(point_id)
    form = _point_form(point)
    if form.validate_on_submit():
        done = _save(form, point)
        if done is not None:
            return done
    return render_template("points/edit.html", form=form, point=point)
