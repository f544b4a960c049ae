"""Pages: raising a matter (online, from a point's QR code, on a resident's behalf, on visits),
following it with a tracking code, the matter page with its workflow, the work queue and the board."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from yishi.core.api import paginate_page
from yishi.core.db import db, utcnow
from yishi.core.errors import FORM_ERRORS, NotFoundError
from yishi.core.forms import save_form, show_domain_error
from yishi.core.security import limiter
from yishi.core.storage import storage
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import can, require
from yishi.modules.categories import services as categories
from yishi.modules.communities import services as communities
from yishi.modules.communities.context import community_pages, street_pages
from yishi.modules.matters import presenters, services, workflow
from yishi.modules.matters.forms import (
    MatterForm,
    NoteForm,
    PhotoForm,
    QueueFilterForm,
    RatingForm,
    RecordForm,
    TrackForm,
    TransitionForm,
    VisitForm,
)
from yishi.modules.matters.models import Channel, Status
from yishi.modules.points import services as points

blueprint = community_pages("matters", __name__)
street_blueprint = street_pages("street_matters", __name__)

TRACKED = "tracked_matters"  # community id → ids of matters this browser holds the tracking code of


# --- who is looking --------------------------------------------------------------------------------


def tracked_ids() -> set[int]:
    return set(session.get(TRACKED, {}).get(str(g.community.id), []))


def _remember(matter_id: int) -> None:
    tracked = dict(session.get(TRACKED, {}))
    ids = [i for i in tracked.get(str(g.community.id), []) if i != matter_id][-19:] + [matter_id]
    tracked[str(g.community.id)] = ids
    session[TRACKED] = tracked


def _matter_for_viewer(matter_id: int):
    matter = services.get_matter(matter_id)
    if not services.may_read(current_actor(), matter, g.community, tracked=matter_id in tracked_ids()):
        abort(404)  # not yours to see: it does not exist for you
    return matter


# --- intake ------------------------------------------------------------------------------------------


def _intake_limit() -> str:
    return current_app.config["INTAKE_RATE_LIMIT"]


def _phone_limit() -> str:
    return current_app.config["INTAKE_PHONE_RATE_LIMIT"]


def _phone_key() -> str:
    phone = services.normalise_phone(request.form.get("reporter_phone"))
    if phone:
        return f"intake-phone:{phone}"
    if current_user.is_authenticated:
        return f"intake-user:{current_user.id}"
    return f"intake-ip:{request.remote_addr}"


# Shared by the online form and every point's QR form: one budget per address and per phone, not one per page.
_intake_limited = limiter.shared_limit(_intake_limit, scope="matter-intake", methods=["POST"])
_phone_limited = limiter.shared_limit(_phone_limit, scope="matter-intake-phone", key_func=_phone_key, methods=["POST"])


def _category_choices(form_field, *, blank: bool = True) -> None:
    choices = [(c.id, c.name_en if _en() else c.name_zh) for c in categories.list_categories(active_only=True)]
    form_field.choices = ([("", "—")] if blank else []) + choices


def _group_choices(form_field, groups=None) -> None:
    groups = communities.list_resident_groups() if groups is None else groups
    form_field.choices = [("", "—")] + [(gr.id, gr.name_en if _en() else gr.name_zh) for gr in groups]


def _point_choices(form_field) -> None:
    form_field.choices = [("", "—")] + [
        (p.id, p.name_en if _en() else p.name_zh) for p in points.list_points(active_only=True)
    ]


def _en() -> bool:
    from yishi.core.i18n import current_language

    return current_language().startswith("en")


def _form_data(form) -> dict:
    data = {
        name: getattr(form, name).data
        for name in ("title", "description", "category_id", "resident_group_id", "address", "reporter_name")
    }
    data["reporter_phone"] = form.reporter_phone.data
    data["parties"] = [line for line in (form.parties.data or "").splitlines() if line.strip()]
    return data


def _uploads() -> list[tuple[str, bytes]]:
    return [(f.filename or "", f.read()) for f in request.files.getlist("photos") if f and f.filename]


def _submit(form, *, channel: Channel, data: dict):
    try:
        done = services.submit(g.community, data, channel=channel, actor=current_actor(), photos=_uploads())
        db.session.commit()
    except FORM_ERRORS as error:
        db.session.rollback()
        show_domain_error(form, error)
        return None
    _remember(done.matter.id)
    if done.tracking_code:
        session["new_tracking_code"] = done.tracking_code
    flash(_("Thank you: your matter is recorded and a moderator is told."), "success")
    return redirect(url_for(".show", matter_id=done.matter.id))


@blueprint.route("/matters/new", methods=["GET", "POST"])
@_intake_limited
@_phone_limited
def new():
    """Raise a matter online (signed in, or with a name and a phone)."""
    form = MatterForm()
    _category_choices(form.category_id)
    _group_choices(form.resident_group_id)
    if form.validate_on_submit():
        done = _submit(form, channel=Channel.WEB, data=_form_data(form))
        if done is not None:
            return done
    return render_template("matters/new.html", form=form, point=None)


@blueprint.route("/p/<point_code>/matters/new", methods=["GET", "POST"])
@_intake_limited
@_phone_limited
def new_at_point(point_code: str):
    """Raise a matter from a point's QR code: the point is chosen, its groups come first."""
    point = points.get_point_by_code(point_code, active_only=True)
    form = MatterForm()
    _category_choices(form.category_id)
    served = points.groups_of(point)
    others = [gr for gr in communities.list_resident_groups() if gr.id not in {s.id for s in served}]
    _group_choices(form.resident_group_id, served + others)
    if not form.is_submitted() and len(served) == 1:
        form.resident_group_id.data = served[0].id  # the only group this point serves
    if form.validate_on_submit():
        data = _form_data(form)
        data["point_id"] = point.id
        done = _submit(form, channel=Channel.QR, data=data)
        if done is not None:
            return done
    return render_template("matters/new.html", form=form, point=point)


