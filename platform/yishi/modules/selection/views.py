"""Pages: moderator selection — criteria, rounds (nominate, score, close, rank, appoint), appointments.

Every view checks the permission and fetches the objects of its URL before reading any form, so
another community's ids answer 404 whatever is posted.
"""

from __future__ import annotations

from collections import OrderedDict

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import login_required
from wtforms.fields.choices import SelectChoice

from yishi.core.db import db
from yishi.core.errors import FORM_ERRORS
from yishi.core.forms import perform, show_domain_error
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.forms import ActionForm
from yishi.modules.accounts.models import CommunityMembership, CommunityRole, User
from yishi.modules.accounts.permissions import can, require
from yishi.modules.communities import services as communities
from yishi.modules.communities.context import community_pages
from yishi.modules.selection import services
from yishi.modules.selection.forms import (
    AppointForm,
    CriterionEditForm,
    CriterionForm,
    EvaluatorsForm,
    NominateForm,
    RoundForm,
    score_form_class,
)
from yishi.modules.selection.models import RoundStatus, SelectionRound

blueprint = community_pages("selection", __name__)


@blueprint.context_processor
def _labels():
    return {"round_status_labels": {"open": _("open"), "closed": _("closed")}}


def _locale() -> str:
    return str(get_locale())


# --- members, as shown in choices -------------------------------------------------------------------------


def _member_label(user: User, membership: CommunityMembership, group_names: dict[int, str]) -> str:
    parts = [user.name]
    if membership.resident_group_id in group_names:
        parts.append(group_names[membership.resident_group_id])
    if membership.party_member:
        parts.append(_("Party member"))
    if membership.representative:
        parts.append(_("resident representative"))
    return " · ".join(parts)


def _member_choices(exclude: set[int] | frozenset[int] = frozenset()) -> tuple[list[SelectChoice], set[int]]:
    """Choices for every member (but ``exclude``), and the ids of those usually asked to evaluate:
    Party members, resident representatives, staff, moderators and admins."""
    locale = _locale()
    group_names = {group.id: group.name(locale) for group in communities.list_resident_groups()}
    choices, key_ids = [], set()
    for user, membership in services.members():
        if user.id in exclude:
            continue
        choices.append(SelectChoice(user.id, _member_label(user, membership, group_names)))
        if membership.party_member or membership.representative or membership.role != CommunityRole.RESIDENT:
            key_ids.add(user.id)
    return choices, key_ids


def _point_choices(*, whole_community: bool) -> list[SelectChoice]:
    first = _("The whole community") if whole_community else _("Choose a point…")
    locale = _locale()
    return [SelectChoice("", first)] + [SelectChoice(p.id, p.name(locale)) for p in services.list_points()]


# --- overview ------------------------------------------------------------------------------------------------


@blueprint.route("/selection/")
@login_required
def overview():
    actor = current_actor()
    require(actor, "selection:read", community=g.community)
    rounds = services.list_rounds()
    moderators = services.active_moderators()
    points = services.points_by_id([r.point_id for r in rounds] + [a.point_id for a, _user in moderators])
    by_point: OrderedDict[int, list] = OrderedDict()
    for appointment, user in moderators:
        by_point.setdefault(appointment.point_id, []).append((appointment, user))
    return render_template(
        "selection/overview.html",
        criteria=services.list_criteria(active_only=True),
        rounds=rounds,
        points=points,
        moderators_by_point=[(points[point_id], rows) for point_id, rows in by_point.items()],
        can_write=can(actor, "selection:write", community=g.community),
    )


# --- criteria ------------------------------------------------------------------------------------------------


def _criteria_page(form: CriterionForm, *, criterion_errors: dict[int, list[str]] | None = None, status: int = 200):
    return (
        render_template(
            "selection/criteria.html",
            form=form,
            criteria=services.list_criteria(),
            remove_form=ActionForm(),
            criterion_errors=criterion_errors or {},
        ),
        status,
    )


@blueprint.route("/selection/criteria", methods=["GET", "POST"])
@login_required
def criteria():
    actor = current_actor()
    require(actor, "selection:write", community=g.community)
    form = CriterionForm()
    if form.validate_on_submit():
        data = {key: form[key].data for key in ("code", "name_zh", "name_en", "weight")}
        try:
            criterion = services.create_criterion(g.community, data, actor=actor)
            db.session.commit()
            flash(_("Criterion “%(name)s” added.", name=criterion.name(_locale())), "success")
            return redirect(url_for(".criteria"))
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(form, error)
    return _criteria_page(form, status=400 if form.errors else 200)


