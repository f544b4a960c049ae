"""Street office pages: start a comparison report, watch its job, read the snapshot, download exports."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from yishi.core.api import paginate_page
from yishi.core.db import db
from yishi.core.forms import save_form
from yishi.core.i18n import current_language
from yishi.core.storage import storage
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import require
from yishi.modules.communities.context import street_pages
from yishi.modules.reports import services
from yishi.modules.reports.forms import ReportForm

blueprint = street_pages("street_reports", __name__)


@blueprint.app_template_filter("metric")
def _metric(value, unit: str) -> str:
    """A figure as shown on pages and in the PDF: one formatting for both."""
    from yishi.modules.reports.exports import format_value

    return format_value(value, unit, current_language())


def period_from_form(form, zone: str):
    kind = form.period.data
    if kind == "month":
        year, month = (int(part) for part in form.month.data.split("-"))
        return services.month_period(year, month, zone)
    if kind == "quarter":
        year, quarter = form.quarter.data.split("-Q")
        return services.quarter_period(int(year), int(quarter), zone)
    if kind == "year":
        return services.year_period(int(form.year.data), zone)
    return services.custom_period(form.start.data, form.end.data, zone)


@blueprint.route("/reports", methods=["GET", "POST"])
@login_required
def index():
    street, actor = g.street, current_actor()
    require(actor, "street:read", street=street)
    form = ReportForm(today=datetime.now(ZoneInfo(street.time_zone)).date())
    if form.validate_on_submit():
        require(actor, "reports:write", street=street)
        done, report = save_form(
            form,
            lambda: services.start_report(street, *period_from_form(form, street.time_zone), actor=actor),
            success=_("The report is being computed."),
        )
        if done:
            return redirect(url_for(".show", report_id=report.id))
    return render_template("reports/index.html", form=form, page=paginate_page(services.reports_statement(street)))


def _status(report) -> dict:
    from yishi.core.jobs import Task

    task = db.session.get(Task, report.task_id) if report.task_id else None
    progress, message = task.live_progress() if task else (100 if report.snapshot else 0, "")
    status = "finished" if report.snapshot is not None else (task.status.value if task else "queued")
    return {"status": status, "progress": progress, "message": message, "error": task.error if task else None}


@blueprint.route("/reports/<int:report_id>")
@login_required
def show(report_id: int):
    report = services.get_report_for(g.street, report_id, actor=current_actor())
    locale = "en" if current_language().startswith("en") else "zh_CN"
    return render_template(
        "reports/show.html", report=report, status=_status(report), snap=report.snapshot, locale=locale
    )


@blueprint.route("/reports/<int:report_id>.json")
@login_required
def poll(report_id: int):
    report = services.get_report_for(g.street, report_id, actor=current_actor())
    return jsonify(_status(report))


@blueprint.route("/reports/<int:report_id>/export.<any(csv, xlsx, pdf):fmt>")
@login_required
def export(report_id: int, fmt: str):
    report = services.get_report_for(g.street, report_id, actor=current_actor())
    locale = request.args.get("locale") or ("en" if current_language().startswith("en") else "zh_CN")
    stored = services.file_of(report, fmt, locale if locale in services.LOCALES else "zh_CN")
    response = Response(storage().read(stored.storage_key), content_type=stored.content_type)
    name = f"{g.street.slug}-report-{report.id}-{stored.locale}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
