"""Matters (事项): what residents raise, the timeline of everything done with them, their photos and
the escalations sent for them. Every row is community-owned and keyed by ``community_id`` first."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from yishi.core.db import AwareDateTime, TimestampMixin, db, utcnow
from yishi.core.tenancy import TenantMixin


def _enum(enum_class: type[enum.Enum], length: int = 20) -> Enum:
    return Enum(enum_class, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Channel(enum.StrEnum):
    WEB = "web"  # online, signed in or anonymous with name and phone
    QR = "qr"  # from a point's QR code: point and its groups preselected
    OFFLINE = "offline"  # recorded by a moderator at a point on a resident's behalf
    PHONE = "phone"
    VISIT = "visit"  # 走访: door-to-door visits, several matters in one sitting
    API = "api"  # a government system


class Status(enum.StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    ESCALATED = "escalated"
    REOPENED = "reopened"


class Outcome(enum.StrEnum):
    """How a dispute ended."""

    AGREEMENT = "agreement"
    NO_AGREEMENT = "no_agreement"


class EscalationTarget(enum.StrEnum):
    COMMUNITY = "community"  # the community admins
    STREET = "street"  # the street office


class Matter(TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "matters"
    __table_args__ = (
        Index("ix_matters_community_id_status_submitted_at", "community_id", "status", "submitted_at"),
        Index("ix_matters_community_id_point_id_status", "community_id", "point_id", "status"),
        Index("ix_matters_community_id_first_response_due_at", "community_id", "first_response_due_at"),
        Index("ix_matters_community_id_resolution_due_at", "community_id", "resolution_due_at"),
        Index("ix_matters_community_id_category_id", "community_id", "category_id"),
        Index("ix_matters_community_id_reporter_user_id", "community_id", "reporter_user_id"),
        UniqueConstraint("community_id", "tracking_hash"),
        CheckConstraint("satisfaction IS NULL OR (satisfaction BETWEEN 1 AND 5)", name="satisfaction_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)  # optimistic lock
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), nullable=False)
    resident_group_id: Mapped[int | None] = mapped_column(ForeignKey("resident_groups.id", ondelete="SET NULL"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id", ondelete="SET NULL"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel), nullable=False)
    status: Mapped[Status] = mapped_column(_enum(Status), nullable=False, default=Status.SUBMITTED)
    address: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)

    # who raised it: an account, or a name and phone; who typed it in, when that was someone else
    reporter_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reporter_name: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    reporter_phone: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    tracking_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the anonymous tracking code
    parties: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # disputes: who is involved

    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    escalated_to: Mapped[EscalationTarget | None] = mapped_column(_enum(EscalationTarget))
    resolution_note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome))
    agreement_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    reject_reason: Mapped[str] = mapped_column(Text, nullable=False, default="")

    # times and targets, kept for reports
    submitted_at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    first_response_due_at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False)
    first_response_escalate_at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False)
    resolution_due_at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False)
    resolution_escalate_at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False)
    minutes_to_accept: Mapped[int | None] = mapped_column(Integer)
    minutes_to_resolve: Mapped[int | None] = mapped_column(Integer)
    first_response_met: Mapped[bool | None] = mapped_column(Boolean)
    resolution_met: Mapped[bool | None] = mapped_column(Boolean)

    satisfaction: Mapped[int | None] = mapped_column(Integer)
    satisfaction_comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    rated_at: Mapped[datetime | None] = mapped_column(AwareDateTime())

    __mapper_args__ = {"version_id_col": version}


class EntryKind(enum.StrEnum):
    TRANSITION = "transition"
    NOTE = "note"  # a handler's note (public or internal)
    INFO = "info"  # the reporter added information
    PHOTO = "photo"
    REMINDER = "reminder"  # escalation level 1: the point's moderators reminded
    ESCALATION = "escalation"  # escalation level 2: the community admins told
    RATING = "rating"


class TimelineEntry(TenantMixin, db.Model):
    """One thing that happened to a matter: who, when, from → to, a note, public or internal."""

    __tablename__ = "matter_timeline"
    __table_args__ = (Index("ix_matter_timeline_community_id_matter_id_at", "community_id", "matter_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), nullable=False)
    at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False, default=utcnow)
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind), nullable=False)
    action: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    from_status: Mapped[Status | None] = mapped_column(_enum(Status))
    to_status: Mapped[Status | None] = mapped_column(_enum(Status))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(160), nullable=False, default="")
    actor_role: Mapped[str] = mapped_column(String(20), nullable=False, default="")  # handler, reporter, system
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class MatterPhoto(TenantMixin, db.Model):
    __tablename__ = "matter_photos"
    __table_args__ = (Index("ix_matter_photos_community_id_matter_id", "community_id", "matter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(200), nullable=False)
    content_type: Mapped[str] = mapped_column(String(40), nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    uploaded_at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False, default=utcnow)


class DueKind(enum.StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class Escalation(TenantMixin, db.Model):
    """An escalation sent: one per matter, due time, kind and level, ever (the unique key makes the
    sweep idempotent even when two schedulers run it at once)."""

    __tablename__ = "matter_escalations"
    __table_args__ = (UniqueConstraint("community_id", "matter_id", "due_kind", "level", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), nullable=False)
    due_kind: Mapped[DueKind] = mapped_column(_enum(DueKind), nullable=False)
    level: Mapped[int] = mapped_column(Integer, nullable=False)  # 1 moderators reminded, 2 admins told
    due_at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False)
    sent_at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False, default=utcnow)


class Volunteer(TenantMixin, db.Model):
    """A member who offered to help solve a matter (参与解决); listed on the matter."""

    __tablename__ = "matter_volunteers"
    __table_args__ = (UniqueConstraint("community_id", "matter_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    matter_id: Mapped[int] = mapped_column(ForeignKey("matters.id", ondelete="CASCADE"), nullable=False)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), nullable=False)
    note: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False, default=utcnow)