@blueprint.route("/selection/criteria/<int:criterion_id>", methods=["GET", "POST"])
@login_required
def edit_criterion(criterion_id: int):
    actor = current_actor()
    require(actor, "selection:write", community=g.community)
    criterion = services.get_criterion(criterion_id)
    form = CriterionEditForm(obj=criterion)
    if form.validate_on_submit():
        data = {key: form[key].data for key in ("name_zh", "name_en", "weight", "position")}
        try:
            services.update_criterion(g.community, criterion, data, actor=actor)
            db.session.commit()
            flash(_("Criterion saved."), "success")
            return redirect(url_for(".criteria"))
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(form, error)
    status = 400 if form.errors else 200
    return render_template("selection/criterion_edit.html", form=form, criterion=criterion), status


@blueprint.route("/selection/criteria/<int:criterion_id>/remove", methods=["POST"])
@login_required
def remove_criterion(criterion_id: int):
    actor = current_actor()
    require(actor, "selection:write", community=g.community)
    criterion = services.get_criterion(criterion_id)
    if ActionForm().validate_on_submit():
        try:
            outcome = services.remove_criterion(g.community, criterion, actor=actor)
        except FORM_ERRORS as error:
            db.session.rollback()
            messages = [m for messages in (error.errors or {}).values() for m in messages] or [error.detail]
            return _criteria_page(CriterionForm(formdata=None), criterion_errors={criterion_id: messages}, status=409)
        db.session.commit()
        if outcome == "deleted":
            flash(_("Criterion removed."), "info")
        else:
            flash(_("Criterion deactivated: closed rounds used it, so their results keep it."), "info")
    return redirect(url_for(".criteria"))


# --- rounds --------------------------------------------------------------------------------------------------


@blueprint.route("/selection/rounds/new", methods=["GET", "POST"])
@login_required
def new_round():
    actor = current_actor()
    require(actor, "selection:write", community=g.community)
    form = RoundForm()
    form.point_id.choices = _point_choices(whole_community=True)
    form.evaluator_ids.choices, key_ids = _member_choices()
    if form.validate_on_submit():
        data = {key: form[key].data for key in ("title", "point_id", "scale_min", "scale_max", "evaluator_ids")}
        try:
            selection_round = services.open_round(g.community, data, actor=actor)
            db.session.commit()
            flash(_("Round “%(title)s” opened.", title=selection_round.title), "success")
            return redirect(url_for(".show_round", round_id=selection_round.id))
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(form, error)
    status = 400 if form.errors else 200
    return (
        render_template(
            "selection/round_new.html",
            form=form,
            key_ids=key_ids,
            criteria=services.list_criteria(active_only=True),
        ),
        status,
    )


def _nominate_form(selection_round: SelectionRound, candidate_ids: set[int], *, formdata=True) -> NominateForm:
    form = NominateForm(prefix="nominate") if formdata else NominateForm(prefix="nominate", formdata=None)
    choices, _key_ids = _member_choices(exclude=candidate_ids)
    form.user_id.choices = [SelectChoice("", _("Choose a member…")), *choices]
    form.user_id.validate_choice = False  # the service says why a member cannot be nominated
    return form


def _evaluators_form(selection_round: SelectionRound, *, formdata=True) -> tuple[EvaluatorsForm, set[int]]:
    if formdata:
        form = EvaluatorsForm(prefix="evaluators")
    else:
        form = EvaluatorsForm(prefix="evaluators", formdata=None, evaluator_ids=services.evaluator_ids(selection_round))
    form.evaluator_ids.choices, key_ids = _member_choices()
    return form, key_ids


def _score_form(selection_round: SelectionRound, candidate_id: int, *, own: dict[int, int] | None = None):
    locale = _locale()
    criteria = [(criterion.id, criterion.name(locale)) for _rc, criterion in services.round_criteria(selection_round)]
    form_class = score_form_class(criteria, selection_round.scale_min, selection_round.scale_max)
    prefix = f"candidate{candidate_id}"
    if own is None:
        return form_class(prefix=prefix)
    return form_class(prefix=prefix, formdata=None, data={f"score_{cid}": value for cid, value in own.items()})


