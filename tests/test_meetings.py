"""Deliberation meetings (议事活动) and the participation ledger: a meeting from planning to published
minutes (pages and API), decisions that move matters through their workflow, refused steps that change
nothing, minutes that carry no script, signed QR check-in with its window, each person counted once,
online comments and volunteers, distinct participants over a period, iCalendar feeds, and tenant
isolation of every meeting page and API URL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from types import SimpleNamespace

import icalendar
import pytest
import time_machine
from flask_babel import force_locale
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from tests.conftest import bearer
from tests.matter_world import build
from yishi.core import tenancy
from yishi.core.db import db, utcnow
from yishi.core.errors import ConflictError, NotFoundError, PermissionDenied, ValidationFailed
from yishi.modules.accounts import services as accounts
from yishi.modules.accounts.models import CommunityRole
from yishi.modules.accounts.permissions import Actor
from yishi.modules.categories import services as categories
from yishi.modules.communities.models import ResidentGroup
from yishi.modules.matters import services as matters
from yishi.modules.matters.models import Matter, Outcome, Status, TimelineEntry, Volunteer
from yishi.modules.meetings import services
from yishi.modules.meetings.models import (
    AgendaComment,
    AgendaItem,
    Attendance,
    CheckInMethod,
    Invitation,
    Meeting,
    MeetingStatus,
)
from yishi.modules.participation import services as participation
from yishi.modules.participation.models import Participation, ParticipationKind, Person
from yishi.modules.selection import services as selection

ANON_NAME, ANON_PHONE = "王秀英", "13912345678"  # the anonymous reporter of matter_world.raise_matter


# --- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture
def w(community, create_user):
    return build(community, create_user)


@pytest.fixture
def writer(community, token_for):
    """A community system's token: every scope."""
    return bearer(token_for(community=community))


@pytest.fixture
def reader(community, token_for):
    """A read-only token: may read meetings, may not write them."""
    return bearer(token_for(community=community, scopes="meetings:read,community:read"))


def page(w, suffix: str = "") -> str:
    return f"/c/{w.community.slug}{suffix}"


def api(w, suffix: str = "") -> str:
    return f"/api/v1/communities/{w.community.slug}{suffix}"


def soon(minutes: int = 10) -> datetime:
    return utcnow().replace(microsecond=0) + timedelta(minutes=minutes)


def convene(w, *, start=None, hours=1, title="东门议事会", matter_ids=(), by=None, **extra) -> int:
    """A meeting convened through the service (at the east point unless ``point_id`` says otherwise)."""
    start = start or soon()
    data = {
        "title": title,
        "point_id": w.east,
        "starts_at": start,
        "ends_at": start + timedelta(hours=hours),
        "matter_ids": list(matter_ids),
        **extra,
    }
    with w.scope():
        meeting = services.create_meeting(w.community, data, actor=Actor(user=by or w.moderator))
        meeting_id = meeting.id
        db.session.commit()
    return meeting_id


def add_item(w, meeting_id: int, *, matter_id=None, title="", by=None) -> int:
    with w.scope():
        item = services.add_agenda_item(
            w.community,
            services.get_meeting(meeting_id),
            actor=Actor(user=by or w.moderator),
            matter_id=matter_id,
            title=title,
        )
        item_id = item.id
        db.session.commit()
    return item_id


def mark_held(w, meeting_id: int, *, at=None, by=None) -> None:
    with w.scope():
        services.mark_held(w.community, services.get_meeting(meeting_id), actor=Actor(user=by or w.moderator), at=at)
        db.session.commit()


def publish(w, meeting_id: int, text: str = "# 纪要\n\n- 议定一项", *, by=None) -> None:
    with w.scope():
        meeting = services.get_meeting(meeting_id)
        actor = Actor(user=by or w.moderator)
        services.save_minutes(w.community, meeting, text, actor=actor)
        services.publish_minutes(w.community, meeting, actor=actor)
        db.session.commit()


def cancel(w, meeting_id: int, reason: str = "大雨，改期", *, by=None) -> None:
    with w.scope():
        services.cancel_meeting(
            w.community, services.get_meeting(meeting_id), reason, actor=Actor(user=by or w.moderator)
        )
        db.session.commit()


def refused(w, error_class, call) -> None:
    """A service call inside the community's scope that must be refused with ``error_class``. Its savepoint
    is rolled back (a plain rollback would also undo what the requests since the last commit wrote)."""
    with w.scope(), pytest.raises(error_class), db.session.begin_nested():
        call()


def snapshot(w, meeting_id: int) -> SimpleNamespace:
    """The meeting and its agenda as stored now, as plain values."""
    with w.scope():
        meeting = services.get_meeting(meeting_id)
        db.session.refresh(meeting)
        items = [
            SimpleNamespace(
                id=i.id,
                position=i.position,
                matter_id=i.matter_id,
                title=i.title,
                decision=i.decision,
                decision_kind=i.decision_kind.value if i.decision_kind else None,
                votes=(i.votes_for, i.votes_against, i.votes_abstain),
                matter_action=i.matter_action,
                decided_at=i.decided_at,
            )
            for i in services.agenda_of(meeting)
        ]
        groups, users = services.invitations_of(meeting)
        return SimpleNamespace(
            id=meeting.id,
            title=meeting.title,
            status=meeting.status.value,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            point_id=meeting.point_id,
            convener_id=meeting.convener_id,
            cancel_reason=meeting.cancel_reason,
            minutes=meeting.minutes,
            held_at=meeting.held_at,
            minutes_published_at=meeting.minutes_published_at,
            items=items,
            invited_groups=groups,
            invited_users=users,
            attendance=services.attendance_of(meeting),
        )


def checkin_token(w, meeting_id: int) -> str:
    with w.scope():
        return services.checkin_token(services.get_meeting(meeting_id))


def count(w, column, *conditions) -> int:
    with w.scope():
        return db.session.execute(select(func.count(column)).where(*conditions)).scalar_one()


def attended(w, meeting_id: int) -> list[tuple[int, str, str, int | None, str]]:
    """(person id, name, phone, group, method) of everyone on the attendance list."""
    with w.scope():
        rows = db.session.execute(
            select(Person.id, Person.name, Person.phone, Person.resident_group_id, Attendance.method)
            .join(Attendance, Attendance.person_id == Person.id)
            .where(Attendance.meeting_id == meeting_id)
            .order_by(Attendance.id)
        ).all()
        return [(pid, name, phone, group, method.value) for pid, name, phone, group, method in rows]


def participations(w, kind: ParticipationKind | None = None) -> list[tuple[int, str, str, int]]:
    """(person id, kind, subject type, subject id) of the community's ledger."""
    with w.scope():
        statement = select(
            Participation.person_id, Participation.kind, Participation.subject_type, Participation.subject_id
        ).order_by(Participation.id)
        if kind is not None:
            statement = statement.where(Participation.kind == kind)
        return [(p, k.value, t, s) for p, k, t, s in db.session.execute(statement)]


def distinct(w, start=None, end=None) -> int:
    with w.scope():
        return participation.distinct_participants(start, end)


def by_kind(w, start=None, end=None) -> dict[str, int]:
    with w.scope():
        return participation.participants_by_kind(start, end)


def timeline(w, matter_id: int, *, internal: bool = False) -> list[tuple[str, str | None, str]]:
    """(action, to_status, note) of a matter's timeline."""
    with w.scope():
        entries = matters.timeline(matters.get_matter(matter_id), internal=internal)
        return [(e.action, e.to_status.value if e.to_status else None, e.note) for e in entries]


def checkin_url(w, meeting_id: int, token: str) -> str:
    return page(w, f"/meetings/{meeting_id}/checkin?t={token}")


def checkin_post(client, w, meeting_id: int, token: str, **fields):
    return client.post(page(w, f"/meetings/{meeting_id}/checkin"), data={"t": token, **fields})


def html_of(response) -> str:
    return response.get_data(as_text=True)


def block_of(html: str, testid: str) -> str:
    """The inside of the first element carrying ``data-testid`` (no nested element of the same tag)."""
    match = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no data-testid={testid}"
    return match.group(2)


def meeting_id_from(location: str) -> int:
    match = re.search(r"/meetings/(\d+)$", location)
    assert match, location
    return int(match.group(1))


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    assert response.mimetype == "application/problem+json"
    return response.get_json()


# --- 1. a meeting from planning to published minutes ------------------------------------------------


def test_convening_from_the_page_reads_local_times_in_the_community_time_zone(client, login_as, w):
    assert w.community.time_zone == "Asia/Shanghai"
    raised = w.raise_matter(category="dispute", title="宅基地界址纠纷")
    login_as(w.moderator)
    form = client.get(page(w, f"/meetings/new?matter={raised.id}"))
    assert form.status_code == 200
    html = html_of(form)
    assert 'data-testid="meeting-form"' in html
    assert re.search(rf'<input[^>]*checked[^>]*value="{raised.id}"|<input[^>]*value="{raised.id}"[^>]*checked', html)

    response = client.post(
        page(w, "/meetings/new"),
        data={
            "title": "东门议事会",
            "topic": "宅基地界址",
            "point_id": str(w.east),
            "location": "村委会二楼",
            "starts_at": "2031-05-01T19:30",
            "ends_at": "2031-05-01T21:00",
            "invited_group_ids": [str(w.groups[0]), str(w.groups[1])],
            "matter_ids": [str(raised.id)],
        },
    )
    assert response.status_code == 302, html_of(response)[-2000:]
    meeting_id = meeting_id_from(response.headers["Location"])
    stored = snapshot(w, meeting_id)
    # 19:30 in Shanghai (UTC+8) is 11:30 UTC
    assert stored.starts_at == datetime(2031, 5, 1, 11, 30, tzinfo=UTC)
    assert stored.ends_at == datetime(2031, 5, 1, 13, 0, tzinfo=UTC)
    assert (stored.title, stored.status, stored.point_id, stored.convener_id) == (
        "东门议事会",
        "planned",
        w.east,
        w.moderator.id,
    )
    assert stored.invited_groups == sorted(w.groups[:2])
    assert [(i.matter_id, i.title, i.position) for i in stored.items] == [(raised.id, "宅基地界址纠纷", 1)]
    assert ("agenda", None) in [(a, s) for a, s, _n in timeline(w, raised.id)]

    shown = client.get(response.headers["Location"])
    assert shown.status_code == 200
    assert 'data-meeting-status="planned"' in html_of(shown)
    assert f'data-item-id="{stored.items[0].id}"' in html_of(shown)


def test_convening_from_the_page_refuses_an_end_before_the_start(client, login_as, w):
    login_as(w.moderator)
    response = client.post(
        page(w, "/meetings/new"),
        data={"title": "倒着开的会", "starts_at": "2031-05-01T19:30", "ends_at": "2031-05-01T18:00"},
    )
    assert response.status_code == 200
    assert 'data-testid="meeting-form"' in html_of(response)
    assert count(w, Meeting.id) == 0


