"""Deliberation meetings (议事活动): agenda items (mostly matters), invitations, attendance,
online comments before the meeting, minutes and decisions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yishi.core.db import AwareDateTime, TimestampMixin, db, utcnow
from yishi.core.tenancy import TenantMixin


def _enum(enum_class: type[enum.Enum], length: int = 20) -> Enum:
    return Enum(enum_class, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class MeetingStatus(enum.StrEnum):
    PLANNED = "planned"
    HELD = "held"
    PUBLISHED = "published"  # held, and its minutes published
    CANCELLED = "cancelled"


class Meeting(TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "meetings"
    __table_args__ = (
        Index("ix_meetings_community_id_starts_at", "community_id", "starts_at"),
        Index("ix_meetings_community_id_status", "community_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    topic: Mapped[str] = mapped_column(Text, nullable=False, default="")
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id", ondelete="SET NULL"))  # None: online
    location: Mapped[str] = mapped_column(String(200), nullable=False, default="")  # a room, or the online link
    starts_at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False)
    convener_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[MeetingStatus] = mapped_column(_enum(MeetingStatus), nullable=False, default=MeetingStatus.PLANNED)
    cancel_reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    minutes: Mapped[str] = mapped_column(Text, nullable=False, default="")  # Markdown
    held_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    minutes_published_at: Mapped[datetime | None] = mapped_column(AwareDateTime())


class Invitation(TenantMixin, db.Model):
    """Who is invited: a whole resident group, or one member."""

    __tablename__ = "meeting_invitations"
    __table_args__ = (Index("ix_meeting_invitations_community_id_meeting_id", "community_id", "meeting_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False)
    resident_group_id: Mapped[int | None] = mapped_column(ForeignKey("resident_groups.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class DecisionKind(enum.StrEnum):
    VOTE = "vote"
    CONSENSUS = "consensus"


class AgendaItem(TenantMixin, db.Model):
    __tablename__ = "agenda_items"
    __table_args__ = (
        Index("ix_agenda_items_community_id_meeting_id", "community_id", "meeting_id", "position"),
        Index("ix_agenda_items_community_id_matter_id", "community_id", "matter_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    matter_id: Mapped[int | None] = mapped_column(ForeignKey("matters.id", ondelete="SET NULL"))  # None: free topic
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    decision: Mapped[str] = mapped_column(Text, nullable=False, default="")
    decision_kind: Mapped[DecisionKind | None] = mapped_column(_enum(DecisionKind))
    votes_for: Mapped[int | None] = mapped_column(Integer)
    votes_against: Mapped[int | None] = mapped_column(Integer)
    votes_abstain: Mapped[int | None] = mapped_column(Integer)
    matter_action: Mapped[str] = mapped_column(String(20), nullable=False, default="")  # resolve, start
    decided_at: Mapped[datetime | None] = mapped_column(AwareDateTime())


class CheckInMethod(enum.StrEnum):
    QR = "qr"
    MANUAL = "manual"  # checked in by a moderator, for those without a phone


class Attendance(TenantMixin, db.Model):
    """One person at one meeting, once."""

    __tablename__ = "meeting_attendance"
    __table_args__ = (UniqueConstraint("community_id", "meeting_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), nullable=False)
    method: Mapped[CheckInMethod] = mapped_column(_enum(CheckInMethod), nullable=False)
    checked_in_at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False, default=utcnow)
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class AgendaComment(TenantMixin, db.Model):
    """A resident's comment on an agenda item before the meeting (线上)."""

    __tablename__ = "agenda_comments"
    __table_args__ = (Index("ix_agenda_comments_community_id_item_id", "community_id", "agenda_item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agenda_item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"), nullable=False)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False, default=utcnow)
    hidden: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
