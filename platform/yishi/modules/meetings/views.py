"""Pages: the community's meetings, convening one, its page (agenda, comments, check-in QR,
attendance, minutes, decisions), QR check-in on a phone, iCalendar feeds, and participation figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from yishi.core.db import db, utcnow
from yishi.core.errors import FORM_ERRORS
from yishi.core.forms import perform, save_form
from yishi.core.security import limiter
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import can, require
from yishi.modules.accounts.services import mask_name, mask_phone
from yishi.modules.communities import services as communities
from yishi.modules.communities.context import community_pages
from yishi.modules.matters import services as matters
from yishi.modules.matters import workflow
from yishi.modules.matters.models import Matter
from yishi.modules.meetings import services
from yishi.modules.meetings.forms import (
    AgendaForm,
    CancelForm,
    CheckInForm,
    CommentForm,
    DecisionForm,
    ManualCheckInForm,
    MeetingForm,
    MinutesForm,
)
from yishi.modules.meetings.models import CheckInMethod
from yishi.modules.participation import services as participation
from yishi.modules.points import services as points
from yishi.modules.points.services import qr_svg

blueprint = community_pages("meetings", __name__)


def _en() -> bool:
    from yishi.core.i18n import current_language

    return current_language().startswith("en")


def _aware(value: datetime | None) -> datetime | None:
    """A time typed on the page is the community's local time."""
    if value is None:
        return None
    return value.replace(tzinfo=ZoneInfo(g.community.time_zone)).astimezone(UTC)


def _writer() -> bool:
    return can(current_actor(), "meetings:write", community=g.community)


def _place(meeting) -> str:
    point = points.get_point(meeting.point_id) if meeting.point_id else None
    name = (point.name_en if _en() else point.name_zh) if point else _("Online")
    return f"{name} {meeting.location}".strip()


def _open_matter_choices(field) -> None:
    open_matters = db.session.execute(
        db.select(Matter.id, Matter.title)
        .where(Matter.status.in_(workflow.OPEN))
        .order_by(Matter.submitted_at.desc())
        .limit(200)
    ).all()
    field.choices = [(matter_id, f"#{matter_id} {title}") for matter_id, title in open_matters]


@blueprint.route("/meetings/")
def index():
    upcoming = list(db.session.execute(services.meetings_statement(upcoming=True)).scalars())
    past = list(db.session.execute(services.meetings_statement(upcoming=False).limit(100)).scalars())
    return render_template(
        "meetings/index.html",
        upcoming=upcoming,
        past=past,
        counts=services.attendance_counts([m.id for m in upcoming + past]),
        labels=services.STATUS_LABELS,
        may_write=_writer(),
    )


@blueprint.route("/meetings/new", methods=["GET", "POST"])
@login_required
def new():
    require(current_actor(), "meetings:write", community=g.community)
    form = MeetingForm()
    form.point_id.choices = [("", _("Online"))] + [
        (p.id, p.name_en if _en() else p.name_zh) for p in points.list_points(active_only=True)
    ]
    form.invited_group_ids.choices = [
        (group.id, group.name_en if _en() else group.name_zh) for group in communities.list_resident_groups()
    ]
    _open_matter_choices(form.matter_ids)
    if not form.is_submitted() and request.args.get("matter", "").isdigit():
        form.matter_ids.data = [int(request.args["matter"])]
    if form.validate_on_submit():
        data = {
            "title": form.title.data,
            "topic": form.topic.data,
            "point_id": form.point_id.data,
            "location": form.location.data,
            "starts_at": _aware(form.starts_at.data),
            "ends_at": _aware(form.ends_at.data),
            "invited_group_ids": form.invited_group_ids.data,
            "matter_ids": form.matter_ids.data,
        }
        done, meeting = save_form(
            form,
            lambda: services.create_meeting(g.community, data, actor=current_actor()),
            success=_("The meeting is convened."),
        )
        if done:
            return redirect(url_for(".show", meeting_id=meeting.id))
    return render_template("meetings/new.html", form=form)


def _render(meeting, **forms):
    actor = current_actor()
    writer = _writer()
    items = services.agenda_of(meeting)
    attendance = services.attendance_of(meeting)
    if not writer:
        attendance = [
            services.Attendee(mask_name(a.name), mask_phone(a.phone), a.resident_group_id, a.method, a.at)
            for a in attendance
        ]
    agenda_form = forms.get("agenda_form") or AgendaForm(formdata=None)
    if writer:
        _open_matter_choices(agenda_form.matter_id)
        agenda_form.matter_id.choices = [("", "—")] + agenda_form.matter_id.choices
    manual_form = forms.get("manual_form") or ManualCheckInForm(formdata=None)
    manual_form.resident_group_id.choices = _group_choices()
    minutes_form = forms.get("minutes_form") or MinutesForm(formdata=None, minutes=meeting.minutes)
    return render_template(
        "meetings/show.html",
        meeting=meeting,
        place=_place(meeting),
        label=services.STATUS_LABELS[meeting.status],
        items=items,
        comments=services.comments_of(items),
        attendance=attendance,
        groups={gr.id: gr for gr in communities.list_resident_groups()},
        writer=writer,
        member=can(actor, "meetings:read", community=g.community) and actor.user is not None,
        minutes_html=services.render_minutes(meeting.minutes),
        agenda_form=agenda_form,
        cancel_form=forms.get("cancel_form") or CancelForm(formdata=None),
        minutes_form=minutes_form,
        decision_form=forms.get("decision_form") or DecisionForm(formdata=None),
        decision_item=forms.get("decision_item"),
        comment_form=forms.get("comment_form") or CommentForm(formdata=None),
        manual_form=manual_form,
        checkin_url=url_for(".check_in", meeting_id=meeting.id, t=services.checkin_token(meeting), _external=True)
        if writer
        else None,
    )


def _group_choices():
    return [("", "—")] + [(gr.id, gr.name_en if _en() else gr.name_zh) for gr in communities.list_resident_groups()]


@blueprint.route("/meetings/<int:meeting_id>")
def show(meeting_id: int):
    return _render(services.get_meeting(meeting_id))


def _act(meeting, action, success: str):
    """A button's use-case (committed, or refused with a message), then back to the meeting."""
    perform(action, success=success)
    return redirect(url_for(".show", meeting_id=meeting.id))


@blueprint.route("/meetings/<int:meeting_id>/agenda", methods=["POST"])
@login_required
def add_item(meeting_id: int):
    meeting = services.get_meeting(meeting_id)
    require(current_actor(), "meetings:write", community=g.community)
    form = AgendaForm()
    _open_matter_choices(form.matter_id)
    form.matter_id.choices = [("", "—")] + form.matter_id.choices
    if form.validate_on_submit():
        return _act(
            meeting,
            lambda: services.add_agenda_item(
                g.community, meeting, actor=current_actor(), matter_id=form.matter_id.data, title=form.title.data
            ),
            _("Added to the agenda."),
        )
    return _render(meeting, agenda_form=form), 422


@blueprint.route("/meetings/<int:meeting_id>/cancel", methods=["POST"])
@login_required
def cancel(meeting_id: int):
    meeting = services.get_meeting(meeting_id)
    require(current_actor(), "meetings:write", community=g.community)
    form = CancelForm()
    if form.validate_on_submit():
        return _act(
            meeting,
            lambda: services.cancel_meeting(g.community, meeting, form.reason.data, actor=current_actor()),
            _("The meeting is cancelled."),
        )
    return _render(meeting, cancel_form=form), 422


@blueprint.route("/meetings/<int:meeting_id>/held", methods=["POST"])
@login_required
def held(meeting_id: int):
    meeting = services.get_meeting(meeting_id)
    require(current_actor(), "meetings:write", community=g.community)
    return _act(
        meeting,
        lambda: services.mark_held(g.community, meeting, actor=current_actor()),
        _("The meeting is marked held: record its decisions and minutes."),
    )


