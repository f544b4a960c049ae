"""REST: the community's figures for a period, as defined in metrics/definitions.py."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_babel import lazy_gettext as _l

from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import require
from yishi.modules.communities.context import community_api, current_community
from yishi.modules.metrics import services
from yishi.modules.metrics.definitions import METRICS, VERSION

blp = community_api(
    "metrics_api", __name__, "Figures (统计): the dashboard's numbers, each with its written definition."
)


class FiguresArgsSchema(ma.Schema):
    start = ma.fields.AwareDateTime(required=True, metadata={"description": "from (inclusive)"})
    end = ma.fields.AwareDateTime(required=True, metadata={"description": "until (exclusive)"})

    @ma.validates_schema
    def _ordered(self, data, **kwargs):
        if "start" in data and "end" in data and data["end"] <= data["start"]:
            raise ma.ValidationError(str(_l("The end must be after the start.")), "end")


class FiguresSchema(ma.Schema):
    version = ma.fields.String()
    start = ma.fields.AwareDateTime()
    end = ma.fields.AwareDateTime()
    figures = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(allow_none=True))
    definitions = ma.fields.List(ma.fields.Dict())


@blp.route("/figures")
class Figures(MethodView):
    @blp.arguments(FiguresArgsSchema, location="query")
    @blp.response(200, FiguresSchema)
    def get(self, args):
        """Every figure of the community for [start, end), with the definitions' version"""
        community = current_community()
        require(current_actor(), "matters:read", community=community)
        return {
            "version": VERSION,
            "start": args["start"],
            "end": args["end"],
            "figures": services.figures([community.id], args["start"], args["end"])[community.id],
            "definitions": [
                {"code": m.code, "name_zh": m.name_zh, "name_en": m.name_en, "unit": m.unit,
                 "definition_zh": m.definition_zh, "definition_en": m.definition_en}
                for m in METRICS
            ],
        }  # fmt: skip
