"""Who may do what. Services call :func:`require`; templates may call :func:`can` to hide buttons,
but the check that counts is always the service's.

A permission is a scope string (``community:read``). Roles grant sets of scopes; API tokens carry
scopes of their own, bounded by their owner (one community, or one street and its communities).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from yishi.core import tenancy
from yishi.core.db import db
from yishi.core.errors import NotFoundError, PermissionDenied
from yishi.modules.accounts.models import ApiToken, CommunityMembership, CommunityRole, StreetMembership, User

SCOPES: dict[str, object] = {
    "community:read": _l("Read the community profile and its resident groups"),
    "community:write": _l("Change the community profile and its resident groups"),
    "members:read": _l("Read members, with their contact details"),
    "members:write": _l("Add members and change their roles"),
    "tokens:write": _l("Create and revoke API tokens"),
    "audit:read": _l("Read the audit log"),
    "tasks:read": _l("Read background tasks and their results"),
    "street:read": _l("Read the street office and the communities under it"),
}
ALL = "all"

_READ = {"community:read", "tasks:read"}
COMMUNITY_ROLE_SCOPES: dict[CommunityRole, frozenset[str]] = {
    CommunityRole.ADMIN: frozenset(
        {
            "community:read",
            "community:write",
            "members:read",
            "members:write",
            "tokens:write",
            "audit:read",
            "tasks:read",
        }
    ),
    CommunityRole.MODERATOR: frozenset(_READ | {"members:read"}),
    CommunityRole.STAFF: frozenset(_READ),
    CommunityRole.RESIDENT: frozenset({"community:read"}),
}
STREET_ADMIN_SCOPES = frozenset(
    {"street:read", "community:read", "members:read", "audit:read", "tasks:read", "tokens:write"}
)


def register_scopes(
    scopes: dict[str, object],
    *,
    roles: dict[CommunityRole, set[str]] | None = None,
    street_admin: set[str] | None = None,
) -> None:
    """Feature modules add their scopes and grant them to roles here, at import."""
    SCOPES.update(scopes)
    for role, granted in (roles or {}).items():
        COMMUNITY_ROLE_SCOPES[role] = COMMUNITY_ROLE_SCOPES[role] | frozenset(granted)
    global STREET_ADMIN_SCOPES
    STREET_ADMIN_SCOPES = STREET_ADMIN_SCOPES | frozenset(street_admin or ())


@dataclass(frozen=True)
class Actor:
    """Whoever acts: a signed-in user or an API token (or the system, when both are None)."""

    user: User | None = None
    token: ApiToken | None = None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def token_id(self) -> int | None:
        return self.token.id if self.token else None

    @property
    def label(self) -> str:
        if self.user:
            return self.user.name
        if self.token:
            return f"token {self.token.prefix} ({self.token.name})"
        return "system"


SYSTEM = Actor()


def expand_scopes(scopes: frozenset[str]) -> frozenset[str]:
    return frozenset(SCOPES) if ALL in scopes else scopes


def community_role(user: User, community_id: int) -> CommunityRole | None:
    with tenancy.community_scope(community_id):
        return db.session.execute(
            select(CommunityMembership.role).where(CommunityMembership.user_id == user.id)
        ).scalar_one_or_none()


def is_street_admin(user: User, street_id: int) -> bool:
    return (
        db.session.execute(
            select(StreetMembership.id).where(
                StreetMembership.user_id == user.id, StreetMembership.street_id == street_id
            )
        ).first()
        is not None
    )


def scopes_for(actor: Actor, *, community=None, street=None) -> frozenset[str]:
    """Every scope ``actor`` holds on ``community`` (a Community) or ``street`` (a Street)."""
    if actor.token is not None:
        token = actor.token
        if token.is_revoked:
            return frozenset()
        if community is not None:
            owns = token.community_id == community.id or (
                token.street_id is not None and token.street_id == community.street_id
            )
        elif street is not None:
            owns = token.street_id == street.id
        else:
            owns = False
        return expand_scopes(token.scope_set) if owns else frozenset()
    user = actor.user
    if user is None or not user.is_active:
        return frozenset()
    if user.is_platform_admin:
        return frozenset(SCOPES)
    granted: frozenset[str] = frozenset()
    if community is not None:
        role = community_role(user, community.id)
        if role is not None:
            granted |= COMMUNITY_ROLE_SCOPES[role]
        if is_street_admin(user, community.street_id):
            granted |= STREET_ADMIN_SCOPES
    elif street is not None and is_street_admin(user, street.id):
        granted |= STREET_ADMIN_SCOPES
    return granted


def can(actor: Actor, scope: str, *, community=None, street=None) -> bool:
    return scope in scopes_for(actor, community=community, street=street)


def require(actor: Actor, scope: str, *, community=None, street=None) -> None:
    """Raise unless ``actor`` holds ``scope`` there: :class:`NotFoundError` for a stranger to that
    community or street (another tenant learns nothing, not even that the page exists),
    :class:`PermissionDenied` for a member whose role does not reach."""
    granted = scopes_for(actor, community=community, street=street)
    if scope in granted:
        return
    if not granted:
        raise NotFoundError()
    raise PermissionDenied(gettext("This needs the permission “%(scope)s”.", scope=scope))
