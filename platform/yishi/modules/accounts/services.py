"""Use-cases for accounts: users, memberships, login checks and API tokens.

Services take the acting :class:`Actor`, check permissions, and ``flush()``; the caller commits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from yishi.core import audit, tenancy
from yishi.core.db import db, utcnow
from yishi.core.errors import ConflictError, NotFoundError, ValidationFailed
from yishi.modules.accounts.models import (
    ApiToken,
    CommunityMembership,
    CommunityRole,
    StreetMembership,
    StreetRole,
    User,
)
from yishi.modules.accounts.permissions import ALL, SCOPES, SYSTEM, Actor, require
from yishi.modules.communities.models import Community, Street

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "ys_"  # noqa: S105 - a public marker, not a secret
# A real hash to check against when the account does not exist, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def _hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def mask_name(name: str | None) -> str:
    """张** : the family name, not the person."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, min(len(name) - 1, 3))


def mask_phone(phone: str | None) -> str:
    """138****1234: enough to recognise, not enough to call."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def validate_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            errors={"password": [_("Use at least %(count)d characters.", count=MIN_PASSWORD_LENGTH)]}
        )


def find_user_by_email(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == normalise_email(email))).scalar_one_or_none()


def create_user(
    *,
    email: str,
    name: str,
    password: str,
    phone: str | None = None,
    locale: str | None = None,
    is_platform_admin: bool = False,
) -> User:
    errors: dict[str, list[str]] = {}
    email = normalise_email(email)
    if not EMAIL_PATTERN.match(email):
        errors["email"] = [_("Not a valid email address.")]
    if not (name or "").strip():
        errors["name"] = [_("This field is required.")]
    if errors:
        raise ValidationFailed(errors=errors)
    validate_password(password)
    if find_user_by_email(email) is not None:
        raise ConflictError(
            _("An account with this email address already exists."),
            errors={"email": [_("An account with this email address already exists.")]},
        )
    user = User(
        email=email,
        name=name.strip(),
        phone=phone,
        locale=locale,
        password_hash=_hash_password(password),
        is_platform_admin=is_platform_admin,
    )
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    validate_password(password)
    user.password_hash = _hash_password(password)
    user.session_generation += 1


def check_credentials(email: str, password: str) -> User | None:
    """The user if the password is right and the account active; None otherwise, whichever failed."""
    user = find_user_by_email(email)
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    if user is None or not ok or not user.is_active:
        return None
    return user


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's loader: ``"<id>:<generation>"``; a bumped generation ends old sessions."""
    user_id, _sep, generation = (session_id or "").partition(":")
    if not user_id.isdigit() or not generation.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_generation != int(generation) or not user.is_active:
        return None
    return user


def end_all_sessions(user: User) -> None:
    user.session_generation += 1


# --- memberships ---------------------------------------------------------------------------------


def add_member(
    community,
    user: User,
    role: CommunityRole,
    *,
    actor: Actor = SYSTEM,
    party_member: bool = False,
    representative: bool = False,
    resident_group_id: int | None = None,
) -> CommunityMembership:
    """Give ``user`` a role in ``community`` (or change it). Needs ``members:write`` unless SYSTEM."""
    if actor is not SYSTEM:
        require(actor, "members:write", community=community)
    with tenancy.community_scope(community.id):
        membership = db.session.execute(
            select(CommunityMembership).where(CommunityMembership.user_id == user.id)
        ).scalar_one_or_none()
        before = membership.role.value if membership else None
        if membership is None:
            membership = CommunityMembership(community_id=community.id, user_id=user.id, role=role)
            db.session.add(membership)
        membership.role = role
        membership.party_member = party_member
        membership.representative = representative
        membership.resident_group_id = resident_group_id
        db.session.flush()
        audit.record(
            "member.role_set",
            actor=actor,
            obj=membership,
            details={"user_id": user.id, "from": before, "to": role.value},
        )
    return membership


def list_members(community) -> list[CommunityMembership]:
    with tenancy.community_scope(community.id):
        return list(
            db.session.execute(
                select(CommunityMembership).join(CommunityMembership.user).order_by(CommunityMembership.role, User.name)
            ).scalars()
        )


def add_street_admin(street, user: User) -> StreetMembership:
    membership = db.session.execute(
        select(StreetMembership).where(StreetMembership.street_id == street.id, StreetMembership.user_id == user.id)
    ).scalar_one_or_none()
    if membership is None:
        membership = StreetMembership(street_id=street.id, user_id=user.id, role=StreetRole.ADMIN)
        db.session.add(membership)
        db.session.flush()
        audit.record_account_event("street.admin_added", user_id=user.id, street_id=street.id)
    return membership


