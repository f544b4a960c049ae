from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from yishi.core.db import AwareDateTime, TimestampMixin, db
from yishi.core.tenancy import TenantMixin

SLUG_PATTERN = r"^[a-z][a-z0-9-]{1,62}[a-z0-9]$"


class CommunityStatus(enum.StrEnum):
    PENDING = "pending"  # applied, waiting for its street office
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REJECTED = "rejected"  # the street office said no, with a reason


class CommunityKind(enum.StrEnum):
    AGRICULTURE = "agriculture"  # 涉农社区
    URBAN = "urban"  # 城市社区
    OLD_TOWN = "old_town"  # 老城区
    MIXED = "mixed"


class TargetClock(enum.StrEnum):
    """How matter targets count: every minute, or only the working hours of working days."""

    AROUND_THE_CLOCK = "around_the_clock"  # 全天候计时
    WORKING_HOURS = "working_hours"  # 按工作时间计时


DEFAULT_WORKING_HOURS = "08:30-17:30"


class Street(TimestampMixin, db.Model):
    """A street office (街道办事处): oversees and compares the communities under it."""

    __tablename__ = "streets"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name_zh: Mapped[str] = mapped_column(String(120), nullable=False)
    name_en: Mapped[str] = mapped_column(String(160), nullable=False)
    city: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False, default="Asia/Shanghai")

    communities: Mapped[list[Community]] = relationship(back_populates="street", order_by="Community.slug")


class Community(TimestampMixin, db.Model):
    """The tenant: its people, places, matters and meetings are invisible to every other community."""

    __tablename__ = "communities"
    __table_args__ = (CheckConstraint("resident_count >= 0", name="resident_count_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name_zh: Mapped[str] = mapped_column(String(120), nullable=False)
    name_en: Mapped[str] = mapped_column(String(160), nullable=False)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), nullable=False, index=True)
    kind: Mapped[CommunityKind] = mapped_column(
        Enum(CommunityKind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        default=CommunityKind.URBAN,
    )
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False, default="Asia/Shanghai")
    default_locale: Mapped[str] = mapped_column(String(10), nullable=False, default="zh_CN")
    resident_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[CommunityStatus] = mapped_column(
        Enum(CommunityStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        default=CommunityStatus.PENDING,
    )
    description_zh: Mapped[str] = mapped_column(Text, nullable=False, default="")
    description_en: Mapped[str] = mapped_column(Text, nullable=False, default="")
    category_template: Mapped[str | None] = mapped_column(String(64))
    applied_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    decision_reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    target_clock: Mapped[TargetClock] = mapped_column(
        Enum(TargetClock, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        default=TargetClock.AROUND_THE_CLOCK,
    )
    working_hours: Mapped[str] = mapped_column(String(11), nullable=False, default=DEFAULT_WORKING_HOURS)
    # A resolved matter the reporter has not confirmed closes by itself after this many days.
    auto_close_days: Mapped[int] = mapped_column(Integer, nullable=False, default=7)

    street: Mapped[Street] = relationship(back_populates="communities")

    @property
    def is_active(self) -> bool:
        return self.status == CommunityStatus.ACTIVE

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh

    @property
    def street_slug(self) -> str:
        return self.street.slug

    @property
    def resident_group_count(self) -> int:
        from yishi.core import tenancy  # noqa: PLC0415 - core imports models lazily too

        with tenancy.community_scope(self.id):
            return db.session.execute(select(func.count(ResidentGroup.id))).scalar_one()


class ResidentGroup(TenantMixin, TimestampMixin, db.Model):
    """居民小组: a subdivision of a community; every resident and matter belongs to one."""

    __tablename__ = "resident_groups"
    __table_args__ = (
        UniqueConstraint("community_id", "code"),
        Index("ix_resident_groups_community_id_position", "community_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    name_zh: Mapped[str] = mapped_column(String(120), nullable=False)
    name_en: Mapped[str] = mapped_column(String(160), nullable=False)
    household_count: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh
