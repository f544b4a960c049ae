"""The participation ledger: who took part, in what, when — one place for every kind of taking part."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yishi.core.db import AwareDateTime, TimestampMixin, db, utcnow
from yishi.core.tenancy import TenantMixin


class Person(TenantMixin, TimestampMixin, db.Model):
    """Someone who takes part: an account, or — for people without one — a (name, phone, resident
    group) identity, matched the same way every time (:func:`services.identity_key`)."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("community_id", "identity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    identity_key: Mapped[str] = mapped_column(String(80), nullable=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    phone: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    resident_group_id: Mapped[int | None] = mapped_column(ForeignKey("resident_groups.id", ondelete="SET NULL"))


class ParticipationKind(enum.StrEnum):
    RAISED = "raised"  # raised a matter
    ATTENDED = "attended"  # attended a deliberation meeting
    COMMENTED = "commented"  # commented on an agenda item online
    VOLUNTEERED = "volunteered"  # volunteered to help solve a matter
    EVALUATED = "evaluated"  # scored candidates in a moderator selection
    NOMINATED = "nominated"  # was nominated in a moderator selection


class Participation(TenantMixin, db.Model):
    """One act of taking part. Recorded once per (person, kind, subject): recording twice is harmless."""

    __tablename__ = "participations"
    __table_args__ = (
        UniqueConstraint("community_id", "person_id", "kind", "subject_type", "subject_id"),
        Index("ix_participations_community_id_at", "community_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[ParticipationKind] = mapped_column(
        Enum(ParticipationKind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
    )
    subject_type: Mapped[str] = mapped_column(String(30), nullable=False)  # matter, meeting, agenda_item, round
    subject_id: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False, default=utcnow)