def record_login(user: User) -> None:
    """A sign-in is an account event, and an audit entry in every community where the user can act
    (admins, moderators, staff), so each community's admins see who signed in with power there."""
    user.last_login_at = utcnow()
    audit.record_account_event("login.succeeded", user_id=user.id)
    actor = Actor(user=user)
    for community_id, role in communities_of(user):
        if role != CommunityRole.RESIDENT:
            with tenancy.community_scope(community_id):
                audit.record("login", actor=actor, obj=user, details={"role": role.value})


def communities_of(user: User) -> list[tuple[int, CommunityRole]]:
    """(community id, role) for each community the user belongs to: an account-level, cross-tenant
    read, done through the one visible opt-out."""
    with tenancy.unscoped("a user's own memberships across communities"):
        rows = db.session.execute(
            select(CommunityMembership.community_id, CommunityMembership.role).where(
                CommunityMembership.user_id == user.id
            )
        ).all()
    return [(row[0], row[1]) for row in rows]


# --- API tokens --------------------------------------------------------------------------------------


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(raw: str | list[str]) -> frozenset[str]:
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    scopes = frozenset(s.strip() for s in items if s.strip())
    unknown = sorted(s for s in scopes if s != ALL and s not in SCOPES)
    if not scopes or unknown:
        message = (
            _("Unknown scopes: %(scopes)s", scopes=", ".join(unknown)) if unknown else _("Choose at least one scope.")
        )
        raise ValidationFailed(errors={"scopes": [message]})
    return scopes


def create_token(
    *, name: str, scopes: str | list[str], community=None, street=None, actor: Actor = SYSTEM
) -> tuple[ApiToken, str]:
    """Create a token owned by ``community`` or ``street``; returns it and its secret (shown once)."""
    if (community is None) == (street is None):
        raise ValueError("a token belongs to exactly one community or one street")
    if actor is not SYSTEM:
        require(actor, "tokens:write", community=community, street=street)
    if not (name or "").strip():
        raise ValidationFailed(errors={"name": [_("This field is required.")]})
    scope_set = parse_scopes(scopes)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name.strip()[:120],
        community_id=community.id if community is not None else None,
        street_id=street.id if street is not None else None,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        token_hash=_hash_token(secret),
        scopes=" ".join(sorted(scope_set)),
        created_by_id=actor.user_id,
    )
    db.session.add(token)
    db.session.flush()
    _audit_token("token.created", token, actor)
    return token, secret


def _audit_token(action: str, token: ApiToken, actor: Actor) -> None:
    details = {"name": token.name, "prefix": token.prefix, "scopes": token.scopes}
    if token.community_id is not None:
        with tenancy.community_scope(token.community_id):
            audit.record(action, actor=actor, obj=token, details=details)
    else:
        audit.record_account_event(action, user_id=actor.user_id, street_id=token.street_id, details=details)


def tokens_of(*, community=None, street=None) -> list[ApiToken]:
    """The tokens owned by one community or one street (never anyone else's)."""
    if community is not None:
        where = ApiToken.community_id == community.id
    elif street is not None:
        where = ApiToken.street_id == street.id
    else:
        raise ValueError("tokens_of needs a community or a street")
    return list(db.session.execute(select(ApiToken).where(where).order_by(ApiToken.created_at.desc())).scalars())


def get_token_of(token_id: int, *, community=None, street=None) -> ApiToken:
    token = next((t for t in tokens_of(community=community, street=street) if t.id == token_id), None)
    if token is None:
        raise NotFoundError()
    return token


def revoke_token(token: ApiToken, *, actor: Actor) -> None:
    community = db.session.get(Community, token.community_id) if token.community_id else None
    street = db.session.get(Street, token.street_id) if token.street_id else None
    require(actor, "tokens:write", community=community, street=street)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
        _audit_token("token.revoked", token, actor)


def authenticate_token(secret: str) -> ApiToken | None:
    """The live token for a secret, or None. Compares hashes in constant time."""
    if not secret or not secret.startswith(TOKEN_PREFIX):
        return None
    digest = _hash_token(secret)
    token = db.session.execute(select(ApiToken).where(ApiToken.token_hash == digest)).scalar_one_or_none()
    if token is None or not hmac.compare_digest(token.token_hash, digest) or token.is_revoked:
        return None
    return token


# How stale a token's "last used" may get: coarse on purpose, so using a token rarely writes at all.
TOKEN_STAMP_INTERVAL = timedelta(minutes=5)


def token_stamp_due(token: ApiToken) -> bool:
    return token.last_used_at is None or utcnow() - token.last_used_at > TOKEN_STAMP_INTERVAL


def stamp_token_used(token_id: int) -> None:
    """Record that a token was used, unless a concurrent request just did. A single UPDATE with
    nothing read before it: run it in a transaction of its own (``accounts.auth`` does, after the
    request's), so bookkeeping never holds a write lock across a request nor waits inside one."""
    now = utcnow()
    db.session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - TOKEN_STAMP_INTERVAL),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def count_users() -> int:
    return db.session.execute(select(func.count(User.id))).scalar_one()