def test_a_resident_cannot_convene(client, login_as, w):
    login_as(w.resident)
    assert client.get(page(w, "/meetings/new")).status_code == 403
    response = client.post(
        page(w, "/meetings/new"),
        data={"title": "居民自己开会", "starts_at": "2031-05-01T19:30", "ends_at": "2031-05-01T21:00"},
    )
    assert response.status_code == 403
    assert count(w, Meeting.id) == 0


def test_convening_through_the_api(client, w, writer, reader):
    raised = w.raise_matter(category="water", title="村口水渠堵塞")
    body = {
        "title": "西门议事会",
        "point_id": w.west,
        "starts_at": "2031-05-01T19:30:00+08:00",
        "ends_at": "2031-05-01T21:00:00+08:00",
        "invited_group_ids": [w.groups[2]],
        "invited_user_ids": [w.resident.id],
        "matter_ids": [raised.id],
    }
    response = client.post(api(w, "/meetings"), headers=writer, json=body)
    assert response.status_code == 201, html_of(response)
    created = response.get_json()
    assert response.headers["Location"].endswith(f"/meetings/{created['id']}")
    assert created["status"] == "planned"
    assert datetime.fromisoformat(created["starts_at"]) == datetime(2031, 5, 1, 11, 30, tzinfo=UTC)
    assert [(i["matter_id"], i["title"]) for i in created["agenda"]] == [(raised.id, "村口水渠堵塞")]
    assert created["invited_group_ids"] == [w.groups[2]]
    stored = snapshot(w, created["id"])
    assert stored.invited_users == [w.resident.id]
    assert stored.ends_at == datetime(2031, 5, 1, 13, 0, tzinfo=UTC)

    got = client.get(api(w, f"/meetings/{created['id']}"), headers=reader)
    assert got.status_code == 200 and got.get_json()["id"] == created["id"]
    listed = client.get(api(w, "/meetings"), headers=reader, query_string={"upcoming": "true"})
    assert [m["id"] for m in listed.get_json()["items"]] == [created["id"]]

    # refused: an end before the start, a time without its zone, a reader, someone not a member
    assert_problem(client.post(api(w, "/meetings"), headers=writer, json={**body, "ends_at": body["starts_at"]}), 422)
    assert_problem(
        client.post(api(w, "/meetings"), headers=writer, json={**body, "starts_at": "2031-05-01T19:30"}), 422
    )
    assert_problem(client.post(api(w, "/meetings"), headers=reader, json=body), 403)
    assert_problem(client.post(api(w, "/meetings"), headers=writer, json={**body, "invited_user_ids": [999999]}), 422)
    assert count(w, Meeting.id) == 1


def test_a_meeting_from_planning_to_published_minutes(client, login_as, w, writer, reader):
    dispute = w.raise_matter(category="dispute", title="宅基地界址纠纷")
    water = w.raise_matter(category="water", title="村口水渠堵塞")
    meeting_id = convene(w, title="东门议事会")
    login_as(w.moderator)

    # the agenda: a matter from its own page, a free topic, and a matter through the API
    response = client.post(page(w, f"/matters/{dispute.id}/agenda"), data={"meeting_id": str(meeting_id)})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/matters/{dispute.id}")
    response = client.post(page(w, f"/meetings/{meeting_id}/agenda"), data={"title": "村规民约修订"})
    assert response.status_code == 302
    response = client.post(api(w, f"/meetings/{meeting_id}/agenda"), headers=writer, json={"matter_id": water.id})
    assert response.status_code == 201, html_of(response)
    assert (response.get_json()["matter_id"], response.get_json()["position"]) == (water.id, 3)
    stored = snapshot(w, meeting_id)
    assert [(i.matter_id, i.title, i.position) for i in stored.items] == [
        (dispute.id, "宅基地界址纠纷", 1),
        (None, "村规民约修订", 2),
        (water.id, "村口水渠堵塞", 3),
    ]
    dispute_item, topic_item, water_item = (i.id for i in stored.items)
    matter_page = html_of(client.get(page(w, f"/matters/{dispute.id}")))
    assert f"/meetings/{meeting_id}" in block_of(matter_page, "agendas")

    # held
    assert client.post(page(w, f"/meetings/{meeting_id}/held")).status_code == 302
    stored = snapshot(w, meeting_id)
    assert stored.status == "held" and stored.held_at is not None

    # a vote that resolves the dispute with the agreement
    response = client.post(
        page(w, f"/meetings/{meeting_id}/agenda/{dispute_item}/decision"),
        data={
            "decision": "以界桩为准，双方各退半米",
            "decision_kind": "vote",
            "votes_for": "7",
            "votes_against": "1",
            "votes_abstain": "2",
            "matter_action": "resolve",
            "agreement_text": "以2019年界桩为准",
        },
    )
    assert response.status_code == 302, html_of(response)[-2000:]
    item = snapshot(w, meeting_id).items[0]
    assert (item.decision, item.decision_kind, item.votes, item.matter_action) == (
        "以界桩为准，双方各退半米",
        "vote",
        (7, 1, 2),
        "resolve",
    )
    assert item.decided_at is not None
    matter = w.matter(dispute.id)
    assert matter.status == Status.RESOLVED
    assert (matter.outcome, matter.agreement_text) == (Outcome.AGREEMENT, "以2019年界桩为准")
    assert "以界桩为准，双方各退半米" in matter.resolution_note and "东门议事会" in matter.resolution_note
    moves = [(a, s, n) for a, s, n in timeline(w, dispute.id) if s]
    assert [(a, s) for a, s, _n in moves] == [("submit", "submitted"), ("accept", "accepted"), ("resolve", "resolved")]
    assert "以界桩为准，双方各退半米" in moves[-1][2] and "东门议事会" in moves[-1][2]
    public_page = html_of(client.get(page(w, f"/matters/{dispute.id}")))
    assert "以界桩为准，双方各退半米" in block_of(public_page, "timeline")
    assert "以2019年界桩为准" in block_of(public_page, "resolution")

    # a consensus that starts the work on a submitted matter (API)
    response = client.post(
        api(w, f"/meetings/{meeting_id}/agenda/{water_item}/decision"),
        headers=writer,
        json={"decision": "下周一清淤", "decision_kind": "consensus", "matter_action": "start"},
    )
    assert response.status_code == 200, html_of(response)
    assert (response.get_json()["decision_kind"], response.get_json()["matter_action"]) == ("consensus", "start")
    assert w.matter(water.id).status == Status.IN_PROGRESS
    water_moves = [(a, s, n) for a, s, n in timeline(w, water.id) if s]
    assert [(a, s) for a, s, _n in water_moves] == [
        ("submit", "submitted"),
        ("accept", "accepted"),
        ("start", "in_progress"),
    ]
    assert "下周一清淤" in water_moves[-1][2]

    # the free topic, by consensus, moves nothing
    response = client.post(
        page(w, f"/meetings/{meeting_id}/agenda/{topic_item}/decision"),
        data={"decision": "草案公示一周", "decision_kind": "consensus"},
    )
    assert response.status_code == 302
    assert snapshot(w, meeting_id).items[1].decision == "草案公示一周"

    # minutes saved (not yet public), then published
    response = client.post(page(w, f"/meetings/{meeting_id}/minutes"), data={"minutes": "# 纪要\n\n- 议定三项"})
    assert response.status_code == 302
    stored = snapshot(w, meeting_id)
    assert (stored.status, stored.minutes, stored.minutes_published_at) == ("held", "# 纪要\n\n- 议定三项", None)
    unpublished = client.get(api(w, f"/meetings/{meeting_id}"), headers=reader).get_json()
    assert (unpublished["minutes"], unpublished["minutes_html"]) == ("", "")
    assert "<h1>纪要</h1>" in client.get(api(w, f"/meetings/{meeting_id}"), headers=writer).get_json()["minutes_html"]

    response = client.post(
        page(w, f"/meetings/{meeting_id}/minutes"), data={"minutes": "# 纪要\n\n- 议定三项\n- 下周清淤", "publish": "1"}
    )
    assert response.status_code == 302
    stored = snapshot(w, meeting_id)
    assert stored.status == "published" and stored.minutes_published_at is not None
    assert stored.minutes.endswith("- 下周清淤")

    published = client.get(api(w, f"/meetings/{meeting_id}"), headers=reader).get_json()
    assert published["status"] == "published"
    assert published["minutes"] == stored.minutes and "<li>下周清淤</li>" in published["minutes_html"]
    assert [(i["decision"], i["votes_for"]) for i in published["agenda"]] == [
        ("以界桩为准，双方各退半米", 7),
        ("草案公示一周", None),
        ("下周一清淤", None),
    ]

    client.post("/logout")
    html = html_of(client.get(page(w, f"/meetings/{meeting_id}")))
    assert 'data-meeting-status="published"' in html
    assert "<h1>纪要</h1>" in block_of(html, "minutes")
    assert html.count('data-testid="decision"') == 3
    listed = html_of(client.get(page(w, "/meetings/")))
    assert f"/meetings/{meeting_id}" in block_of(listed, "past-meetings")


def test_status_labels_name_every_status_and_show_on_the_pages(app, client, w):
    assert set(services.STATUS_LABELS) == set(MeetingStatus)
    with app.test_request_context(), force_locale("zh_CN"):
        labels = {status: str(label) for status, label in services.STATUS_LABELS.items()}
    assert len(set(labels.values())) == len(labels)  # four different words

    planned = convene(w, title="计划中的会")
    cancelled = convene(w, title="取消的会")
    cancel(w, cancelled, "大雨")
    published = convene(w, title="开过的会")
    mark_held(w, published)
    publish(w, published)
    for meeting_id, status in ((planned, "planned"), (cancelled, "cancelled"), (published, "published")):
        html = html_of(client.get(page(w, f"/meetings/{meeting_id}")))
        badge = re.search(rf'data-meeting-status="{status}">([^<]*)<', html)
        assert badge, status
        assert badge.group(1).strip() == labels[MeetingStatus(status)]
    cancelled_page = html_of(client.get(page(w, f"/meetings/{cancelled}")))
    assert "大雨" in cancelled_page


# --- refused steps change nothing ---------------------------------------------------------------------


def test_marking_held_before_half_an_hour_before_the_start_is_refused(client, login_as, w, writer):
    start = soon(120)
    meeting_id = convene(w, start=start)
    refused(
        w,
        ConflictError,
        lambda: services.mark_held(w.community, services.get_meeting(meeting_id), actor=Actor(user=w.moderator)),
    )
    assert_problem(client.post(api(w, f"/meetings/{meeting_id}/held"), headers=writer), 409)
    login_as(w.moderator)
    assert client.post(page(w, f"/meetings/{meeting_id}/held")).status_code == 302
    stored = snapshot(w, meeting_id)
    assert (stored.status, stored.held_at) == ("planned", None)

    # one second early is refused; exactly 30 minutes before the start is allowed
    early = start - services.CHECKIN_OPENS_BEFORE - timedelta(seconds=1)
    refused(
        w,
        ConflictError,
        lambda: services.mark_held(
            w.community, services.get_meeting(meeting_id), actor=Actor(user=w.moderator), at=early
        ),
    )
    mark_held(w, meeting_id, at=start - services.CHECKIN_OPENS_BEFORE)
    stored = snapshot(w, meeting_id)
    assert (stored.status, stored.held_at) == ("held", start - timedelta(minutes=30))
    # and held only once
    assert_problem(client.post(api(w, f"/meetings/{meeting_id}/held"), headers=writer), 409)


