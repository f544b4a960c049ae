from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from yishi.core.db import db
from yishi.modules.accounts.forms import ActionForm
from yishi.modules.notifications import services

blueprint = Blueprint("notifications", __name__)


@blueprint.app_context_processor
def _unread():
    if current_user.is_authenticated:
        return {"unread_notifications": services.unread_count(current_user)}
    return {"unread_notifications": 0}


@blueprint.route("/inbox")
@login_required
def inbox():
    return render_template(
        "notifications/inbox.html", notifications=services.notifications_of(current_user), form=ActionForm()
    )


@blueprint.route("/inbox/read", methods=["POST"])
@blueprint.route("/inbox/<int:notification_id>/read", methods=["POST"])
@login_required
def mark_read(notification_id: int | None = None):
    if ActionForm().validate_on_submit():
        services.mark_read(current_user, notification_id)
        db.session.commit()
    return redirect(url_for(".inbox"))