def _appoint_form(selection_round: SelectionRound | None, *, formdata=True) -> AppointForm:
    if formdata:
        form = AppointForm(prefix="appoint")
    else:
        form = AppointForm(
            prefix="appoint",
            formdata=None,
            term_start=services.community_today(),
            point_id=selection_round.point_id if selection_round is not None else None,
        )
    if selection_round is None:
        choices, _key_ids = _member_choices()
    else:  # the round's candidates, best ranked first
        choices = [SelectChoice(row.user.id, row.user.name) for row in services.ranking(selection_round)]
    form.user_id.choices = [SelectChoice("", _("Choose a member…")), *choices]
    form.point_id.choices = _point_choices(whole_community=False)
    # Whoever is chosen, the service says why they cannot be appointed, in its own words.
    form.user_id.validate_choice = form.point_id.validate_choice = False
    return form


def _round_page(
    selection_round: SelectionRound,
    *,
    nominate_form: NominateForm | None = None,
    score_forms: dict | None = None,
    evaluators_form: EvaluatorsForm | None = None,
    appoint_form: AppointForm | None = None,
    status: int = 200,
):
    actor = current_actor()
    user_id = actor.user_id
    is_open = selection_round.status == RoundStatus.OPEN
    can_write = can(actor, "selection:write", community=g.community)
    candidates = services.candidates_of(selection_round)
    candidate_ids = {entry.user.id for entry in candidates}
    context: dict = {
        "selection_round": selection_round,
        "criteria": services.round_criteria(selection_round),
        "candidates": candidates,
        "evaluators": services.evaluators_of(selection_round),
        "progress": services.progress(selection_round),
        "point": services.points_by_id([selection_round.point_id]).get(selection_round.point_id),
        "can_write": can_write,
        "action_form": ActionForm(),
        "is_evaluator": False,
        "ranking": None,
    }
    if is_open and services.is_member(user_id):
        context["nominate_form"] = nominate_form or _nominate_form(selection_round, candidate_ids, formdata=False)
    if is_open and services.is_evaluator(selection_round, user_id):
        own = services.own_scores(selection_round, user_id)
        forms = dict(score_forms or {})
        for entry in candidates:
            if entry.user.id != user_id and entry.candidate.id not in forms:
                forms[entry.candidate.id] = _score_form(
                    selection_round, entry.candidate.id, own=own.get(entry.candidate.id, {})
                )
        context.update(is_evaluator=True, score_forms=forms, own_scores=own)
    if is_open and can_write:
        form, key_ids = _evaluators_form(selection_round, formdata=False)
        context.update(evaluators_form=evaluators_form or form, key_ids=key_ids)
    if not is_open:
        context["ranking"] = services.ranking(selection_round)
        history = [row for row in services.appointment_history() if row[0].round_id == selection_round.id]
        context["appointments"] = history
        if can_write:
            context["appoint_form"] = appoint_form or _appoint_form(selection_round, formdata=False)
    return render_template("selection/round.html", **context), status


@blueprint.route("/selection/rounds/<int:round_id>")
@login_required
def show_round(round_id: int):
    require(current_actor(), "selection:read", community=g.community)
    return _round_page(services.get_round(round_id))


@blueprint.route("/selection/rounds/<int:round_id>/nominate", methods=["POST"])
@login_required
def nominate(round_id: int):
    actor = current_actor()
    require(actor, "community:read", community=g.community)
    selection_round = services.get_round(round_id)
    candidate_ids = {entry.user.id for entry in services.candidates_of(selection_round)}
    form = _nominate_form(selection_round, candidate_ids)
    if form.validate_on_submit():
        try:
            candidate = services.nominate(
                g.community, selection_round, user_id=form.user_id.data, reason=form.reason.data, actor=actor
            )
            db.session.commit()
            flash(_("Nomination recorded. Thank you."), "success")
            return redirect(url_for(".show_round", round_id=round_id, _anchor=f"candidate-{candidate.id}"))
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(form, error)
    return _round_page(selection_round, nominate_form=form, status=400)


@blueprint.route("/selection/rounds/<int:round_id>/candidates/<int:candidate_id>/scores", methods=["POST"])
@login_required
def score(round_id: int, candidate_id: int):
    actor = current_actor()
    require(actor, "selection:read", community=g.community)
    selection_round = services.get_round(round_id)
    candidate = services.get_candidate(selection_round, candidate_id)
    services.require_evaluator(g.community, selection_round, actor=actor)
    form = _score_form(selection_round, candidate.id)
    if form.validate_on_submit():
        criteria_ids = [criterion.id for _rc, criterion in services.round_criteria(selection_round)]
        values = {criterion_id: form[f"score_{criterion_id}"].data for criterion_id in criteria_ids}
        scores = {criterion_id: value for criterion_id, value in values.items() if value is not None}
        try:
            services.score_candidate(g.community, selection_round, candidate, scores, actor=actor)
            db.session.commit()
            flash(_("Your scores are saved."), "success")
            return redirect(url_for(".show_round", round_id=round_id, _anchor=f"candidate-{candidate.id}"))
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(form, error, rename={f"scores.{cid}": f"score_{cid}" for cid in criteria_ids})
    return _round_page(selection_round, score_forms={candidate.id: form}, status=400)