def test_decisions_wait_for_the_meeting_to_be_held(client, login_as, w, writer):
    raised = w.raise_matter(category="water")
    meeting_id = convene(w, matter_ids=[raised.id])
    item_id = snapshot(w, meeting_id).items[0].id
    data = {"decision": "清淤", "decision_kind": "consensus", "matter_action": "start"}

    def decide():
        meeting = services.get_meeting(meeting_id)
        services.decide(w.community, meeting, services.get_item(meeting, item_id), data, actor=Actor(user=w.moderator))

    refused(w, ConflictError, decide)
    assert_problem(
        client.post(api(w, f"/meetings/{meeting_id}/agenda/{item_id}/decision"), headers=writer, json=data), 409
    )
    login_as(w.moderator)
    response = client.post(page(w, f"/meetings/{meeting_id}/agenda/{item_id}/decision"), data=data)
    assert response.status_code == 422
    item = snapshot(w, meeting_id).items[0]
    assert (item.decision, item.decided_at, item.matter_action) == ("", None, "")
    assert w.matter(raised.id).status == Status.SUBMITTED


def test_invalid_decisions_are_refused_and_change_nothing(client, w, writer):
    raised = w.raise_matter(category="water")
    meeting_id = convene(w, matter_ids=[raised.id])
    topic_id = add_item(w, meeting_id, title="村规民约")
    mark_held(w, meeting_id)
    matter_item = snapshot(w, meeting_id).items[0].id
    url = api(w, f"/meetings/{meeting_id}/agenda/{{}}/decision")

    # a vote without its numbers
    body = assert_problem(
        client.post(url.format(matter_item), headers=writer, json={"decision": "通过", "decision_kind": "vote"}), 422
    )
    assert {"votes_for", "votes_against", "votes_abstain"} <= set(body["errors"])
    # moving the matter of a free topic
    body = assert_problem(
        client.post(url.format(topic_id), headers=writer, json={"decision": "通过", "matter_action": "resolve"}), 422
    )
    assert "matter_action" in body["errors"]
    # a decision that says nothing
    assert_problem(client.post(url.format(topic_id), headers=writer, json={"decision": "   "}), 422)

    # a matter that cannot start (resolved meanwhile): the decision is not kept either
    w.move(raised.id, "accept", by=w.moderator)
    w.move(raised.id, "resolve", by=w.moderator, note="已修好")
    assert_problem(
        client.post(url.format(matter_item), headers=writer, json={"decision": "开工", "matter_action": "start"}), 409
    )
    for item in snapshot(w, meeting_id).items:
        assert (item.decision, item.decided_at, item.decision_kind) == ("", None, None)
    assert w.matter(raised.id).status == Status.RESOLVED


def test_a_moderator_of_another_point_cannot_resolve_the_matter_through_a_decision(client, login_as, w):
    raised = w.raise_matter(category="water")  # group 1: the east point
    meeting_id = convene(w, matter_ids=[raised.id], by=w.west_moderator)
    mark_held(w, meeting_id, by=w.west_moderator)
    item_id = snapshot(w, meeting_id).items[0].id
    login_as(w.west_moderator)
    response = client.post(
        page(w, f"/meetings/{meeting_id}/agenda/{item_id}/decision"),
        data={"decision": "修好了", "matter_action": "resolve"},
    )
    assert response.status_code == 403
    assert snapshot(w, meeting_id).items[0].decision == ""
    assert w.matter(raised.id).status == Status.SUBMITTED


def test_publishing_empty_minutes_is_refused(client, login_as, w, writer):
    meeting_id = convene(w)
    # nothing to write or publish before the meeting is held
    refused(
        w,
        ConflictError,
        lambda: services.save_minutes(
            w.community, services.get_meeting(meeting_id), "早写", actor=Actor(user=w.moderator)
        ),
    )
    assert_problem(
        client.put(
            api(w, f"/meetings/{meeting_id}/minutes"), headers=writer, json={"minutes": "早写", "publish": True}
        ),
        409,
    )
    mark_held(w, meeting_id)
    refused(
        w,
        ValidationFailed,
        lambda: services.publish_minutes(w.community, services.get_meeting(meeting_id), actor=Actor(user=w.moderator)),
    )
    body = assert_problem(
        client.put(
            api(w, f"/meetings/{meeting_id}/minutes"), headers=writer, json={"minutes": "  \n ", "publish": True}
        ),
        422,
    )
    assert "minutes" in body["errors"]
    login_as(w.moderator)
    assert (
        client.post(page(w, f"/meetings/{meeting_id}/minutes"), data={"minutes": "", "publish": "1"}).status_code == 302
    )
    stored = snapshot(w, meeting_id)
    assert (stored.status, stored.minutes, stored.minutes_published_at) == ("held", "", None)

    publish(w, meeting_id, "# 纪要")
    assert snapshot(w, meeting_id).status == "published"
    # published minutes no longer change
    assert_problem(
        client.put(
            api(w, f"/meetings/{meeting_id}/minutes"), headers=writer, json={"minutes": "改写", "publish": False}
        ),
        409,
    )
    assert snapshot(w, meeting_id).minutes == "# 纪要"


def test_cancelling_needs_a_reason_and_a_planned_meeting(client, login_as, w, writer):
    meeting_id = convene(w)
    refused(
        w,
        ValidationFailed,
        lambda: services.cancel_meeting(
            w.community, services.get_meeting(meeting_id), "  ", actor=Actor(user=w.moderator)
        ),
    )
    assert_problem(client.post(api(w, f"/meetings/{meeting_id}/cancel"), headers=writer, json={"reason": ""}), 422)
    login_as(w.moderator)
    assert client.post(page(w, f"/meetings/{meeting_id}/cancel"), data={"reason": ""}).status_code == 422
    assert (snapshot(w, meeting_id).status, snapshot(w, meeting_id).cancel_reason) == ("planned", "")

    # a held meeting cannot be cancelled
    held_id = convene(w, title="开过的会")
    mark_held(w, held_id)
    refused(
        w,
        ConflictError,
        lambda: services.cancel_meeting(
            w.community, services.get_meeting(held_id), "算了", actor=Actor(user=w.moderator)
        ),
    )
    assert_problem(client.post(api(w, f"/meetings/{held_id}/cancel"), headers=writer, json={"reason": "算了"}), 409)
    assert client.post(page(w, f"/meetings/{held_id}/cancel"), data={"reason": "算了"}).status_code == 302
    assert (snapshot(w, held_id).status, snapshot(w, held_id).cancel_reason) == ("held", "")

    # with a reason, from the page
    assert client.post(page(w, f"/meetings/{meeting_id}/cancel"), data={"reason": "大雨，改期"}).status_code == 302
    stored = snapshot(w, meeting_id)
    assert (stored.status, stored.cancel_reason) == ("cancelled", "大雨，改期")
    # a cancelled meeting is not held afterwards, and takes no agenda
    assert_problem(client.post(api(w, f"/meetings/{meeting_id}/held"), headers=writer), 409)
    assert_problem(client.post(api(w, f"/meetings/{meeting_id}/agenda"), headers=writer, json={"title": "补充"}), 409)
    assert snapshot(w, meeting_id).status == "cancelled"


def test_agenda_refusals_change_nothing(client, login_as, w, writer, other_community, create_user):
    open_matter = w.raise_matter(category="water", title="水渠")
    finished = w.raise_matter(category="streetlight", title="路灯")
    w.move(finished.id, "reject", by=w.moderator, note="不属于社区")
    with tenancy.community_scope(other_community.id):
        categories.apply_template(other_community, "agriculture")
        db.session.commit()
    foreign_admin = create_user(community=other_community, role="admin")
    with tenancy.community_scope(other_community.id):
        foreign = matters.submit(
            other_community,
            {
                "title": "别村的事",
                "category_id": categories.list_categories()[0].id,
                "reporter_name": "外人",
                "reporter_phone": "13900000000",
                "parties": ["甲", "乙"],
            },
            channel="web",
            actor=Actor(user=foreign_admin),
        ).matter.id
        db.session.commit()

    meeting_id = convene(w, matter_ids=[open_matter.id])
    url = api(w, f"/meetings/{meeting_id}/agenda")
    # the same matter twice
    refused(
        w,
        ConflictError,
        lambda: services.add_agenda_item(
            w.community, services.get_meeting(meeting_id), actor=Actor(user=w.moderator), matter_id=open_matter.id
        ),
    )
    assert_problem(client.post(url, headers=writer, json={"matter_id": open_matter.id}), 409)
    # a finished matter
    refused(
        w,
        ValidationFailed,
        lambda: services.add_agenda_item(
            w.community, services.get_meeting(meeting_id), actor=Actor(user=w.moderator), matter_id=finished.id
        ),
    )
    assert (
        "matter_id" in assert_problem(client.post(url, headers=writer, json={"matter_id": finished.id}), 422)["errors"]
    )
    # another community's matter, and nothing at all
    assert_problem(client.post(url, headers=writer, json={"matter_id": foreign}), 422)
    assert_problem(client.post(url, headers=writer, json={}), 422)
    # from the matter's page: twice is refused too
    login_as(w.moderator)
    response = client.post(page(w, f"/matters/{open_matter.id}/agenda"), data={"meeting_id": str(meeting_id)})
    assert response.status_code == 302
    assert client.post(page(w, f"/matters/{open_matter.id}/agenda"), data={"meeting_id": "x"}).status_code == 302
    assert [(i.matter_id, i.position) for i in snapshot(w, meeting_id).items] == [(open_matter.id, 1)]
    assert [a for a, _s, _n in timeline(w, open_matter.id)].count("agenda") == 1
    assert [a for a, _s, _n in timeline(w, finished.id)].count("agenda") == 0

    # a published meeting's agenda no longer changes
    mark_held(w, meeting_id)
    publish(w, meeting_id)
    other = w.raise_matter(category="road", title="修路")
    refused(
        w,
        ConflictError,
        lambda: services.add_agenda_item(
            w.community, services.get_meeting(meeting_id), actor=Actor(user=w.moderator), title="追加"
        ),
    )
    assert_problem(client.post(url, headers=writer, json={"title": "追加议题"}), 409)
    assert client.post(page(w, f"/matters/{other.id}/agenda"), data={"meeting_id": str(meeting_id)}).status_code == 302
    assert len(snapshot(w, meeting_id).items) == 1
    assert [a for a, _s, _n in timeline(w, other.id)].count("agenda") == 0
    with tenancy.community_scope(other_community.id):
        assert (
            db.session.execute(
                select(func.count(TimelineEntry.id)).where(TimelineEntry.matter_id == foreign)
            ).scalar_one()
            == 1
        )


# --- 2. minutes carry no script ------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    handle_startendtag = handle_starttag


