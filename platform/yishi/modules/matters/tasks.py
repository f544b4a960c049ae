"""Background jobs of matters: telling people (so a slow channel never slows intake) and the sweep
that escalates late matters and closes the resolved ones nobody confirmed."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from yishi.core import tenancy
from yishi.core.db import db
from yishi.core.jobs import job
from yishi.modules.accounts.models import StreetMembership, User
from yishi.modules.communities.models import Community, CommunityStatus
from yishi.modules.matters import services
from yishi.modules.matters.models import EscalationTarget, Matter
from yishi.modules.notifications.services import link_to, notify

MESSAGES = {
    "submitted": lambda m: _("New matter: %(title)s", title=m.title),
    "reminder": lambda m: _("Late: %(title)s is waiting for a moderator", title=m.title),
    "late": lambda m: _("Escalated: %(title)s is still late", title=m.title),
    "escalate": lambda m: _("Escalated to you: %(title)s", title=m.title),
    "resolve": lambda m: _("Your matter is resolved: %(title)s", title=m.title),
    "reopen": lambda m: _("Reopened by its reporter: %(title)s", title=m.title),
    "withdraw": lambda m: _("Withdrawn by its reporter: %(title)s", title=m.title),
    "info": lambda m: _("New information on: %(title)s", title=m.title),
}


def _point_moderators(matter: Matter) -> list[User]:
    from yishi.modules.selection.services import active_moderators

    if matter.point_id is None:
        return []
    return [user for appointment, user in active_moderators(matter.point_id)]


def _street_admins(community: Community) -> list[User]:
    with tenancy.unscoped("street admins of an escalated matter"):
        return list(
            db.session.execute(
                select(User)
                .join(StreetMembership, StreetMembership.user_id == User.id)
                .where(StreetMembership.street_id == community.street_id, User.active.is_(True))
            ).scalars()
        )


def recipients(community: Community, matter: Matter, event: str) -> list[User]:
    """Who hears of an event: the point's moderators first, the admins when nobody else would."""
    if event == "resolve":
        return [db.session.get(User, matter.reporter_user_id)] if matter.reporter_user_id else []
    if event == "late":
        return services.community_admins(community)
    if event == "escalate":
        if matter.escalated_to == EscalationTarget.STREET:
            return _street_admins(community)
        return services.community_admins(community)
    people = []
    if event in ("reopen", "info", "withdraw") and matter.assignee_id:
        people = [db.session.get(User, matter.assignee_id)]
    return people or _point_moderators(matter) or services.community_admins(community)


@job("notifications", timeout=120, retries=(10, 60, 300), community_argument="community_id")
def tell(community_id: int, matter_id: int, event: str) -> dict:
    community = db.session.get(Community, community_id)
    matter = db.session.get(Matter, matter_id)
    if matter is None:
        return {"sent": 0}
    link = link_to("matters.show", community_slug=community.slug, matter_id=matter.id)
    people = [person for person in recipients(community, matter, event) if person is not None and person.active]
    for person in people:
        notify(person, title=lambda: MESSAGES[event](matter), link=link, community_id=community_id)
    return {"sent": len(people)}


@job("escalation", timeout=300)
def sweep_all() -> dict:
    """Every active community's sweep, each in its own scope and transaction."""
    with tenancy.unscoped("the matter sweep visits every active community"):
        ids = list(
            db.session.execute(
                select(Community.id).where(Community.status == CommunityStatus.ACTIVE).order_by(Community.id)
            ).scalars()
        )
    totals = {"communities": 0, "reminders": 0, "escalations": 0, "closed": 0}
    for community_id in ids:
        with tenancy.community_scope(community_id):
            sent = services.sweep(db.session.get(Community, community_id))
            db.session.commit()
        totals["communities"] += 1
        for key, value in sent.items():
            totals[key] += value
    return totals
