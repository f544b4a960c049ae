"""Pages: sign in and out, language, my communities, and API token management."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from yishi.core import audit
from yishi.core.db import db
from yishi.core.i18n import normalise_locale
from yishi.core.security import limiter
from yishi.modules.accounts import services
from yishi.modules.accounts.auth import current_actor
from yishi.modules.accounts.forms import ActionForm, LanguageForm, LoginForm, TokenForm
from yishi.modules.accounts.permissions import SCOPES, require
from yishi.modules.communities import services as community_services
from yishi.modules.communities.context import community_pages, street_pages

blueprint = Blueprint("accounts", __name__)
community_admin = community_pages("community_tokens", __name__)
street_admin = street_pages("street_tokens", __name__)


@blueprint.app_context_processor
def _role_labels():
    return {
        "role_labels": {
            "admin": _("community admin"),
            "moderator": _("moderator"),
            "staff": _("Party member / representative"),
            "resident": _("resident"),
        }
    }


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths: never an open redirect."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def _login_email_key() -> str:
    return "login:" + services.normalise_email(request.form.get("email", ""))


def _login_limit() -> str:
    from flask import current_app

    return current_app.config["LOGIN_RATE_LIMIT"]


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])  # per IP
@limiter.limit(_login_limit, key_func=_login_email_key, methods=["POST"])  # per account
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        user = services.check_credentials(form.email.data, form.password.data)
        if user is None:
            known = services.find_user_by_email(form.email.data)
            audit.record_account_event("login.failed", user_id=known.id if known else None)
            db.session.commit()
            form.password.errors.append(_("The email address or the password is not right."))
        else:
            locale = session.get("locale")
            session.clear()  # a new session at login: nothing from before survives (fixation)
            if locale:
                session["locale"] = locale
            login_user(user)
            services.record_login(user)
            db.session.commit()
            return redirect(safe_next(form.next.data, url_for("accounts.me")))
    status = 200 if not form.errors else 400
    return render_template("accounts/login.html", form=form), status


@blueprint.route("/logout", methods=["POST"])
def logout():
    form = ActionForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        user = current_user._get_current_object()
        services.end_all_sessions(user)
        audit.record_account_event("logout", user_id=user.id)
        db.session.commit()
        logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("site.home"))


@blueprint.route("/language", methods=["POST"])
def language():
    form = LanguageForm()
    locale = normalise_locale(form.locale.data) if form.validate_on_submit() else None
    if locale:
        session["locale"] = locale
        if current_user.is_authenticated:
            current_user.locale = locale
            db.session.commit()
    return redirect(safe_next(form.next.data, url_for("site.home")))


@blueprint.route("/me")
@login_required
def me():
    memberships = services.communities_of(current_user)
    by_id = {c.id: c for c in community_services.list_communities()}
    communities = [(by_id[community_id], role) for community_id, role in memberships if community_id in by_id]
    streets = [m.street for m in current_user.street_memberships]
    return render_template("accounts/me.html", communities=communities, streets=streets)


# --- API tokens: the same page for a community and for a street office -----------------------------


def _token_page(owner_kwargs: dict, template_owner, revoke_endpoint: str):
    actor = current_actor()
    require(actor, "tokens:write", **owner_kwargs)
    form = TokenForm()
    form.scopes.choices = [(scope, f"{scope} — {label}") for scope, label in SCOPES.items()] + [
        ("all", _("all — every scope, present and future"))
    ]
    new_secret = None
    if form.validate_on_submit():
        token, new_secret = services.create_token(
            name=form.name.data, scopes=form.scopes.data, actor=actor, **owner_kwargs
        )
        db.session.commit()
        flash(_("Token created. Copy it now: it will not be shown again."), "success")
    tokens = services.tokens_of(**owner_kwargs)
    return render_template(
        "accounts/tokens.html",
        form=form,
        tokens=tokens,
        new_secret=new_secret,
        owner=template_owner,
        revoke_form=ActionForm(),
        revoke_endpoint=revoke_endpoint,
    )


def _revoke(owner_kwargs: dict, token_id: int):
    form = ActionForm()
    if form.validate_on_submit():
        token = services.get_token_of(token_id, **owner_kwargs)
        services.revoke_token(token, actor=current_actor())
        db.session.commit()
        flash(_("Token “%(name)s” revoked.", name=token.name), "info")


@community_admin.route("/admin/tokens", methods=["GET", "POST"])
@login_required
def community_tokens():
    return _token_page({"community": g.community}, g.community, "community_tokens.revoke_community_token")


@community_admin.route("/admin/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_community_token(token_id: int):
    _revoke({"community": g.community}, token_id)
    return redirect(url_for("community_tokens.community_tokens"))


@street_admin.route("/admin/tokens", methods=["GET", "POST"])
@login_required
def street_tokens():
    return _token_page({"street": g.street}, g.street, "street_tokens.revoke_street_token")


@street_admin.route("/admin/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_street_token(token_id: int):
    _revoke({"street": g.street}, token_id)
    return redirect(url_for("street_tokens.street_tokens"))