def tags_of(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.tags


def assert_no_script(html: str) -> None:
    """No script element, no event handler attribute, no javascript:/vbscript:/data: URL anywhere."""
    assert not re.search(r"<\s*script", html, re.I)
    assert not re.search(r"<[^>]*\son\w+\s*=", html, re.I)
    for tag, attrs in tags_of(html):
        assert tag not in ("script", "iframe", "object", "embed", "svg", "img", "style"), tag
        for name, value in attrs.items():
            assert not name.lower().startswith("on"), (tag, name)
            url = re.sub(r"[\s\x00-\x1f]", "", value).lower()
            assert not url.startswith(("javascript:", "vbscript:", "data:")), (tag, name, value)


HOSTILE_MINUTES = """# 会议纪要

<script>alert(1)</script>

<img src=x onerror=alert(1)>

[点我](javascript:alert(1)) [再点](JaVaScRiPt:alert(2)) [实体](&#106;avascript:alert(3)) <javascript:alert(4)>

<div onclick="steal()">原始 HTML</div> <a href="javascript:alert(5)">原始链接</a> <iframe src="https://evil.example"></iframe>

## 议定事项

- 第一项
- 第二项

| 事项 | 结果 |
|---|---|
| 路灯 | 修好 |

[社区官网](https://example.org/notes)
"""


def test_minutes_are_rendered_without_any_script(client, w, writer, reader):
    meeting_id = convene(w)
    mark_held(w, meeting_id)
    response = client.put(
        api(w, f"/meetings/{meeting_id}/minutes"), headers=writer, json={"minutes": HOSTILE_MINUTES, "publish": True}
    )
    assert response.status_code == 200, html_of(response)
    assert response.get_json()["status"] == "published"
    assert snapshot(w, meeting_id).minutes == HOSTILE_MINUTES.strip()  # stored as written, rendered safely

    for rendered in (
        response.get_json()["minutes_html"],
        client.get(api(w, f"/meetings/{meeting_id}"), headers=reader).get_json()["minutes_html"],
        block_of(html_of(client.get(page(w, f"/meetings/{meeting_id}"))), "minutes"),
    ):
        assert_no_script(rendered)
        tags = {tag for tag, _attrs in tags_of(rendered)}
        assert {"h1", "h2", "ul", "li", "table", "th", "td"} <= tags  # Markdown still renders
        assert "<h1>会议纪要</h1>" in rendered and "<li>第二项</li>" in rendered and "<td>修好</td>" in rendered
        links = [attrs for tag, attrs in tags_of(rendered) if tag == "a"]
        assert [a["href"] for a in links] == ["https://example.org/notes"]
        assert "noopener" in links[0]["rel"]

    # the whole page too: no handler attribute or javascript: URL anywhere, no injected script
    whole = html_of(client.get(page(w, f"/meetings/{meeting_id}")))
    assert "<script>alert" not in whole
    for _tag, attrs in tags_of(whole):
        assert not any(name.startswith("on") for name in attrs)
        assert not any(re.sub(r"\s", "", v).lower().startswith("javascript:") for v in attrs.values())


def test_unpublished_minutes_are_sanitised_for_their_writers_too(client, login_as, w):
    meeting_id = convene(w)
    mark_held(w, meeting_id)
    login_as(w.moderator)
    response = client.post(page(w, f"/meetings/{meeting_id}/minutes"), data={"minutes": HOSTILE_MINUTES})
    assert response.status_code == 302
    html = html_of(client.get(page(w, f"/meetings/{meeting_id}")))
    preview = re.search(r'<div class="minutes border rounded p-2 my-3">(.*?)</div>', html, re.S)
    assert preview, "the writer sees a preview of the saved minutes"
    assert_no_script(preview.group(1))
    assert "<h2>议定事项</h2>" in preview.group(1)


# --- 3. QR check-in -------------------------------------------------------------------------------------


def test_anonymous_qr_checkin_counts_each_person_once(client, w):
    meeting_id = convene(w)
    token = checkin_token(w, meeting_id)
    opened = client.get(checkin_url(w, meeting_id, token))
    assert opened.status_code == 200
    assert 'data-testid="checkin-form"' in html_of(opened) and 'name="phone"' in html_of(opened)

    response = checkin_post(
        client, w, meeting_id, token, name="王五", phone="13900001111", resident_group_id=w.groups[0]
    )
    assert response.status_code == 200 and 'data-testid="checked-in"' in html_of(response)
    first = attended(w, meeting_id)
    assert [(name, phone, group, method) for _p, name, phone, group, method in first] == [
        ("王五", "13900001111", w.groups[0], "qr")
    ]

    # the same person again: spaces in the name and phone, full-width digits
    for name, phone in (("王五", "13900001111"), (" 王 五 ", "139 0000 1111"), ("王五", "１３９００００１１１１")):
        again = checkin_post(client, w, meeting_id, token, name=name, phone=phone, resident_group_id=w.groups[0])
        assert again.status_code == 200 and 'data-testid="checked-in"' in html_of(again), (name, phone)
        assert attended(w, meeting_id) == first, (name, phone)
    assert participations(w, ParticipationKind.ATTENDED) == [(first[0][0], "attended", "meeting", meeting_id)]

    # the same name and phone in another group is another person
    checkin_post(client, w, meeting_id, token, name="王五", phone="13900001111", resident_group_id=w.groups[1])
    assert len(attended(w, meeting_id)) == 2
    assert len(participations(w, ParticipationKind.ATTENDED)) == 2

    # incomplete details check nobody in
    for fields in (
        {"name": "", "phone": "13900002222", "resident_group_id": w.groups[0]},
        {"name": "赵六", "phone": "12345", "resident_group_id": w.groups[0]},
        {"name": "赵六", "phone": "13900002222", "resident_group_id": ""},
    ):
        response = checkin_post(client, w, meeting_id, token, **fields)
        assert 'data-testid="checked-in"' not in html_of(response), fields
    assert len(attended(w, meeting_id)) == 2


def test_signed_in_members_check_in_with_one_tap_once(client, login_as, w):
    meeting_id = convene(w)
    token = checkin_token(w, meeting_id)
    login_as(w.resident)
    opened = html_of(client.get(checkin_url(w, meeting_id, token)))
    assert 'data-testid="checkin-form"' in opened and 'name="phone"' not in opened
    for _ in range(2):
        response = checkin_post(client, w, meeting_id, token)
        assert response.status_code == 200 and 'data-testid="checked-in"' in html_of(response)
    rows = attended(w, meeting_id)
    assert len(rows) == 1
    with w.scope():
        person = db.session.execute(select(Person).where(Person.id == rows[0][0])).scalar_one()
        assert (person.user_id, person.name) == (w.resident.id, w.resident.name)
    assert len(participations(w, ParticipationKind.ATTENDED)) == 1


def test_forged_checkin_codes_are_refused(app, client, w, other_community, create_user):
    meeting_id = convene(w)
    other_meeting = convene(w, title="另一场会")
    token = checkin_token(w, meeting_id)
    foreign_admin = create_user(community=other_community, role="admin")
    with tenancy.community_scope(other_community.id):
        start = soon()
        foreign = services.create_meeting(
            other_community,
            {"title": "别村的会", "starts_at": start, "ends_at": start + timedelta(hours=1)},
            actor=Actor(user=foreign_admin),
        )
        foreign_token = services.checkin_token(foreign)
        db.session.commit()
    payload, signature = token.rsplit(".", 1)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    other_payload = checkin_token(w, other_meeting).rsplit(".", 1)[0]
    wrong_key = URLSafeSerializer("not the server's key", salt="yishi.meeting-checkin").dumps(
        {"m": meeting_id, "c": w.community.id}
    )
    forged = {
        "altered signature": f"{payload}.{flipped}",
        "altered payload": f"{other_payload}.{signature}",
        "another meeting's": checkin_token(w, other_meeting),
        "another community's": foreign_token,
        "signed with another key": wrong_key,
        "garbage": "not-a-token",
        "none": "",
    }
    for label, bad in forged.items():
        got = client.get(checkin_url(w, meeting_id, bad))
        assert got.status_code == 403, label
        assert 'data-testid="checkin-refused"' in html_of(got) and 'data-testid="checkin-form"' not in html_of(got)
        posted = checkin_post(
            client, w, meeting_id, bad, name="冒充者", phone="13900009999", resident_group_id=w.groups[0]
        )
        assert posted.status_code == 403, label
        assert 'data-testid="checkin-refused"' in html_of(posted)
    assert attended(w, meeting_id) == [] and attended(w, other_meeting) == []
    assert participations(w) == []
    # the genuine code still works
    assert client.get(checkin_url(w, meeting_id, token)).status_code == 200


def test_checkin_is_open_from_half_an_hour_before_the_start_to_half_an_hour_after_the_end(client, w):
    start = datetime(2031, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    meeting_id = convene(w, start=start, hours=2)
    token = checkin_token(w, meeting_id)
    with w.scope():
        meeting = services.get_meeting(meeting_id)
        opens, closes = services.checkin_window(meeting)
        assert (opens, closes) == (start - timedelta(minutes=30), start + timedelta(hours=2, minutes=30))
        services.verify_checkin(meeting, token, now=opens)
        services.verify_checkin(meeting, token, now=closes)
        for outside in (opens - timedelta(seconds=1), closes + timedelta(seconds=1)):
            with pytest.raises(ConflictError):
                services.verify_checkin(meeting, token, now=outside)

    fields = {"name": "早到的人", "phone": "13900003333", "resident_group_id": w.groups[0]}
    for moment in (start - timedelta(minutes=31), start + timedelta(hours=2, minutes=31), start + timedelta(days=3)):
        with time_machine.travel(moment, tick=False):
            got = client.get(checkin_url(w, meeting_id, token))
            assert got.status_code == 403 and 'data-testid="checkin-refused"' in html_of(got), moment
            assert checkin_post(client, w, meeting_id, token, **fields).status_code == 403
    assert attended(w, meeting_id) == []

    with time_machine.travel(start - timedelta(minutes=29), tick=False):
        response = checkin_post(client, w, meeting_id, token, **fields)
        assert response.status_code == 200 and 'data-testid="checked-in"' in html_of(response)
    with time_machine.travel(start + timedelta(hours=2, minutes=29), tick=False):
        late = {**fields, "name": "晚到的人", "phone": "13900004444"}
        assert 'data-testid="checked-in"' in html_of(checkin_post(client, w, meeting_id, token, **late))
    assert [name for _p, name, *_rest in attended(w, meeting_id)] == ["早到的人", "晚到的人"]
    with w.scope():
        times = list(db.session.execute(select(Attendance.checked_in_at).order_by(Attendance.id)).scalars())
    assert times == [start - timedelta(minutes=29), start + timedelta(hours=2, minutes=29)]


def test_checkin_for_cancelled_and_published_meetings_is_refused_but_open_once_held(client, w):
    cancelled = convene(w, title="取消的会")
    cancel(w, cancelled)
    held = convene(w, title="正在开的会")
    mark_held(w, held)
    fields = {"name": "李四", "phone": "13900005555", "resident_group_id": w.groups[0]}
    response = checkin_post(client, w, cancelled, checkin_token(w, cancelled), **fields)
    assert response.status_code == 403 and 'data-testid="checkin-refused"' in html_of(response)
    response = checkin_post(client, w, held, checkin_token(w, held), **fields)
    assert response.status_code == 200 and 'data-testid="checked-in"' in html_of(response)
    publish(w, held)
    response = checkin_post(client, w, held, checkin_token(w, held), **{**fields, "name": "张三"})
    assert response.status_code == 403
    assert attended(w, cancelled) == [] and [r[1] for r in attended(w, held)] == ["李四"]


def test_manual_checkin_by_moderators_only_and_masked_for_others(client, login_as, w, writer, reader):
    meeting_id = convene(w)
    login_as(w.moderator)
    response = client.post(
        page(w, f"/meetings/{meeting_id}/attendance"),
        data={"name": "张大爷", "phone": "13900006666", "resident_group_id": str(w.groups[0])},
    )
    assert response.status_code == 302
    with w.scope():
        entry = db.session.execute(select(Attendance)).scalar_one()
        assert (entry.method, entry.checked_in_by_id) == (CheckInMethod.MANUAL, w.moderator.id)

    # the same person again through the API: counted once
    url = api(w, f"/meetings/{meeting_id}/attendance")
    again = client.post(
        url, headers=writer, json={"name": "张大爷", "phone": " 139 0000 6666 ", "resident_group_id": w.groups[0]}
    )
    assert again.status_code == 200, html_of(again)
    assert again.get_json() == {"new": False, "attendance_count": 1}
    other = client.post(
        url, headers=writer, json={"name": "李大妈", "phone": "13900007777", "resident_group_id": w.groups[1]}
    )
    assert other.get_json() == {"new": True, "attendance_count": 2}
    assert_problem(
        client.post(url, headers=writer, json={"name": "无组", "phone": "13900008888", "resident_group_id": 999999}),
        422,
    )
    assert len(participations(w, ParticipationKind.ATTENDED)) == 2

    # writers see names and phones; the page lists them
    full = client.get(url, headers=writer).get_json()
    assert [(p["name"], p["phone"], p["method"]) for p in full] == [
        ("张大爷", "13900006666", "manual"),
        ("李大妈", "13900007777", "manual"),
    ]
    moderator_page = html_of(client.get(page(w, f"/meetings/{meeting_id}")))
    assert "13900006666" in block_of(moderator_page, "attendance")

    # a read-only token sees them masked
    masked = client.get(url, headers=reader)
    assert masked.status_code == 200
    assert [(p["name"], p["phone"], p["resident_group_id"]) for p in masked.get_json()] == [
        ("张**", "139****6666", w.groups[0]),
        ("李**", "139****7777", w.groups[1]),
    ]
    # and may not check anyone in
    assert_problem(
        client.post(url, headers=reader, json={"name": "王", "phone": "13900001212", "resident_group_id": w.groups[0]}),
        403,
    )

    # residents cannot check in by hand, nor see who came
    client.post("/logout")
    login_as(w.resident)
    response = client.post(
        page(w, f"/meetings/{meeting_id}/attendance"),
        data={"name": "假装的人", "phone": "13900009090", "resident_group_id": str(w.groups[0])},
    )
    assert response.status_code == 403
    resident_page = html_of(client.get(page(w, f"/meetings/{meeting_id}")))
    assert 'data-testid="attendance"' not in resident_page
    assert "13900006666" not in resident_page and "张大爷" not in resident_page
    assert block_of(resident_page, "attendance-count").strip() == "2"
    refused(
        w,
        PermissionDenied,
        lambda: services.check_in(
            w.community,
            services.get_meeting(meeting_id),
            services.person_from({"name": "假装的人", "phone": "13900009090", "resident_group_id": w.groups[0]}),
            method=CheckInMethod.MANUAL,
            by=Actor(user=w.resident),
        ),
    )
    assert count(w, Person.id) == 2  # the refused check-in left no person behind
    assert len(attended(w, meeting_id)) == 2

    # nobody is checked in by hand once the meeting is over
    mark_held(w, meeting_id)
    publish(w, meeting_id)
    assert_problem(
        client.post(
            url, headers=writer, json={"name": "迟到", "phone": "13900001313", "resident_group_id": w.groups[0]}
        ),
        409,
    )
    assert len(attended(w, meeting_id)) == 2


# --- 4. online comments and volunteers ------------------------------------------------------------------


def test_members_comment_online_before_the_meeting(client, login_as, w, writer):
    raised = w.raise_matter(category="water")
    meeting_id = convene(w, matter_ids=[raised.id])
    item_id = snapshot(w, meeting_id).items[0].id
    url = page(w, f"/meetings/{meeting_id}/agenda/{item_id}/comments")

    # anonymous: sent to sign in, nothing recorded; the service refuses strangers and tokens
    response = client.post(url, data={"body": "匿名意见"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]

    def comment_as(actor):
        def call():
            meeting = services.get_meeting(meeting_id)
            services.comment(w.community, meeting, services.get_item(meeting, item_id), "意见", actor=actor)

        return call

    with w.scope():
        robot = _token(w)
    refused(w, NotFoundError, comment_as(Actor()))
    refused(w, PermissionDenied, comment_as(Actor(token=robot)))
    assert count(w, AgendaComment.id) == 0

    login_as(w.resident)
    assert client.post(url, data={"body": "建议先清淤再加盖板"}).status_code == 302
    assert client.post(url, data={"body": ""}).status_code == 422
    with w.scope():
        rows = db.session.execute(select(AgendaComment.agenda_item_id, AgendaComment.body)).all()
    assert rows == [(item_id, "建议先清淤再加盖板")]
    assert [(k, t, s) for _p, k, t, s in participations(w, ParticipationKind.COMMENTED)] == [
        ("commented", "agenda_item", item_id)
    ]
    html = html_of(client.get(page(w, f"/meetings/{meeting_id}")))
    assert "建议先清淤再加盖板" in html

    # closed once the meeting is held
    mark_held(w, meeting_id)
    assert client.post(url, data={"body": "会后补充"}).status_code == 302
    assert count(w, AgendaComment.id) == 1
    html = html_of(client.get(page(w, f"/meetings/{meeting_id}")))
    assert f"/agenda/{item_id}/comments" not in html


def _token(w):
    from yishi.modules.accounts.models import ApiToken
    from yishi.modules.accounts.services import create_token

    token, _secret = create_token(name="robot", scopes="all", community=w.community)
    db.session.commit()
    assert isinstance(token, ApiToken)
    return token


def test_volunteers_are_listed_on_the_matter_and_counted_once(client, login_as, w):
    raised = w.raise_matter(category="road", title="村道坑洼")
    url = page(w, f"/matters/{raised.id}/volunteer")

    response = client.post(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert count(w, Volunteer.id) == 0

    login_as(w.staff)  # reads the community's matters, does not handle them
    html = html_of(client.get(page(w, f"/matters/{raised.id}")))
    assert 'data-testid="volunteer"' in html
    for _ in range(2):
        response = client.post(url, data={"note": "我有铲车"})
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/matters/{raised.id}")
    with w.scope():
        offers = db.session.execute(select(Volunteer.matter_id, Volunteer.note)).all()
    assert offers == [(raised.id, "我有铲车")]
    assert [(k, t, s) for _p, k, t, s in participations(w, ParticipationKind.VOLUNTEERED)] == [
        ("volunteered", "matter", raised.id)
    ]
    assert [a for a, _s, _n in timeline(w, raised.id)].count("volunteer") == 1

    listed = block_of(html_of(client.get(page(w, f"/matters/{raised.id}"))), "volunteers")
    assert w.staff.name[0] + "**" in listed and w.staff.name not in listed  # masked but for handlers
    client.post("/logout")
    login_as(w.moderator)
    assert w.staff.name in block_of(html_of(client.get(page(w, f"/matters/{raised.id}"))), "volunteers")

    # a finished matter takes no more volunteers
    w.move(raised.id, "reject", by=w.moderator, note="重复")
    refused(
        w,
        ConflictError,
        lambda: matters.volunteer(w.community, matters.get_matter(raised.id), actor=Actor(user=w.staff)),
    )
    assert count(w, Volunteer.id) == 1


# --- 5. distinct participants -----------------------------------------------------------------------------


def test_the_same_resident_counts_once_across_channels(client, login_as, w):
    raised = w.raise_matter(by=w.resident, category="water", title="水渠")
    meeting_id = convene(w, matter_ids=[raised.id])
    item_id = snapshot(w, meeting_id).items[0].id
    login_as(w.resident)
    assert (
        client.post(page(w, f"/meetings/{meeting_id}/agenda/{item_id}/comments"), data={"body": "支持"}).status_code
        == 302
    )
    token = checkin_token(w, meeting_id)
    assert 'data-testid="checked-in"' in html_of(checkin_post(client, w, meeting_id, token))
    assert client.post(page(w, f"/matters/{raised.id}/volunteer")).status_code == 302

    assert by_kind(w) == {"raised": 1, "attended": 1, "commented": 1, "volunteered": 1}
    assert distinct(w) == 1
    assert len({person for person, *_rest in participations(w)}) == 1
    with w.scope():
        assert db.session.execute(select(Person.user_id)).scalars().all() == [w.resident.id]

    # a moderator selection: the resident nominated, the moderator scores
    with w.scope():
        selection.ensure_default_criteria(w.community)
        selection_round = selection.open_round(
            w.community, {"title": "2031 议事员", "evaluator_ids": [w.moderator.id]}, actor=Actor(user=w.admin)
        )
        candidate = selection.nominate(
            w.community, selection_round, user_id=w.resident.id, reason="热心", actor=Actor(user=w.moderator)
        )
        criteria = [rc.criterion_id for rc, _c in selection.round_criteria(selection_round)]
        selection.score_candidate(
            w.community, selection_round, candidate, {c: 4 for c in criteria}, actor=Actor(user=w.moderator)
        )
        db.session.commit()
    assert by_kind(w) == {
        "raised": 1,
        "attended": 1,
        "commented": 1,
        "volunteered": 1,
        "nominated": 1,
        "evaluated": 1,
    }
    assert distinct(w) == 2  # the resident, and the moderator who evaluated


def test_an_anonymous_reporter_who_checks_in_counts_once(client, w):
    w.raise_matter()  # anonymous: 王秀英, 13912345678, group 1
    meeting_id = convene(w)
    token = checkin_token(w, meeting_id)
    response = checkin_post(
        client, w, meeting_id, token, name=f" {ANON_NAME} ", phone="139 1234 5678", resident_group_id=w.groups[0]
    )
    assert 'data-testid="checked-in"' in html_of(response)
    assert distinct(w) == 1
    assert by_kind(w) == {"raised": 1, "attended": 1}
    assert count(w, Person.id) == 1

    # full-width digits on a phone keyboard: still the same person
    second = convene(w, title="第二场")
    response = checkin_post(
        client,
        w,
        second,
        checkin_token(w, second),
        name=ANON_NAME,
        phone="１３９１２３４５６７８",
        resident_group_id=w.groups[0],
    )
    assert 'data-testid="checked-in"' in html_of(response)
    assert distinct(w) == 1 and count(w, Person.id) == 1
    assert len(participations(w, ParticipationKind.ATTENDED)) == 2

    # the same name and phone in another group is someone else
    response = checkin_post(
        client, w, meeting_id, token, name=ANON_NAME, phone=ANON_PHONE, resident_group_id=w.groups[2]
    )
    assert 'data-testid="checked-in"' in html_of(response)
    assert distinct(w) == 2
    assert by_kind(w) == {"raised": 1, "attended": 2}

    # a reporter who typed full-width digits, checking in with ASCII ones: one person, phone stored in ASCII
    reported = w.raise_matter(
        reporter_name="周七", reporter_phone="１３９ ００００ ４３２１", resident_group_id=w.groups[1]
    )
    assert w.matter(reported.id).reporter_phone == "13900004321"
    response = checkin_post(
        client, w, second, checkin_token(w, second), name="周七", phone="13900004321", resident_group_id=w.groups[1]
    )
    assert 'data-testid="checked-in"' in html_of(response)
    assert distinct(w) == 3
    assert by_kind(w) == {"raised": 2, "attended": 3}


# --- 3b. a member is one person, with or without signing in ------------------------------------------
# The rule: a name and phone that are, normalised, those of one account of the community (a member, or an
# account already in its ledger) are that account's person in the ledger, whoever types them and where;
# and an account used after its holder was recorded by name and phone takes that record over.
RESIDENT_NAME, RESIDENT_PHONE = "陈居民", "13711112222"  # matter_world's resident with an account


def person_ids(w) -> list[tuple[int, int | None]]:
    """(id, account) of every person in the community's ledger."""
    with w.scope():
        return [tuple(row) for row in db.session.execute(select(Person.id, Person.user_id).order_by(Person.id))]


def hand_check_in_page(client, w, meeting_id: int, name: str, phone: str, group: int):
    return client.post(
        page(w, f"/meetings/{meeting_id}/attendance"),
        data={"name": name, "phone": phone, "resident_group_id": str(group)},
    )


def test_a_member_checked_in_by_hand_is_counted_once_on_the_page_and_the_api(client, login_as, w, writer):
    raised = w.raise_matter(by=w.resident, category="water", title="水渠")
    first, second = convene(w, matter_ids=[raised.id]), convene(w, title="第二场")
    assert distinct(w) == 1
    [(account_person, account)] = person_ids(w)
    assert account == w.resident.id

    # by hand on the page, typed as a moderator types it: spaces, another resident group than none
    login_as(w.moderator)
    response = hand_check_in_page(client, w, first, " 陈 居民 ", "137 1111 2222", w.groups[1])
    assert response.status_code == 302
    assert distinct(w) == 1 and person_ids(w) == [(account_person, w.resident.id)]
    assert [(pid, name, group, method) for pid, name, _phone, group, method in attended(w, first)] == [
        (account_person, RESIDENT_NAME, w.groups[1], "manual")
    ]

    # through the API, full-width digits: the same person, already there at the first meeting
    url = api(w, f"/meetings/{first}/attendance")
    body = {"name": RESIDENT_NAME, "phone": "１３７１１１１２２２２", "resident_group_id": w.groups[1]}
    assert client.post(url, headers=writer, json=body).get_json() == {"new": False, "attendance_count": 1}
    again = client.post(api(w, f"/meetings/{second}/attendance"), headers=writer, json=body)
    assert again.get_json() == {"new": True, "attendance_count": 1}
    assert distinct(w) == 1 and by_kind(w) == {"raised": 1, "attended": 1}
    assert {pid for pid, *_rest in participations(w)} == {account_person}

    # and signing in at the door afterwards changes nothing
    client.post("/logout")
    login_as(w.resident)
    response = checkin_post(client, w, second, checkin_token(w, second))
    assert 'data-testid="checked-in"' in html_of(response)
    assert len(attended(w, second)) == 1 and distinct(w) == 1

    # a phone is not a person: someone else of the household with the resident's phone is someone else
    client.post(api(w, f"/meetings/{first}/attendance"), headers=writer, json={**body, "name": "陈奶奶"})
    assert distinct(w) == 2
    assert [account for _id, account in person_ids(w)] == [w.resident.id, None]


def test_a_member_checking_in_by_qr_without_signing_in_is_counted_once(client, w):
    meeting_id = convene(w)
    token = checkin_token(w, meeting_id)
    stranger = checkin_post(
        client, w, meeting_id, token, name="路人", phone="13700009999", resident_group_id=w.groups[0]
    )
    member = checkin_post(
        client, w, meeting_id, token, name=RESIDENT_NAME, phone=" 137 1111 2222", resident_group_id=w.groups[0]
    )
    # the page says the same to a member as to anyone: nothing tells whether the phone is a member's
    assert member.status_code == stranger.status_code == 200
    assert block_of(html_of(member), "checked-in") == block_of(html_of(stranger), "checked-in")
    assert RESIDENT_NAME not in html_of(member).replace(f'value="{RESIDENT_NAME}"', "")
    assert [account for _id, account in person_ids(w)] == [None, w.resident.id]

    # the member's own raising of a matter, signed in, later: still one person
    w.raise_matter(by=w.resident)
    assert distinct(w) == 2 and by_kind(w) == {"attended": 2, "raised": 1}


def test_a_member_raising_a_matter_by_name_and_phone_is_counted_once(client, w, writer, login_as):
    w.raise_matter(reporter_name=RESIDENT_NAME, reporter_phone="137 1111 2222")  # on the web, not signed in
    assert person_ids(w) == [(person_ids(w)[0][0], w.resident.id)]
    recorded = client.post(
        f"/api/v1/communities/{w.community.slug}/matters",
        headers=writer,
        json={
            "title": "组道坑洼",
            "category_id": w.categories["road"],
            "resident_group_id": w.groups[2],
            "reporter_name": RESIDENT_NAME,
            "reporter_phone": RESIDENT_PHONE,
            "channel": "phone",
        },
    )
    assert recorded.status_code == 201, html_of(recorded)
    assert distinct(w) == 1 and by_kind(w) == {"raised": 1}
    assert len(participations(w, ParticipationKind.RAISED)) == 2
    # only the ledger joins them: the matters keep what was typed and are not the account's
    with w.scope():
        matters_of = db.session.execute(select(Matter.reporter_user_id, Matter.reporter_name)).all()
    assert sorted(matters_of) == [(None, RESIDENT_NAME), (None, RESIDENT_NAME)]
    login_as(w.resident)
    meeting_id = convene(w)
    checkin_post(client, w, meeting_id, checkin_token(w, meeting_id))
    assert distinct(w) == 1 and by_kind(w) == {"raised": 1, "attended": 1}


def test_an_account_used_after_its_holder_was_checked_in_by_hand_is_the_same_person(
    client, login_as, w, writer, create_user
):
    first, second, third = convene(w), convene(w, title="第二场"), convene(w, title="第三场")
    for meeting_id, group in ((first, w.groups[0]), (second, w.groups[0]), (second, w.groups[1])):
        response = client.post(
            api(w, f"/meetings/{meeting_id}/attendance"),
            headers=writer,
            json={"name": "刘桂芳", "phone": "13655556666", "resident_group_id": group},
        )
        assert response.status_code == 200
    # two records: the moderator chose another group once, so today's rule saw two people
    assert distinct(w) == 2 and len(attended(w, second)) == 2

    # she gets an account, and checks in with it: one person, who attended two meetings, then three
    newcomer = create_user(community=w.community, role="resident", name="刘桂芳", phone="136 5555 6666")
    login_as(newcomer)
    assert 'data-testid="checked-in"' in html_of(checkin_post(client, w, third, checkin_token(w, third)))
    [(person, account)] = person_ids(w)
    assert account == newcomer.id
    assert distinct(w) == 1 and by_kind(w) == {"attended": 1}
    assert [(meeting, subject) for _p, _k, meeting, subject in participations(w)] == [
        ("meeting", first),
        ("meeting", second),
        ("meeting", third),
    ]
    assert [len(attended(w, m)) for m in (first, second, third)] == [1, 1, 1]
    assert {pid for m in (first, second, third) for pid, *_rest in attended(w, m)} == {person}


def test_two_accounts_with_the_same_name_and_phone_are_not_guessed_between(client, w, writer, create_user):
    twin = create_user(community=w.community, role="resident", name=RESIDENT_NAME, phone=RESIDENT_PHONE)
    meeting_id = convene(w)
    client.post(
        api(w, f"/meetings/{meeting_id}/attendance"),
        headers=writer,
        json={"name": RESIDENT_NAME, "phone": RESIDENT_PHONE, "resident_group_id": w.groups[0]},
    )
    assert [account for _id, account in person_ids(w)] == [None]
    assert twin.id != w.resident.id


def test_the_same_name_and_phone_in_another_community_is_another_person_there(
    client, w, writer, other_community, create_user, token_for
):
    meeting_id = convene(w)
    body = {"name": RESIDENT_NAME, "phone": RESIDENT_PHONE, "resident_group_id": w.groups[0]}
    client.post(api(w, f"/meetings/{meeting_id}/attendance"), headers=writer, json=body)
    assert [account for _id, account in person_ids(w)] == [w.resident.id]

    # in a community where the resident is no member, the same name and phone are someone of that community
    other_admin = create_user(community=other_community, role="admin", phone="13600000000")
    with tenancy.community_scope(other_community.id):
        start = soon()
        foreign = services.create_meeting(
            other_community,
            {"title": "别村的会", "starts_at": start, "ends_at": start + timedelta(hours=1)},
            actor=Actor(user=other_admin),
        )
        group = db.session.execute(select(ResidentGroup.id).order_by(ResidentGroup.id)).scalars().first()
        db.session.commit()
        foreign_id = foreign.id
    other_writer = bearer(token_for(community=other_community))
    response = client.post(
        f"/api/v1/communities/{other_community.slug}/meetings/{foreign_id}/attendance",
        headers=other_writer,
        json={**body, "resident_group_id": group},
    )
    assert response.get_json() == {"new": True, "attendance_count": 1}
    with tenancy.community_scope(other_community.id):
        there = db.session.execute(select(Person.user_id, Person.community_id)).all()
        assert [tuple(row) for row in there] == [(None, other_community.id)]
        assert participation.distinct_participants() == 1
    assert distinct(w) == 1 and [account for _id, account in person_ids(w)] == [w.resident.id]

    # a member of both is one person in each, each community counting its own
    accounts_both = create_user(community=other_community, role="resident", name="两边的人", phone="13611110000")
    with w.scope():
        accounts.add_member(w.community, accounts_both, CommunityRole.RESIDENT)
        db.session.commit()
    client.post(
        api(w, f"/meetings/{meeting_id}/attendance"),
        headers=writer,
        json={"name": "两边的人", "phone": "13611110000", "resident_group_id": w.groups[0]},
    )
    client.post(
        f"/api/v1/communities/{other_community.slug}/meetings/{foreign_id}/attendance",
        headers=other_writer,
        json={"name": "两边的人", "phone": "13611110000", "resident_group_id": group},
    )
    with tenancy.community_scope(other_community.id):
        there = sorted(db.session.execute(select(Person.user_id)).scalars(), key=lambda u: u or 0)
        assert there == [None, accounts_both.id] and participation.distinct_participants() == 2
    assert distinct(w) == 2 and [account for _id, account in person_ids(w)] == [w.resident.id, accounts_both.id]


def test_a_hand_check_in_before_the_window_opens_is_refused_and_writes_nothing(client, login_as, w, writer):
    start = datetime(2031, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    meeting_id = convene(w, start=start)
    opens = start - services.CHECKIN_OPENS_BEFORE
    url = api(w, f"/meetings/{meeting_id}/attendance")
    body = {"name": "早到的人", "phone": "13900003333", "resident_group_id": w.groups[0]}
    for moment in (start - timedelta(days=1), opens - timedelta(seconds=1)):
        with time_machine.travel(moment, tick=False):
            login_as(w.moderator)  # a session of that day
            problem = assert_problem(client.post(url, headers={**writer, "Accept-Language": "en"}, json=body), 409)
            assert problem["detail"] == "Check-in opens 30 minutes before the meeting starts."
            response = hand_check_in_page(client, w, meeting_id, body["name"], body["phone"], w.groups[0])
            assert response.status_code == 422
            assert "会议开始前 30 分钟开放签到。" in html_of(response)  # the community's language
            # the signed-in member too: refused by the QR code's same window
            refused(
                w,
                ConflictError,
                lambda: services.check_in_person(
                    w.community,
                    services.get_meeting(meeting_id),
                    {"name": RESIDENT_NAME, "phone": RESIDENT_PHONE, "resident_group_id": w.groups[0]},
                    method=CheckInMethod.MANUAL,
                    by=Actor(user=w.moderator),
                ),
            )
    assert attended(w, meeting_id) == [] and participations(w) == [] and person_ids(w) == []

    # from the opening on, by hand as by QR
    with time_machine.travel(opens, tick=False):
        login_as(w.moderator)
        assert client.post(url, headers=writer, json=body).get_json() == {"new": True, "attendance_count": 1}
        response = hand_check_in_page(client, w, meeting_id, "也早到", "13900004444", w.groups[0])
        assert response.status_code == 302
    with w.scope():
        times = list(db.session.execute(select(Attendance.checked_in_at).order_by(Attendance.id)).scalars())
    assert times == [opens, opens]


def test_identity_keys_normalise_what_people_type():
    same = [
        participation.identity_key(name="王秀英", phone="13912345678", group_id=3),
        participation.identity_key(name=" 王 秀英", phone="139 1234 5678", group_id=3),
        participation.identity_key(name="王秀英", phone="139-1234-5678", group_id=3),
        participation.identity_key(name="王秀英", phone="１３９１２３４５６７８", group_id=3),
    ]
    assert len(set(same)) == 1
    assert participation.identity_key(name="Wang Xiu", phone="1", group_id=1) == participation.identity_key(
        name="wangxiu", phone="1", group_id=1
    )
    assert participation.identity_key(name="王秀英", phone="13912345678", group_id=4) != same[0]
    assert participation.identity_key(name="王秀英", phone="13912345679", group_id=3) != same[0]
    assert participation.identity_key(user_id=7, name="王秀英", phone="13912345678", group_id=3) == "user:7"


def test_participants_are_counted_in_a_half_open_period(w):
    t0 = datetime(2030, 3, 1, tzinfo=UTC)
    t1 = datetime(2030, 4, 1, tzinfo=UTC)
    w.raise_matter(at=t0)  # anonymous 王秀英
    w.raise_matter(by=w.resident, at=t1 - timedelta(seconds=1))
    w.raise_matter(reporter_name="赵六", reporter_phone="13900001234", at=t1)
    assert distinct(w, t0, t1) == 2
    assert distinct(w, t0 + timedelta(seconds=1), t1) == 1
    assert distinct(w, t0, t1 + timedelta(seconds=1)) == 3
    assert distinct(w, t1, None) == 1 and distinct(w, None, t0) == 0 and distinct(w) == 3
    assert by_kind(w, t0, t1) == {"raised": 2}
    assert by_kind(w, t1 + timedelta(seconds=1), None) == {}

    # meetings held count by their start, held or published only
    held = convene(w, start=t0, title="三月会")
    mark_held(w, held, at=t0)
    published = convene(w, start=t1 - timedelta(hours=2), title="月底会")
    mark_held(w, published, at=t1 - timedelta(hours=2))
    publish(w, published)
    at_the_end = convene(w, start=t1, title="四月会")
    mark_held(w, at_the_end, at=t1)
    convene(w, start=t0 + timedelta(days=1), title="没开的会")
    cancel(w, convene(w, start=t0 + timedelta(days=2), title="取消的会"))
    with w.scope():
        assert services.meetings_held(t0, t1) == 2
        assert services.meetings_held(t0 + timedelta(seconds=1), t1) == 1
        assert services.meetings_held(t0, t1 + timedelta(seconds=1)) == 3
        assert services.meetings_held() == 3


def test_participation_figures_through_the_api_and_the_page(client, login_as, w, reader, other_community, token_for):
    zone_new_year = datetime(2029, 12, 31, 16, 0, tzinfo=UTC)  # 2030-01-01 00:00 in Shanghai
    w.raise_matter(at=zone_new_year - timedelta(seconds=1))  # 2029 locally
    w.raise_matter(by=w.resident, at=zone_new_year)  # 2030 locally
    w.raise_matter(reporter_name="赵六", reporter_phone="13900001234", at=datetime(2030, 6, 1, tzinfo=UTC))
    w.raise_matter(reporter_name="赵六", reporter_phone="13900001234", at=datetime(2030, 7, 1, tzinfo=UTC))
    meeting_id = convene(w, start=datetime(2030, 6, 1, 1, 0, tzinfo=UTC))
    mark_held(w, meeting_id, at=datetime(2030, 6, 1, 1, 0, tzinfo=UTC))
    convene(w, start=datetime(2030, 7, 1, 1, 0, tzinfo=UTC), title="没开")

    url = api(w, "/participation")
    figures = client.get(
        url, headers=reader, query_string={"start": "2030-01-01T00:00:00+08:00", "end": "2031-01-01T00:00:00+08:00"}
    )
    assert figures.status_code == 200, html_of(figures)
    assert figures.get_json() == {"distinct_participants": 2, "by_kind": {"raised": 2}, "meetings_held": 1}
    everything = client.get(url, headers=reader).get_json()
    assert (everything["distinct_participants"], everything["by_kind"]) == (3, {"raised": 3})
    june = client.get(
        url, headers=reader, query_string={"start": "2030-06-01T00:00:00Z", "end": "2030-07-01T00:00:00Z"}
    ).get_json()
    assert june == {"distinct_participants": 1, "by_kind": {"raised": 1}, "meetings_held": 1}
    assert_problem(client.get(url, headers=reader, query_string={"start": "2030-01-01T00:00:00"}), 422)
    assert_problem(client.get(url, headers=bearer(token_for(community=other_community))), 404)

    assert client.get(page(w, "/participation")).status_code == 302  # sign in first
    login_as(w.resident)
    html = html_of(client.get(page(w, "/participation?year=2030")))
    assert block_of(html, "participants").strip() == "2"
    assert block_of(html, "meetings-held").strip() == "1"
    assert re.search(r"<td[^>]*>2</td>", block_of(html, "by-kind"))
    html = html_of(client.get(page(w, "/participation?year=2029")))
    assert (block_of(html, "participants").strip(), block_of(html, "meetings-held").strip()) == ("1", "0")


# --- 6. iCalendar ---------------------------------------------------------------------------------------


def _events(response) -> dict[str, icalendar.Event]:
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    return {str(event.get("summary")): event for event in calendar.walk("VEVENT")}


def test_icalendar_feeds(client, w, other_community, create_user):
    start = soon(24 * 60)
    first = convene(w, start=start, title="东门议事会", location="村委会二楼")
    second = convene(w, start=start + timedelta(days=7), title="西门议事会", point_id=w.west)
    cancelled = convene(w, start=start + timedelta(days=1), title="取消的会")
    cancel(w, cancelled)
    convene(w, start=utcnow() - timedelta(days=40), title="很久以前的会")
    foreign_admin = create_user(community=other_community, role="admin")
    with tenancy.community_scope(other_community.id):
        foreign = services.create_meeting(
            other_community,
            {"title": "别村的会", "starts_at": start, "ends_at": start + timedelta(hours=1)},
            actor=Actor(user=foreign_admin),
        ).id
        db.session.commit()

    events = _events(client.get(page(w, "/meetings.ics")))
    assert set(events) == {"东门议事会", "西门议事会", "取消的会"}
    event = events["东门议事会"]
    assert event.decoded("dtstart") == start and event.decoded("dtend") == start + timedelta(hours=1)
    assert f"meeting-{first}@" in str(event.get("uid"))
    assert "村委会二楼" in str(event.get("location"))
    assert str(event.get("url")).endswith(f"/c/{w.community.slug}/meetings/{first}")
    assert str(events["取消的会"].get("status")) == "CANCELLED"
    assert str(event.get("status")) == "CONFIRMED"

    single = _events(client.get(page(w, f"/meetings/{second}.ics")))
    assert list(single) == ["西门议事会"]
    assert single["西门议事会"].decoded("dtstart") == start + timedelta(days=7)
    assert client.get(page(w, f"/meetings/{foreign}.ics")).status_code == 404
    assert "别村的会" not in _events(client.get(page(w, "/meetings.ics")))
    assert list(_events(client.get(f"/c/{other_community.slug}/meetings.ics"))) == ["别村的会"]


# --- 7. tenant isolation --------------------------------------------------------------------------------

PUBLIC_MEETING_PAGES = {"meetings.index", "meetings.show", "meetings.check_in", "meetings.feed", "meetings.meeting_ics"}


def _rights_pages(w, meeting_id: int, item_id: int, matter_id: int) -> dict[str, tuple[str, str, dict]]:
    """Every meeting page that needs rights: endpoint → (method, url, form)."""
    m = f"/meetings/{meeting_id}"
    person = {"name": "外人", "phone": "13900001111", "resident_group_id": ""}
    return {
        "meetings.new": ("GET", page(w, "/meetings/new"), {}),
        "meetings.add_item": ("POST", page(w, f"{m}/agenda"), {"title": "外人的议题"}),
        "meetings.cancel": ("POST", page(w, f"{m}/cancel"), {"reason": "外人取消"}),
        "meetings.held": ("POST", page(w, f"{m}/held"), {}),
        "meetings.minutes": ("POST", page(w, f"{m}/minutes"), {"minutes": "外人的纪要", "publish": "1"}),
        "meetings.decision": ("POST", page(w, f"{m}/agenda/{item_id}/decision"), {"decision": "外人的决定"}),
        "meetings.comment": ("POST", page(w, f"{m}/agenda/{item_id}/comments"), {"body": "外人的意见"}),
        "meetings.manual_check_in": ("POST", page(w, f"{m}/attendance"), person),
        "meetings.checkin_qr": ("GET", page(w, f"{m}/checkin-qr.svg"), {}),
        "meetings.volunteer": ("POST", page(w, f"/matters/{matter_id}/volunteer"), {}),
        "meetings.put_on_agenda": ("POST", page(w, f"/matters/{matter_id}/agenda"), {"meeting_id": str(meeting_id)}),
        "meetings.participation_page": ("GET", page(w, "/participation"), {}),
    }


def test_another_communitys_admin_gets_404_on_every_meeting_page_that_needs_rights(
    app, client, login_as, w, other_community, create_user
):
    raised = w.raise_matter(category="water")
    meeting_id = convene(w, matter_ids=[raised.id])
    item_id = snapshot(w, meeting_id).items[0].id
    pages = _rights_pages(w, meeting_id, item_id, raised.id)
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("meetings.")}
    assert endpoints - PUBLIC_MEETING_PAGES == set(pages)  # a new page must be added here

    login_as(create_user(community=other_community, role="admin"))
    for endpoint, (method, url, form) in pages.items():
        response = client.open(url, method=method, data=form)
        assert response.status_code == 404, (endpoint, response.status_code)
    stored = snapshot(w, meeting_id)
    assert (stored.status, len(stored.items), stored.items[0].decision, stored.minutes) == ("planned", 1, "", "")
    assert count(w, AgendaComment.id) == 0 and count(w, Volunteer.id) == 0 and count(w, Attendance.id) == 0


def _api_urls(meeting_id: int, item_id: int, group_id: int) -> dict[tuple[str, str], tuple[str, str, dict | None]]:
    """Every meeting API URL: (method, rule suffix) → (method, concrete suffix, body)."""
    m = f"/meetings/{meeting_id}"
    start = "2031-05-01T19:30:00+08:00"
    return {
        ("GET", "/meetings"): ("GET", "/meetings", None),
        ("POST", "/meetings"): (
            "POST",
            "/meetings",
            {"title": "外人", "starts_at": start, "ends_at": "2031-05-01T21:00:00+08:00"},
        ),
        ("GET", "/meetings/<int:meeting_id>"): ("GET", m, None),
        ("POST", "/meetings/<int:meeting_id>/agenda"): ("POST", f"{m}/agenda", {"title": "外人的议题"}),
        ("POST", "/meetings/<int:meeting_id>/cancel"): ("POST", f"{m}/cancel", {"reason": "外人取消"}),
        ("POST", "/meetings/<int:meeting_id>/held"): ("POST", f"{m}/held", None),
        ("PUT", "/meetings/<int:meeting_id>/minutes"): ("PUT", f"{m}/minutes", {"minutes": "外人", "publish": True}),
        ("POST", "/meetings/<int:meeting_id>/agenda/<int:item_id>/decision"): (
            "POST",
            f"{m}/agenda/{item_id}/decision",
            {"decision": "外人的决定"},
        ),
        ("GET", "/meetings/<int:meeting_id>/attendance"): ("GET", f"{m}/attendance", None),
        ("POST", "/meetings/<int:meeting_id>/attendance"): (
            "POST",
            f"{m}/attendance",
            {"name": "外人", "phone": "13900001111", "resident_group_id": group_id},
        ),
        ("GET", "/participation"): ("GET", "/participation", None),
        ("GET", "/meetings/<int:meeting_id>/agenda/<int:item_id>/comments"): (
            "GET",
            f"{m}/agenda/{item_id}/comments",
            None,
        ),
    }


def test_another_communitys_token_gets_404_on_every_meeting_api_url(app, client, w, other_community, token_for):
    meeting_id = convene(w)
    item_id = add_item(w, meeting_id, title="议题")
    urls = _api_urls(meeting_id, item_id, w.groups[0])
    prefix = "/api/v1/communities/<community_slug>"
    rules = {
        (method, rule.rule.removeprefix(prefix))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("meetings_api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert rules == set(urls)  # a new API URL must be added here

    for secret in (token_for(community=other_community), token_for(community=other_community, scopes="meetings:read")):
        for key, (method, suffix, body) in urls.items():
            response = client.open(api(w, suffix), method=method, headers=bearer(secret), json=body)
            assert response.status_code == 404, (key, response.status_code)
            assert_problem(response, 404)
    stored = snapshot(w, meeting_id)
    assert (stored.status, [i.title for i in stored.items], stored.attendance) == ("planned", ["议题"], [])
    assert count(w, Meeting.id) == 1


def test_meeting_ids_of_another_community_are_404_under_this_communitys_slug(
    client, login_as, w, writer, other_community, create_user
):
    raised = w.raise_matter(category="water")
    own = convene(w, matter_ids=[raised.id])
    own_item = snapshot(w, own).items[0].id
    foreign_admin = create_user(community=other_community, role="admin")
    with tenancy.community_scope(other_community.id):
        start = soon()
        foreign_meeting = services.create_meeting(
            other_community,
            {"title": "别村的会", "starts_at": start, "ends_at": start + timedelta(hours=1)},
            actor=Actor(user=foreign_admin),
        )
        foreign_item = services.add_agenda_item(
            other_community, foreign_meeting, actor=Actor(user=foreign_admin), title="别村的议题"
        )
        foreign, foreign_item_id = foreign_meeting.id, foreign_item.id
        foreign_token = services.checkin_token(foreign_meeting)
        db.session.commit()

    # public pages
    assert client.get(page(w, f"/meetings/{foreign}")).status_code == 404
    assert client.get(page(w, f"/meetings/{foreign}.ics")).status_code == 404
    assert client.get(checkin_url(w, foreign, foreign_token)).status_code == 404
    assert (
        checkin_post(
            client, w, foreign, foreign_token, name="甲", phone="13900001111", resident_group_id=w.groups[0]
        ).status_code
        == 404
    )
    # pages that need rights, for this community's admin
    login_as(w.admin)
    for endpoint, (method, url, form) in _rights_pages(w, foreign, foreign_item_id, raised.id).items():
        if endpoint in ("meetings.new", "meetings.participation_page", "meetings.volunteer"):
            continue  # no meeting in their URL
        response = client.open(url, method=method, data=form)
        assert response.status_code == 404, endpoint
    # this community's meeting with another community's agenda item
    assert (
        client.post(page(w, f"/meetings/{own}/agenda/{foreign_item_id}/decision"), data={"decision": "x"}).status_code
        == 404
    )
    assert (
        client.post(page(w, f"/meetings/{own}/agenda/{foreign_item_id}/comments"), data={"body": "x"}).status_code
        == 404
    )
    # the API
    for (method, rule), (_m, suffix, body) in _api_urls(foreign, foreign_item_id, w.groups[0]).items():
        if "<int:meeting_id>" not in rule:
            continue
        assert_problem(client.open(api(w, suffix), method=method, headers=writer, json=body), 404)
    assert_problem(
        client.post(
            api(w, f"/meetings/{own}/agenda/{foreign_item_id}/decision"), headers=writer, json={"decision": "x"}
        ),
        404,
    )
    # the service refuses another community's meeting and item under this scope
    with w.scope():
        with pytest.raises(NotFoundError):
            services.get_meeting(foreign)
        with pytest.raises(NotFoundError):
            services.get_item(services.get_meeting(own), foreign_item_id)
    assert [i.id for i in snapshot(w, own).items] == [own_item]
    with tenancy.community_scope(other_community.id):
        meeting = services.get_meeting(foreign)
        assert (meeting.status, meeting.minutes, meeting.cancel_reason) == (MeetingStatus.PLANNED, "", "")
        assert db.session.execute(select(func.count(AgendaItem.id))).scalar_one() == 1
        assert db.session.execute(select(func.count(Attendance.id))).scalar_one() == 0
        assert db.session.execute(select(func.count(Invitation.id))).scalar_one() == 0


def test_comments_and_volunteers_are_readable_on_the_api_with_names_masked_for_readers(
    client, community, create_user, token_for
):
    from datetime import UTC, datetime, timedelta

    from tests.conftest import bearer as auth
    from tests.matter_world import build
    from yishi.modules.accounts.permissions import Actor as Who
    from yishi.modules.matters import services as matter_services
    from yishi.modules.meetings import services as meeting_services

    w = build(community, create_user)
    raised = w.raise_matter(title="桥头路灯")
    with w.scope():
        start = datetime.now(UTC) + timedelta(days=2)
        meeting = meeting_services.create_meeting(
            community,
            {"title": "议事会", "starts_at": start, "ends_at": start + timedelta(hours=1), "matter_ids": [raised.id]},
            actor=Who(user=w.admin),
        )
        item = meeting_services.agenda_of(meeting)[0]
        meeting_services.comment(community, meeting, item, "尽快修好", actor=Who(user=w.staff))
        matter_services.volunteer(community, w.matter(raised.id), actor=Who(user=w.staff), note="我来帮忙")
        ids = (meeting.id, item.id)
        db.session.commit()
    base = f"/api/v1/communities/{community.slug}"
    reader = token_for(community=community, scopes="meetings:read,matters:read,community:read")
    writer = token_for(community=community)
    comments = client.get(f"{base}/meetings/{ids[0]}/agenda/{ids[1]}/comments", headers=auth(reader)).get_json()
    assert [(c["name"], c["body"]) for c in comments] == [("工***", "尽快修好")]
    full = client.get(f"{base}/meetings/{ids[0]}/agenda/{ids[1]}/comments", headers=auth(writer)).get_json()
    assert full[0]["name"] == w.staff.name
    volunteers = client.get(f"{base}/matters/{raised.id}/volunteers", headers=auth(reader)).get_json()
    assert [(v["name"], v["note"]) for v in volunteers] == [("工***", "我来帮忙")]
    assert (
        client.get(f"{base}/matters/{raised.id}/volunteers", headers=auth(writer)).get_json()[0]["name"] == w.staff.name
    )


def test_the_invited_hear_of_the_meeting_once(app, community, create_user):
    from datetime import UTC, datetime, timedelta

    from yishi.core import jobs
    from yishi.modules.accounts.models import CommunityMembership
    from yishi.modules.accounts.permissions import Actor as Who
    from yishi.modules.meetings import services as meeting_services
    from yishi.modules.notifications.services import notifications_of

    w = build(community, create_user)
    jobs.run_pending(app)
    with w.scope():  # the resident lives in group 1; the staff member is also invited by name
        membership = db.session.execute(
            db.select(CommunityMembership).where(CommunityMembership.user_id == w.resident.id)
        ).scalar_one()
        membership.resident_group_id = w.groups[0]
        start = datetime.now(UTC) + timedelta(days=3)
        meeting_services.create_meeting(
            community,
            {
                "title": "东门议事会",
                "starts_at": start,
                "ends_at": start + timedelta(hours=1),
                "invited_group_ids": [w.groups[0]],
                "invited_user_ids": [w.staff.id, w.resident.id],
            },
            actor=Who(user=w.admin),
        )
        db.session.commit()
    assert jobs.run_pending(app) == 1
    for person in (w.resident, w.staff):
        titles = [n.title for n in notifications_of(person)]
        assert len(titles) == 1 and "东门议事会" in titles[0]  # invited twice over, told once
    assert notifications_of(w.west_moderator) == []
