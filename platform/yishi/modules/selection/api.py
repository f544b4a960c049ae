"""REST: moderator selection — criteria, rounds, evaluators, candidates and appointments."""

from __future__ import annotations

from flask import request, url_for
from flask.views import MethodView
from flask_babel import gettext as _

from yishi.core import tenancy
from yishi.core.api import PageArgsSchema, page_schema, paginate
from yishi.core.db import db
from yishi.core.errors import ValidationFailed
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import require
from yishi.modules.communities.context import community_api, current_community
from yishi.modules.selection import services
from yishi.modules.selection.models import SelectionRound
from yishi.modules.selection.schemas import (
    AppointmentCreateSchema,
    AppointmentQueryArgsSchema,
    AppointmentSchema,
    CandidateCreateSchema,
    CandidateSchema,
    CriterionSchema,
    CriterionUpdateSchema,
    EvaluatorsSchema,
    RoundCreateSchema,
    RoundDetailSchema,
    RoundQueryArgsSchema,
    RoundSchema,
)

blp = community_api(
    "selection_api",
    __name__,
    "Moderator selection (议事长遴选): weighted criteria, rounds with evaluators and candidates, the ranking "
    "once a round is closed, and moderator appointments to points. Scores are not part of the API: evaluators "
    "give them signed in on the web, because a token is not a person.",
)

_URL_OBJECTS = {
    "criterion_id": services.get_criterion,
    "round_id": services.get_round,
    "appointment_id": services.get_appointment,
}


@blp.before_request
def _objects_of_the_url_exist():
    """An id of the URL that this community does not own answers 404 before any body is read."""
    for name, value in (request.view_args or {}).items():
        if name in _URL_OBJECTS:
            _URL_OBJECTS[name](value)


def _read():
    require(current_actor(), "selection:read", community=current_community())


# --- criteria ----------------------------------------------------------------------------------------------


@blp.route("/selection/criteria")
class Criteria(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(CriterionSchema))
    def get(self, args):
        """Selection criteria (遴选标准), active and inactive, in display order"""
        _read()
        return paginate(services.criteria_statement(), args)

    @blp.arguments(CriterionSchema)
    @blp.response(201, CriterionSchema)
    def post(self, data):
        """Add a criterion; its weight must be greater than 0 (accepts Idempotency-Key)"""
        criterion = services.create_criterion(current_community(), data, actor=current_actor())
        db.session.flush()
        return criterion, {"Location": url_for(".CriterionById", criterion_id=criterion.id, _external=True)}


@blp.route("/selection/criteria/<int:criterion_id>")
class CriterionById(MethodView):
    @blp.response(200, CriterionSchema)
    def get(self, criterion_id: int):
        """One criterion"""
        _read()
        return services.get_criterion(criterion_id)

    @blp.arguments(CriterionUpdateSchema)
    @blp.response(200, CriterionSchema)
    def patch(self, data, criterion_id: int):
        """Rename, reweight, reorder or (de)activate a criterion; rounds already opened keep their weights"""
        criterion = services.get_criterion(criterion_id)
        services.update_criterion(current_community(), criterion, data, actor=current_actor())
        db.session.flush()
        return criterion

    @blp.response(204)
    def delete(self, criterion_id: int):
        """Remove a criterion: deleted if no round used it, deactivated if only closed rounds did (their
        results keep it), refused with 409 while an open round uses it"""
        criterion = services.get_criterion(criterion_id)
        services.remove_criterion(current_community(), criterion, actor=current_actor())
        db.session.flush()


# --- rounds ------------------------------------------------------------------------------------------------


@blp.route("/selection/rounds")
class Rounds(MethodView):
    @blp.arguments(RoundQueryArgsSchema, location="query")
    @blp.response(200, page_schema(RoundSchema))
    def get(self, args):
        """Selection rounds, newest first"""
        _read()
        return paginate(services.rounds_statement(status=args.get("status")), args)

    @blp.arguments(RoundCreateSchema)
    @blp.response(201, RoundDetailSchema)
    def post(self, data):
        """Open a round (scale default 1–5) with its evaluators; the community's active criteria and their
        weights are copied into it (accepts Idempotency-Key)"""
        selection_round = services.open_round(current_community(), data, actor=current_actor())
        db.session.flush()
        location = url_for(".RoundById", round_id=selection_round.id, _external=True)
        return services.round_view(selection_round), {"Location": location}


