"""Resolving the tenant once per request from the URL, and the blueprints that do it.

Pages of a community live under ``/c/<community_slug>/``, its API under
``/api/v1/communities/<community_slug>/``; a street office's under ``/s/<street_slug>/`` and
``/api/v1/streets/<street_slug>/``. A module gets tenant resolution, the 404 rules and the scope
simply by building its blueprints with these factories.
"""

from __future__ import annotations

import flask
import flask_smorest
from flask import Flask, current_app, g
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from yishi.core import tenancy
from yishi.core.db import db
from yishi.modules.accounts.auth import api_actor, current_actor
from yishi.modules.accounts.permissions import Actor, is_street_admin, scopes_for
from yishi.modules.communities.models import Community, Street

COMMUNITY_PAGES_PREFIX = "/c/<community_slug>"
COMMUNITY_API_PREFIX = "/api/v1/communities/<community_slug>"
STREET_PAGES_PREFIX = "/s/<street_slug>"
STREET_API_PREFIX = "/api/v1/streets/<street_slug>"


def current_community() -> Community:
    return g.community


def current_street() -> Street:
    return g.street


def _may_see_inactive(community: Community, actor: Actor) -> bool:
    """Pending and suspended communities exist only for their admins, their street and the platform."""
    if actor.token is not None:
        return actor.token.street_id is not None and actor.token.street_id == community.street_id
    user = actor.user
    if user is None:
        return False
    if user.is_platform_admin or is_street_admin(user, community.street_id):
        return True
    return "community:write" in scopes_for(actor, community=community)


def _enter_community(slug: str | None, *, api: bool) -> None:
    actor = api_actor() if api else current_actor()
    community = db.session.execute(select(Community).where(Community.slug == slug)).scalar_one_or_none()
    if community is None:
        raise NotFound()
    if api and not scopes_for(actor, community=community):
        raise NotFound()  # another tenant's token: the resource does not exist for it
    if not community.is_active and not _may_see_inactive(community, actor):
        raise NotFound()
    g.community = community
    g.tenant_scope_token = tenancy.set_request_scope(community.id)


def _enter_street(slug: str | None, *, api: bool) -> None:
    actor = api_actor() if api else current_actor()
    street = db.session.execute(select(Street).where(Street.slug == slug)).scalar_one_or_none()
    if street is None:
        raise NotFound()
    if api and not scopes_for(actor, street=street):
        raise NotFound()
    g.street = street


def _install(blueprint, *, key: str, enter, api: bool) -> None:
    @blueprint.url_value_preprocessor
    def _resolve(endpoint, values):
        enter((values or {}).pop(key, None), api=api)

    @blueprint.url_defaults
    def _fill(endpoint, values):
        current = g.get("community") if key == "community_slug" else g.get("street")
        if key not in values and current is not None and current_app.url_map.is_endpoint_expecting(endpoint, key):
            values[key] = current.slug


def community_pages(name: str, import_name: str, **kwargs) -> flask.Blueprint:
    blueprint = flask.Blueprint(name, import_name, url_prefix=COMMUNITY_PAGES_PREFIX, **kwargs)
    _install(blueprint, key="community_slug", enter=_enter_community, api=False)
    return blueprint


def community_api(name: str, import_name: str, description: str = "") -> flask_smorest.Blueprint:
    blueprint = flask_smorest.Blueprint(name, import_name, url_prefix=COMMUNITY_API_PREFIX, description=description)
    _install(blueprint, key="community_slug", enter=_enter_community, api=True)
    return blueprint


def street_pages(name: str, import_name: str, **kwargs) -> flask.Blueprint:
    blueprint = flask.Blueprint(name, import_name, url_prefix=STREET_PAGES_PREFIX, **kwargs)
    _install(blueprint, key="street_slug", enter=_enter_street, api=False)
    return blueprint


def street_api(name: str, import_name: str, description: str = "") -> flask_smorest.Blueprint:
    blueprint = flask_smorest.Blueprint(name, import_name, url_prefix=STREET_API_PREFIX, description=description)
    _install(blueprint, key="street_slug", enter=_enter_street, api=True)
    return blueprint


def init_app(app: Flask) -> None:
    @app.teardown_request
    def _leave_tenant(_error=None):
        token = g.pop("tenant_scope_token", None)
        if token is not None:
            tenancy.reset_request_scope(token)

    @app.context_processor
    def _tenant_context():
        return {"community": g.get("community"), "street": g.get("street")}
