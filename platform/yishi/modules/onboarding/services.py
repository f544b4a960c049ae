"""Self-onboarding: a community applies, its street office decides; afterwards a setup checklist.

Registration is all or nothing: the community, its first admin, its categories and criteria are
flushed in one transaction that the caller commits, so a refusal leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from yishi.core import audit, tenancy
from yishi.core.db import db, utcnow
from yishi.core.errors import ConflictError, ValidationFailed
from yishi.modules.accounts import services as accounts
from yishi.modules.accounts.models import CommunityMembership, CommunityRole, StreetMembership, User
from yishi.modules.accounts.permissions import SYSTEM, Actor, register_scopes, require
from yishi.modules.categories import services as categories
from yishi.modules.categories.models import Category
from yishi.modules.communities.models import Community, CommunityKind, CommunityStatus, ResidentGroup, Street
from yishi.modules.notifications.services import notify
from yishi.modules.onboarding.models import InvitationCode
from yishi.modules.points import services as points

register_scopes(
    {"street:write": _l("Approve or reject community applications, issue invitation codes")},
    street_admin={"street:write"},
)

INVITATION_DAYS = 30


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


# --- registration ------------------------------------------------------------------------------------


def register_community(
    data: dict, *, user: User | None = None, actor: Actor = SYSTEM, activate: bool = False
) -> tuple[Community, User]:
    """Create a community application (``pending``) and its first admin.

    ``data``: slug, name_zh, name_en, street (slug), kind, resident_count, template, and — when no
    signed-in ``user`` applies — admin_name, admin_email, admin_password; optionally
    invitation_code (a valid one activates at once) and description_zh/description_en.
    ``activate`` is for a street office onboarding through its own API token.
    """
    errors: dict[str, list[str]] = {}
    street = db.session.execute(select(Street).where(Street.slug == data.get("street"))).scalar_one_or_none()
    if street is None:
        errors["street"] = [_("Choose a street office from the list.")]
    if db.session.execute(select(Community.id).where(Community.slug == data["slug"])).first():
        errors["slug"] = [_("This address is already taken: choose another.")]
    if (
        street is not None
        and db.session.execute(
            select(Community.id).where(
                Community.street_id == street.id,
                Community.name_zh == data["name_zh"],
                Community.status.in_([CommunityStatus.PENDING, CommunityStatus.ACTIVE]),
            )
        ).first()
    ):
        errors["name_zh"] = [_("This community has already applied or is already on the platform.")]
    if data.get("template") and data["template"] not in categories.load_templates():
        errors["template"] = [_("Unknown category template “%(name)s”.", name=data["template"])]
    invitation = None
    if data.get("invitation_code"):
        invitation = _usable_invitation(data["invitation_code"], street)
        if invitation is None:
            errors["invitation_code"] = [_("This invitation code is not valid for this street office.")]
    if errors:
        raise ValidationFailed(errors=errors)
    if actor is not SYSTEM:
        require(actor, "street:write", street=street)

    if user is None:
        try:
            user = accounts.create_user(
                email=data["admin_email"],
                name=data["admin_name"],
                password=data["admin_password"],
                phone=data.get("admin_phone"),
            )
        except (ValidationFailed, ConflictError) as error:
            renamed = {f"admin_{key}": value for key, value in (error.errors or {}).items()}
            raise type(error)(error.detail, errors=renamed) from error
    now = utcnow()
    active = activate or invitation is not None
    community = Community(
        slug=data["slug"],
        name_zh=data["name_zh"],
        name_en=data["name_en"],
        street_id=street.id,
        kind=CommunityKind(data.get("kind") or "urban"),
        resident_count=data.get("resident_count") or 0,
        description_zh=data.get("description_zh") or "",
        description_en=data.get("description_en") or "",
        status=CommunityStatus.ACTIVE if active else CommunityStatus.PENDING,
        applied_at=now,
        decided_at=now if active else None,
    )
    db.session.add(community)
    db.session.flush()
    accounts.add_member(community, user, CommunityRole.ADMIN)
    if data.get("template"):
        categories.apply_template(community, data["template"])
    from yishi.modules.selection.services import ensure_default_criteria

    ensure_default_criteria(community)
    if invitation is not None:
        invitation.uses_left -= 1
    with tenancy.community_scope(community.id):
        audit.record(
            "community.registered",
            actor=Actor(user=user),
            obj=community,
            details={
                "street": street.slug,
                "status": community.status.value,
                "invitation": invitation.prefix if invitation else None,
            },
        )
    if not active:
        for admin in street_admins(street):
            notify(
                admin,
                title=lambda: _("New community application: %(name)s", name=community.name_zh),
                body=lambda: _("%(name)s asks to join. Review it on the applications page.", name=community.name_zh),
                link=f"/s/{street.slug}/admin/applications",
            )
    db.session.flush()
    return community, user


def street_admins(street: Street) -> list[User]:
    return list(
        db.session.execute(
            select(User)
            .join(StreetMembership, StreetMembership.user_id == User.id)
            .where(StreetMembership.street_id == street.id)
        ).scalars()
    )


def community_admins(community: Community) -> list[User]:
    with tenancy.community_scope(community.id):
        return list(
            db.session.execute(
                select(User)
                .join(CommunityMembership, CommunityMembership.user_id == User.id)
                .where(CommunityMembership.role == CommunityRole.ADMIN)
            ).scalars()
        )


# --- the street office's decision ---------------------------------------------------------------------


def pending_applications(street: Street) -> list[Community]:
    return list(
        db.session.execute(
            select(Community)
            .where(Community.street_id == street.id, Community.status == CommunityStatus.PENDING)
            .order_by(Community.applied_at)
        ).scalars()
    )


def recent_decisions(street: Street, limit: int = 20) -> list[Community]:
    return list(
        db.session.execute(
            select(Community)
            .where(Community.street_id == street.id, Community.decided_at.is_not(None))
            .order_by(Community.decided_at.desc())
            .limit(limit)
        ).scalars()
    )


def _decide(community: Community, status: CommunityStatus, reason: str, actor: Actor) -> None:
    require(actor, "street:write", street=community.street)
    if community.status != CommunityStatus.PENDING:
        raise ConflictError(_("This application has already been decided."))
    community.status = status
    community.decided_at = utcnow()
    community.decision_reason = reason
    db.session.flush()
    with tenancy.community_scope(community.id):
        audit.record(f"community.{status.value}", actor=actor, obj=community, details={"reason": reason})
    approved = status == CommunityStatus.ACTIVE
    for admin in community_admins(community):
        if approved:
            notify(
                admin,
                community_id=community.id,
                link=f"/c/{community.slug}/admin/setup",
                title=lambda: _("%(name)s is approved", name=community.name_zh),
                body=lambda: _("Your community is active. The setup checklist shows what to do next."),
            )
        else:
            notify(
                admin,
                community_id=community.id,
                title=lambda: _("%(name)s was not approved", name=community.name_zh),
                body=lambda: _("Reason given by the street office: %(reason)s", reason=reason),
            )


def approve(community: Community, *, actor: Actor) -> None:
    _decide(community, CommunityStatus.ACTIVE, "", actor)


def reject(community: Community, reason: str, *, actor: Actor) -> None:
    if not (reason or "").strip():
        raise ValidationFailed(errors={"reason": [_("Say why, so the community can apply again.")]})
    _decide(community, CommunityStatus.REJECTED, reason.strip(), actor)


def community_of_street(street: Street, slug: str) -> Community:
    from yishi.core.errors import NotFoundError

    community = db.session.execute(
        select(Community).where(Community.slug == slug, Community.street_id == street.id)
    ).scalar_one_or_none()
    if community is None:
        raise NotFoundError()
    return community


# --- invitation codes ----------------------------------------------------------------------------------


def issue_invitation(
    street: Street, *, actor: Actor, uses: int = 1, days: int = INVITATION_DAYS
) -> tuple[InvitationCode, str]:
    """A code that activates a community at registration; returned in clear once."""
    require(actor, "street:write", street=street)
    if not 1 <= uses <= 100:
        raise ValidationFailed(errors={"uses": [_("Between 1 and 100 uses.")]})
    code = "-".join(secrets.token_hex(2).upper() for _ in range(3))
    invitation = InvitationCode(
        street_id=street.id,
        code_hash=_hash(code),
        prefix=code[:4],
        uses_left=uses,
        expires_at=utcnow() + timedelta(days=days),
        created_by_id=actor.user_id,
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record_account_event(
        "street.invitation_issued",
        user_id=actor.user_id,
        street_id=street.id,
        details={"prefix": invitation.prefix, "uses": uses},
    )
    return invitation, code


def invitations_of(street: Street) -> list[InvitationCode]:
    return list(
        db.session.execute(
            select(InvitationCode)
            .where(InvitationCode.street_id == street.id)
            .order_by(InvitationCode.created_at.desc())
        ).scalars()
    )


def _usable_invitation(code: str, street: Street | None) -> InvitationCode | None:
    invitation = db.session.execute(
        select(InvitationCode).where(InvitationCode.code_hash == _hash(code))
    ).scalar_one_or_none()
    if invitation is None or street is None or invitation.street_id != street.id:
        return None
    if invitation.uses_left < 1 or invitation.expires_at <= utcnow():
        return None
    return invitation


# --- the setup checklist ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    done: bool
    title: str
    detail: str
    endpoint: str


def checklist(community: Community) -> list[ChecklistItem]:
    """What a new community still has to set up: groups, points, coverage, categories, criteria,
    moderators. Reads the community in scope."""
    with tenancy.community_scope(community.id):
        group_count = db.session.execute(select(func.count(ResidentGroup.id))).scalar_one()
        active_points = points.list_points(active_only=True)
        uncovered = points.coverage().uncovered
        category_count = db.session.execute(
            select(func.count(Category.id)).where(Category.active.is_(True))
        ).scalar_one()
        from yishi.modules.selection.services import active_moderators, list_criteria

        criteria = list_criteria()
        staffed = {appointment.point_id for appointment, _user in active_moderators()}
        unstaffed = [p for p in active_points if p.id not in staffed]
    return [
        ChecklistItem(
            "resident_groups",
            group_count > 0,
            _("Resident groups"),
            _("%(count)d resident groups.", count=group_count)
            if group_count
            else _("Add the resident groups of the community."),
            "community.resident_groups",
        ),
        ChecklistItem(
            "points",
            bool(active_points),
            _("Deliberation points"),
            _("%(count)d points.", count=len(active_points))
            if active_points
            else _("Add at least one deliberation point near a main road."),
            "points.admin",
        ),
        ChecklistItem(
            "coverage",
            bool(group_count) and not uncovered,
            _("Every group served by a point"),
            _("Add resident groups first.")
            if not group_count
            else _("%(count)d resident groups are served by no point.", count=len(uncovered))
            if uncovered
            else _("Every resident group is served by a point."),
            "points.admin",
        ),
        ChecklistItem(
            "categories",
            category_count > 0,
            _("Categories and targets"),
            _("%(count)d active categories.", count=category_count)
            if category_count
            else _("Add categories, or apply a template."),
            "categories.index",
        ),
        ChecklistItem(
            "criteria",
            bool(criteria),
            _("Moderator selection criteria"),
            "、".join(c.name_zh for c in criteria) if criteria else _("Set the criteria moderators are chosen by."),
            "selection.criteria",
        ),
        ChecklistItem(
            "moderators",
            bool(active_points) and not unstaffed,
            _("Moderators for every point"),
            _("%(count)d points have no moderator.", count=len(unstaffed))
            if unstaffed
            else (_("Every point has a moderator.") if active_points else _("Add points first.")),
            "selection.overview",
        ),
    ]
