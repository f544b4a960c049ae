from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yishi.core.db import TimestampMixin, db
from yishi.core.tenancy import TenantMixin


class Point(TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "points"
    __table_args__ = (
        UniqueConstraint("community_id", "code"),
        Index("ix_points_community_id_position", "community_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), nullable=False)  # in URLs and on the QR poster
    name_zh: Mapped[str] = mapped_column(String(80), nullable=False)
    name_en: Mapped[str] = mapped_column(String(120), nullable=False)
    address: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    opening_hours: Mapped[str] = mapped_column(Text, nullable=False, default="")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh


class PointResidentGroup(TenantMixin, db.Model):
    """Which resident groups a point serves (many to many), as community-owned rows."""

    __tablename__ = "point_resident_groups"
    __table_args__ = (
        UniqueConstraint("community_id", "point_id", "resident_group_id"),
        Index("ix_point_resident_groups_community_id_group", "community_id", "resident_group_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id", ondelete="CASCADE"), nullable=False)
    resident_group_id: Mapped[int] = mapped_column(ForeignKey("resident_groups.id", ondelete="CASCADE"), nullable=False)