@blueprint.route("/selection/rounds/<int:round_id>/evaluators", methods=["POST"])
@login_required
def evaluators(round_id: int):
    actor = current_actor()
    require(actor, "selection:write", community=g.community)
    selection_round = services.get_round(round_id)
    form, _key_ids = _evaluators_form(selection_round)
    if form.validate_on_submit():
        try:
            services.set_evaluators(
                g.community, selection_round, form.evaluator_ids.data, actor=actor, field_name="evaluator_ids"
            )
            db.session.commit()
            flash(_("Evaluators saved."), "success")
            return redirect(url_for(".show_round", round_id=round_id, _anchor="evaluators"))
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(form, error)
    return _round_page(selection_round, evaluators_form=form, status=400)


@blueprint.route("/selection/rounds/<int:round_id>/close", methods=["POST"])
@login_required
def close(round_id: int):
    actor = current_actor()
    require(actor, "selection:write", community=g.community)
    selection_round = services.get_round(round_id)
    if ActionForm().validate_on_submit():
        perform(
            lambda: services.close_round(g.community, selection_round, actor=actor),
            success=_("The round is closed. Its ranking is below."),
        )
    return redirect(url_for(".show_round", round_id=round_id))


@blueprint.route("/selection/rounds/<int:round_id>/appoint", methods=["POST"])
@login_required
def appoint(round_id: int):
    actor = current_actor()
    require(actor, "selection:write", community=g.community)
    selection_round = services.get_round(round_id)
    try:
        services.require_closed(selection_round)
    except FORM_ERRORS as error:
        flash(error.detail or str(error.title), "danger")
        return redirect(url_for(".show_round", round_id=round_id))
    form = _appoint_form(selection_round)
    if form.validate_on_submit():
        try:
            services.appoint(g.community, selection_round=selection_round, actor=actor, **_appointment_data(form))
            db.session.commit()
            flash(_("Moderator appointed."), "success")
            return redirect(url_for(".show_round", round_id=round_id, _anchor="appointments"))
        except FORM_ERRORS as error:
            db.session.rollback()
            show_domain_error(form, error)
    return _round_page(selection_round, appoint_form=form, status=400)


def _appointment_data(form: AppointForm) -> dict:
    return {
        "user_id": form.user_id.data,
        "point_id": form.point_id.data,
        "term_start": form.term_start.data,
        "term_end": form.term_end.data,
        "note": form.note.data or "",
    }


# --- appointments ------------------------------------------------------------------------------------------


@blueprint.route("/selection/appointments", methods=["GET", "POST"])
@login_required
def appointments():
    actor = current_actor()
    require(actor, "selection:read", community=g.community)
    can_write = can(actor, "selection:write", community=g.community)
    form, status = None, 200
    if request.method == "POST":
        require(actor, "selection:write", community=g.community)
        form = _appoint_form(None)
        if form.validate_on_submit():
            try:
                services.appoint(g.community, actor=actor, **_appointment_data(form))
                db.session.commit()
                flash(_("Moderator appointed."), "success")
                return redirect(url_for(".appointments"))
            except FORM_ERRORS as error:
                db.session.rollback()
                show_domain_error(form, error)
        status = 400
    elif can_write:
        form = _appoint_form(None, formdata=False)
    return (
        render_template(
            "selection/appointments.html",
            history=services.appointment_history(),
            round_titles={r.id: r.title for r in services.list_rounds()},
            form=form,
            can_write=can_write,
            end_form=ActionForm(),
        ),
        status,
    )


@blueprint.route("/selection/appointments/<int:appointment_id>/end", methods=["POST"])
@login_required
def end_appointment(appointment_id: int):
    actor = current_actor()
    require(actor, "selection:write", community=g.community)
    appointment = services.get_appointment(appointment_id)
    if ActionForm().validate_on_submit():
        perform(
            lambda: services.end_appointment(g.community, appointment, actor=actor),
            success=_("The appointment has ended. It stays in the history."),
            category="info",
        )
    return redirect(url_for(".appointments"))
