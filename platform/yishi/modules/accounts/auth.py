"""Who is asking: the signed-in user (Flask-Login) or the API token (``Authorization: Bearer``)."""

from __future__ import annotations

import logging

from flask import Flask, g, request
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user
from werkzeug.exceptions import Unauthorized

from yishi.core.db import db
from yishi.modules.accounts import services
from yishi.modules.accounts.permissions import Actor

log = logging.getLogger(__name__)

login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = _l("Please sign in to see this page.")
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


@login_manager.user_loader
def _load_user(session_id: str):
    return services.load_session_user(session_id)


class TokenRequired(Unauthorized):
    description = "A valid API token is required: send it as 'Authorization: Bearer <token>'."

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("WWW-Authenticate", 'Bearer realm="yishi"')]


def bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def api_actor() -> Actor:
    """The token's actor for an API request, or 401."""
    if "actor" in g:
        return g.actor
    token = services.authenticate_token(bearer_secret() or "")
    if token is None:
        raise TokenRequired()
    g.actor = Actor(token=token)
    g.api_token_id = token.id
    if services.token_stamp_due(token):
        g.api_token_stamp_due = token.id  # written once the request is over: _stamp_token
    return g.actor


def current_actor() -> Actor:
    """The actor of this request: a token on the API, the signed-in user on pages, else anonymous."""
    if "actor" in g:
        return g.actor
    if request.path.startswith("/api/"):
        return api_actor()
    user = current_user._get_current_object() if current_user.is_authenticated else None
    g.actor = Actor(user=user)
    return g.actor


def _stamp_token(_error: BaseException | None = None) -> None:
    """Stamp the token's last use once the request is over, in a tiny transaction of its own.

    Stamped during authentication, the change was flushed by the first query of tenant resolution,
    so every API request wrote before it knew its tenant and held SQLite's write lock to its end
    (and a read-only request, in a deferred transaction, failed with "database is locked" when
    another had written meanwhile). At teardown every view and ``after_request`` hook has committed
    what it meant to; what is left uncommitted would be rolled back with the session anyway.
    """
    token_id = g.pop("api_token_stamp_due", None)
    if token_id is None:
        return
    try:
        db.session.rollback()
        services.stamp_token_used(token_id)
        db.session.commit()
    except Exception:  # noqa: BLE001 - bookkeeping must never fail a request that is already answered
        db.session.rollback()
        log.warning("could not record the use of API token %s", token_id, exc_info=True)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.teardown_request(_stamp_token)
