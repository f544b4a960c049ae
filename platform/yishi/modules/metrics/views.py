"""The community dashboard: the figures of a period, the trend by month, breakdowns by category,
group and point — charts drawn as SVG on the server, with text left as text (no font needed there)."""

from __future__ import annotations

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
    start, end, kind, label = services.dashboard_period(community, request.args)
    locale = current_language()
    en = locale.startswith("en")
    data = services.dashboard(community, kind, start, end)
    figures, months = data["figures"], data["months"]
    names = {
        "category": {c.code: c.name(locale) for c in categories.list_categories()},
        "group": {str(gr.id): gr.name(locale) for gr in communities.list_resident_groups()},
        "point": {str(p.id): p.name(locale) for p in points.list_points()},
        "channel": {channel.value: str(label) for channel, label in CHANNEL_LABELS.items()},
    }
    breakdowns = {by: bars(counts, names.get(by)) for by, counts in data["counts"].items()}
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
        computed_at=data["computed_at"],
    )
