"""Pages: a community's working-day calendar and target clock, for its admins."""

from __future__ import annotations

import calendar as pycalendar
from datetime import date

from babel.dates import format_skeleton, get_day_names
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_required

from yishi.core.db import db
from yishi.core.errors import FORM_ERRORS
from yishi.core.forms import show_domain_error
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.forms import ActionForm
from yishi.modules.accounts.permissions import require
from yishi.modules.calendar import services
from yishi.modules.calendar.forms import ClockForm, OverrideForm
from yishi.modules.communities.context import community_pages

blueprint = community_pages("calendar", __name__)


def _month() -> tuple[int, int]:
    today = services.today_in(g.community)
    try:
        year = int(request.args.get("year", today.year))
        month = int(request.args.get("month", today.month))
    except ValueError:
        abort(404)
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        abort(404)
    return year, month


def _shift(year: int, month: int, by: int) -> dict[str, int]:
    index = year * 12 + month - 1 + by
    return {"year": index // 12, "month": index % 12 + 1}


def _render(override_form: OverrideForm, clock_form: ClockForm, year: int, month: int):
    days = services.month_view(year, month)
    locale = get_locale()
    return render_template(
        "calendar/index.html",
        override_form=override_form,
        clock_form=clock_form,
        year=year,
        month=month,
        month_title=format_skeleton("yMMMM", date(year, month, 1), locale=locale),
        day_names=[get_day_names("abbreviated", locale=locale)[number] for number in range(7)],
        leading_blanks=pycalendar.monthrange(year, month)[0],
        days=days,
        overrides=[day for day in days if day.source == "override"],
        previous_month=_shift(year, month, -1),
        next_month=_shift(year, month, 1),
        official_years=services.official_years(),
        delete_form=ActionForm(),
    )


@blueprint.route("/admin/calendar", methods=["GET", "POST"])
@login_required
def index():
    actor = current_actor()
    require(actor, "community:write", community=g.community)
    year, month = _month()
    override_form = OverrideForm()
    clock_form = ClockForm(prefix="clock", obj=g.community)
    if not clock_form.is_submitted():
        clock_form.target_clock.data = g.community.target_clock.value
    if override_form.submit.data and override_form.validate_on_submit():
        day = override_form.day.data
        try:
            services.set_override(
                g.community, day, override_form.is_workday.data == "1", override_form.note.data or "", actor=actor
            )
            db.session.commit()
            flash(_("%(date)s saved.", date=day.isoformat()), "success")
            return redirect(url_for(".index", year=day.year, month=day.month))
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(override_form, error, rename={"date": "day"})
    if clock_form.submit.data and clock_form.validate_on_submit():
        data = {
            "target_clock": clock_form.target_clock.data,
            "working_hours": clock_form.working_hours.data.strip(),
            "auto_close_days": clock_form.auto_close_days.data,
        }
        try:
            services.update_clock_settings(g.community, data, actor=actor)
            db.session.commit()
            flash(_("Target clock saved."), "success")
            return redirect(url_for(".index", year=year, month=month))
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(clock_form, error)
    return _render(override_form, clock_form, year, month)


@blueprint.route("/admin/calendar/overrides/<day>/delete", methods=["POST"])
@login_required
def delete_override(day: str):
    require(current_actor(), "community:write", community=g.community)
    parsed = services.parse_day(day)
    services.get_override(parsed)  # 404 before anything else when the community has no such override
    if ActionForm().validate_on_submit():
        services.remove_override(g.community, parsed, actor=current_actor())
        db.session.commit()
        flash(_("%(date)s follows the official calendar again.", date=parsed.isoformat()), "info")
    return redirect(url_for(".index", year=parsed.year, month=parsed.month))