@blueprint.route("/matters/record", methods=["GET", "POST"])
@login_required
def record():
    """A moderator records a matter raised at a point or on the phone, on the resident's behalf."""
    require(current_actor(), "matters:write", community=g.community)
    form = RecordForm()
    _category_choices(form.category_id)
    _group_choices(form.resident_group_id)
    _point_choices(form.point_id)
    if form.validate_on_submit():
        data = _form_data(form)
        data["point_id"] = form.point_id.data
        done = _submit(form, channel=Channel(form.channel.data or Channel.OFFLINE), data=data)
        if done is not None:
            return done
    return render_template("matters/record.html", form=form)


@blueprint.route("/matters/visit", methods=["GET", "POST"])
@login_required
def visit():
    """Door-to-door visits: a Party member or representative enters several matters in one sitting."""
    actor = current_actor()
    if not services.may_record_visits(actor, g.community):
        require(actor, "matters:write", community=g.community)
    form = VisitForm()
    _group_choices(form.resident_group_id)
    for row in form.rows:
        _category_choices(row.category_id)
    if form.validate_on_submit():
        rows = [row for row in form.rows if (row.title.data or "").strip()]
        if not rows:
            flash(_("Enter at least one matter."), "danger")
        else:
            recorded = _record_visit(form, rows)
            if recorded is not None:
                flash(_("%(count)d matters recorded from the visit.", count=len(recorded)), "success")
                codes = [(m.id, m.title, code) for m, code in recorded]
                return render_template("matters/visit_done.html", recorded=codes)
    return render_template("matters/visit.html", form=form)


def _record_visit(form, rows):
    """All the rows or none: one refused row keeps the whole sitting on screen, nothing half-saved."""
    recorded = []
    try:
        for row in rows:
            data = {
                "title": row.title.data,
                "description": row.form.description.data,  # ``row.description`` is the FormField's own text
                "category_id": row.category_id.data,
                "resident_group_id": form.resident_group_id.data,
                "reporter_name": row.reporter_name.data,
                "reporter_phone": row.reporter_phone.data,
                "parties": [],
            }
            try:
                done = services.submit(g.community, data, channel=Channel.VISIT, actor=current_actor())
            except FORM_ERRORS as error:
                show_domain_error(row, error)
                raise
            recorded.append((done.matter, done.tracking_code))
        db.session.commit()
    except FORM_ERRORS:
        db.session.rollback()
        flash(_("Nothing was recorded: correct the marked rows and send again."), "danger")
        return None
    return recorded


