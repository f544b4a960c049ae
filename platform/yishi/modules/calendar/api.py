"""REST: a community's working-day calendar and how its matter targets count."""

from __future__ import annotations

from flask.views import MethodView

from yishi.core.db import db
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import require
from yishi.modules.calendar import services
from yishi.modules.calendar.schemas import (
    ClockSettingsSchema,
    ClockSettingsUpdateSchema,
    MonthArgsSchema,
    MonthSchema,
    OverrideSchema,
)
from yishi.modules.communities.context import community_api, current_community

blp = community_api(
    "calendar_api",
    __name__,
    "The community's working-day calendar (official holidays, make-up working days 调休上班 and its own "
    "overrides) and whether matter targets count around the clock or in working hours.",
)


@blp.route("/calendar/days")
class Days(MethodView):
    @blp.arguments(MonthArgsSchema, location="query")
    @blp.response(200, MonthSchema)
    def get(self, args):
        """Every date of a month: working day or not, and why (override, official, weekend or weekday)"""
        community = current_community()
        require(current_actor(), "community:read", community=community)
        today = services.today_in(community)
        year, month = args.get("year", today.year), args.get("month", today.month)
        return {"year": year, "month": month, "days": services.month_view(year, month)}


@blp.route("/calendar/overrides")
class Overrides(MethodView):
    @blp.arguments(OverrideSchema)
    @blp.response(200, OverrideSchema)
    def post(self, data):
        """Set the community's own status for a date (replaces its earlier override of that date)"""
        override = services.set_override(
            current_community(), data["day"], data["is_workday"], data["note"], actor=current_actor()
        )
        db.session.flush()
        return override


@blp.route("/calendar/overrides/<day>")
class OverrideByDate(MethodView):
    @blp.response(200, OverrideSchema)
    def get(self, day: str):
        """The community's override of a date (YYYY-MM-DD); 404 when it has none"""
        require(current_actor(), "community:read", community=current_community())
        return services.get_override(services.parse_day(day))

    @blp.response(204)
    def delete(self, day: str):
        """Remove the override: the date follows the official calendar again"""
        services.remove_override(current_community(), services.parse_day(day), actor=current_actor())
        db.session.flush()


@blp.route("/calendar/settings")
class ClockSettings(MethodView):
    @blp.response(200, ClockSettingsSchema)
    def get(self):
        """Whether targets count around the clock or in working hours on working days, and the hours"""
        community = current_community()
        require(current_actor(), "community:read", community=community)
        return community

    @blp.arguments(ClockSettingsUpdateSchema(partial=True))
    @blp.response(200, ClockSettingsSchema)
    def patch(self, data):
        """Change how targets count"""
        community = services.update_clock_settings(current_community(), data, actor=current_actor())
        db.session.flush()
        return community
