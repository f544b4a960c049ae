from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from yishi.core.db import AwareDateTime, TimestampMixin, db
from yishi.core.tenancy import TenantMixin


def _enum(enum_class: type[enum.Enum], length: int = 20) -> Enum:
    return Enum(enum_class, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class CommunityRole(enum.StrEnum):
    ADMIN = "admin"  # 社区管理员
    MODERATOR = "moderator"  # 议事长
    STAFF = "staff"  # 党员、群众代表 who visit households and bring matters in
    RESIDENT = "resident"  # 居民


class StreetRole(enum.StrEnum):
    ADMIN = "admin"  # 街道管理员


class User(UserMixin, TimestampMixin, db.Model):
    """A person with an account. Accounts are platform-wide; roles belong to communities and streets."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(256), nullable=False)
    locale: Mapped[str | None] = mapped_column(String(10))
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # Bumped at logout and password change: Flask-Login's session id embeds it, so old sessions end.
    session_generation: Mapped[int] = mapped_column(nullable=False, default=0)
    last_login_at: Mapped[datetime | None] = mapped_column(AwareDateTime())

    street_memberships: Mapped[list[StreetMembership]] = relationship(back_populates="user")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login: "<id>:<generation>" so a logout ends every copy of the session
        return f"{self.id}:{self.session_generation}"


class CommunityMembership(TenantMixin, TimestampMixin, db.Model):
    """A user's role in one community, with the Party member / representative flags of the glossary."""

    __tablename__ = "community_memberships"
    __table_args__ = (
        UniqueConstraint("community_id", "user_id"),
        Index("ix_community_memberships_community_id_role", "community_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    role: Mapped[CommunityRole] = mapped_column(_enum(CommunityRole), nullable=False)
    party_member: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    representative: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    resident_group_id: Mapped[int | None] = mapped_column(ForeignKey("resident_groups.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship()


class StreetMembership(TimestampMixin, db.Model):
    """A user's role in a street office."""

    __tablename__ = "street_memberships"
    __table_args__ = (UniqueConstraint("street_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id", ondelete="CASCADE"), nullable=False, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    role: Mapped[StreetRole] = mapped_column(_enum(StreetRole), nullable=False, default=StreetRole.ADMIN)

    user: Mapped[User] = relationship(back_populates="street_memberships")
    street = relationship("Street")


class ApiToken(TimestampMixin, db.Model):
    """A machine credential owned by exactly one community or one street office.

    Only the SHA-256 of the secret is stored (the secret is 256 random bits, so a slow KDF adds
    nothing); the clear token is shown once at creation. ``prefix`` identifies it in lists.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("(community_id IS NULL) <> (street_id IS NULL)", name="owned_by_community_or_street"),
        Index("ix_api_tokens_community_id_created_at", "community_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    scopes: Mapped[str] = mapped_column(String(500), nullable=False)  # space-separated
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(AwareDateTime())

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
