"""Who is asking: the signed-in user (Flask-Login) or the API token (``Authorization: Bearer``)."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user
from sqlalchemy.exc import SQLAlchemyError
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
        g.api_token_stamp_due = token.id  # written after the request's transaction: _stamp_token
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


def _stamp_token(response: Response) -> Response:
    """Stamp the token's last use after the request's own transaction, in a tiny one of its own.

    Stamped during authentication, the change was flushed by the first query of tenant resolution,
    so every API request wrote before it knew its tenant and held SQLite's write lock to its end
    (and a read-only request, in a deferred transaction, failed with "database is locked" when
    another had written meanwhile). The request's transaction is over by now: views commit their
    work, and what they left uncommitted is discarded at teardown anyway.
    """
    token_id = g.pop("api_token_stamp_due", None)
    if token_id is None:
        return response
    db.session.rollback()
    try:
        services.stamp_token_used(token_id)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("could not record the use of API token %s", token_id, exc_info=True)
    return response


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.after_request(_stamp_token)
