"""REST for street offices: bulk onboarding, and deciding applications."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from yishi.core.db import db
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import require
from yishi.modules.communities.context import current_street, street_api
from yishi.modules.onboarding import services
from yishi.modules.onboarding.schemas import (
    ApplicationSchema,
    InvitationArgsSchema,
    InvitationSchema,
    RegistrationSchema,
    RejectionSchema,
)

blp = street_api("onboarding_api", __name__, "Onboarding communities into a street office.")


@blp.route("/applications")
class Applications(MethodView):
    @blp.response(200, ApplicationSchema(many=True))
    def get(self):
        """Communities waiting for this street office's decision"""
        require(current_actor(), "street:write", street=current_street())
        return services.pending_applications(current_street())

    @blp.arguments(RegistrationSchema)
    @blp.response(201, ApplicationSchema)
    def post(self, data):
        """Register a community with its first admin (``activate: true`` approves it at once)"""
        activate = data.pop("activate")
        data = {**data, "street": current_street().slug, "kind": data["kind"].value}
        community, _user = services.register_community(data, actor=current_actor(), activate=activate)
        db.session.flush()
        return community, {
            "Location": url_for("communities_api.CommunityById", community_slug=community.slug, _external=True)
        }


@blp.route("/applications/<community_slug>/approve")
class Approve(MethodView):
    @blp.response(200, ApplicationSchema)
    def post(self, community_slug: str):
        """Approve a pending application: the community becomes active"""
        community = services.community_of_street(current_street(), community_slug)
        services.approve(community, actor=current_actor())
        db.session.flush()
        return community


@blp.route("/applications/<community_slug>/reject")
class Reject(MethodView):
    @blp.arguments(RejectionSchema)
    @blp.response(200, ApplicationSchema)
    def post(self, data, community_slug: str):
        """Reject a pending application, with a reason"""
        community = services.community_of_street(current_street(), community_slug)
        services.reject(community, data["reason"], actor=current_actor())
        db.session.flush()
        return community


@blp.route("/invitations")
class Invitations(MethodView):
    @blp.arguments(InvitationArgsSchema)
    @blp.response(201, InvitationSchema)
    def post(self, data):
        """Issue an invitation code (shown once in this answer) that activates a community at registration"""
        invitation, code = services.issue_invitation(current_street(), actor=current_actor(), uses=data["uses"])
        db.session.flush()
        return {"code": code, "uses_left": invitation.uses_left, "expires_at": invitation.expires_at}
