"""Street-office comparison reports: immutable snapshots of every community's figures for a period."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from yishi.core.db import AwareDateTime, TimestampMixin, db


class ReportKind(enum.StrEnum):
    ON_DEMAND = "on_demand"  # started by a street admin (page or API)
    MONTHLY = "monthly"  # made by the schedule for the month before


class StreetReport(TimestampMixin, db.Model):
    """Owned by a street office (like an API token), read through ``get_report_for(street, id)``.
    ``snapshot`` is written once, by the job, and never changed: last month's report stays as it was."""

    __tablename__ = "street_reports"
    __table_args__ = (
        Index("ix_street_reports_street_id_created_at", "street_id", "created_at"),
        # One monthly report per street and month, even if two schedulers run.
        Index(
            "uq_street_reports_monthly",
            "street_id",
            "period_start",
            unique=True,
            sqlite_where=text("kind = 'monthly'"),
            postgresql_where=text("kind = 'monthly'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[ReportKind] = mapped_column(
        Enum(ReportKind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        default=ReportKind.ON_DEMAND,
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    label: Mapped[str] = mapped_column(String(40), nullable=False, default="")  # 2026-10, 2026-Q3, 2026, a range
    period_start: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False)
    period_end: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    definitions_version: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    snapshot: Mapped[dict | None] = mapped_column(JSON)
    finished_at: Mapped[datetime | None] = mapped_column(AwareDateTime())


class ReportFile(TimestampMixin, db.Model):
    """An export of a report (CSV, XLSX, PDF), made by the report's job and kept in storage."""

    __tablename__ = "street_report_files"
    __table_args__ = (
        Index("ix_street_report_files_report_id_format_locale", "report_id", "format", "locale", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("street_reports.id", ondelete="CASCADE"), nullable=False)
    format: Mapped[str] = mapped_column(String(10), nullable=False)
    locale: Mapped[str] = mapped_column(String(10), nullable=False, default="zh_CN")
    storage_key: Mapped[str] = mapped_column(String(200), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