@blueprint.route("/meetings/<int:meeting_id>/minutes", methods=["POST"])
@login_required
def minutes(meeting_id: int):
    meeting = services.get_meeting(meeting_id)
    require(current_actor(), "meetings:write", community=g.community)
    form = MinutesForm()
    if form.validate_on_submit():
        publish = request.form.get("publish") == "1"

        def save():
            services.save_minutes(g.community, meeting, form.minutes.data, actor=current_actor())
            if publish:
                services.publish_minutes(g.community, meeting, actor=current_actor())

        return _act(meeting, save, _("The minutes are published.") if publish else _("The minutes are saved."))
    return _render(meeting, minutes_form=form), 422


@blueprint.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/decision", methods=["POST"])
@login_required
def decision(meeting_id: int, item_id: int):
    meeting = services.get_meeting(meeting_id)
    item = services.get_item(meeting, item_id)
    require(current_actor(), "meetings:write", community=g.community)
    form = DecisionForm()
    if form.validate_on_submit():
        data = {
            "decision": form.decision.data,
            "decision_kind": form.decision_kind.data or None,
            "votes_for": form.votes_for.data,
            "votes_against": form.votes_against.data,
            "votes_abstain": form.votes_abstain.data,
            "matter_action": form.matter_action.data or "",
            "agreement_text": form.agreement_text.data,
        }
        done, _item = save_form(
            form,
            lambda: services.decide(g.community, meeting, item, data, actor=current_actor()),
            success=_("The decision is recorded."),
        )
        if done:
            return redirect(url_for(".show", meeting_id=meeting.id))
    meeting = services.get_meeting(meeting_id)
    return _render(meeting, decision_form=form, decision_item=item_id), 422


@blueprint.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/comments", methods=["POST"])
@login_required
def comment(meeting_id: int, item_id: int):
    meeting = services.get_meeting(meeting_id)
    item = services.get_item(meeting, item_id)
    require(current_actor(), "meetings:read", community=g.community)
    form = CommentForm()
    if form.validate_on_submit():
        return _act(
            meeting,
            lambda: services.comment(g.community, meeting, item, form.body.data, actor=current_actor()),
            _("Thank you: your view is on the agenda item."),
        )
    return _render(meeting, comment_form=form), 422


@blueprint.route("/meetings/<int:meeting_id>/attendance", methods=["POST"])
@login_required
def manual_check_in(meeting_id: int):
    """A moderator checks in someone without a phone."""
    meeting = services.get_meeting(meeting_id)
    require(current_actor(), "meetings:write", community=g.community)
    form = ManualCheckInForm()
    form.resident_group_id.choices = _group_choices()
    if form.validate_on_submit():
        done, result = save_form(
            form,
            lambda: services.check_in_person(
                g.community, meeting, _person_data(form), method=CheckInMethod.MANUAL, by=current_actor()
            ),
        )
        if done:
            _attendance, new = result
            flash(_("Checked in.") if new else _("Already checked in."), "success" if new else "info")
            return redirect(url_for(".show", meeting_id=meeting.id))
    return _render(meeting, manual_form=form), 422


def _person_data(form) -> dict:
    return {"name": form.name.data, "phone": form.phone.data, "resident_group_id": form.resident_group_id.data}


