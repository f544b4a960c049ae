"""Telling people things, in their own language, in their in-app inbox."""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select, update

from yishi.core.db import db, utcnow
from yishi.core.errors import NotFoundError
from yishi.modules.accounts.models import User
from yishi.modules.notifications.models import Notification


def link_to(endpoint: str, **values) -> str:
    """The path of a page, also from a job (no request to build it from)."""
    return current_app.url_map.bind("").build(endpoint, values)


def notify(user: User, *, title, body="", link: str = "", community_id: int | None = None) -> Notification:
    """``title`` and ``body`` are callables (or plain text) rendered in the recipient's language."""
    with force_locale(user.locale or "zh_CN"):
        title_text = title() if callable(title) else str(title)
        body_text = body() if callable(body) else str(body)
    notification = Notification(
        user_id=user.id, community_id=community_id, title=title_text[:200], body=body_text, link=link
    )
    db.session.add(notification)
    db.session.flush()
    return notification


def notifications_of(user: User, *, limit: int = 50) -> list[Notification]:
    return list(
        db.session.execute(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        ).scalars()
    )


def unread_count(user: User) -> int:
    return db.session.execute(
        select(func.count(Notification.id)).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ).scalar_one()


def mark_read(user: User, notification_id: int | None = None) -> None:
    """Mark one of the user's notifications read (or all of them)."""
    statement = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_id is not None:
        exists = db.session.execute(
            select(Notification.id).where(Notification.id == notification_id, Notification.user_id == user.id)
        ).first()
        if exists is None:
            raise NotFoundError()
        statement = statement.where(Notification.id == notification_id)
    db.session.execute(statement.values(read_at=utcnow()), execution_options={"synchronize_session": False})
