"""Self-onboarding: apply, the street office decides, the admin is told, then the setup checklist."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.conftest import PASSWORD, bearer
from yishi.core import tenancy
from yishi.core.db import db
from yishi.modules.categories.models import Category
from yishi.modules.communities.models import Community, CommunityStatus
from yishi.modules.notifications.models import Notification

FORM = {
    "name_zh": "春风社区",
    "name_en": "Chunfeng Community",
    "slug": "chunfeng",
    "street": "chengdong",
    "kind": "agriculture",
    "resident_count": "980",
    "template": "agriculture",
    "description_zh": "",
    "admin_name": "赵书记",
    "admin_email": "zhao@test.example",
    "admin_password": "a good password",
    "admin_phone": "13900001111",
    "invitation_code": "",
}


def _community(slug):
    return db.session.execute(select(Community).where(Community.slug == slug)).scalar_one_or_none()


def test_register_approve_notify_checklist(client, street, create_user, login_as):
    street_admin = create_user(street=street, name="林主任")
    response = client.post("/register", data=FORM)
    assert response.status_code == 302 and response.headers["Location"].endswith("/c/chunfeng/admin/setup")
    community = _community("chunfeng")
    assert community.status == CommunityStatus.PENDING and community.kind.value == "agriculture"
    with tenancy.community_scope(community.id):
        assert len(db.session.execute(select(Category)).all()) == 9  # the template was applied
    assert client.get("/c/chunfeng/").status_code == 200  # its admin sees it (signed in by registering)
    checklist = client.get("/c/chunfeng/admin/setup").get_data(as_text=True)
    assert 'data-testid="checklist-categories" data-done="yes"' in checklist
    assert 'data-testid="checklist-points" data-done="no"' in checklist
    client.post("/logout")
    assert client.get("/c/chunfeng/").status_code == 404  # pending: invisible to the public
    # The street admin was told, and approves.
    told = db.session.execute(select(Notification).where(Notification.user_id == street_admin.id)).scalar_one()
    assert "春风社区" in told.title
    login_as(street_admin)
    page = client.get(f"/s/{street.slug}/admin/applications").get_data(as_text=True)
    assert "春风社区" in page
    assert client.post(f"/s/{street.slug}/admin/applications/chunfeng/approve").status_code == 302
    assert _community("chunfeng").status == CommunityStatus.ACTIVE
    assert client.post("/logout").status_code == 302
    assert client.get("/c/chunfeng/").status_code == 200  # public now
    # The community admin finds the approval in the inbox.
    client.post("/login", data={"email": FORM["admin_email"], "password": FORM["admin_password"]})
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "春风社区" in inbox and "/c/chunfeng/admin/setup" in inbox


def test_refusals_leave_nothing_half_created(client, community, street):
    bad = client.post(
        "/register",
        data={**FORM, "slug": community.slug, "street": "nowhere", "template": "castle", "admin_email": "not-an-email"},
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and html.count("invalid-feedback") >= 2
    taken = client.post("/register", data={**FORM, "slug": community.slug})
    assert taken.status_code == 400 and _community("chunfeng") is None
    client.post("/register", data=FORM)
    duplicate = client.post("/register", data={**FORM, "slug": "chunfeng-2", "admin_email": "other@test.example"})
    assert duplicate.status_code == 400  # the same community applying twice
    assert _community("chunfeng-2") is None
    from yishi.modules.accounts.services import find_user_by_email

    assert find_user_by_email("other@test.example") is None  # its admin account was not left behind


def test_rejection_needs_a_reason_and_is_told(client, street, create_user, login_as):
    client.post("/register", data=FORM)
    client.post("/logout")
    login_as(create_user(street=street))
    client.post(f"/s/{street.slug}/admin/applications/chunfeng/reject", data={"reason": ""})
    assert _community("chunfeng").status == CommunityStatus.PENDING
    client.post(f"/s/{street.slug}/admin/applications/chunfeng/reject", data={"reason": "请先完成社区居委会备案"})
    community = _community("chunfeng")
    assert community.status == CommunityStatus.REJECTED and community.decision_reason == "请先完成社区居委会备案"
    from yishi.modules.accounts.services import find_user_by_email

    admin = find_user_by_email(FORM["admin_email"])
    note = db.session.execute(select(Notification).where(Notification.user_id == admin.id)).scalar_one()
    assert "请先完成社区居委会备案" in note.body
    again = client.post(f"/s/{street.slug}/admin/applications/chunfeng/approve")
    assert again.status_code == 302 and _community("chunfeng").status == CommunityStatus.REJECTED


def test_invitation_code_activates_at_registration(client, street, other_street, create_user, login_as):
    login_as(create_user(street=street))
    page = client.post(f"/s/{street.slug}/admin/invitations", data={"uses": "1"}).get_data(as_text=True)
    code = re.search(r'data-testid="new-invitation">([A-F0-9-]+)<', page).group(1)
    client.post("/logout")
    wrong_street = client.post("/register", data={**FORM, "street": other_street.slug, "invitation_code": code})
    assert wrong_street.status_code == 400
    client.post("/register", data={**FORM, "invitation_code": code.lower()})
    assert _community("chunfeng").status == CommunityStatus.ACTIVE
    client.post("/logout")
    used_up = client.post(
        "/register",
        data={
            **FORM,
            "slug": "another",
            "name_zh": "另一个社区",
            "admin_email": "b@test.example",
            "invitation_code": code,
        },
    )
    assert used_up.status_code == 400 and _community("another") is None


def test_signed_in_user_applies_with_their_account(client, create_user, login_as, street):
    user = create_user(name="已有账号")
    login_as(user)
    data = {k: v for k, v in FORM.items() if not k.startswith("admin_")}
    assert client.post("/register", data=data).status_code == 302
    from yishi.modules.accounts.permissions import Actor, scopes_for

    assert "community:write" in scopes_for(Actor(user=user), community=_community("chunfeng"))


def test_street_api_bulk_onboarding(client, street, other_street, token_for):
    secret = token_for(street=street)
    base = f"/api/v1/streets/{street.slug}/applications"
    payload = {
        "slug": "bulk-one",
        "name_zh": "批量一社区",
        "name_en": "Bulk One",
        "kind": "urban",
        "template": "urban",
        "admin_name": "钱",
        "admin_email": "qian@test.example",
        "admin_password": PASSWORD,
    }
    created = client.post(base, headers=bearer(secret), json=payload)
    assert created.status_code == 201 and created.get_json()["status"] == "pending"
    assert [a["slug"] for a in client.get(base, headers=bearer(secret)).get_json()] == ["bulk-one"]
    approved = client.post(f"{base}/bulk-one/approve", headers=bearer(secret))
    assert approved.get_json()["status"] == "active"
    direct = client.post(
        base,
        headers=bearer(secret),
        json={
            **payload,
            "slug": "bulk-two",
            "name_zh": "批量二社区",
            "admin_email": "sun@test.example",
            "activate": True,
        },
    )
    assert direct.get_json()["status"] == "active"
    invalid = client.post(base, headers=bearer(secret), json={"slug": "X"})
    assert invalid.status_code == 422 and {"slug", "name_zh", "admin_email"} <= set(invalid.get_json()["errors"])
    rejected = client.post(f"{base}/bulk-two/reject", headers=bearer(secret), json={"reason": "no"})
    assert rejected.status_code == 409  # already decided
    other = token_for(street=other_street)
    assert client.post(f"{base}/bulk-one/approve", headers=bearer(other)).status_code == 404


def test_a_new_community_completes_its_checklist_on_the_web(client, street, create_user, login_as):
    """From registration to a full checklist with pages only: groups, a point, a moderator."""
    client.post("/register", data=FORM)
    base = "/c/chunfeng"
    refused = client.post(f"{base}/admin/groups", data={"code": "bad code", "name_zh": "", "name_en": "x"})
    assert refused.status_code == 200 and "is-invalid" in refused.get_data(as_text=True)
    for number in (1, 2):
        client.post(
            f"{base}/admin/groups",
            data={
                "code": f"g{number}",
                "name_zh": f"第{number}组",
                "name_en": f"Group {number}",
                "household_count": "30",
            },
        )
    duplicate = client.post(f"{base}/admin/groups", data={"code": "g1", "name_zh": "重", "name_en": "Dup"})
    assert "is-invalid" in duplicate.get_data(as_text=True)
    assert client.get(f"{base}/admin/groups").get_data(as_text=True).count('data-testid="resident-group"') == 2
    checklist = client.get(f"{base}/admin/setup").get_data(as_text=True)
    assert 'data-testid="checklist-resident_groups" data-done="yes"' in checklist
    assert 'data-testid="checklist-coverage" data-done="no"' in checklist
    community = _community("chunfeng")
    with tenancy.community_scope(community.id):
        from yishi.modules.communities.services import list_resident_groups

        group_ids = [str(g.id) for g in list_resident_groups()]
    client.post(
        f"{base}/admin/points",
        data={
            "code": "main",
            "name_zh": "主路议事点",
            "name_en": "Main Road",
            "resident_group_ids": group_ids,
            "active": "y",
        },
    )
    checklist = client.get(f"{base}/admin/setup").get_data(as_text=True)
    assert 'data-testid="checklist-coverage" data-done="yes"' in checklist
    assert 'data-testid="checklist-moderators" data-done="no"' in checklist
