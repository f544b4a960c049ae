"""Categories and templates: copied at onboarding, the community's own afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import bearer
from yishi.core import tenancy
from yishi.core.db import db
from yishi.core.errors import ConflictError, ValidationFailed
from yishi.modules.accounts.permissions import Actor
from yishi.modules.categories import services
from yishi.modules.categories.models import Category, CategoryKind


def test_shipped_templates_hold_the_seed_categories(app):
    templates = services.load_templates()
    assert {"agriculture", "urban"} <= set(templates)
    agriculture = {c["code"]: c for c in templates["agriculture"].categories}
    assert {
        "dispute",
        "road",
        "streetlight",
        "environment",
        "water",
        "farmland",
        "elderly-children",
        "safety",
        "other",
    } <= set(agriculture)
    assert agriculture["dispute"]["name_zh"] == "矛盾调解" and agriculture["dispute"]["kind"] == CategoryKind.DISPUTE
    assert agriculture["road"]["name_zh"] == "路面拓宽与修复"
    assert agriculture["streetlight"]["name_zh"] == "路灯维修亮化"
    assert all(c["first_response_minutes"] == 15 for c in agriculture.values())  # the quarter-hour promise


def test_applying_a_template_never_overwrites_the_communitys_edits(app, community, create_user):
    admin = Actor(user=create_user(community=community, role="admin"))
    with tenancy.community_scope(community.id):
        added = services.apply_template(community, "agriculture", actor=admin)
        assert len(added) == 9
        dispute = db.session.execute(select(Category).where(Category.code == "dispute")).scalar_one()
        services.update_category(community, dispute, {"name_zh": "邻里纠纷", "first_response_minutes": 10}, actor=admin)
        again = services.apply_template(community, "agriculture", actor=admin)
        assert again == []
        dispute = db.session.execute(select(Category).where(Category.code == "dispute")).scalar_one()
        assert (dispute.name_zh, dispute.first_response_minutes) == ("邻里纠纷", 10)
        # Another template adds only what is missing.
        urban_added = {c.code for c in services.apply_template(community, "urban", actor=admin)}
        assert urban_added == {"property", "parking", "renovation"}
        with pytest.raises(ValidationFailed):
            services.apply_template(community, "no-such-template", actor=admin)


def test_category_rules(app, community, create_user):
    admin = Actor(user=create_user(community=community, role="admin"))
    resident = Actor(user=create_user(community=community, role="resident"))
    data = {
        "code": "noise",
        "name_zh": "噪音",
        "name_en": "Noise",
        "kind": CategoryKind.DISPUTE,
        "first_response_minutes": 15,
        "resolution_minutes": 60,
    }
    with tenancy.community_scope(community.id):
        from yishi.core.errors import PermissionDenied

        with pytest.raises(PermissionDenied):
            services.create_category(community, data, actor=resident)
        category = services.create_category(community, data, actor=admin)
        with pytest.raises(ConflictError):
            services.create_category(community, data, actor=admin)
        services.update_category(community, category, {"active": False}, actor=admin)
        assert services.list_categories(active_only=True) == []
        # A category that matters use cannot be deleted (the matters module registers its check).
        services.CATEGORY_USAGE_CHECKS.append(lambda c: c.code == "noise")
        try:
            with pytest.raises(ConflictError):
                services.delete_category(community, category, actor=admin)
            with pytest.raises(ValidationFailed):
                services.update_category(community, category, {"code": "loud"}, actor=admin)
        finally:
            services.CATEGORY_USAGE_CHECKS.pop()
        services.delete_category(community, category, actor=admin)
        assert services.list_categories() == []


def test_categories_api(client, community, token_for):
    secret = token_for(community=community)
    base = f"/api/v1/communities/{community.slug}/categories"
    applied = client.post(base + "/apply-template", headers=bearer(secret), json={"template": "agriculture"})
    assert applied.status_code == 200 and applied.get_json()["total"] == 9
    listing = client.get(base + "?per_page=100", headers=bearer(secret)).get_json()
    assert listing["total"] == 9 and listing["items"][0]["code"] == "dispute"
    created = client.post(base, headers=bearer(secret), json={"code": "pets", "name_zh": "宠物", "name_en": "Pets"})
    assert created.status_code == 201 and created.get_json()["first_response_minutes"] == 15
    category_id = created.get_json()["id"]
    bad = client.patch(
        f"{base}/{category_id}", headers=bearer(secret), json={"first_response_minutes": 0, "kind": "castle"}
    )
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"first_response_minutes", "kind"}
    renamed = client.patch(f"{base}/{category_id}", headers=bearer(secret), json={"name_zh": "宠物管理"})
    assert renamed.get_json()["name_zh"] == "宠物管理"
    assert client.delete(f"{base}/{category_id}", headers=bearer(secret)).status_code == 204
    assert client.get(f"{base}/{category_id}", headers=bearer(secret)).status_code == 404


def test_categories_page(client, community, create_user, login_as):
    login_as(create_user(community=community, role="admin"))
    url = f"/c/{community.slug}/admin/categories"
    client.post(url + "/apply-template", data={"template-template": "agriculture"})
    page = client.get(url).get_data(as_text=True)
    assert page.count('data-testid="category-row"') == 9 and "矛盾调解" in page
    bad = client.post(
        url,
        data={
            "code": "Bad Code",
            "name_zh": "",
            "name_en": "x",
            "kind": "other",
            "first_response_minutes": "15",
            "resolution_minutes": "60",
            "submit": "1",
        },
    )
    assert "is-invalid" in bad.get_data(as_text=True)
    taken = client.post(
        url,
        data={
            "code": "dispute",
            "name_zh": "重复",
            "name_en": "Dup",
            "kind": "dispute",
            "first_response_minutes": "15",
            "resolution_minutes": "60",
            "submit": "1",
        },
    )
    assert "已存在" in taken.get_data(as_text=True) or "already exists" in taken.get_data(as_text=True)
    with tenancy.community_scope(community.id):
        assert len(services.list_categories()) == 9
