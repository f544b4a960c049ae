"""The audit log: who did what to which object, when, and from where.

Community events (admin actions, role and token changes) are community-owned rows like any other,
scoped by the tenant hook and shown to the community's admins. Account events that belong to no one
community (logins, street and platform actions) are kept in :class:`AccountEvent`.
"""

from __future__ import annotations

from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from yishi.core import tenancy
from yishi.core.db import AwareDateTime, db, utcnow
from yishi.core.tenancy import TenantMixin


class AuditEntry(TenantMixin, db.Model):
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_community_id_at", "community_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False, default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    action: Mapped[str] = mapped_column(String(80), nullable=False)
    object_type: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    object_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)


class AccountEvent(db.Model):
    __tablename__ = "account_events"
    __table_args__ = (Index("ix_account_events_user_id_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(AwareDateTime(), nullable=False, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(80), nullable=False)
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)


def client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


def record(action: str, *, actor=None, obj=None, details: dict | None = None) -> AuditEntry:
    """Add an audit entry in the community in scope. Flushed at once, inside that scope; committed
    with the caller's transaction."""
    entry = AuditEntry(
        community_id=tenancy.require_community_id(),
        action=action,
        actor_user_id=getattr(actor, "user_id", None),
        actor_token_id=getattr(actor, "token_id", None),
        actor_label=str(getattr(actor, "label", "") or "system"),
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=str(getattr(obj, "id", "") or ""),
        ip=client_ip(),
        details=details or {},
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def record_account_event(
    action: str, *, user_id: int | None, street_id: int | None = None, details: dict | None = None
) -> AccountEvent:
    event = AccountEvent(action=action, user_id=user_id, street_id=street_id, ip=client_ip(), details=details or {})
    db.session.add(event)
    return event
