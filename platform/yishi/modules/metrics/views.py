"""The community dashboard: the figures of a period, the trend by month, breakdowns by category,
group and point — charts drawn as SVG on the server, with text left as text (no font needed there)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import g, render_template, request
from flask_login import login_required

from yishi.core.i18n import current_language
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.permissions import require
from yishi.modules.categories import services as categories
from yishi.modules.communities import services as communities
from yishi.modules.communities.context import community_pages
from yishi.modules.matters.workflow import CHANNEL_LABELS
from yishi.modules.metrics import services
from yishi.modules.metrics.definitions import BY_CODE, METRICS, VERSION
from yishi.modules.points import services as points

blueprint = community_pages("dashboard", __name__)
PERIODS = ("month", "quarter", "year", "12m", "custom")


def period(community, args) -> tuple[datetime, datetime, str, str]:
    """(start, end, kind, label) from ``?period=`` (and ``start``/``end`` days for custom); this month by default."""
    zone = ZoneInfo(community.time_zone)
    today = datetime.now(zone).date()
    kind = args.get("period", "month")
    kind = kind if kind in PERIODS else "month"

    def at(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone)

    if kind == "custom":
        try:
            first, last = date.fromisoformat(args.get("start", "")), date.fromisoformat(args.get("end", ""))
        except ValueError:
            first, last = None, None
        if first and last and first <= last and (last - first).days <= 3 * 366:
            return at(first), at(last) + timedelta(days=1), kind, f"{first.isoformat()}–{last.isoformat()}"
        kind = "month"
    if kind == "year":
        return at(date(today.year, 1, 1)), at(date(today.year + 1, 1, 1)), kind, str(today.year)
    if kind == "quarter":
        first_month = 3 * ((today.month - 1) // 3) + 1
        start = date(today.year, first_month, 1)
        end = date(today.year + (first_month == 10), (first_month + 2) % 12 + 1, 1)
        return at(start), at(end), kind, f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    if kind == "12m":
        start = date(today.year - 1, today.month, 1)
        return at(start), at(today) + timedelta(days=1), kind, f"{start.isoformat()}–{today.isoformat()}"
    start = date(today.year, today.month, 1)
    end = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
    return at(start), at(end), "month", f"{today.year}-{today.month:02d}"


def bars(values: dict[str, float], labels: dict[str, str] | None = None) -> list[dict]:
    """Rows of a horizontal bar chart: label, value, width in percent of the largest."""
    top = max(values.values(), default=0) or 1
    return [
        {"label": (labels or {}).get(key, key), "value": value, "width": round(value * 100 / top, 1)}
        for key, value in sorted(values.items(), key=lambda item: -item[1])
    ]


@blueprint.route("/dashboard")
@login_required
def show():
    community = g.community
    require(current_actor(), "matters:read", community=community)
    start, end, kind, label = period(community, request.args)
    locale = current_language()
    en = locale.startswith("en")
    figures = services.figures([community.id], start, end)[community.id]
    # The trend shows the period's months; a single month is shown with the eleven before it.
    trend_start = start - timedelta(days=335) if kind == "month" else max(start, end - timedelta(days=366))
    months = services.monthly(community, trend_start, end)
    names = {
        "category": {c.code: c.name(locale) for c in categories.list_categories()},
        "group": {str(gr.id): gr.name(locale) for gr in communities.list_resident_groups()},
        "point": {str(p.id): p.name(locale) for p in points.list_points()},
        "channel": {channel.value: str(label) for channel, label in CHANNEL_LABELS.items()},
    }
    counts = services.breakdowns([community.id], start, end, ("category", "group", "point", "channel"))
    breakdowns = {by: bars(per_community[community.id], names.get(by)) for by, per_community in counts.items()}
    top = max((row["raised"] for row in months.values()), default=0) or 1
    return render_template(
        "dashboard/show.html",
        figures=figures,
        metrics=METRICS,
        by_code=BY_CODE,
        version=VERSION,
        kind=kind,
        label=label,
        args=request.args,
        months=months,
        month_top=top,
        breakdowns=breakdowns,
        en=en,
    )
