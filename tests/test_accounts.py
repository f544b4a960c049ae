"""Sign-in, sessions, rate limits, CSRF, passwords, roles."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.conftest import PASSWORD
from yishi.core.audit import AccountEvent
from yishi.core.db import db
from yishi.modules.accounts import services as accounts
from yishi.modules.accounts.models import User


def test_passwords_are_stored_with_a_modern_kdf(create_user):
    user = create_user()
    assert user.password_hash.startswith("scrypt:")
    assert PASSWORD not in user.password_hash


def test_login_renews_the_session_and_logout_ends_it(client, create_user, community):
    user = create_user(community=community, role="admin")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"  # session fixation attempt
        session["locale"] = "en"
    response = client.post("/login", data={"email": user.email.upper(), "password": PASSWORD, "next": "/c/shilipu/"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/c/shilipu/")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["locale"] == "en"  # the language choice survives
        stolen = dict(session)
    assert client.get("/me").status_code == 200
    client.post("/logout")
    assert client.get("/me").status_code == 302  # back to login
    # A copy of the old session cookie is dead too: logout ends every session of the account.
    with client.session_transaction() as session:
        session.update(stolen)
    assert client.get("/me").status_code == 302


def test_failed_login_does_not_reveal_whether_the_account_exists(client, create_user):
    user = create_user()
    wrong = client.post("/login", data={"email": user.email, "password": "not the password"})
    unknown = client.post("/login", data={"email": "nobody@test.example", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 400

    def error_text(response):
        return re.findall(r'class="invalid-feedback[^"]*"[^>]*>\s*([^<]+)', response.get_data(as_text=True))

    assert error_text(wrong) == error_text(unknown) and error_text(wrong)
    events = db.session.execute(select(AccountEvent.action)).scalars().all()
    assert events.count("login.failed") == 2


def test_login_is_rate_limited_per_account(client, create_user):
    user = create_user()
    statuses = [client.post("/login", data={"email": user.email, "password": "wrong"}).status_code for _ in range(6)]
    assert statuses[:5] == [400] * 5 and statuses[5] == 429
    # Even the right password is refused while the account is throttled.
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 429


def test_open_redirects_are_refused(client, create_user):
    user = create_user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "next": "//evil.example/x"})
    assert response.headers["Location"].endswith("/me")


def test_inactive_account_cannot_sign_in(client, create_user):
    user = create_user()
    user.active = False
    db.session.commit()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 400


def test_csrf_is_enforced_on_forms(app, client, create_user, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    user = create_user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def test_language_choice_is_remembered_for_the_user(client, create_user, login_as):
    user = create_user()
    login_as(user)
    client.post("/language", data={"locale": "en", "next": "/me"})
    assert db.session.get(User, user.id).locale == "en"
    assert "My communities" in client.get("/me").get_data(as_text=True)
    client.post("/language", data={"locale": "zh_CN", "next": "/me"})
    assert "我的社区" in client.get("/me").get_data(as_text=True)


def test_user_validation_errors(app):
    import pytest

    from yishi.core.errors import ConflictError, ValidationFailed

    with pytest.raises(ValidationFailed) as error:
        accounts.create_user(email="not-an-email", name="", password="longenough")
    assert set(error.value.errors) == {"email", "name"}
    with pytest.raises(ValidationFailed):
        accounts.create_user(email="a@test.example", name="A", password="short")
    accounts.create_user(email="a@test.example", name="A", password="longenough")
    with pytest.raises(ConflictError):
        accounts.create_user(email="A@Test.example", name="A", password="longenough")


def test_role_permissions_are_checked_in_services(community, create_user):
    import pytest

    from yishi.core import tenancy
    from yishi.core.errors import NotFoundError, PermissionDenied
    from yishi.modules.accounts.permissions import Actor
    from yishi.modules.communities import services

    resident = create_user(community=community, role="resident")
    admin = create_user(community=community, role="admin")
    stranger = create_user()
    data = {"code": "new", "name_zh": "新", "name_en": "New"}
    with tenancy.community_scope(community.id):
        with pytest.raises(PermissionDenied):
            services.create_resident_group(community, data, actor=Actor(user=resident))
        with pytest.raises(NotFoundError):
            services.create_resident_group(community, data, actor=Actor(user=stranger))
        group = services.create_resident_group(community, data, actor=Actor(user=admin))
    assert group.community_id == community.id


def test_phone_numbers_are_masked():
    assert accounts.mask_phone("13812341234") == "138****1234"
    assert accounts.mask_phone("") == ""
    assert accounts.mask_phone("12345") == "*****"


def test_logins_are_in_the_audit_log_of_communities_where_the_user_can_act(
    client, community, other_community, create_user, login_as
):
    from yishi.core import tenancy
    from yishi.core.audit import AuditEntry

    moderator = create_user(community=community, role="moderator")
    resident = create_user(community=other_community, role="resident")
    login_as(moderator)
    client.post("/logout")
    login_as(resident)
    with tenancy.community_scope(community.id):
        logins = db.session.execute(select(AuditEntry).where(AuditEntry.action == "login")).scalars().all()
    assert [entry.actor_user_id for entry in logins] == [moderator.id]
    assert logins[0].ip == "127.0.0.1"
    with tenancy.community_scope(other_community.id):
        assert db.session.execute(select(AuditEntry).where(AuditEntry.action == "login")).first() is None
