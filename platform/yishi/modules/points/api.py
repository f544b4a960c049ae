"""REST: deliberation points, their resident groups, QR codes and coverage."""

from __future__ import annotations

from flask import url_for
from flask.views import MethodView

from yishi.core.api import PageArgsSchema, page_schema, paginate
from yishi.core.db import db
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import require
from yishi.modules.communities.context import community_api, current_community
from yishi.modules.points import presenters, services
from yishi.modules.points.schemas import CoverageSchema, PointSchema, PointUpdateSchema

blp = community_api("points_api", __name__, "Deliberation points (议事点): places, groups served, QR codes.")


@blp.route("/points")
class Points(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_schema(PointSchema))
    def get(self, args):
        """Points with the resident groups they serve, their moderators and QR code links"""
        require(current_actor(), "community:read", community=current_community())
        body, headers = paginate(services.points_statement(), args)
        body["items"] = presenters.describe(body["items"], external=True)
        return body, headers

    @blp.arguments(PointSchema)
    @blp.response(201, PointSchema)
    def post(self, data):
        """Add a point (accepts Idempotency-Key)"""
        point = services.create_point(current_community(), data, actor=current_actor())
        db.session.flush()
        return presenters.describe([point], external=True)[0], {
            "Location": url_for(".PointById", point_id=point.id, _external=True)
        }


@blp.route("/points/<int:point_id>")
class PointById(MethodView):
    @blp.response(200, PointSchema)
    def get(self, point_id: int):
        """One point"""
        require(current_actor(), "community:read", community=current_community())
        return presenters.describe([services.get_point(point_id)], external=True)[0]

    @blp.arguments(PointUpdateSchema(partial=True))
    @blp.response(200, PointSchema)
    def patch(self, data, point_id: int):
        """Change a point; ``resident_group_ids`` replaces the groups it serves"""
        point = services.update_point(current_community(), services.get_point(point_id), data, actor=current_actor())
        db.session.flush()
        return presenters.describe([point], external=True)[0]


@blp.route("/coverage")
class Coverage(MethodView):
    @blp.response(200, CoverageSchema)
    def get(self):
        """Which points serve each resident group, and how many groups no point serves"""
        require(current_actor(), "community:read", community=current_community())
        coverage = services.coverage()
        return {
            "groups": [
                {
                    "id": g.id,
                    "code": g.code,
                    "name_zh": g.name_zh,
                    "name_en": g.name_en,
                    "point_codes": [p.code for p in points],
                }
                for g, points in coverage.rows
            ],
            "uncovered_count": len(coverage.uncovered),
        }
