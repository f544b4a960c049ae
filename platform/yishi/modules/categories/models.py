from __future__ import annotations

import enum

from sqlalchemy import Boolean, CheckConstraint, Enum, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yishi.core.db import TimestampMixin, db
from yishi.core.tenancy import TenantMixin

QUARTER_HOUR = 15  # 一刻就解决: the default first-response target, in minutes


class CategoryKind(enum.StrEnum):
    DISPUTE = "dispute"  # 矛盾调解: between residents, has parties, ends in an agreement or not
    INFRASTRUCTURE = "infrastructure"
    ENVIRONMENT = "environment"
    SERVICE = "service"
    OTHER = "other"


class Category(TenantMixin, TimestampMixin, db.Model):
    """A kind of matter with its own targets. A community's own copy: templates never overwrite it."""

    __tablename__ = "categories"
    __table_args__ = (
        UniqueConstraint("community_id", "code"),
        Index("ix_categories_community_id_position", "community_id", "position"),
        CheckConstraint("first_response_minutes > 0", name="first_response_positive"),
        CheckConstraint("resolution_minutes > 0", name="resolution_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), nullable=False)
    name_zh: Mapped[str] = mapped_column(String(80), nullable=False)
    name_en: Mapped[str] = mapped_column(String(120), nullable=False)
    description_zh: Mapped[str] = mapped_column(Text, nullable=False, default="")
    description_en: Mapped[str] = mapped_column(Text, nullable=False, default="")
    kind: Mapped[CategoryKind] = mapped_column(
        Enum(CategoryKind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        default=CategoryKind.OTHER,
    )
    first_response_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=QUARTER_HOUR)
    resolution_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=7 * 24 * 60)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    template: Mapped[str | None] = mapped_column(String(64))  # where it came from, if a template

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh
