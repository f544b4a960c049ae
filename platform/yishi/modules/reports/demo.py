"""Demo reports: each street's monthly reports of the last three months and, for Chengdong, the
comparison of its communities over the last year — computed by the real job."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from yishi.core.db import db, utcnow
from yishi.modules.accounts.permissions import SYSTEM
from yishi.modules.communities.models import Street
from yishi.modules.reports import services
from yishi.modules.reports.models import ReportKind, StreetReport


def ensure_demo_reports(now: datetime | None = None) -> int:
    """Queue the demo's reports (once); the caller runs the jobs. Returns how many were queued."""
    now = now or utcnow()
    queued = 0
    for street in db.session.execute(select(Street).order_by(Street.id)).scalars():
        if db.session.execute(select(func.count(StreetReport.id)).where(StreetReport.street_id == street.id)).scalar():
            continue
        local = now.astimezone(ZoneInfo(street.time_zone))
        year, month = local.year, local.month
        for _back in range(3):
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
            start, end, label = services.month_period(year, month, street.time_zone)
            services.start_report(street, start, end, label, actor=SYSTEM, kind=ReportKind.MONTHLY)
            queued += 1
        if street.slug == "chengdong":
            start, end, label = services.year_period(local.year, street.time_zone)
            services.start_report(street, start, end, label, actor=SYSTEM)
            queued += 1
    return queued
