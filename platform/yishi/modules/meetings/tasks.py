"""Telling the invited: a meeting's invitations reach each invited member's inbox, once."""

from __future__ import annotations

from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import or_, select

from yishi.core.db import db
from yishi.core.jobs import job
from yishi.modules.accounts.models import CommunityMembership, User
from yishi.modules.communities.models import Community
from yishi.modules.meetings import services
from yishi.modules.notifications.services import link_to, notify


def invited_people(meeting) -> list[User]:
    """The members invited by name, and the members of the invited resident groups, each once."""
    group_ids, user_ids = services.invitations_of(meeting)
    if not group_ids and not user_ids:
        return []
    return list(
        db.session.execute(
            select(User)
            .join(CommunityMembership, CommunityMembership.user_id == User.id)
            .where(
                User.active.is_(True),
                or_(CommunityMembership.user_id.in_(user_ids), CommunityMembership.resident_group_id.in_(group_ids)),
            )
            .order_by(User.id)
        )
        .scalars()
        .unique()
    )


@job("notifications", timeout=300, retries=(10, 60, 300), community_argument="community_id")
def invite(community_id: int, meeting_id: int) -> dict:
    community = db.session.get(Community, community_id)
    meeting = services.get_meeting(meeting_id)
    link = link_to("meetings.show", community_slug=community.slug, meeting_id=meeting.id)
    people = invited_people(meeting)
    for person in people:
        notify(
            person,
            title=lambda: _(
                "Invitation: %(title)s, %(when)s", title=meeting.title, when=format_datetime(meeting.starts_at, "short")
            ),
            link=link,
            community_id=community_id,
        )
    return {"invited": len(people)}
