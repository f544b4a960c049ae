"""Dashboard figures kept by a job, so the page reads one row instead of scanning every matter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yishi.core.db import AwareDateTime, db
from yishi.core.tenancy import TenantMixin


class DashboardFigures(TenantMixin, db.Model):
    """The dashboard of one standard period (this month, the last 12 months…) as a job last computed
    it. Used by the page only while fresh and for the same period bounds; anything else is computed live."""

    __tablename__ = "dashboard_figures"
    __table_args__ = (UniqueConstraint("community_id", "period_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_kind: Mapped[str] = mapped_column(String(10), nullable=False)
    period_start: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False)
    period_end: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False)
    data: Mapped[dict] = mapped_column(JSON, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False)
