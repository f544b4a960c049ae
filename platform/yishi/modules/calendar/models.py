from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yishi.core.db import TimestampMixin, db
from yishi.core.tenancy import TenantMixin


class CalendarDay(TenantMixin, TimestampMixin, db.Model):
    """A community's own override of one date of the official working-day calendar."""

    __tablename__ = "calendar_days"
    __table_args__ = (UniqueConstraint("community_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    is_workday: Mapped[bool] = mapped_column(Boolean, nullable=False)
    note: Mapped[str] = mapped_column(String(200), nullable=False, default="")