@blueprint.route("/meetings/<int:meeting_id>/checkin-qr.svg")
@login_required
def checkin_qr(meeting_id: int):
    meeting = services.get_meeting(meeting_id)
    require(current_actor(), "meetings:write", community=g.community)
    url = url_for(".check_in", meeting_id=meeting.id, t=services.checkin_token(meeting), _external=True)
    response = Response(qr_svg(url), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.route("/meetings/<int:meeting_id>/checkin", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def check_in(meeting_id: int):
    """What the meeting's QR code opens: signed in, one tap; otherwise name, phone and group."""
    meeting = services.get_meeting(meeting_id)
    form = CheckInForm()
    form.resident_group_id.choices = _group_choices()
    token = request.values.get("t") or form.token.data or ""
    form.token.data = token
    refused = None
    try:
        services.verify_checkin(meeting, token)
    except FORM_ERRORS as error:
        refused = error.detail or str(error.title)
    done = None
    if refused is None and form.validate_on_submit():
        user = current_user._get_current_object() if current_user.is_authenticated else None
        saved, result = save_form(
            form,
            lambda: services.check_in_person(
                g.community, meeting, _person_data(form), method=CheckInMethod.QR, user=user
            ),
        )
        if saved:
            done = "new" if result[1] else "again"
    status = 403 if refused else 200
    return render_template(
        "meetings/checkin.html", meeting=meeting, place=_place(meeting), form=form, refused=refused, done=done
    ), status


def _ics(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blueprint.route("/meetings.ics")
def feed():
    """The community's upcoming meetings (and those of the last month), to subscribe to."""
    since = utcnow() - timedelta(days=31)
    meetings = db.session.execute(
        db.select(services.Meeting).where(services.Meeting.starts_at >= since).order_by(services.Meeting.starts_at)
    ).scalars()
    rows = [(m, url_for(".show", meeting_id=m.id, _external=True), _place(m)) for m in meetings]
    return _ics(services.ical(g.community, rows), f"{g.community.slug}-meetings.ics")


@blueprint.route("/meetings/<int:meeting_id>.ics")
def meeting_ics(meeting_id: int):
    meeting = services.get_meeting(meeting_id)
    row = (meeting, url_for(".show", meeting_id=meeting.id, _external=True), _place(meeting))
    return _ics(services.ical(g.community, [row]), f"meeting-{meeting.id}.ics")


@blueprint.route("/matters/<int:matter_id>/volunteer", methods=["POST"])
@login_required
def volunteer(matter_id: int):
    """参与解决: a member offers to help solve a matter."""
    matter = matters.get_matter(matter_id)
    perform(
        lambda: matters.volunteer(g.community, matter, actor=current_actor(), note=request.form.get("note", "")),
        success=_("Thank you: the moderators will contact you."),
    )
    back = request.referrer or ""
    if "/meetings/" in back and back.startswith(request.host_url):
        return redirect(back)  # volunteered from a meeting's agenda: back to it
    return redirect(url_for("matters.show", matter_id=matter.id))


@blueprint.route("/matters/<int:matter_id>/agenda", methods=["POST"])
@login_required
def put_on_agenda(matter_id: int):
    """From a matter's page: put it on a planned meeting's agenda."""
    matter = matters.get_matter(matter_id)
    require(current_actor(), "meetings:write", community=g.community)
    meeting_id = request.form.get("meeting_id", "")
    if not meeting_id.isdigit() or int(meeting_id) > 2**31 - 1:
        flash(_("Choose a meeting."), "danger")
        return redirect(url_for("matters.show", matter_id=matter.id))
    meeting = services.get_meeting(int(meeting_id))
    perform(
        lambda: services.add_agenda_item(g.community, meeting, actor=current_actor(), matter_id=matter.id),
        success=_("Added to the agenda."),
    )
    return redirect(url_for("matters.show", matter_id=matter.id))


@blueprint.route("/participation")
@login_required
def participation_page():
    """Who took part, counted as distinct people, and the meetings held, for a year."""
    require(current_actor(), "meetings:read", community=g.community)
    zone = ZoneInfo(g.community.time_zone)
    today = datetime.now(zone).date()
    year = request.args.get("year", "")
    year = int(year) if year.isdigit() and 2000 <= int(year) <= 2100 else today.year
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    last12 = (datetime.now(UTC) - timedelta(days=365), datetime.now(UTC))
    return render_template(
        "meetings/participation.html",
        year=year,
        participants=participation.distinct_participants(start, end),
        by_kind=participation.participants_by_kind(start, end),
        held=services.meetings_held(start, end),
        participants_12=participation.distinct_participants(*last12),
        held_12=services.meetings_held(*last12),
    )
