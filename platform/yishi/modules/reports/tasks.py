"""Report jobs: build one report (snapshot, then its exports), and the monthly report of every street."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from yishi.core import tenancy
from yishi.core.db import db, utcnow
from yishi.core.jobs import job, report_progress
from yishi.core.storage import storage
from yishi.modules.accounts.permissions import SYSTEM
from yishi.modules.communities.models import Community, CommunityStatus, Street
from yishi.modules.reports import services, snapshot
from yishi.modules.reports.models import ReportFile, ReportKind, StreetReport


@job("reports", timeout=1800, retries=(30, 300))
def build_report(report_id: int) -> dict:
    """Compute every community's figures once and keep them, then write the exports. A report that
    has its snapshot is never recomputed (a retry or a duplicate run changes nothing)."""
    report = db.session.get(StreetReport, report_id)
    if report is None:
        return {"report_id": report_id, "missing": True}
    if report.snapshot is None:
        street = db.session.get(Street, report.street_id)
        with tenancy.unscoped("a street report lists its street's communities"):
            communities = list(
                db.session.execute(
                    select(Community)
                    .where(Community.street_id == street.id, Community.status == CommunityStatus.ACTIVE)
                    .order_by(Community.slug)
                ).scalars()
            )
        label = report.label
        report.snapshot = snapshot.build(
            street,
            communities,
            report.period_start,
            report.period_end,
            title=report.title,
            label=label,
            progress=report_progress,
        )
        report.definitions_version = report.snapshot["version"]
        report.finished_at = utcnow()
        db.session.flush()
    _write_exports(report)
    return {"report_id": report.id, "communities": len(report.snapshot["communities"])}


def _write_exports(report: StreetReport) -> None:
    from yishi.modules.reports import exports

    done = {
        (f.format, f.locale)
        for f in db.session.execute(select(ReportFile).where(ReportFile.report_id == report.id)).scalars()
    }
    steps = [(fmt, locale) for fmt in exports.FORMATS for locale in services.LOCALES if (fmt, locale) not in done]
    for number, (fmt, locale) in enumerate(steps, start=1):
        content, content_type = exports.export(report.snapshot, fmt, locale)
        key = f"reports/{report.street_id}/{report.id}-{locale.lower().replace('_', '-')}.{fmt}"
        storage().save(key, content)
        db.session.add(
            ReportFile(
                report_id=report.id,
                format=fmt,
                locale=locale,
                storage_key=key,
                content_type=content_type,
                size=len(content),
            )
        )
        report_progress(85 + 15 * number // max(len(steps), 1), f"{fmt} ({locale})")
    db.session.flush()


@job("reports", timeout=600)
def monthly_reports(now: str | None = None) -> dict:
    """Each street's report of the month before, once: run daily, it makes only the missing ones,
    and the unique index on (street, month) stops a second scheduler's duplicate."""
    moment = datetime.fromisoformat(now) if now else utcnow()
    made = 0
    for street in db.session.execute(select(Street).order_by(Street.id)).scalars():
        local = moment.astimezone(ZoneInfo(street.time_zone))
        year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
        start, end, label = services.month_period(year, month, street.time_zone)
        exists = db.session.execute(
            select(StreetReport.id).where(
                StreetReport.street_id == street.id,
                StreetReport.kind == ReportKind.MONTHLY,
                StreetReport.period_start == start,
            )
        ).first()
        if exists is not None:
            continue
        try:
            with db.session.begin_nested():
                services.start_report(street, start, end, label, actor=SYSTEM, kind=ReportKind.MONTHLY)
        except IntegrityError:
            continue
        made += 1
    return {"reports_started": made}
