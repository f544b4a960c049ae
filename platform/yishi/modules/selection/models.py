from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
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

from yishi.core.db import AwareDateTime, TimestampMixin, db
from yishi.core.tenancy import TenantMixin

# A weight only says how much one criterion counts against the others: a thousand times another is
# already more than any community means, and bounding it keeps the weighted means finite.
MAX_WEIGHT = 1000.0
# Criteria are listed by position; the API documents (and accepts) 0 to MAX_POSITION.
MAX_POSITION = 10000


class SelectionCriterion(TenantMixin, TimestampMixin, db.Model):
    """遴选标准: what candidates are scored on. Default 威望 prestige, 能力 ability, 热情 enthusiasm."""

    __tablename__ = "selection_criteria"
    __table_args__ = (
        UniqueConstraint("community_id", "code"),
        CheckConstraint("weight > 0", name="weight_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), nullable=False)
    name_zh: Mapped[str] = mapped_column(String(80), nullable=False)
    name_en: Mapped[str] = mapped_column(String(120), nullable=False)
    weight: Mapped[float] = mapped_column(Float, nullable=False, default=1.0)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh


class RoundStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class SelectionRound(TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "selection_rounds"
    __table_args__ = (
        Index("ix_selection_rounds_community_id_status", "community_id", "status"),
        CheckConstraint("scale_min < scale_max", name="scale_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    point_id: Mapped[int | None] = mapped_column(ForeignKey("points.id", ondelete="SET NULL"))  # None: whole community
    status: Mapped[RoundStatus] = mapped_column(
        Enum(RoundStatus, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        default=RoundStatus.OPEN,
    )
    scale_min: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    scale_max: Mapped[int] = mapped_column(Integer, nullable=False, default=5)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(AwareDateTime())


class RoundCriterion(TenantMixin, db.Model):
    """The criteria and weights a round was opened with (later edits do not change a running round)."""

    __tablename__ = "selection_round_criteria"
    __table_args__ = (UniqueConstraint("community_id", "round_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("selection_rounds.id", ondelete="CASCADE"), nullable=False)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("selection_criteria.id", ondelete="CASCADE"), nullable=False)
    weight: Mapped[float] = mapped_column(Float, nullable=False)


class RoundEvaluator(TenantMixin, db.Model):
    """An evaluator of a round (e.g. a Party member or resident representative)."""

    __tablename__ = "selection_evaluators"
    __table_args__ = (UniqueConstraint("community_id", "round_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("selection_rounds.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


class Candidate(TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "selection_candidates"
    __table_args__ = (UniqueConstraint("community_id", "round_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("selection_rounds.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    nominated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, nullable=False)


class Score(TenantMixin, TimestampMixin, db.Model):
    __tablename__ = "selection_scores"
    __table_args__ = (
        UniqueConstraint("community_id", "candidate_id", "evaluator_id", "criterion_id"),
        Index("ix_selection_scores_community_id_round_id", "community_id", "round_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("selection_rounds.id", ondelete="CASCADE"), nullable=False)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("selection_candidates.id", ondelete="CASCADE"), nullable=False)
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("selection_criteria.id", ondelete="CASCADE"), nullable=False)
    score: Mapped[int] = mapped_column(Integer, nullable=False)


class Appointment(TenantMixin, TimestampMixin, db.Model):
    """A moderator (议事长) appointed to a point for a term. History is kept: ended terms stay."""

    __tablename__ = "moderator_appointments"
    __table_args__ = (Index("ix_moderator_appointments_community_id_point_id", "community_id", "point_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id", ondelete="CASCADE"), nullable=False)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("selection_rounds.id", ondelete="SET NULL"))
    term_start: Mapped[date] = mapped_column(Date, nullable=False)
    term_end: Mapped[date | None] = mapped_column(Date)
    appointed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    ended_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    note: Mapped[str] = mapped_column(String(200), nullable=False, default="")
