"""Matters through the services and the pages: intake on every channel, routing and the point's
notification, every refused move of the workflow, the timeline, the times kept for reports,
satisfaction, masking per role, the work queue, the public board and the intake limits.

(The REST API, photos, escalation sweeps and concurrency have their own files.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.matter_world import build
from yishi.core import jobs
from yishi.core.db import db, utcnow
from yishi.core.errors import ConflictError, NotFoundError, PermissionDenied, ValidationFailed
from yishi.modules.accounts.models import CommunityMembership
from yishi.modules.accounts.permissions import Actor
from yishi.modules.categories import services as categories
from yishi.modules.categories.models import Category
from yishi.modules.communities.models import ResidentGroup
from yishi.modules.matters import services, workflow
from yishi.modules.matters.models import Channel, EntryKind, Matter, Outcome, Status, TimelineEntry
from yishi.modules.matters.workflow import HANDLER, REPORTER, SYSTEM, TRANSITIONS
from yishi.modules.notifications.models import Notification
from yishi.modules.notifications.services import notifications_of

NAME, MASKED_NAME = "王秀英", "王**"
PHONE, MASKED_PHONE = "13912345678", "139****5678"
T0 = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Taizhou


@pytest.fixture
def w(community, create_user):
    world = build(community, create_user)
    jobs.run_pending()  # whatever setting up queued: the tests count their own jobs
    return world


# --- helpers -----------------------------------------------------------------------------------------


def page(w, path: str = "") -> str:
    return f"/c/{w.community.slug}{path}"


def signed_in(app, user):
    """A browser of its own, signed in through the login form."""
    browser = app.test_client()
    response = browser.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return browser


def intake(w, **overrides) -> dict:
    data = {
        "title": "桥头路灯不亮",
        "category_id": w.categories["streetlight"],
        "resident_group_id": w.groups[0],
        "reporter_name": NAME,
        "reporter_phone": PHONE,
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def html(response) -> str:
    return response.get_data(as_text=True)


def listed_ids(body: str) -> list[int]:
    """The matters a list shows, in order."""
    return [int(i) for i in re.findall(r'data-matter-id="(\d+)"', body)]


def invalid_fields(body: str) -> set[str]:
    return {
        re.search(r'\bid="([^"]+)"', tag).group(1)
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", body)
        if "is-invalid" in tag
    }


def tracking_code_on(body: str) -> str | None:
    found = re.search(r'data-testid="tracking-code">([^<]+)<', body)
    return found.group(1).strip() if found else None


def new_matter_id(response) -> int:
    assert response.status_code == 302, html(response)[:500]
    found = re.search(r"/matters/(\d+)$", response.headers["Location"])
    assert found, response.headers["Location"]
    return int(found.group(1))


def matter_count(w, **where) -> int:
    with w.scope():
        statement = select(func.count(Matter.id))
        for column, value in where.items():
            statement = statement.where(getattr(Matter, column) == value)
        return db.session.scalar(statement)


def entries(w, matter_id: int, *, internal: bool = True) -> list[tuple]:
    """The timeline as plain rows: kind, action, from, to, who, role, note, public."""
    with w.scope():
        matter = services.get_matter(matter_id)
        return [
            (
                e.kind.value,
                e.action,
                e.from_status.value if e.from_status else None,
                e.to_status.value if e.to_status else None,
                e.actor_label,
                e.actor_role,
                e.note,
                e.public,
            )
            for e in services.timeline(matter, internal=internal)
        ]


def state(w, matter_id: int) -> tuple:
    """Everything a refused move must leave alone."""
    with w.scope():
        matter = services.get_matter(matter_id)
        db.session.refresh(matter)
        timeline = db.session.scalar(select(func.count(TimelineEntry.id)).where(TimelineEntry.matter_id == matter_id))
        return (
            matter.status,
            matter.version,
            timeline,
            matter.accepted_at,
            matter.resolved_at,
            matter.closed_at,
            matter.outcome,
            matter.agreement_text,
            matter.resolution_note,
            matter.reject_reason,
            matter.escalated_to,
            matter.assignee_id,
        )


def refused(w, matter_id: int, action: str, error: type[Exception], *, by=None, system=False, **kwargs):
    """The move raises ``error`` and, even if the caller commits afterwards, writes nothing."""
    before = state(w, matter_id)
    with w.scope():
        matter = services.get_matter(matter_id)
        with pytest.raises(error) as raised:
            services.transition(w.community, matter, action, actor=Actor(user=by), system=system, **kwargs)
        db.session.commit()
    assert state(w, matter_id) == before, (action, before[0])
    return raised.value


# A matter raised by the signed-in resident (so that its reporter is an account) in every status.
PATHS = {
    Status.SUBMITTED: [],
    Status.ACCEPTED: [("accept", "moderator")],
    Status.IN_PROGRESS: [("accept", "moderator"), ("start", "moderator")],
    Status.RESOLVED: [("accept", "moderator"), ("resolve", "moderator")],
    Status.CLOSED: [("accept", "moderator"), ("resolve", "moderator"), ("close", "resident")],
    Status.REJECTED: [("reject", "moderator")],
    Status.WITHDRAWN: [("withdraw", "resident")],
    Status.ESCALATED: [("escalate", "moderator")],
    Status.REOPENED: [("accept", "moderator"), ("resolve", "moderator"), ("reopen", "resident")],
}


def test_every_status_has_a_path():
    assert set(PATHS) == set(Status)


def matter_in(w, status: Status, *, category: str = "streetlight") -> int:
    raised = w.raise_matter(by=w.resident, category=category)
    for action, who in PATHS[status]:
        extra = {"outcome": "no_agreement"} if category == "dispute" and action == "resolve" else {}
        w.move(raised.id, action, by=getattr(w, who), note=f"{action} 说明", **extra)
    assert w.matter(raised.id).status == status
    return raised.id


def rightful(w, action: str) -> dict:
    """Who may make a move (and what it needs)."""
    move = TRANSITIONS[action]
    who = {"by": w.moderator} if HANDLER in move.by else {"by": w.resident}
    return {**who, "note": "理由", "outcome": "no_agreement"}


# --- 1. intake on every channel ----------------------------------------------------------------------


def test_anonymous_web_matter_is_followed_with_its_tracking_code(app, client, w):
    response = client.post(page(w, "/matters/new"), data=intake(w))
    matter_id = new_matter_id(response)
    shown = client.get(response.headers["Location"])
    code = tracking_code_on(html(shown))
    assert shown.status_code == 200 and code and re.fullmatch(r"[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}", code)
    assert tracking_code_on(html(client.get(page(w, f"/matters/{matter_id}")))) is None  # shown once only

    matter = w.matter(matter_id)
    assert matter.channel == Channel.WEB and matter.reporter_user_id is None
    assert (matter.reporter_name, matter.reporter_phone) == (NAME, PHONE)
    assert matter.tracking_hash == services.tracking_hash(code) and code not in (matter.tracking_hash or "")

    # Another browser: nothing to see until it gives the code.
    follower = app.test_client()
    assert follower.get(page(w, f"/matters/{matter_id}")).status_code == 404
    wrong = follower.post(page(w, "/track"), data={"code": "AAAAA-BBBBB"})
    assert wrong.status_code == 200 and "track-form" in html(wrong)
    assert follower.get(page(w, f"/matters/{matter_id}")).status_code == 404
    tracked = follower.post(page(w, "/track"), data={"code": code.lower().replace("-", " ")})
    assert tracked.status_code == 302 and tracked.headers["Location"].endswith(f"/matters/{matter_id}")
    body = html(follower.get(page(w, f"/matters/{matter_id}")))
    assert 'data-testid="do-withdraw"' in body and 'data-testid="do-accept"' not in body
    assert PHONE in body  # the reporter sees their own details

    # A moderator of the point takes it up and resolves it on the pages.
    moderator = signed_in(app, w.moderator)
    assert 'data-testid="do-accept"' in html(moderator.get(page(w, f"/matters/{matter_id}")))
    done = moderator.post(page(w, f"/matters/{matter_id}/transition"), data={"action": "accept", "version": "1"})
    assert done.status_code == 302
    version = w.matter(matter_id).version
    done = moderator.post(
        page(w, f"/matters/{matter_id}/transition"),
        data={"action": "resolve", "version": str(version), "note": "已更换灯泡", "public": "1"},
    )
    assert done.status_code == 302 and w.matter(matter_id).status == Status.RESOLVED

    # The reporter, by the tracking code, confirms and rates.
    body = html(follower.get(page(w, f"/matters/{matter_id}")))
    assert 'data-testid="do-close"' in body and 'data-testid="do-reopen"' in body and "rating-form" in body
    version = w.matter(matter_id).version
    closed = follower.post(page(w, f"/matters/{matter_id}/transition"), data={"action": "close", "version": version})
    assert closed.status_code == 302
    rated = follower.post(page(w, f"/matters/{matter_id}/rating"), data={"score": "4", "comment": "很快"})
    assert rated.status_code == 302
    matter = w.matter(matter_id)
    assert matter.status == Status.CLOSED and matter.closed_at is not None
    assert (matter.satisfaction, matter.satisfaction_comment) == (4, "很快")
    last = entries(w, matter_id)[-2:]
    assert [(e[1] or e[0], e[5]) for e in last] == [("close", REPORTER), ("rating", REPORTER)]
    again = follower.post(page(w, f"/matters/{matter_id}/rating"), data={"score": "1"})
    assert again.status_code == 422 and w.matter(matter_id).satisfaction == 4


def test_anonymous_web_needs_a_name_and_a_phone(w):
    with w.scope():
        with pytest.raises(ValidationFailed) as error:
            services.submit(w.community, intake(w, reporter_name="", reporter_phone=""), channel="web", actor=Actor())
        assert set(error.value.errors) == {"reporter_name", "reporter_phone"}
        with pytest.raises(ValidationFailed) as error:
            services.submit(w.community, intake(w, reporter_phone="123"), channel="web", actor=Actor())
        assert set(error.value.errors) == {"reporter_phone"}
        done = services.submit(w.community, intake(w, reporter_phone="139 1234 5678"), channel="web", actor=Actor())
        assert done.tracking_code and done.matter.reporter_phone == PHONE and done.matter.reporter_user_id is None
        db.session.rollback()
    assert matter_count(w) == 0


def test_signed_in_resident_gets_no_tracking_code_and_finds_the_matter_in_mine(app, w, create_user):
    resident = signed_in(app, w.resident)
    form = intake(w)
    del form["reporter_name"], form["reporter_phone"]
    response = resident.post(page(w, "/matters/new"), data=form)
    matter_id = new_matter_id(response)
    shown = resident.get(response.headers["Location"])
    assert shown.status_code == 200 and tracking_code_on(html(shown)) is None
    assert "tracking-code-box" not in html(shown)
    matter = w.matter(matter_id)
    assert matter.reporter_user_id == w.resident.id and matter.tracking_hash is None
    assert matter.reporter_name == w.resident.name and matter.reporter_phone == w.resident.phone
    assert matter.channel == Channel.WEB and matter.recorded_by_id is None

    mine = resident.get(page(w, "/matters/mine"))
    assert mine.status_code == 200 and listed_ids(html(mine)) == [matter_id]
    neighbour = signed_in(app, create_user(community=w.community, role="resident", name="邻居"))
    assert listed_ids(html(neighbour.get(page(w, "/matters/mine")))) == []
    assert neighbour.get(page(w, f"/matters/{matter_id}")).status_code == 404
    assert app.test_client().get(page(w, "/matters/mine")).status_code == 302  # sign in first


def test_qr_matter_keeps_its_point_even_for_a_group_another_point_serves(client, w):
    assert client.get(page(w, "/p/east/matters/new")).status_code == 200
    assert client.get(page(w, "/p/nowhere/matters/new")).status_code == 404
    response = client.post(page(w, "/p/east/matters/new"), data=intake(w, resident_group_id=w.groups[2]))
    matter = w.matter(new_matter_id(response))
    assert matter.channel == Channel.QR
    assert matter.point_id == w.east and matter.resident_group_id == w.groups[2]
    with w.scope():
        assert services.route(w.groups[2]) == w.west != matter.point_id


def test_qr_channel_needs_its_point(w):
    with w.scope():
        with pytest.raises(ValidationFailed) as error:
            services.submit(w.community, intake(w), channel=Channel.QR, actor=Actor())
        assert "point_id" in error.value.errors


@pytest.mark.parametrize("channel", ["offline", "phone"])
def test_moderator_records_offline_and_phone_matters(app, w, channel):
    moderator = signed_in(app, w.moderator)
    assert moderator.get(page(w, "/matters/record")).status_code == 200
    response = moderator.post(
        page(w, "/matters/record"),
        data=intake(w, channel=channel, point_id="", reporter_phone="", title="村口积水"),
    )
    matter_id = new_matter_id(response)
    assert tracking_code_on(html(moderator.get(response.headers["Location"])))  # to hand to the resident
    matter = w.matter(matter_id)
    assert matter.channel == Channel(channel) and matter.recorded_by_id == w.moderator.id
    assert matter.reporter_user_id is None and matter.reporter_name == NAME and matter.reporter_phone == ""
    assert matter.point_id == w.east  # routed by its group
    assert entries(w, matter_id)[0][4:6] == (w.moderator.name, HANDLER)

    chosen = moderator.post(page(w, "/matters/record"), data=intake(w, channel=channel, point_id=w.west))
    assert w.matter(new_matter_id(chosen)).point_id == w.west  # the point the moderator chose

    nameless = moderator.post(page(w, "/matters/record"), data=intake(w, channel=channel, reporter_name=""))
    assert nameless.status_code == 200 and "reporter_name" in invalid_fields(html(nameless))
    assert matter_count(w) == 2


def test_residents_and_visitors_cannot_record_on_behalf(app, w):
    resident = signed_in(app, w.resident)
    assert resident.get(page(w, "/matters/record")).status_code in (403, 404)
    refused_post = resident.post(page(w, "/matters/record"), data=intake(w, channel="phone"))
    assert refused_post.status_code in (403, 404)
    anonymous = app.test_client().post(page(w, "/matters/record"), data=intake(w, channel="phone"))
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert matter_count(w) == 0
    for channel in (Channel.OFFLINE, Channel.PHONE, Channel.VISIT):
        with w.scope(), pytest.raises(PermissionDenied):
            services.submit(w.community, intake(w), channel=channel, actor=Actor(user=w.resident))
    with w.scope(), pytest.raises(PermissionDenied):
        services.submit(w.community, intake(w), channel=Channel.API, actor=Actor(user=w.admin))


def visit_form(w, rows: list[dict], group=None) -> dict:
    data = {"resident_group_id": group or w.groups[1]}
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"rows-{index}-{key}"] = value
    return data


def visit_rows(w) -> list[dict]:
    return [
        {
            "title": "张家门前路灯坏",
            "category_id": w.categories["streetlight"],
            "reporter_name": "张大爷",
            "reporter_phone": "13511112222",
            "description": "门口第三根电线杆",
        },
        {"title": "水渠堵了", "category_id": w.categories["farmland"], "reporter_name": "刘阿姨", "reporter_phone": ""},
        {"title": "独居老人需要助餐", "category_id": w.categories["elderly-children"], "reporter_name": "周奶奶"},
    ]


def test_visit_records_several_matters_in_one_sitting(app, w):
    moderator = signed_in(app, w.moderator)
    assert moderator.get(page(w, "/matters/visit")).status_code == 200
    response = moderator.post(page(w, "/matters/visit"), data=visit_form(w, visit_rows(w)))
    assert response.status_code == 200 and 'data-testid="visit-codes"' in html(response)
    with w.scope():
        recorded = list(db.session.execute(select(Matter).order_by(Matter.id)).scalars())
        assert [m.title for m in recorded] == [r["title"] for r in visit_rows(w)]
        assert {m.channel for m in recorded} == {Channel.VISIT}
        assert {m.recorded_by_id for m in recorded} == {w.moderator.id}
        assert {m.resident_group_id for m in recorded} == {w.groups[1]}
        assert {m.point_id for m in recorded} == {w.east}
        assert all(m.tracking_hash for m in recorded)
        assert (recorded[0].description, recorded[0].reporter_phone) == ("门口第三根电线杆", "13511112222")
        assert [m.reporter_name for m in recorded] == ["张大爷", "刘阿姨", "周奶奶"]
    codes = re.findall(r'<code class="fs-6">([^<]+)</code>', html(response))
    assert len(codes) == 3 and len(set(codes)) == 3
    with w.scope():
        assert {services.find_by_tracking_code(code).title for code in codes} == {r["title"] for r in visit_rows(w)}


def test_visit_is_all_or_nothing(app, w):
    moderator = signed_in(app, w.moderator)
    rows = visit_rows(w)
    rows[2]["reporter_name"] = ""  # the last row is bad: the two before it must not be saved either
    response = moderator.post(page(w, "/matters/visit"), data=visit_form(w, rows))
    assert response.status_code == 200 and "visit-codes" not in html(response)
    assert "rows-2-reporter_name" in invalid_fields(html(response))
    assert matter_count(w) == 0
    jobs.run_pending()
    assert db.session.scalar(select(func.count(Notification.id))) == 0  # no one told of what was not saved

    rows = visit_rows(w)
    rows[1]["category_id"] = "999999"
    response = moderator.post(page(w, "/matters/visit"), data=visit_form(w, rows))
    assert response.status_code == 200 and matter_count(w) == 0


def test_party_member_resident_may_record_visits_and_a_plain_resident_may_not(app, w):
    plain = signed_in(app, w.resident)
    assert plain.get(page(w, "/matters/visit")).status_code in (403, 404)
    assert plain.post(page(w, "/matters/visit"), data=visit_form(w, visit_rows(w))).status_code in (403, 404)
    assert matter_count(w) == 0

    with w.scope():
        membership = db.session.execute(
            select(CommunityMembership).where(CommunityMembership.user_id == w.resident.id)
        ).scalar_one()
        membership.party_member = True
        db.session.commit()
    member = signed_in(app, w.resident)
    assert member.get(page(w, "/matters/visit")).status_code == 200
    response = member.post(page(w, "/matters/visit"), data=visit_form(w, visit_rows(w)[:2]))
    assert response.status_code == 200 and "visit-codes" in html(response)
    assert matter_count(w, channel=Channel.VISIT, recorded_by_id=w.resident.id) == 2
    # Visits only: the party member records nothing else on a resident's behalf.
    assert member.get(page(w, "/matters/record")).status_code in (403, 404)


# --- 2. routing and the point's notification -------------------------------------------------------


def test_routing_by_resident_group(w):
    assert w.raise_matter(resident_group_id=w.groups[0]).point_id == w.east
    assert w.raise_matter(resident_group_id=w.groups[1]).point_id == w.east
    assert w.raise_matter(resident_group_id=w.groups[2]).point_id == w.west
    assert w.raise_matter(resident_group_id=None).point_id is None
    with w.scope():
        foreign = db.session.scalar(select(func.max(ResidentGroup.id))) + 1000
        with pytest.raises(ValidationFailed) as error:
            services.submit(w.community, intake(w, resident_group_id=foreign), channel="web", actor=Actor())
        assert "resident_group_id" in error.value.errors


def test_routing_skips_an_inactive_point(w):
    with w.scope():
        from yishi.modules.points.models import Point

        db.session.get(Point, w.east).active = False
        db.session.commit()
    assert w.raise_matter(resident_group_id=w.groups[0]).point_id is None


def test_the_points_moderators_are_told_after_commit_only(app, w):
    with w.scope():
        done = services.submit(w.community, intake(w, title="东头路灯"), channel="web", actor=Actor())
        matter_id = done.matter.id
        assert jobs.run_pending(app) == 0  # not committed: nothing queued
        assert db.session.scalar(select(func.count(Notification.id))) == 0
        db.session.commit()
    assert jobs.run_pending(app) == 1
    db.session.expire_all()
    told = db.session.execute(select(Notification).order_by(Notification.user_id)).scalars().all()
    assert [n.user_id for n in told] == sorted([w.moderator.id, w.moderator2.id])
    assert all(n.community_id == w.community.id for n in told)
    assert all(n.link.endswith(f"/c/{w.community.slug}/matters/{matter_id}") for n in told)
    assert all("东头路灯" in n.title for n in told)


def test_a_rolled_back_submission_tells_no_one(app, w):
    with w.scope():
        services.submit(w.community, intake(w), channel="web", actor=Actor())
        db.session.rollback()
    assert jobs.run_pending(app) == 0
    assert db.session.scalar(select(func.count(Notification.id))) == 0


def test_west_matter_tells_the_west_moderator(app, w):
    w.raise_matter(resident_group_id=w.groups[2], title="西头路灯")
    jobs.run_pending(app)
    db.session.expire_all()
    assert db.session.execute(select(Notification.user_id)).scalars().all() == [w.west_moderator.id]


# --- 3. every refused transition ---------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status), ids=lambda s: s.value)
def test_moves_from_a_status_outside_their_sources_are_conflicts(w, status):
    matter_id = matter_in(w, status)
    for action, move in TRANSITIONS.items():
        if status in move.sources:
            continue
        refused(w, matter_id, action, ConflictError, **rightful(w, action))
        if SYSTEM in move.by:
            refused(w, matter_id, action, ConflictError, system=True, note="auto")


@pytest.mark.parametrize("status", list(Status), ids=lambda s: s.value)
def test_moves_from_their_sources_are_allowed_to_the_right_role(w, status):
    """The other half of the table: each move its row allows does go through (then is undone)."""
    matter_id = matter_in(w, status)
    allowed = [action for action, move in TRANSITIONS.items() if status in move.sources]
    assert (not allowed) == (status in workflow.FINAL)
    for action in allowed:
        with w.scope():
            matter = services.get_matter(matter_id)
            savepoint = db.session.begin_nested()
            services.transition(w.community, matter, action, actor=Actor(user=rightful(w, action)["by"]), note="好")
            assert matter.status == TRANSITIONS[action].target
            savepoint.rollback()
        assert w.matter(matter_id).status == status


@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_moves_by_the_wrong_role_are_refused(w, create_user, action):
    move = TRANSITIONS[action]
    stranger = create_user(community=w.community, role="resident", name="路人")
    for status in sorted(move.sources):
        matter_id = matter_in(w, status)
        kwargs = {"note": "理由", "outcome": "no_agreement"}
        wrong = [w.staff, w.west_moderator]  # staff only read; the west moderator does not handle east matters
        if HANDLER not in move.by:
            wrong += [w.moderator, w.moderator2, w.admin]
        if REPORTER not in move.by:
            wrong += [w.resident]
        for user in wrong:
            refused(w, matter_id, action, PermissionDenied, by=user, **kwargs)
        refused(w, matter_id, action, NotFoundError, by=stranger, **kwargs)  # not theirs even to see
        if SYSTEM not in move.by:
            refused(w, matter_id, action, PermissionDenied, system=True, **kwargs)


def test_named_refusals(w):
    east = matter_in(w, Status.SUBMITTED)
    resolved = matter_in(w, Status.RESOLVED)
    refused(w, east, "accept", PermissionDenied, by=w.resident)  # the reporter cannot take it up
    refused(w, resolved, "close", PermissionDenied, by=w.moderator)  # nor the moderator close it
    refused(w, east, "withdraw", PermissionDenied, by=w.moderator)  # or withdraw it
    refused(w, east, "accept", PermissionDenied, by=w.west_moderator)
    for action, move in TRANSITIONS.items():  # staff read matters; they move none
        error = PermissionDenied if Status.SUBMITTED in move.sources else ConflictError
        refused(w, east, action, error, by=w.staff, note="x")
    refused(w, east, "fly", ValidationFailed, by=w.moderator)  # no such move
    # A matter of no point is any moderator's, the west one's too.
    nowhere = w.raise_matter(resident_group_id=None).id
    w.move(nowhere, "accept", by=w.west_moderator)
    assert w.matter(nowhere).assignee_id == w.west_moderator.id


@pytest.mark.parametrize(
    ("action", "status", "by"),
    [
        ("resolve", Status.ACCEPTED, "moderator"),
        ("reject", Status.SUBMITTED, "moderator"),
        ("reopen", Status.RESOLVED, "resident"),
        ("escalate", Status.SUBMITTED, "moderator"),
    ],
)
def test_moves_that_need_a_note(w, action, status, by):
    assert TRANSITIONS[action].needs_note
    matter_id = matter_in(w, status)
    for note in ("", "   \n"):
        error = refused(w, matter_id, action, ValidationFailed, by=getattr(w, by), note=note)
        assert "note" in error.errors
    w.move(matter_id, action, by=getattr(w, by), note="  说明原因  ")
    matter = w.matter(matter_id)
    assert matter.status == TRANSITIONS[action].target
    assert entries(w, matter_id)[-1][6] == "说明原因"
    if action == "resolve":
        assert matter.resolution_note == "说明原因"
    if action == "reject":
        assert matter.reject_reason == "说明原因" and matter.closed_at is not None


def test_only_these_moves_need_a_note():
    assert {a for a, t in TRANSITIONS.items() if t.needs_note} == {"resolve", "reject", "reopen", "escalate"}


def test_escalation_target_must_be_known(w):
    matter_id = matter_in(w, Status.SUBMITTED)
    error = refused(w, matter_id, "escalate", ValidationFailed, by=w.moderator, note="上报", escalate_to="moon")
    assert "escalate_to" in error.errors
    w.move(matter_id, "escalate", by=w.moderator, note="上报街道", escalate_to="street")
    assert w.matter(matter_id).escalated_to.value == "street"
    w.move(matter_id, "accept", by=w.moderator)  # taken up again: no longer escalated
    assert w.matter(matter_id).escalated_to is None


def test_resolving_a_dispute_needs_its_outcome_and_agreement(w):
    matter_id = matter_in(w, Status.ACCEPTED, category="dispute")
    error = refused(w, matter_id, "resolve", ValidationFailed, by=w.moderator, note="已调解")
    assert "outcome" in error.errors
    error = refused(w, matter_id, "resolve", ValidationFailed, by=w.moderator, note="已调解", outcome="maybe")
    assert "outcome" in error.errors
    for text in ("", "  "):
        agreed = {"note": "已调解", "outcome": "agreement", "agreement_text": text}
        error = refused(w, matter_id, "resolve", ValidationFailed, by=w.moderator, **agreed)
        assert "agreement_text" in error.errors
    w.move(matter_id, "resolve", by=w.moderator, note="已调解", outcome="agreement", agreement_text="田界以石为准")
    matter = w.matter(matter_id)
    assert matter.status == Status.RESOLVED
    assert (matter.outcome, matter.agreement_text) == (Outcome.AGREEMENT, "田界以石为准")

    other = matter_in(w, Status.IN_PROGRESS, category="dispute")
    w.move(other, "resolve", by=w.moderator, note="双方不同意", outcome="no_agreement")
    assert w.matter(other).outcome == Outcome.NO_AGREEMENT

    ordinary = matter_in(w, Status.ACCEPTED)
    w.move(ordinary, "resolve", by=w.moderator, note="修好了", outcome="agreement", agreement_text="x")
    assert w.matter(ordinary).outcome is None and w.matter(ordinary).agreement_text == ""


def test_a_dispute_needs_its_parties(w):
    with w.scope(), pytest.raises(ValidationFailed) as error:
        services.submit(w.community, intake(w, category_id=w.categories["dispute"]), channel="web", actor=Actor())
    assert "parties" in error.value.errors


def test_a_stale_version_is_a_conflict(app, w):
    matter_id = matter_in(w, Status.SUBMITTED)
    version = w.matter(matter_id).version
    for stale in (version - 1, version + 1):
        refused(w, matter_id, "accept", ConflictError, by=w.moderator, expected_version=stale)
    with w.scope():
        matter = services.get_matter(matter_id)
        services.transition(w.community, matter, "accept", actor=Actor(user=w.moderator), expected_version=version)
        db.session.commit()
    assert w.matter(matter_id).version == version + 1

    # The page says so too, and moves nothing.
    moderator = signed_in(app, w.moderator)
    response = moderator.post(page(w, f"/matters/{matter_id}/transition"), data={"action": "start", "version": version})
    assert response.status_code == 409 and w.matter(matter_id).status == Status.ACCEPTED
    response = moderator.post(page(w, f"/matters/{matter_id}/transition"), data={"action": "resolve", "version": ""})
    assert response.status_code == 422 and w.matter(matter_id).status == Status.ACCEPTED  # no note


def test_refused_moves_on_the_page(app, w):
    matter_id = matter_in(w, Status.SUBMITTED)
    resident = signed_in(app, w.resident)
    response = resident.post(page(w, f"/matters/{matter_id}/transition"), data={"action": "accept"})
    assert response.status_code == 403
    staff = signed_in(app, w.staff)
    assert staff.post(page(w, f"/matters/{matter_id}/transition"), data={"action": "accept"}).status_code == 403
    moderator = signed_in(app, w.moderator)
    response = moderator.post(page(w, f"/matters/{matter_id}/transition"), data={"action": "close"})
    assert response.status_code == 409
    assert len(entries(w, matter_id)) == 1 and w.matter(matter_id).status == Status.SUBMITTED


# --- 4. the timeline ---------------------------------------------------------------------------------


def test_timeline_records_who_did_what(app, w):
    raised = w.raise_matter(at=T0)
    w.move(raised.id, "accept", by=w.moderator, at=T0 + timedelta(minutes=5), note="马上去看")
    with w.scope():
        matter = services.get_matter(raised.id)
        services.add_note(
            w.community,
            matter,
            "内部：需要电工",
            actor=Actor(user=w.moderator),
            public=False,
            at=T0 + timedelta(minutes=6),
        )
        db.session.commit()
    w.move(raised.id, "start", by=w.moderator2, at=T0 + timedelta(minutes=7))
    w.move(raised.id, "escalate", by=w.moderator, note="内部：电力公司未回复", public=False, at=T0 + timedelta(hours=1))
    w.move(raised.id, "resolve", by=w.admin, note="已修复", at=T0 + timedelta(hours=2))
    w.move(raised.id, "reopen", by=None, tracked=True, note="又不亮了", public=False, at=T0 + timedelta(hours=3))

    assert entries(w, raised.id) == [
        ("transition", "submit", None, "submitted", "", REPORTER, "", True),
        ("transition", "accept", "submitted", "accepted", "李建国", HANDLER, "马上去看", True),
        ("note", "", None, None, "李建国", HANDLER, "内部：需要电工", False),
        ("transition", "start", "accepted", "in_progress", "赵红梅", HANDLER, "", True),
        ("transition", "escalate", "in_progress", "escalated", "李建国", HANDLER, "内部：电力公司未回复", False),
        ("transition", "resolve", "escalated", "resolved", "管理员", HANDLER, "已修复", True),
        ("transition", "reopen", "resolved", "reopened", "", REPORTER, "又不亮了", True),  # a reporter's is public
    ]
    public = entries(w, raised.id, internal=False)
    assert [e[1] or e[0] for e in public] == ["submit", "accept", "start", "resolve", "reopen"]

    # On the pages: the internal notes are the handlers' only.
    reporter = app.test_client()
    reporter.post(page(w, "/track"), data={"code": raised.tracking_code})
    body = html(reporter.get(page(w, f"/matters/{raised.id}")))
    assert "又不亮了" in body and "马上去看" in body
    assert "内部：需要电工" not in body and "内部：电力公司未回复" not in body
    body = html(signed_in(app, w.moderator).get(page(w, f"/matters/{raised.id}")))
    assert "内部：需要电工" in body and "内部：电力公司未回复" in body and "又不亮了" in body
    staff_body = html(signed_in(app, w.staff).get(page(w, f"/matters/{raised.id}")))
    assert "内部：需要电工" not in staff_body  # staff read, they do not handle


def test_notes_on_the_page(app, w):
    raised = w.raise_matter()
    moderator = signed_in(app, w.moderator)
    response = moderator.post(page(w, f"/matters/{raised.id}/notes"), data={"note": "已电话联系居民", "public": "0"})
    assert response.status_code == 302
    response = moderator.post(page(w, f"/matters/{raised.id}/notes"), data={"note": "  "})
    assert response.status_code == 422
    reporter = app.test_client()
    reporter.post(page(w, "/track"), data={"code": raised.tracking_code})
    assert reporter.post(page(w, f"/matters/{raised.id}/notes"), data={"note": "补充：在桥东"}).status_code == 302
    assert entries(w, raised.id)[1:] == [
        ("note", "", None, None, "李建国", HANDLER, "已电话联系居民", False),
        ("info", "", None, None, "", REPORTER, "补充：在桥东", True),
    ]
    assert "已电话联系居民" not in html(reporter.get(page(w, f"/matters/{raised.id}")))
    stranger = app.test_client()
    assert stranger.post(page(w, f"/matters/{raised.id}/notes"), data={"note": "x"}).status_code == 404
    assert len(entries(w, raised.id)) == 3


def test_finished_matters_take_no_notes(w):
    matter_id = matter_in(w, Status.WITHDRAWN)
    with w.scope():
        matter = services.get_matter(matter_id)
        with pytest.raises(ConflictError):
            services.add_note(w.community, matter, "还有", actor=Actor(user=w.resident))
        with pytest.raises(PermissionDenied):
            services.add_note(w.community, services.get_matter(matter_id), "x", actor=Actor(user=w.staff))


# --- 5. times ---------------------------------------------------------------------------------------


def test_times_and_targets_are_kept(w):
    on_time = w.raise_matter(at=T0)
    matter = w.matter(on_time.id)
    assert matter.submitted_at == T0 and matter.first_response_due_at == T0 + timedelta(minutes=15)
    assert matter.resolution_due_at == T0 + timedelta(days=7)  # streetlights: 10080 minutes

    w.move(on_time.id, "accept", by=w.moderator, at=T0 + timedelta(minutes=12, seconds=40))
    matter = w.matter(on_time.id)
    assert matter.accepted_at == T0 + timedelta(minutes=12, seconds=40)
    assert (matter.minutes_to_accept, matter.first_response_met) == (12, True)
    assert matter.assignee_id == w.moderator.id
    assert (matter.resolved_at, matter.minutes_to_resolve, matter.resolution_met) == (None, None, None)

    w.move(on_time.id, "resolve", by=w.moderator, note="修好", at=T0 + timedelta(days=2, minutes=3))
    matter = w.matter(on_time.id)
    assert matter.resolved_at == T0 + timedelta(days=2, minutes=3)
    assert (matter.minutes_to_resolve, matter.resolution_met) == (2 * 24 * 60 + 3, True)

    late = w.raise_matter(at=T0)
    w.move(late.id, "accept", by=w.moderator, at=T0 + timedelta(minutes=16))
    w.move(late.id, "start", by=w.moderator, at=T0 + timedelta(days=1))
    w.move(late.id, "resolve", by=w.moderator, note="修好", at=T0 + timedelta(days=8))
    matter = w.matter(late.id)
    assert (matter.minutes_to_accept, matter.first_response_met) == (16, False)
    assert (matter.minutes_to_resolve, matter.resolution_met) == (8 * 24 * 60, False)

    exactly = w.raise_matter(at=T0)
    w.move(exactly.id, "accept", by=w.moderator, at=T0 + timedelta(minutes=15))
    assert w.matter(exactly.id).first_response_met is True  # on the minute is within the target


def test_reopen_gives_new_due_times_but_keeps_the_first_acceptance(w):
    raised = w.raise_matter(by=w.resident, at=T0)
    w.move(raised.id, "accept", by=w.moderator, at=T0 + timedelta(minutes=5))
    w.move(raised.id, "resolve", by=w.moderator, note="修好", at=T0 + timedelta(days=1))
    reopened_at = T0 + timedelta(days=3)
    w.move(raised.id, "reopen", by=w.resident, note="又坏了", at=reopened_at)
    matter = w.matter(raised.id)
    assert matter.status == Status.REOPENED
    assert matter.first_response_due_at == reopened_at + timedelta(minutes=15)
    assert matter.resolution_due_at == reopened_at + timedelta(days=7)
    assert matter.first_response_escalate_at > matter.first_response_due_at
    assert matter.resolution_escalate_at > matter.resolution_due_at
    assert (matter.resolved_at, matter.resolution_met) == (None, None)
    assert matter.accepted_at == T0 + timedelta(minutes=5) and matter.minutes_to_accept == 5
    assert matter.first_response_met is True
    assert matter.submitted_at == T0

    w.move(raised.id, "accept", by=w.moderator2, at=reopened_at + timedelta(hours=2))
    matter = w.matter(raised.id)
    assert matter.accepted_at == T0 + timedelta(minutes=5) and matter.minutes_to_accept == 5  # the first stays
    assert matter.assignee_id == w.moderator2.id
    w.move(raised.id, "resolve", by=w.moderator2, note="换了线路", at=reopened_at + timedelta(days=2))
    matter = w.matter(raised.id)
    assert matter.resolved_at == reopened_at + timedelta(days=2) and matter.resolution_met is True


def test_a_dispute_reopened_loses_its_outcome(w):
    matter_id = matter_in(w, Status.ACCEPTED, category="dispute")
    w.move(matter_id, "resolve", by=w.moderator, note="调解", outcome="no_agreement")
    w.move(matter_id, "reopen", by=w.resident, note="没解决")
    assert w.matter(matter_id).outcome is None


# --- 6. satisfaction --------------------------------------------------------------------------------


def rate(w, matter_id, score, *, by=None, tracked=False, comment=""):
    with w.scope():
        matter = services.get_matter(matter_id)
        services.rate(w.community, matter, score, comment, actor=Actor(user=by), tracked=tracked)
        db.session.commit()


def test_satisfaction_only_by_the_reporter_after_resolution_once(w, create_user):
    matter_id = matter_in(w, Status.IN_PROGRESS)
    with pytest.raises(ConflictError):
        rate(w, matter_id, 5, by=w.resident)  # not resolved yet
    w.move(matter_id, "resolve", by=w.moderator, note="修好")
    for user, error in (
        (w.moderator, PermissionDenied),
        (w.admin, PermissionDenied),
        (w.staff, PermissionDenied),
        (create_user(community=w.community, role="resident"), NotFoundError),
    ):
        with pytest.raises(error):
            rate(w, matter_id, 5, by=user)
        db.session.rollback()
    for score in (0, 6, -1, "5", 4.5, None):
        with pytest.raises(ValidationFailed):
            rate(w, matter_id, score, by=w.resident)
        db.session.rollback()
    assert w.matter(matter_id).satisfaction is None
    rate(w, matter_id, 5, by=w.resident, comment=" 谢谢 ")
    matter = w.matter(matter_id)
    assert (matter.satisfaction, matter.satisfaction_comment) == (5, "谢谢") and matter.rated_at is not None
    assert entries(w, matter_id)[-1][0] == EntryKind.RATING.value and entries(w, matter_id)[-1][5] == REPORTER
    with pytest.raises(ConflictError):
        rate(w, matter_id, 1, by=w.resident)
    db.session.rollback()
    assert w.matter(matter_id).satisfaction == 5


@pytest.mark.parametrize("status", [s for s in Status if s not in (Status.RESOLVED, Status.CLOSED)])
def test_no_rating_before_resolution(w, status):
    matter_id = matter_in(w, status)
    with pytest.raises(ConflictError):
        rate(w, matter_id, 3, by=w.resident)
    db.session.rollback()
    assert w.matter(matter_id).satisfaction is None


@pytest.mark.parametrize("score", [1, 5])
def test_a_closed_matter_can_be_rated(w, score):
    matter_id = matter_in(w, Status.CLOSED)
    rate(w, matter_id, score, by=w.resident)
    assert w.matter(matter_id).satisfaction == score


def test_rating_by_tracking_code(w):
    raised = w.raise_matter()
    w.move(raised.id, "accept", by=w.moderator)
    w.move(raised.id, "resolve", by=w.moderator, note="修好")
    with pytest.raises(NotFoundError):
        rate(w, raised.id, 3)  # an anonymous visitor without the code
    db.session.rollback()
    rate(w, raised.id, 3, tracked=True)
    assert w.matter(raised.id).satisfaction == 3


# --- 7. masking per role -----------------------------------------------------------------------------


def test_contact_details_in_full_only_for_those_who_act(app, w):
    raised = w.raise_matter(resident_group_id=w.groups[0], title="路灯")
    path = page(w, f"/matters/{raised.id}")

    for user in (w.moderator, w.moderator2, w.admin):
        body = html(signed_in(app, user).get(path))
        assert PHONE in body and NAME in body, user.name

    for user in (w.staff, w.west_moderator):
        body = html(signed_in(app, user).get(path))
        reporter = re.search(r'data-testid="reporter">([^<]*)<', body).group(1)
        assert MASKED_PHONE in reporter and MASKED_NAME in reporter, user.name
        assert PHONE not in body and NAME not in body, user.name

    queue = signed_in(app, w.moderator).get(page(w, "/queue"))
    assert PHONE in html(queue) and NAME in html(queue) and listed_ids(html(queue)) == [raised.id]
    queue = html(signed_in(app, w.staff).get(page(w, "/queue")))
    assert listed_ids(queue) == [raised.id]
    assert MASKED_PHONE in queue and MASKED_NAME in queue and PHONE not in queue and NAME not in queue
    queue = html(signed_in(app, w.west_moderator).get(page(w, "/queue?all=1")))
    assert listed_ids(queue) == [raised.id] and PHONE not in queue and NAME not in queue


def test_dispute_parties_are_masked_for_staff(app, w):
    raised = w.raise_matter(category="dispute", title="张三与李四宅基地纠纷", parties=["张三丰", "李四海"])
    body = html(signed_in(app, w.staff).get(page(w, f"/matters/{raised.id}")))
    assert "张三丰" not in body and "张**" in body
    body = html(signed_in(app, w.moderator).get(page(w, f"/matters/{raised.id}")))
    assert "张三丰" in body and "李四海" in body


def test_the_public_board_never_shows_names_phones_or_dispute_titles(client, w):
    plain = w.raise_matter(title="路灯坏了请回电13600001111", reporter_phone=PHONE)
    w.raise_matter(category="dispute", title="张三与李四宅基地纠纷", parties=["张三丰", "李四海"])
    gone = w.raise_matter(title="撤回的事项")
    w.move(gone.id, "withdraw", by=None, tracked=True)
    w.move(plain.id, "accept", by=w.moderator)
    w.raise_matter(by=w.resident, title="居民账号的事项", resident_group_id=w.groups[2])

    response = client.get(page(w, "/board"))
    assert response.status_code == 200
    body = html(response)
    board = body[body.index('data-testid="board"') :]
    for secret in (NAME, MASKED_NAME, PHONE, MASKED_PHONE, "13600001111", "张三与李四", "张三丰", "李四海"):
        assert secret not in body, secret
    for secret in (w.resident.name, w.resident.phone, w.moderator.name):
        assert secret not in body, secret
    assert "路灯坏了请回电136****1111" in board
    with w.scope():
        category = db.session.get(Category, w.categories["dispute"])
        group = db.session.get(ResidentGroup, w.groups[0])
        expected = f"{category.name_zh} · {group.name_zh}"
    assert expected in board
    assert "撤回的事项" not in body  # withdrawn matters leave the board
    assert "居民账号的事项" in board
    assert board.count('<li class="list-group-item">') == 3  # the withdrawn one left out


def test_board_lists_matters_of_this_community_only(client, w, other_community, create_user):
    other = build(other_community, create_user)
    other.raise_matter(title="别的社区的事项")
    w.raise_matter(title="本社区的事项")
    body = html(client.get(page(w, "/board")))
    assert "本社区的事项" in body and "别的社区的事项" not in body


# --- 8. the work queue -------------------------------------------------------------------------------


@pytest.fixture
def queue_world(w):
    now = utcnow()
    ids = {}
    ids["older_accepted"] = w.raise_matter(title="旧事项已受理", at=now - timedelta(days=3)).id
    w.move(ids["older_accepted"], "accept", by=w.moderator, at=now - timedelta(days=3) + timedelta(minutes=5))
    ids["overdue"] = w.raise_matter(title="一小时前无人受理", at=now - timedelta(hours=1)).id
    ids["west"] = w.raise_matter(title="西边的事项", resident_group_id=w.groups[2]).id
    with w.scope():
        done = services.submit(
            w.community,
            intake(w, title="水管破裂", category_id=w.categories["water"], resident_group_id=w.groups[1]),
            channel=Channel.PHONE,
            actor=Actor(user=w.moderator),
        )
        ids["phone"] = done.matter.id
        db.session.commit()
    ids["closed"] = w.raise_matter(by=w.resident, title="已关闭").id
    for action, who in PATHS[Status.CLOSED]:
        w.move(ids["closed"], action, by=getattr(w, who), note="x")
    return w, ids


def test_queue_shows_the_moderators_points_overdue_first(app, queue_world):
    w, ids = queue_world
    moderator = signed_in(app, w.moderator)
    response = moderator.get(page(w, "/queue"))
    assert response.status_code == 200
    body = html(response)
    assert listed_ids(body) == [ids["overdue"], ids["older_accepted"], ids["phone"]]
    assert f'list-group-item-danger" data-matter-id="{ids["overdue"]}"' in body  # marked overdue
    assert f'list-group-item-danger" data-matter-id="{ids["phone"]}"' not in body

    everything = listed_ids(html(moderator.get(page(w, "/queue?all=1"))))
    assert everything[0] == ids["overdue"]
    assert set(everything) == {ids["overdue"], ids["older_accepted"], ids["phone"], ids["west"]}

    west = listed_ids(html(signed_in(app, w.west_moderator).get(page(w, "/queue"))))
    assert west == [ids["west"]]
    admin = listed_ids(html(signed_in(app, w.admin).get(page(w, "/queue"))))
    assert set(admin) == set(everything)  # admins handle every point


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=accepted", ["older_accepted"]),
        ("status=closed", ["closed"]),
        ("category_id={water}", ["phone"]),
        ("resident_group_id={group3}", ["west"]),
        ("resident_group_id={group2}", ["phone"]),
        ("point_id={west}", ["west"]),
        ("channel=phone", ["phone"]),
        ("channel=web", ["overdue", "older_accepted", "west"]),
        ("overdue=1", ["overdue"]),
        ("overdue=0", ["older_accepted", "west", "phone"]),
        ("q=水管", ["phone"]),
        ("q=%25", []),
        ("status=submitted&point_id={west}", ["west"]),
    ],
)
def test_queue_filters(app, queue_world, query, expected):
    w, ids = queue_world
    query = query.format(water=w.categories["water"], group2=w.groups[1], group3=w.groups[2], west=w.west)
    response = signed_in(app, w.moderator).get(page(w, f"/queue?all=1&{query}"))
    assert response.status_code == 200
    shown = listed_ids(html(response))
    assert sorted(shown) == sorted(ids[name] for name in expected)
    assert re.search(rf'data-testid="queue-total">\D*{len(expected)}\D', html(response))


def test_queue_is_for_staff_and_handlers_only(app, w):
    assert signed_in(app, w.resident).get(page(w, "/queue")).status_code in (403, 404)
    assert app.test_client().get(page(w, "/queue")).status_code == 302
    assert signed_in(app, w.staff).get(page(w, "/queue")).status_code == 200


def test_queue_survives_bad_filters(app, w):
    w.raise_matter()
    moderator = signed_in(app, w.moderator)
    for query in ("status=nonsense", "category_id=abc", "channel=fax", "overdue=2", "page=-1", "page=abc"):
        response = moderator.get(page(w, f"/queue?{query}"))
        assert response.status_code in (200, 400), query


# --- 9. intake limits and bad input ------------------------------------------------------------------


def test_the_sixth_matter_from_one_phone_in_an_hour_is_refused(client, w):
    for number in range(5):
        response = client.post(page(w, "/matters/new"), data=intake(w, title=f"事项{number}"))
        assert response.status_code == 302, number
    assert client.post(page(w, "/matters/new"), data=intake(w, title="第六个")).status_code == 429
    assert client.post(page(w, "/matters/new"), data=intake(w, reporter_phone="139 1234 5678")).status_code == 429
    assert client.post(page(w, "/p/east/matters/new"), data=intake(w)).status_code == 429  # on QR codes too
    assert client.post(page(w, "/matters/new"), data=intake(w, reporter_phone="13700000000")).status_code == 302
    assert matter_count(w) == 6


def test_the_twenty_first_matter_from_one_address_in_an_hour_is_refused(client, w):
    for number in range(20):  # the online form and the QR forms share one budget
        path = page(w, "/matters/new" if number % 2 else "/p/west/matters/new")
        response = client.post(path, data=intake(w, reporter_phone=f"137000000{number:02d}"))
        assert response.status_code == 302, number
    assert client.post(page(w, "/matters/new"), data=intake(w, reporter_phone="13600000099")).status_code == 429
    assert client.post(page(w, "/p/east/matters/new"), data=intake(w, reporter_phone="13600000098")).status_code == 429
    assert matter_count(w) == 20
    assert client.get(page(w, "/matters/new")).status_code == 200  # reading the form is not limited


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"category_id": ""}, "category_id"),
        ({"category_id": "999999"}, "category_id"),
        ({"category_id": "abc"}, "category_id"),
        ({"resident_group_id": "999999"}, "resident_group_id"),
        ({"reporter_name": ""}, "reporter_name"),
        ({"reporter_phone": ""}, "reporter_phone"),
        ({"reporter_phone": "12345"}, "reporter_phone"),
        ({"reporter_phone": "1391234567899"}, "reporter_phone"),
        ({"parties": "", "category_id": "dispute"}, "parties"),
    ],
)
def test_bad_input_gets_field_messages_and_saves_nothing(client, w, overrides, field):
    if overrides.get("category_id") == "dispute":
        overrides = {**overrides, "category_id": w.categories["dispute"]}
    response = client.post(page(w, "/matters/new"), data=intake(w, **overrides))
    assert response.status_code == 200
    assert field in invalid_fields(html(response))
    assert matter_count(w) == 0
    assert jobs.run_pending() == 0


def test_inactive_category_is_refused(w):
    with w.scope():
        db.session.get(Category, w.categories["road"]).active = False
        db.session.commit()
        with pytest.raises(ValidationFailed) as error:
            services.submit(w.community, intake(w, category_id=w.categories["road"]), channel="web", actor=Actor())
        assert "category_id" in error.value.errors


def test_a_category_of_another_community_is_refused(w, other_community, create_user):
    other = build(other_community, create_user)
    with w.scope(), pytest.raises(ValidationFailed) as error:
        services.submit(w.community, intake(w, category_id=other.categories["road"]), channel="web", actor=Actor())
    assert "category_id" in error.value.errors


# --- 10. strangers ----------------------------------------------------------------------------------


def test_strangers_get_not_found(app, client, w, other_community, create_user):
    raised = w.raise_matter()
    path = page(w, f"/matters/{raised.id}")
    admin_elsewhere = create_user(community=other_community, role="admin")
    stranger = signed_in(app, admin_elsewhere)
    assert stranger.get(path).status_code == 404
    for action in ("/transition", "/notes", "/rating"):
        assert stranger.post(path + action, data={"action": "accept", "note": "x", "score": "5"}).status_code == 404
    assert client.get(path).status_code == 404  # no tracking code
    assert client.post(path + "/transition", data={"action": "withdraw"}).status_code == 404
    assert client.get(page(w, "/matters/999999")).status_code == 404
    assert w.matter(raised.id).status == Status.SUBMITTED and len(entries(w, raised.id)) == 1

    # The other community's own URL does not reach it either.
    assert stranger.get(f"/c/{other_community.slug}/matters/{raised.id}").status_code == 404
    with w.scope():
        matter = services.get_matter(raised.id)
        assert not services.may_read(Actor(user=admin_elsewhere), matter, w.community)
        with pytest.raises(NotFoundError):
            services.transition(w.community, matter, "accept", actor=Actor(user=admin_elsewhere))


def test_a_tracking_code_opens_only_its_own_matter(client, w):
    first = w.raise_matter(title="第一")
    second = w.raise_matter(title="第二")
    client.post(page(w, "/track"), data={"code": first.tracking_code})
    assert client.get(page(w, f"/matters/{first.id}")).status_code == 200
    assert client.get(page(w, f"/matters/{second.id}")).status_code == 404


def test_a_tracking_code_works_only_in_its_community(app, w, neighbour_community):
    raised = w.raise_matter()
    browser = app.test_client()
    response = browser.post(f"/c/{neighbour_community.slug}/track", data={"code": raised.tracking_code})
    assert response.status_code == 200  # not found there
    assert browser.get(page(w, f"/matters/{raised.id}")).status_code == 404


# --- 11. a category in use --------------------------------------------------------------------------


def test_a_category_in_use_cannot_be_deleted(w):
    w.raise_matter(category="road")
    with w.scope():
        road = categories.get_category(w.categories["road"])
        with pytest.raises(ConflictError):
            categories.delete_category(w.community, road, actor=Actor(user=w.admin))
        db.session.rollback()
        assert categories.get_category(w.categories["road"]) is not None
        unused = categories.get_category(w.categories["other"])
        categories.delete_category(w.community, unused, actor=Actor(user=w.admin))
        db.session.commit()
        assert w.categories["other"] not in {c.id for c in categories.list_categories()}


def test_the_street_office_sees_and_settles_what_is_escalated_to_it(
    app, w, street, other_street, create_user, create_community, client, login_as
):
    to_street = w.raise_matter(title="跨组道路纠纷")
    to_community = w.raise_matter(title="社区内部事项")
    w.move(to_street.id, "escalate", by=w.moderator, note="涉及两个社区", escalate_to="street")
    w.move(to_community.id, "escalate", by=w.moderator, note="请社区协调", escalate_to="community")
    elsewhere = build(create_community("faraway", other_street), create_user)
    foreign = elsewhere.raise_matter(title="别的街道的事项")
    elsewhere.move(foreign.id, "escalate", by=elsewhere.moderator, note="上报", escalate_to="street")

    street_admin = create_user(street=street)
    jobs.run_pending(app)
    with_inbox = notifications_of(street_admin)
    assert [n.link for n in with_inbox] == [f"/c/{w.community.slug}/matters/{to_street.id}"]

    login_as(street_admin)
    page = client.get(f"/s/{street.slug}/escalated")
    assert page.status_code == 200
    listed = page.get_data(as_text=True)
    assert "跨组道路纠纷" in listed and "社区内部事项" not in listed and "别的街道的事项" not in listed
    assert client.get(f"/s/{other_street.slug}/escalated").status_code == 404

    # the street office takes it up and resolves it on the matter's page
    matter_url = f"/c/{w.community.slug}/matters/{to_street.id}"
    assert client.post(f"{matter_url}/transition", data={"action": "accept"}).status_code == 302
    resolved = client.post(f"{matter_url}/transition", data={"action": "resolve", "note": "街道协调两社区共同出资修路"})
    assert resolved.status_code == 302
    assert w.matter(to_street.id).status.value == "resolved"
    assert "跨组道路纠纷" not in client.get(f"/s/{street.slug}/escalated").get_data(as_text=True)

    login_as(w.admin)  # a community admin is not the street office
    assert client.get(f"/s/{street.slug}/escalated").status_code == 404
