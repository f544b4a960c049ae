"""How matters are shown (API, pages, board): names of their category, group and point, masked
contact details for those who do not act on them — in a fixed number of queries for any list."""

from __future__ import annotations

from datetime import datetime

from flask import url_for
from flask_babel import get_locale
from sqlalchemy import select

from yishi.core.db import db, utcnow
from yishi.modules.accounts.models import User
from yishi.modules.accounts.permissions import Actor
from yishi.modules.accounts.services import mask_name, mask_phone
from yishi.modules.categories.models import Category, CategoryKind
from yishi.modules.communities.models import Community, ResidentGroup
from yishi.modules.matters import services, workflow
from yishi.modules.matters.models import Matter
from yishi.modules.points.models import Point


class Lookups:
    """Categories, groups and points of the community in scope (one query each), and the names of
    the people a page of matters mentions (one query)."""

    def __init__(self, matters: list[Matter] = ()):
        self.categories = {c.id: c for c in db.session.execute(select(Category)).scalars()}
        self.groups = {g.id: g for g in db.session.execute(select(ResidentGroup)).scalars()}
        self.points = {p.id: p for p in db.session.execute(select(Point)).scalars()}
        ids = {m.assignee_id for m in matters if m.assignee_id}
        self.users = (
            {u.id: u for u in db.session.execute(select(User).where(User.id.in_(ids))).scalars()} if ids else {}
        )

    @staticmethod
    def _name(thing) -> str:
        return thing.name(str(get_locale() or "zh_CN")) if thing is not None else ""

    def category(self, matter: Matter) -> str:
        return self._name(self.categories.get(matter.category_id))

    def group(self, matter: Matter) -> str:
        return self._name(self.groups.get(matter.resident_group_id))

    def point(self, matter: Matter) -> str:
        return self._name(self.points.get(matter.point_id))

    def is_dispute(self, matter: Matter) -> bool:
        category = self.categories.get(matter.category_id)
        return category is not None and category.kind == CategoryKind.DISPUTE


def public_title(matter: Matter, lookups: Lookups) -> str:
    """Disputes are between named neighbours: the board shows what kind of matter, not its title."""
    if lookups.is_dispute(matter):
        return f"{lookups.category(matter)} · {lookups.group(matter)}".strip(" ·")
    return services.mask_phone_numbers(matter.title)


def describe(
    matters: list[Matter],
    actor: Actor,
    community: Community,
    *,
    tracked_ids: set[int] = frozenset(),
    external: bool = False,
    now: datetime | None = None,
) -> list[dict]:
    now = now or utcnow()
    lookups = Lookups(matters)
    reach = services.reach(actor, community)
    rows = []
    for matter in matters:
        handled = reach is not None and reach.handles(matter)
        contact = handled or services.is_reporter(actor, matter, tracked=matter.id in tracked_ids)
        assignee = lookups.users.get(matter.assignee_id)
        rows.append(
            {
                "id": matter.id,
                "version": matter.version,
                "title": matter.title,
                "description": matter.description,
                "status": matter.status.value,
                "status_label": str(workflow.STATUS_LABELS[matter.status]),
                "channel": matter.channel.value,
                "category_id": matter.category_id,
                "category": lookups.category(matter),
                "resident_group_id": matter.resident_group_id,
                "resident_group": lookups.group(matter),
                "point_id": matter.point_id,
                "point": lookups.point(matter),
                "address": matter.address,
                "latitude": matter.latitude,
                "longitude": matter.longitude,
                "reporter_name": matter.reporter_name if contact else mask_name(matter.reporter_name),
                "reporter_phone": matter.reporter_phone if contact else mask_phone(matter.reporter_phone),
                "parties": list(matter.parties) if contact else [mask_name(p) for p in matter.parties],
                "assignee": assignee.name if assignee else None,
                "escalated_to": matter.escalated_to.value if matter.escalated_to else None,
                "resolution_note": matter.resolution_note,
                "outcome": matter.outcome.value if matter.outcome else None,
                "agreement_text": matter.agreement_text,
                "reject_reason": matter.reject_reason,
                "submitted_at": matter.submitted_at,
                "accepted_at": matter.accepted_at,
                "resolved_at": matter.resolved_at,
                "closed_at": matter.closed_at,
                "first_response_due_at": matter.first_response_due_at,
                "resolution_due_at": matter.resolution_due_at,
                "minutes_to_accept": matter.minutes_to_accept,
                "minutes_to_resolve": matter.minutes_to_resolve,
                "first_response_met": matter.first_response_met,
                "resolution_met": matter.resolution_met,
                "overdue": services.is_overdue(matter, now),
                "satisfaction": matter.satisfaction,
                "satisfaction_comment": matter.satisfaction_comment,
                "url": url_for("matters.show", matter_id=matter.id, _external=external),
            }
        )
    return rows


def board_rows(matters: list[Matter]) -> list[dict]:
    """What the public board shows: never a name, a phone number or a dispute's title."""
    lookups = Lookups()
    return [
        {
            "id": matter.id,
            "title": public_title(matter, lookups),
            "status": matter.status.value,
            "status_label": str(workflow.STATUS_LABELS[matter.status]),
            "category": lookups.category(matter),
            "resident_group": lookups.group(matter),
            "point": lookups.point(matter),
            "channel": matter.channel.value,
            "submitted_at": matter.submitted_at,
            "resolved_at": matter.resolved_at,
            "first_response_met": matter.first_response_met,
        }
        for matter in matters
    ]
