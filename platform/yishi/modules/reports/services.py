"""Street comparison reports: periods, starting the job, reading a street's own reports."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from yishi.core.db import db
from yishi.core.errors import NotFoundError, ValidationFailed
from yishi.core.jobs import start_task
from yishi.modules.accounts.permissions import Actor, register_scopes, require
from yishi.modules.communities.models import Street
from yishi.modules.reports.models import ReportFile, ReportKind, StreetReport

register_scopes(
    {"reports:write": _l("Start comparison reports of the street's communities")}, street_admin={"reports:write"}
)

LOCALES = ("zh_CN", "en")
MAX_DAYS = 3 * 366


def month_period(year: int, month: int, zone: str) -> tuple[datetime, datetime, str]:
    tz = ZoneInfo(zone)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start, end, f"{year}-{month:02d}"


def quarter_period(year: int, quarter: int, zone: str) -> tuple[datetime, datetime, str]:
    tz = ZoneInfo(zone)
    first = 3 * (quarter - 1) + 1
    start = datetime(year, first, 1, tzinfo=tz)
    end = datetime(year + (quarter == 4), (first + 3 - 1) % 12 + 1, 1, tzinfo=tz)
    return start, end, f"{year}-Q{quarter}"


def year_period(year: int, zone: str) -> tuple[datetime, datetime, str]:
    tz = ZoneInfo(zone)
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz), str(year)


def custom_period(first: date, last: date, zone: str) -> tuple[datetime, datetime, str]:
    """From the first day to the last day, both included, in the street's time zone."""
    if last < first:
        raise ValidationFailed(errors={"end": [_("The period must end on or after its first day.")]})
    if (last - first).days > MAX_DAYS:
        raise ValidationFailed(errors={"end": [_("A period is at most three years.")]})
    tz = ZoneInfo(zone)
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    end = datetime.combine(last, datetime.min.time(), tzinfo=tz) + timedelta(days=1)
    return start, end, f"{first.isoformat()}–{last.isoformat()}"


def start_report(
    street: Street,
    start: datetime,
    end: datetime,
    label: str,
    *,
    actor: Actor,
    kind: ReportKind = ReportKind.ON_DEMAND,
) -> StreetReport:
    """Record the report and queue its job (sent at commit); the job fills the snapshot and exports."""
    if actor.user is not None or actor.token is not None:
        require(actor, "reports:write", street=street)
    title = _("%(street)s: communities compared, %(period)s", street=street.name_zh, period=label)
    report = StreetReport(
        street_id=street.id,
        kind=kind,
        title=title[:200],
        label=label[:40],
        period_start=start,
        period_end=end,
        created_by_id=actor.user_id,
    )
    db.session.add(report)
    db.session.flush()
    task = start_task(
        "yishi.modules.reports.tasks.build_report",
        title=title[:200],
        arguments={"report_id": report.id},
        street_id=street.id,
        user_id=actor.user_id,
    )
    report.task_id = task.id
    db.session.flush()
    return report


def reports_statement(street: Street):
    return (
        select(StreetReport)
        .where(StreetReport.street_id == street.id)
        .order_by(StreetReport.created_at.desc(), StreetReport.id.desc())
    )


def get_report_for(street: Street, report_id: int, *, actor: Actor) -> StreetReport:
    """A report of this street only (another street's id is not found)."""
    require(actor, "street:read", street=street)
    report = db.session.get(StreetReport, report_id)
    if report is None or report.street_id != street.id:
        raise NotFoundError()
    return report


def file_of(report: StreetReport, fmt: str, locale: str) -> ReportFile:
    found = db.session.execute(
        select(ReportFile).where(
            ReportFile.report_id == report.id, ReportFile.format == fmt, ReportFile.locale == locale
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFoundError()
    return found