# --- following a matter ------------------------------------------------------------------------------


@blueprint.route("/track", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def track():
    """Follow a matter with its tracking code, without an account."""
    form = TrackForm()
    if form.validate_on_submit():
        try:
            matter = services.find_by_tracking_code(form.code.data)
        except NotFoundError as error:
            form.code.errors = [*form.code.errors, error.detail]
        else:
            _remember(matter.id)
            return redirect(url_for(".show", matter_id=matter.id))
    return render_template("matters/track.html", form=form)


@blueprint.route("/matters/mine")
@login_required
def mine():
    """The signed-in member's own matters."""
    require(current_actor(), "community:read", community=g.community)
    matters = services.matters_of(current_user.id)
    return render_template("matters/mine.html", rows=presenters.describe(matters, current_actor(), g.community))


@blueprint.route("/matters/<int:matter_id>")
def show(matter_id: int):
    matter = _matter_for_viewer(matter_id)
    return _render_matter(matter)


def _render_matter(matter, **forms):
    actor = current_actor()
    tracked = matter.id in tracked_ids()
    roles = services.roles_for(actor, matter, g.community, tracked=tracked)
    row = presenters.describe([matter], actor, g.community, tracked_ids=tracked_ids())[0]
    moves = [
        move for move in workflow.allowed(matter.status, roles) if workflow.SYSTEM not in move.by or move.by & roles
    ]
    from yishi.modules.meetings import services as meetings  # meetings build on matters, not the reverse

    planned = []
    if can(actor, "meetings:write", community=g.community) and matter.status in workflow.OPEN:
        planned = list(db.session.execute(meetings.meetings_statement(upcoming=True)).scalars())
    transition_form = forms.get("transition_form") or TransitionForm(formdata=None)
    transition_form.version.data = matter.version
    return render_template(
        "matters/show.html",
        matter=matter,
        row=row,
        roles=roles,
        moves=moves,
        is_dispute=presenters.Lookups().is_dispute(matter),
        status_labels=workflow.STATUS_LABELS,
        volunteers=services.volunteers_of(matter),
        on_agendas=meetings.meetings_for_matter(matter),
        planned_meetings=planned,
        may_volunteer=actor.user is not None
        and can(actor, "community:read", community=g.community)
        and matter.status in workflow.OPEN,
        timeline=services.timeline(matter, internal=workflow.HANDLER in roles),
        photos=services.photos_of(matter),
        tracking_code=session.pop("new_tracking_code", None),
        transition_form=transition_form,
        note_form=forms.get("note_form") or NoteForm(formdata=None),
        rating_form=forms.get("rating_form") or RatingForm(formdata=None),
        photo_form=forms.get("photo_form") or PhotoForm(formdata=None),
    )


@blueprint.route("/matters/<int:matter_id>/transition", methods=["POST"])
def move(matter_id: int):
    matter = _matter_for_viewer(matter_id)
    form = TransitionForm()
    if not form.validate_on_submit():
        return _render_matter(matter, transition_form=form), 400
    try:
        version = int(form.version.data) if (form.version.data or "").isdigit() else None
        services.transition(
            g.community,
            matter,
            form.action.data,
            actor=current_actor(),
            tracked=matter.id in tracked_ids(),
            note=form.note.data or "",
            public=form.public.data != "0",
            outcome=form.outcome.data or None,
            agreement_text=form.agreement_text.data or "",
            escalate_to=form.escalate_to.data,
            expected_version=version,
        )
        db.session.commit()
    except FORM_ERRORS as error:
        db.session.rollback()
        matter = _matter_for_viewer(matter_id)
        show_domain_error(form, error)
        status = 409 if error.status == 409 else 422
        return _render_matter(matter, transition_form=form), status
    flash(_("Done: the matter is now “%(status)s”.", status=workflow.STATUS_LABELS[matter.status]), "success")
    return redirect(url_for(".show", matter_id=matter.id))


@blueprint.route("/matters/<int:matter_id>/notes", methods=["POST"])
def note(matter_id: int):
    matter = _matter_for_viewer(matter_id)
    form = NoteForm()
    if form.validate_on_submit():
        done, _entry = save_form(
            form,
            lambda: services.add_note(
                g.community,
                matter,
                form.note.data,
                actor=current_actor(),
                tracked=matter.id in tracked_ids(),
                public=form.public.data != "0",
            ),
            success=_("Added to the timeline."),
        )
        if done:
            return redirect(url_for(".show", matter_id=matter.id))
    return _render_matter(_matter_for_viewer(matter_id), note_form=form), 422


@blueprint.route("/matters/<int:matter_id>/rating", methods=["POST"])
def rating(matter_id: int):
    matter = _matter_for_viewer(matter_id)
    form = RatingForm()
    if form.validate_on_submit():
        done, _matter = save_form(
            form,
            lambda: services.rate(
                g.community,
                matter,
                int(form.score.data),
                form.comment.data or "",
                actor=current_actor(),
                tracked=matter.id in tracked_ids(),
            ),
            success=_("Thank you for your rating."),
        )
        if done:
            return redirect(url_for(".show", matter_id=matter.id))
    return _render_matter(_matter_for_viewer(matter_id), rating_form=form), 422


@blueprint.route("/matters/<int:matter_id>/photos", methods=["POST"])
def add_photos(matter_id: int):
    matter = _matter_for_viewer(matter_id)
    form = PhotoForm()
    if form.validate_on_submit():
        done, _photos = save_form(
            form,
            lambda: services.add_photos(
                g.community, matter, _uploads(), actor=current_actor(), tracked=matter.id in tracked_ids()
            ),
            success=_("Photos added."),
        )
        if done:
            return redirect(url_for(".show", matter_id=matter.id))
    return _render_matter(_matter_for_viewer(matter_id), photo_form=form), 422


@blueprint.route("/matters/<int:matter_id>/photos/<int:photo_id>")
def photo(matter_id: int, photo_id: int):
    found = services.get_photo(_matter_for_viewer(matter_id), photo_id)
    response = Response(storage().read(found.storage_key), mimetype=found.content_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# --- lists -------------------------------------------------------------------------------------------


@blueprint.route("/queue")
@login_required
def queue():
    """The moderators' work queue: open matters of their points, overdue first."""
    actor = current_actor()
    require(actor, "matters:read", community=g.community)
    form = QueueFilterForm(request.args)
    form.status.choices = [("", _("Every open status"))] + [(s.value, str(workflow.STATUS_LABELS[s])) for s in Status]
    _category_choices(form.category_id)
    _group_choices(form.resident_group_id)
    _point_choices(form.point_id)
    form.channel.choices = [("", "—")] + [(c.value, str(workflow.CHANNEL_LABELS[c])) for c in Channel]
    reach = services.reach(actor, g.community)
    mine = request.args.get("all") != "1" and reach is not None and not reach.every
    filters = services.Filters(open_only=True, mine=mine)
    if form.validate():
        filters.status = [form.status.data] if form.status.data else None
        filters.category_id = form.category_id.data
        filters.resident_group_id = form.resident_group_id.data
        filters.point_id = form.point_id.data
        filters.channel = form.channel.data or None
        filters.overdue = {"1": True, "0": False}.get(form.overdue.data)
        filters.q = form.q.data or ""
    page = paginate_page(services.list_statement(filters, actor=actor))
    return render_template(
        "matters/queue.html",
        form=form,
        rows=presenters.describe(page["items"], actor, g.community),
        page=page,
        mine=mine,
        may_record=can(actor, "matters:write", community=g.community),
    )


@blueprint.route("/board")
def board():
    """公平、公正、公开: every matter's status, category, group and point — no names, no phones."""
    page = paginate_page(services.board_statement())
    return render_template(
        "matters/board.html",
        rows=presenters.board_rows(page["items"]),
        page=page,
        counts=services.board_counts(),
        labels=workflow.STATUS_LABELS,
    )


@street_blueprint.route("/escalated")
@login_required
def escalated():
    """The matters the street's communities escalated to the street office."""
    street, actor = g.street, current_actor()
    require(actor, "street:read", street=street)
    communities_by_id = {c.id: c for c in communities.list_communities(street=street, active_only=True)}
    rows = [
        (communities_by_id[matter.community_id], matter)
        for matter in services.escalated_to_street(list(communities_by_id))
    ]
    return render_template("matters/escalated.html", rows=rows, now=utcnow())