@blp.route("/selection/rounds/<int:round_id>")
class RoundById(MethodView):
    @blp.response(200, RoundDetailSchema)
    def get(self, round_id: int):
        """A round: criteria, evaluators, scoring progress (counts only) and, once closed, the ranking.

        Score values are never shown while the round is open. Scores themselves are given by signed-in
        evaluators on the web, not through the API."""
        _read()
        return services.round_view(services.get_round(round_id))


@blp.route("/selection/rounds/<int:round_id>/close")
class RoundClose(MethodView):
    @blp.response(200, RoundDetailSchema)
    def post(self, round_id: int):
        """Close a round: nominations and scoring stop, the ranking is published"""
        selection_round = services.get_round(round_id)
        services.close_round(current_community(), selection_round, actor=current_actor())
        db.session.flush()
        return services.round_view(selection_round)


@blp.route("/selection/rounds/<int:round_id>/evaluators")
class RoundEvaluators(MethodView):
    @blp.response(200, EvaluatorsSchema)
    def get(self, round_id: int):
        """The evaluators of a round (user ids)"""
        _read()
        return {"user_ids": services.evaluator_ids(services.get_round(round_id))}

    @blp.arguments(EvaluatorsSchema)
    @blp.response(200, EvaluatorsSchema)
    def put(self, data, round_id: int):
        """Replace the evaluators of an open round (members of the community); an evaluator taken off
        the list loses the scores they gave in it"""
        selection_round = services.get_round(round_id)
        user_ids = services.set_evaluators(
            current_community(), selection_round, data["user_ids"], actor=current_actor()
        )
        db.session.flush()
        return {"user_ids": user_ids}


@blp.route("/selection/rounds/<int:round_id>/candidates")
class RoundCandidates(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(CandidateSchema))
    def get(self, args, round_id: int):
        """The candidates of a round, with the reasons they were nominated for"""
        _read()
        body, headers = paginate(services.candidates_statement(services.get_round(round_id)), args)
        body["items"] = services.candidate_views(body["items"])
        return body, headers

    @blp.arguments(CandidateCreateSchema)
    @blp.response(201, CandidateSchema)
    def post(self, data, round_id: int):
        """Nominate a member (``user_id``) with a reason, optionally naming the member who nominated
        (``nominated_by_id``); needs ``selection:write``. A member is a candidate once per round."""
        selection_round = services.get_round(round_id)
        candidate = services.nominate(current_community(), selection_round, actor=current_actor(), **data)
        db.session.flush()
        return services.candidate_views([candidate])[0]


# --- appointments ----------------------------------------------------------------------------------------


@blp.route("/selection/appointments")
class Appointments(MethodView):
    @blp.arguments(AppointmentQueryArgsSchema, location="query")
    @blp.response(200, page_schema(AppointmentSchema))
    def get(self, args):
        """Moderator appointments, ended ones included (``current=true``: only those not ended), newest term
        first"""
        _read()
        statement = services.appointments_statement(point_id=args.get("point_id"), current=args.get("current"))
        body, headers = paginate(statement, args)
        body["items"] = services.appointment_views(body["items"])
        return body, headers

    @blp.arguments(AppointmentCreateSchema)
    @blp.response(201, AppointmentSchema)
    def post(self, data):
        """Appoint a moderator to a point for a term: from a closed round (one of its candidates), or
        directly with ``round_id`` null. A resident or staff member becomes a moderator of the community."""
        round_id = data.pop("round_id")
        selection_round = None
        if round_id is not None:
            selection_round = tenancy.get_owned(SelectionRound, round_id)
            if selection_round is None:
                raise ValidationFailed(errors={"round_id": [_("There is no such round in this community.")]})
        appointment = services.appoint(
            current_community(), selection_round=selection_round, actor=current_actor(), **data
        )
        db.session.flush()
        location = url_for(".AppointmentById", appointment_id=appointment.id, _external=True)
        return services.appointment_views([appointment])[0], {"Location": location}


@blp.route("/selection/appointments/<int:appointment_id>")
class AppointmentById(MethodView):
    @blp.response(200, AppointmentSchema)
    def get(self, appointment_id: int):
        """One appointment"""
        _read()
        return services.appointment_views([services.get_appointment(appointment_id)])[0]


@blp.route("/selection/appointments/<int:appointment_id>/end")
class AppointmentEnd(MethodView):
    @blp.response(200, AppointmentSchema)
    def post(self, appointment_id: int):
        """End an appointment now; it stays in the history with ``ended_at`` set"""
        appointment = services.get_appointment(appointment_id)
        services.end_appointment(current_community(), appointment, actor=current_actor())
        db.session.flush()
        return services.appointment_views([appointment])[0]
