"""Server-rendered pages: they work, they fail kindly in both languages, and they are locked down."""

from __future__ import annotations

import re

import pytest

from yishi import create_app
from yishi.config import ConfigurationError


def test_front_page_lists_active_communities_by_street(client, community, other_community, create_community, street):
    from yishi.modules.communities.models import CommunityStatus

    create_community("hidden-one", street, status=CommunityStatus.PENDING)
    page = client.get("/").get_data(as_text=True)
    assert community.name_zh in page and other_community.name_zh in page
    assert "hidden-one" not in page


def test_community_home_shows_admin_links_only_to_admins(client, community, create_user, login_as):
    assert "/admin/audit" not in client.get(f"/c/{community.slug}/").get_data(as_text=True)
    login_as(create_user(community=community, role="admin"))
    page = client.get(f"/c/{community.slug}/").get_data(as_text=True)
    assert "/admin/audit" in page and "/admin/tokens" in page


def test_resident_gets_403_on_admin_pages(client, community, create_user, login_as):
    login_as(create_user(community=community, role="resident"))
    response = client.get(f"/c/{community.slug}/admin/audit", headers={"Accept-Language": "en"})
    assert response.status_code == 403
    assert "您无权执行此操作" in response.get_data(as_text=True)  # the community speaks zh_CN


def test_admin_pages_send_anonymous_visitors_to_login(client, community):
    response = client.get(f"/c/{community.slug}/admin/audit")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


@pytest.mark.parametrize(("language", "expected"), [("zh-CN", "未找到"), ("en", "Not found")])
def test_404_page_in_both_languages(client, language, expected):
    response = client.get("/c/nowhere/", headers={"Accept-Language": language})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert expected in response.get_data(as_text=True)


@pytest.mark.parametrize(("language", "expected"), [("zh-CN", "服务器内部错误"), ("en", "Internal server error")])
def test_500_page_is_friendly_and_never_a_traceback(app, client, monkeypatch, language, expected):
    from yishi.modules.communities import views

    def explode():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views.services, "list_streets", explode)
    response = client.get("/", headers={"Accept-Language": language})
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert expected in body and "secret internals" not in body and "Traceback" not in body


def test_api_500_is_problem_json(app, client, community, token_for, monkeypatch):
    from yishi.modules.communities import services

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(services, "resident_groups_statement", explode)
    secret = token_for(community=community)
    response = client.get(
        f"/api/v1/communities/{community.slug}/resident-groups", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert "secret internals" not in response.get_data(as_text=True)


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_pages_load_nothing_from_other_hosts(client, community):
    for path in ("/", f"/c/{community.slug}/", "/login", "/s/chengdong/"):
        html = client.get(path).get_data(as_text=True)
        for url in re.findall(r'(?:src|href|action)="([^"]+)"', html):
            assert url.startswith(("/", "#", "?")), (path, url)


def test_pages_are_mobile_ready(client):
    html = client.get("/").get_data(as_text=True)
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html


def test_token_admin_page_creates_shows_once_and_revokes(client, community, create_user, login_as):
    from sqlalchemy import select

    from yishi.core import tenancy
    from yishi.core.audit import AuditEntry
    from yishi.core.db import db

    login_as(create_user(community=community, role="admin"))
    url = f"/c/{community.slug}/admin/tokens"
    empty = client.post(url, data={"name": "", "scopes": []})
    assert empty.status_code == 200 and "ys_" not in empty.get_data(as_text=True)
    created = client.post(url, data={"name": "网格系统", "scopes": ["community:read"]}).get_data(as_text=True)
    secret = re.search(r'data-testid="new-token">(ys_[^<]+)<', created).group(1)
    assert (
        client.get(f"/api/v1/communities/{community.slug}", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 200
    )
    listing = client.get(url).get_data(as_text=True)
    assert secret not in listing and secret[:9] in listing  # shown once; afterwards only its prefix
    token_id = re.search(r"/admin/tokens/(\d+)/revoke", listing).group(1)
    revoked = client.post(f"{url}/{token_id}/revoke")
    assert revoked.status_code == 302 and revoked.headers["Location"].endswith("/admin/tokens")
    assert (
        client.get(f"/api/v1/communities/{community.slug}", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )
    with tenancy.community_scope(community.id):
        actions = db.session.execute(select(AuditEntry.action)).scalars().all()
    assert "token.created" in actions and "token.revoked" in actions


def test_audit_log_page_lists_the_communitys_entries_only(client, community, other_community, create_user, login_as):
    admin = create_user(community=community, role="admin", name="本社区管理员")
    create_user(community=other_community, role="admin", name="别处管理员")
    login_as(admin)
    page = client.get(f"/c/{community.slug}/admin/audit").get_data(as_text=True)
    assert "member.role_set" in page


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("YISHI_ENV", "production")
    with pytest.raises(ConfigurationError):
        create_app()


def test_production_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("YISHI_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["JOBS_MODE"] in ("embedded", "redis")
