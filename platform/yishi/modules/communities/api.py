"""REST: a community, its resident groups; a street office and its communities."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from yishi.core.api import PageArgsSchema, page_schema, paginate
from yishi.core.db import db
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import require
from yishi.modules.communities import services
from yishi.modules.communities.context import community_api, current_community, current_street, street_api
from yishi.modules.communities.schemas import (
    CommunitySchema,
    ResidentGroupSchema,
    ResidentGroupUpdateSchema,
    StreetSchema,
)

community_blp = community_api("communities_api", __name__, "A community (the tenant) and its resident groups.")
street_blp = street_api("streets_api", __name__, "A street office and the communities under it.")


@community_blp.route("")
class CommunityById(MethodView):
    @community_blp.response(200, CommunitySchema)
    def get(self):
        """The community"""
        community = current_community()
        require(current_actor(), "community:read", community=community)
        return community


@community_blp.route("/resident-groups")
class ResidentGroups(MethodView):
    @community_blp.arguments(PageArgsSchema, location="query")
    @community_blp.response(200, page_schema(ResidentGroupSchema))
    def get(self, args):
        """Resident groups (居民小组), in display order"""
        require(current_actor(), "community:read", community=current_community())
        return paginate(services.resident_groups_statement(), args)

    @community_blp.arguments(ResidentGroupSchema)
    @community_blp.response(201, ResidentGroupSchema)
    def post(self, data):
        """Add a resident group (accepts Idempotency-Key)"""
        group = services.create_resident_group(current_community(), data, actor=current_actor())
        db.session.flush()
        return group, {"Location": url_for(".ResidentGroupById", group_id=group.id, _external=True)}


@community_blp.route("/resident-groups/<int:group_id>")
class ResidentGroupById(MethodView):
    @community_blp.response(200, ResidentGroupSchema)
    def get(self, group_id: int):
        """One resident group"""
        require(current_actor(), "community:read", community=current_community())
        return services.get_resident_group(group_id)

    @community_blp.arguments(ResidentGroupUpdateSchema(partial=True))
    @community_blp.response(200, ResidentGroupSchema)
    def patch(self, data, group_id: int):
        """Change a resident group"""
        group = services.get_resident_group(group_id)
        services.update_resident_group(current_community(), group, data, actor=current_actor())
        db.session.flush()
        return group


@street_blp.route("")
class StreetById(MethodView):
    @street_blp.response(200, StreetSchema)
    def get(self):
        """The street office"""
        street = current_street()
        require(current_actor(), "street:read", street=street)
        return street


@street_blp.route("/communities")
class StreetCommunities(MethodView):
    @street_blp.arguments(PageArgsSchema, location="query")
    @street_blp.response(200, page_schema(CommunitySchema))
    def get(self, args):
        """The communities under this street office, every status"""
        street = current_street()
        require(current_actor(), "street:read", street=street)
        return paginate(services.communities_statement(street), args)
