"""Every route, walked from the URL map: another tenant gets 404, never data.

New routes are covered automatically; a new URL parameter must get a resolver in OBJECT_IDS
(test_every_route_parameter_has_a_resolver fails until it does).
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.conftest import bearer
from yishi.core import tenancy
from yishi.core.db import db
from yishi.core.jobs import Task
from yishi.modules.accounts import services as accounts
from yishi.modules.accounts.models import User
from yishi.modules.communities.models import ResidentGroup
from yishi.modules.points.models import Point
from yishi.modules.selection.models import Appointment, Candidate, SelectionCriterion, SelectionRound

# Public pages of an active community: anyone may read them (their own data only, tested below).
PUBLIC_COMMUNITY_PAGES = {
    "community.home_page",
    "points.index",
    "points.show",
    "points.poster",
    "points.qr_svg",
    "points.qr_png",
    "matters.new",
    "matters.new_at_point",
    "matters.track",
    "matters.board",
    "meetings.index",
    "meetings.show",
    "meetings.check_in",
    "meetings.feed",
    "meetings.meeting_ics",
}
PUBLIC_STREET_PAGES = {"street.street_home"}


def _group_of(community):
    with tenancy.community_scope(community.id):
        return db.session.execute(db.select(ResidentGroup.id).limit(1)).scalar_one()


def _task_of(community):
    task = Task(job_name="test", title="t", community_id=community.id)
    db.session.add(task)
    db.session.flush()
    return task.id


def _token_of(community):
    token, _secret = accounts.create_token(name="victim", scopes="all", community=community)
    return token.id


def _selection_user(community, kind):
    user = User(email=f"{kind}@{community.slug}.test.example", name=kind, password_hash="-")
    db.session.add(user)
    db.session.flush()
    return user


def _selection_round_of(community):
    with tenancy.community_scope(community.id):
        selection_round = SelectionRound(title="round")
        db.session.add(selection_round)
        db.session.flush()
        return selection_round.id


def _selection_criterion_of(community):
    with tenancy.community_scope(community.id):
        criterion = SelectionCriterion(code="victim", name_zh="标准", name_en="Criterion")
        db.session.add(criterion)
        db.session.flush()
        return criterion.id


def _selection_candidate_of(community):
    user = _selection_user(community, "candidate")
    with tenancy.community_scope(community.id):
        selection_round = SelectionRound(title="round of a candidate")
        db.session.add(selection_round)
        db.session.flush()
        candidate = Candidate(round_id=selection_round.id, user_id=user.id, reason="reason")
        db.session.add(candidate)
        db.session.flush()
        return candidate.id


def _appointment_of(community):
    user = _selection_user(community, "moderator")
    with tenancy.community_scope(community.id):
        point = Point(code="victim-point", name_zh="议事点", name_en="Point")
        db.session.add(point)
        db.session.flush()
        appointment = Appointment(user_id=user.id, point_id=point.id, term_start=date(2026, 1, 1))
        db.session.add(appointment)
        db.session.flush()
        return appointment.id


def _category_of(community):
    from yishi.modules.categories.models import Category

    with tenancy.community_scope(community.id):
        category = Category(code="victim-category", name_zh="分类", name_en="Category")
        db.session.add(category)
        db.session.flush()
        return category.id


def _point_of(community):
    with tenancy.community_scope(community.id):
        point = Point(code="victim-point-by-id", name_zh="议事点", name_en="Point")
        db.session.add(point)
        db.session.flush()
        return point.id


def _point_code_of(community):
    with tenancy.community_scope(community.id):
        db.session.add(Point(code="victim-point-by-code", name_zh="议事点", name_en="Point"))
        db.session.flush()
    return "victim-point-by-code"


def _calendar_day_of(community):
    """A date (a different one per community) that the community overrides in its calendar."""
    from datetime import timedelta

    from yishi.modules.calendar.models import CalendarDay

    day = date(2031, 1, 1) + timedelta(days=community.id)
    with tenancy.community_scope(community.id):
        db.session.add(CalendarDay(day=day, is_workday=True, note="victim"))
        db.session.flush()
    return day.isoformat()


def _matter_of(community):
    from datetime import UTC, datetime

    from yishi.modules.categories.models import Category
    from yishi.modules.matters.models import Channel, Matter

    with tenancy.community_scope(community.id):
        category = Category(code="victim-matter-category", name_zh="分类", name_en="Category")
        db.session.add(category)
        db.session.flush()
        now = datetime.now(UTC)
        matter = Matter(
            title="victim matter",
            category_id=category.id,
            channel=Channel.WEB,
            reporter_name="受害者",
            reporter_phone="13900000000",
            first_response_due_at=now,
            first_response_escalate_at=now,
            resolution_due_at=now,
            resolution_escalate_at=now,
        )
        db.session.add(matter)
        db.session.flush()
        return matter.id


def _photo_of(community):
    from yishi.modules.matters.models import Matter, MatterPhoto

    with tenancy.community_scope(community.id):
        matter_id = db.session.execute(db.select(Matter.id).where(Matter.title == "victim matter")).scalar_one()
        photo = MatterPhoto(
            matter_id=matter_id,
            storage_key="matters/0/victim.jpg",
            content_type="image/jpeg",
            width=1,
            height=1,
            size=1,
        )
        db.session.add(photo)
        db.session.flush()
        return photo.id


def _application_in(street):
    from yishi.modules.communities.models import Community, CommunityStatus

    community = Community(
        slug=f"applicant-{street.slug}",
        name_zh="申请社区",
        name_en="Applicant",
        street_id=street.id,
        status=CommunityStatus.PENDING,
    )
    db.session.add(community)
    db.session.flush()
    return community.slug


def _meeting_of(community):
    from datetime import UTC, datetime, timedelta

    from yishi.modules.meetings.models import Meeting

    now = datetime.now(UTC)
    with tenancy.community_scope(community.id):
        meeting = Meeting(title="victim meeting", starts_at=now, ends_at=now + timedelta(hours=1))
        db.session.add(meeting)
        db.session.flush()
        return meeting.id


def _agenda_item_of(community):
    from yishi.modules.meetings.models import AgendaItem, Meeting

    with tenancy.community_scope(community.id):
        meeting_id = db.session.execute(db.select(Meeting.id).where(Meeting.title == "victim meeting")).scalar_one()
        item = AgendaItem(meeting_id=meeting_id, title="victim item")
        db.session.add(item)
        db.session.flush()
        return item.id


OBJECT_IDS = {
    "category_id": _category_of,
    "point_id": _point_of,
    "point_code": _point_code_of,
    "group_id": _group_of,
    "task_id": _task_of,
    "token_id": _token_of,
    "round_id": _selection_round_of,
    "criterion_id": _selection_criterion_of,
    "candidate_id": _selection_candidate_of,
    "appointment_id": _appointment_of,
    "day": _calendar_day_of,
    "matter_id": _matter_of,
    "photo_id": _photo_of,  # after matter_id: a photo of that matter
    "meeting_id": _meeting_of,
    "item_id": _agenda_item_of,  # after meeting_id: an item of that meeting
}


def _report_of(street):
    from datetime import UTC, datetime

    from yishi.modules.reports.models import StreetReport

    now = datetime.now(UTC)
    report = StreetReport(street_id=street.id, title="victim report", period_start=now, period_end=now)
    db.session.add(report)
    db.session.flush()
    return report.id


STREET_OBJECT_IDS = {
    "token_id": lambda street: accounts.create_token(name="victim", scopes="all", street=street)[0].id,
    "community_slug": _application_in,
    "report_id": _report_of,
    "fmt": lambda street: "csv",
}


def _rules(app, prefix):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix):
            methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
            yield rule, methods


def _fill(rule, slug_key, slug, ids):
    url = rule.rule.replace(f"<{slug_key}>", slug)
    for name, value in ids.items():
        url = re.sub(rf"<(?:[^:>]+:)?{name}>", str(value), url)
    assert "<" not in url, f"unfilled parameter in {url}"
    return url


def _params(rule, slug_key):
    return sorted(a for a in rule.arguments if a != slug_key)


def test_every_route_parameter_has_a_resolver(app):
    for prefix, slug_key, known in (
        ("/c/", "community_slug", OBJECT_IDS),
        ("/api/v1/communities/", "community_slug", OBJECT_IDS),
        ("/s/", "street_slug", STREET_OBJECT_IDS),
        ("/api/v1/streets/", "street_slug", STREET_OBJECT_IDS),
    ):
        for rule, _methods in _rules(app, prefix):
            missing = [p for p in _params(rule, slug_key) if p not in known]
            assert not missing, f"{rule.rule}: add resolvers for {missing}"


@pytest.fixture
def victim_ids(other_community):
    ids = {name: resolve(other_community) for name, resolve in OBJECT_IDS.items()}
    db.session.commit()
    return ids


@pytest.fixture
def own_ids(community):
    ids = {name: resolve(community) for name, resolve in OBJECT_IDS.items()}
    db.session.commit()
    return ids


def test_api_token_of_a_on_b_urls_answers_404(app, client, community, other_community, token_for, victim_ids):
    secret = token_for(community=community)
    checked = 0
    for rule, methods in _rules(app, "/api/v1/communities/"):
        url = _fill(rule, "community_slug", other_community.slug, victim_ids)
        for method in methods:
            response = client.open(url, method=method, headers=bearer(secret), json={})
            assert response.status_code == 404, (method, url, response.status_code)
            assert response.mimetype == "application/problem+json"
            assert other_community.slug not in response.get_data(as_text=True)
            checked += 1
    assert checked >= 5


def test_api_ids_of_b_under_a_answer_404(app, client, community, other_community, token_for, victim_ids):
    secret = token_for(community=community)
    checked = 0
    for rule, methods in _rules(app, "/api/v1/communities/"):
        if not _params(rule, "community_slug"):
            continue
        url = _fill(rule, "community_slug", community.slug, victim_ids)
        for method in methods:
            response = client.open(url, method=method, headers=bearer(secret), json={})
            assert response.status_code == 404, (method, url, response.status_code)
            checked += 1
    assert checked >= 3


def test_pages_of_b_answer_404_to_an_admin_of_a(
    app, client, community, other_community, create_user, login_as, victim_ids
):
    login_as(create_user(community=community, role="admin"))
    checked = 0
    for rule, methods in _rules(app, "/c/"):
        if rule.endpoint in PUBLIC_COMMUNITY_PAGES:
            continue
        url = _fill(rule, "community_slug", other_community.slug, victim_ids)
        for method in methods:
            response = client.open(url, method=method)
            assert response.status_code == 404, (method, url, response.status_code)
            checked += 1
    assert checked >= 5


def test_page_ids_of_b_under_a_answer_404(app, client, community, other_community, create_user, login_as, victim_ids):
    login_as(create_user(community=community, role="admin"))
    for rule, methods in _rules(app, "/c/"):
        if not _params(rule, "community_slug"):
            continue
        url = _fill(rule, "community_slug", community.slug, victim_ids)
        for method in methods:
            response = client.open(url, method=method)
            assert response.status_code == 404, (method, url, response.status_code)


def test_public_community_page_shows_only_its_own_data(client, community, other_community):
    page = client.get(f"/c/{community.slug}/").get_data(as_text=True)
    assert "Group 1" in page or "第1居民小组" in page
    assert other_community.name_zh not in page and other_community.slug not in page


def test_inactive_and_unknown_communities_answer_404(client, create_community, street, token_for):
    from yishi.modules.communities.models import CommunityStatus

    pending = create_community("pending-one", street, status=CommunityStatus.PENDING)
    suspended = create_community("suspended-one", street, status=CommunityStatus.SUSPENDED)
    for slug in (pending.slug, suspended.slug, "no-such-community"):
        assert client.get(f"/c/{slug}/").status_code == 404
    secret = token_for(community=suspended)
    assert client.get(f"/api/v1/communities/{suspended.slug}", headers=bearer(secret)).status_code == 404


def test_own_routes_work_for_comparison(app, client, community, token_for, own_ids, create_user, login_as):
    """The 404s above are about the tenant, not broken routes: the same URLs answer for the owner."""
    secret = token_for(community=community)
    group_url = f"/api/v1/communities/{community.slug}/resident-groups/{own_ids['group_id']}"
    assert client.get(group_url, headers=bearer(secret)).status_code == 200
    assert (
        client.get(
            f"/api/v1/communities/{community.slug}/tasks/{own_ids['task_id']}", headers=bearer(secret)
        ).status_code
        == 200
    )
    login_as(create_user(community=community, role="admin"))
    assert client.get(f"/c/{community.slug}/admin/audit").status_code == 200
    assert client.get(f"/c/{community.slug}/tasks/{own_ids['task_id']}").status_code == 200


# --- streets -------------------------------------------------------------------------------------------


def test_street_api_token_of_another_street_answers_404(app, client, street, other_street, token_for):
    secret = token_for(street=street)
    ids = {name: resolve(other_street) for name, resolve in STREET_OBJECT_IDS.items()}
    db.session.commit()
    for rule, methods in _rules(app, "/api/v1/streets/"):
        url = _fill(rule, "street_slug", other_street.slug, ids)
        for method in methods:
            assert client.open(url, method=method, headers=bearer(secret)).status_code == 404, url
        if "GET" in methods and not _params(rule, "street_slug"):
            own = _fill(rule, "street_slug", street.slug, ids)
            assert client.get(own, headers=bearer(secret)).status_code == 200, own


def test_community_token_cannot_use_the_street_api(client, community, street, token_for):
    secret = token_for(community=community)
    assert client.get(f"/api/v1/streets/{street.slug}", headers=bearer(secret)).status_code == 404


def test_street_token_reaches_its_communities_only(
    client, community, neighbour_community, other_community, street, token_for
):
    secret = token_for(street=street)
    listed = client.get(f"/api/v1/streets/{street.slug}/communities", headers=bearer(secret)).get_json()
    assert sorted(c["slug"] for c in listed["items"]) == sorted([community.slug, neighbour_community.slug])
    assert client.get(f"/api/v1/communities/{community.slug}", headers=bearer(secret)).status_code == 200
    assert client.get(f"/api/v1/communities/{other_community.slug}", headers=bearer(secret)).status_code == 404


def test_street_admin_pages_of_another_street_answer_404(app, client, street, other_street, create_user, login_as):
    login_as(create_user(street=street))
    ids = {name: resolve(other_street) for name, resolve in STREET_OBJECT_IDS.items()}
    db.session.commit()
    for rule, methods in _rules(app, "/s/"):
        if rule.endpoint in PUBLIC_STREET_PAGES:
            continue
        url = _fill(rule, "street_slug", other_street.slug, ids)
        for method in methods:
            assert client.open(url, method=method).status_code == 404, url


def test_street_admin_sees_only_its_own_communities(
    client, community, neighbour_community, other_community, street, create_user, login_as
):
    from yishi.modules.communities.models import CommunityStatus

    neighbour_community.status = CommunityStatus.PENDING
    db.session.commit()
    login_as(create_user(street=street))
    page = client.get(f"/s/{street.slug}/").get_data(as_text=True)
    assert community.name_zh in page and neighbour_community.name_zh in page  # pending shown to its street
    assert other_community.name_zh not in page
    assert client.get(f"/c/{neighbour_community.slug}/").status_code == 200  # its street may open it
