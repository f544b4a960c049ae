"""Who is asking: the signed-in user (Flask-Login) or the API token (``Authorization: Bearer``)."""

from __future__ import annotations

from flask import Flask, g, request
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user
from werkzeug.exceptions import Unauthorized

from yishi.modules.accounts import services
from yishi.modules.accounts.permissions import Actor

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


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
