"""The tenant boundary, enforced in one place.

Every community-owned model inherits :class:`TenantMixin`. A ``do_orm_execute`` hook adds a
``with_loader_criteria`` for the current scope to *every* ORM statement — selects, relationship and
attribute loads, and bulk UPDATE/DELETE — and a ``before_flush`` hook stamps and checks
``community_id`` on writes. With no scope set, a statement that touches a tenant-owned model raises
:class:`TenantScopeError` (fail closed) rather than reading across communities.

Scopes, innermost wins:

* ``community_scope(community_id)`` — one community (requests under ``/c/<slug>/`` and
  ``/api/v1/communities/<slug>/``; jobs taking a ``community_id``).
* ``communities_scope(ids, reason=...)`` — a street office's read across *its* communities.
* ``unscoped(reason)`` — platform-wide code (the platform admin, migrations-like CLI work). It is the
  one visible opt-out; grep for it when reviewing.

Note: ``Session.get()`` answers from the identity map without SQL. Fetch tenant-owned rows with
:func:`get_owned` (or a ``select``), which always runs the scoped statement.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import ForeignKey, event, false, select
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)

from yishi.core.db import db


class TenantScopeError(RuntimeError):
    """Tenant-owned data was touched with no community in scope, or written across communities."""


@dataclass(frozen=True)
class _Scope:
    community_ids: frozenset[int] | None  # None means unscoped
    reason: str = ""

    @property
    def single(self) -> int | None:
        if self.community_ids is not None and len(self.community_ids) == 1:
            return next(iter(self.community_ids))
        return None


_scope: ContextVar[_Scope | None] = ContextVar("yishi_tenant_scope", default=None)


class TenantMixin:
    """A row owned by one community. ``community_id`` is NOT NULL, indexed, and set from the scope."""

    __tenant_owned__ = True

    @declared_attr
    def community_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), nullable=False, index=True)


def is_tenant_owned(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, TenantMixin)


# --- reading and setting the scope -----------------------------------------------------------


def current_community_id() -> int | None:
    """The one community in scope, or None (no scope, several communities, or unscoped)."""
    scope = _scope.get()
    return scope.single if scope else None


def require_community_id() -> int:
    community_id = current_community_id()
    if community_id is None:
        raise TenantScopeError("no community in scope")
    return community_id


@contextlib.contextmanager
def _push(scope: _Scope | None) -> Iterator[None]:
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)


def community_scope(community_id: int) -> contextlib.AbstractContextManager[None]:
    """Scope everything inside to one community."""
    if not isinstance(community_id, int):
        raise TypeError("community_scope takes a community id")
    return _push(_Scope(frozenset({community_id})))


def communities_scope(community_ids: Iterable[int], *, reason: str) -> contextlib.AbstractContextManager[None]:
    """Read across several communities (a street office's own), and only those."""
    return _push(_Scope(frozenset(community_ids), reason))


def unscoped(reason: str) -> contextlib.AbstractContextManager[None]:
    """Explicitly opt out of tenant scoping: platform-wide code only. ``reason`` documents why."""
    if not reason:
        raise ValueError("unscoped() needs a reason")
    return _push(_Scope(None, reason))


def no_scope() -> contextlib.AbstractContextManager[None]:
    """Clear any scope (start of a request, start of a job): tenant-owned queries now fail closed."""
    return _push(None)


def set_request_scope(community_id: int | None):
    """Set the scope for the rest of a request; returns a token for :func:`reset_request_scope`."""
    return _scope.set(_Scope(frozenset({community_id})) if community_id is not None else None)


def reset_request_scope(token) -> None:
    _scope.reset(token)


def get_owned(model: type, object_id: int | None):
    """Fetch a tenant-owned row by id through the scoped query (never the identity map alone)."""
    if object_id is None:
        return None
    return db.session.execute(select(model).where(model.id == object_id)).scalar_one_or_none()


def code_taken(model: type, code: str, *, except_id: int | None = None) -> bool:
    """Whether another row of ``model`` in the community in scope already uses ``code``."""
    statement = select(model.id).where(model.code == code)
    if except_id is not None:
        statement = statement.where(model.id != except_id)
    return db.session.execute(statement).first() is not None


# --- enforcement -------------------------------------------------------------------------------


def _criteria(scope: _Scope | None):
    if scope is None:
        return with_loader_criteria(TenantMixin, lambda cls: false(), include_aliases=True)
    ids = tuple(sorted(scope.community_ids or ()))
    if len(ids) == 1:
        only = ids[0]
        return with_loader_criteria(TenantMixin, lambda cls: cls.community_id == only, include_aliases=True)
    return with_loader_criteria(TenantMixin, lambda cls: cls.community_id.in_(ids), include_aliases=True)


@event.listens_for(Session, "do_orm_execute")
def _scope_every_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    scope = _scope.get()
    if scope is not None and scope.community_ids is None:
        return  # unscoped(): explicit, reviewed opt-out
    if scope is None:
        touched = [m.class_ for m in state.all_mappers if is_tenant_owned(m.class_)]
        if touched:
            names = ", ".join(sorted({c.__name__ for c in touched}))
            raise TenantScopeError(f"{names} queried with no community in scope")
    state.statement = state.statement.options(_criteria(scope))


@event.listens_for(Session, "before_flush")
def _stamp_and_check_writes(session: Session, flush_context, instances) -> None:
    scope = _scope.get()
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantMixin):
            continue
        if scope is not None and scope.community_ids is None:
            if obj.community_id is None:
                raise TenantScopeError(f"{type(obj).__name__} written unscoped without a community_id")
            continue
        if scope is None:
            raise TenantScopeError(f"{type(obj).__name__} written with no community in scope")
        if obj.community_id is None and scope.single is not None:
            obj.community_id = scope.single
        if obj.community_id not in (scope.community_ids or ()):
            raise TenantScopeError(f"{type(obj).__name__} written outside the communities in scope")
    for obj in session.deleted:
        if not isinstance(obj, TenantMixin) or (scope is not None and scope.community_ids is None):
            continue
        if scope is None or obj.community_id not in (scope.community_ids or ()):
            raise TenantScopeError(f"{type(obj).__name__} deleted outside the communities in scope")
