"""The matters REST API under ``/api/v1/communities/<slug>/matters``: intake by government systems and
moderators' tools, the list with its filters and pages, the workflow with optimistic locking, the
timeline, notes, ratings, the public board, masking of contact details, and tenant isolation."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from tests.conftest import bearer
from tests.matter_world import build
from yishi.core import tenancy
from yishi.core.db import db, utcnow
from yishi.modules.categories import services as categories
from yishi.modules.matters import services
from yishi.modules.matters.models import Channel, EntryKind, Matter, Status, TimelineEntry

PHONE = "13912345678"
MASKED_PHONE = "139****5678"


@pytest.fixture
def w(community, create_user):
    return build(community, create_user)


@pytest.fixture
def writer(community, token_for):
    """A government system's token: every scope of the community."""
    return bearer(token_for(community=community))


@pytest.fixture
def reader(community, token_for):
    return bearer(token_for(community=community, scopes="matters:read,community:read"))


def api(community, suffix: str = "") -> str:
    return f"/api/v1/communities/{community.slug}/matters{suffix}"


def payload(w, **extra) -> dict:
    data = {
        "title": "村口水渠堵塞",
        "description": "雨后积水漫到路上",
        "category_id": w.categories["water"],
        "resident_group_id": w.groups[0],
        "reporter_name": "王秀英",
        "reporter_phone": PHONE,
    }
    data.update(extra)
    return data


def count_matters(w) -> int:
    with w.scope():
        return db.session.execute(select(func.count(Matter.id))).scalar_one()


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    return body


# --- intake ------------------------------------------------------------------------------------------


def test_create_defaults_to_the_api_channel_and_answers_201_with_location_and_tracking_code(client, w, writer):
    response = client.post(api(w.community), headers=writer, json=payload(w))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["channel"] == "api" and body["status"] == "submitted" and body["version"] == 1
    assert body["point_id"] == w.east  # routed from resident group 1
    assert body["reporter_phone"] == PHONE  # the caller handles it: in full
    assert response.headers["Location"].endswith(api(w.community, f"/{body['id']}"))
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}", body["tracking_code"])
    assert body["photos"] == []

    with w.scope():
        matter = services.find_by_tracking_code(body["tracking_code"].lower())
        assert matter.id == body["id"]
        assert (matter.channel, matter.reporter_user_id, matter.recorded_by_id) == (Channel.API, None, None)
        assert matter.first_response_due_at == matter.submitted_at + timedelta(minutes=15)  # around the clock
        entries = services.timeline(matter, internal=True)
        assert [(e.action, e.actor_role, e.to_status) for e in entries] == [("submit", "handler", Status.SUBMITTED)]
        assert entries[0].actor_label.startswith("token ")

    again = client.get(response.headers["Location"], headers=writer)
    assert again.status_code == 200
    assert again.get_json()["title"] == "村口水渠堵塞"
    assert "tracking_code" not in again.get_json()  # given once


@pytest.mark.parametrize("channel", ["offline", "phone", "visit"])
def test_create_on_behalf_channels_are_allowed(client, w, writer, channel):
    response = client.post(api(w.community), headers=writer, json=payload(w, channel=channel, reporter_phone=""))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["channel"] == channel
    with w.scope():
        assert db.session.get(Matter, response.get_json()["id"]).channel == Channel(channel)


@pytest.mark.parametrize("channel", ["web", "qr", "email"])
def test_create_refuses_the_residents_own_channels(client, w, writer, channel):
    body = assert_problem(client.post(api(w.community), headers=writer, json=payload(w, channel=channel)), 422)
    assert "channel" in body["errors"]
    assert count_matters(w) == 0


def test_create_validation_errors_are_problems_with_field_messages(client, w, writer, other_community):
    en = {**writer, "Accept-Language": "en"}
    body = assert_problem(client.post(api(w.community), headers=en, json={"description": "x"}), 422)
    assert {"title", "category_id", "reporter_name"} <= set(body["errors"])
    assert body["errors"]["title"] == ["This field is required."]

    body = assert_problem(
        client.post(api(w.community), headers=en, json=payload(w, latitude=91, title="x" * 121, surprise=1)), 422
    )
    assert {"latitude", "title", "surprise"} <= set(body["errors"])

    # Checked by the service: a phone number, a category of this community, the parties of a dispute.
    body = assert_problem(client.post(api(w.community), headers=en, json=payload(w, reporter_phone="12345")), 422)
    assert body["errors"]["reporter_phone"] == ["Enter a mobile number (11 digits) or a landline number."]
    assert body["type"] == "urn:yishi:problem:validation-error"

    with tenancy.community_scope(other_community.id):
        categories.apply_template(other_community, "agriculture")
        foreign = next(c.id for c in categories.list_categories() if c.code == "water")
        db.session.commit()
    body = assert_problem(client.post(api(w.community), headers=en, json=payload(w, category_id=foreign)), 422)
    assert set(body["errors"]) == {"category_id"}

    body = assert_problem(
        client.post(api(w.community), headers=en, json=payload(w, category_id=w.categories["dispute"])), 422
    )
    assert set(body["errors"]) == {"parties"}

    zh = client.post(api(w.community), headers={**writer, "Accept-Language": "zh-CN"}, json={"description": "x"})
    assert zh.status_code == 422
    assert all(re.search(r"[\u4e00-\u9fff]", m) for ms in zh.get_json()["errors"].values() for m in ms)
    assert count_matters(w) == 0  # nothing half-written


def test_a_read_only_token_cannot_record(client, w, reader):
    assert_problem(client.post(api(w.community), headers=reader, json=payload(w)), 403)
    assert count_matters(w) == 0


# --- the list ----------------------------------------------------------------------------------------


def ids_of(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return [item["id"] for item in response.get_json()["items"]]


def test_list_filters(client, w, writer):
    now = utcnow()
    light = w.raise_matter(title="桥头路灯不亮", at=now - timedelta(minutes=50))
    water = w.raise_matter(title="水渠堵塞", category="water", at=now - timedelta(minutes=40))
    west = w.raise_matter(title="西边道路坑洼", category="road", resident_group_id=w.groups[2], at=now)
    visit = w.raise_matter(title="独居老人需要探访", category="elderly-children", channel=Channel.VISIT, by=w.moderator)
    old = w.raise_matter(title="路灯又坏了", at=now - timedelta(minutes=20))  # its first response is late
    w.move(water.id, "accept", by=w.moderator)
    w.move(light.id, "accept", by=w.moderator)
    w.move(light.id, "resolve", by=w.moderator, note="换了灯泡")

    every = ids_of(client.get(api(w.community), headers=writer))
    # Overdue first (old: its first response is late), then oldest first.
    assert every == [old.id, light.id, water.id, west.id, visit.id]

    def query(**args):
        return sorted(ids_of(client.get(api(w.community), headers=writer, query_string=args)))

    assert query(status="submitted") == sorted([west.id, visit.id, old.id])
    assert query(status=["accepted", "resolved"]) == sorted([water.id, light.id])
    assert query(category_id=w.categories["streetlight"]) == sorted([light.id, old.id])
    assert query(resident_group_id=w.groups[2]) == [west.id]
    assert query(point_id=w.west) == [west.id]
    assert query(point_id=w.east) == sorted([light.id, water.id, visit.id, old.id])
    assert query(channel="visit") == [visit.id]
    assert query(q="路灯") == sorted([light.id, old.id])
    assert query(q="%") == []  # a wildcard is searched for as it is
    assert query(overdue="true") == [old.id]  # light and water were taken up in time
    assert query(overdue="false") == sorted([light.id, water.id, west.id, visit.id])

    bad = assert_problem(client.get(api(w.community), headers=writer, query_string={"status": "sleeping"}), 422)
    assert [key.split(".")[0] for key in bad["errors"]] == ["status"]


def test_list_pages_and_link_header(client, w, writer):
    raised = [w.raise_matter(title=f"事项{n}", at=utcnow() - timedelta(seconds=10 - n)) for n in range(5)]
    first = client.get(api(w.community), headers=writer, query_string={"per_page": 2, "channel": "web"})
    body = first.get_json()
    assert (body["total"], body["page"], body["per_page"]) == (5, 1, 2)
    assert ids_of(first) == [raised[0].id, raised[1].id]
    links = dict(
        (rel, parse_qs(urlparse(target).query))
        for target, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', first.headers["Link"])
    )
    assert set(links) == {"first", "next", "last"}
    assert links["next"]["page"] == ["2"] and links["last"]["page"] == ["3"]
    assert links["next"]["per_page"] == ["2"] and links["next"]["channel"] == ["web"]  # filters kept

    last = client.get(api(w.community), headers=writer, query_string={"per_page": 2, "page": 3})
    assert ids_of(last) == [raised[4].id]
    rels = re.findall(r'rel="(\w+)"', last.headers["Link"])
    assert "prev" in rels and "next" not in rels

    assert_problem(client.get(api(w.community), headers=writer, query_string={"per_page": 101}), 422)


def test_list_needs_matters_read(client, w, token_for):
    w.raise_matter()
    community_only = bearer(token_for(community=w.community, scopes="community:read"))
    assert_problem(client.get(api(w.community), headers=community_only), 403)


def test_get_one_and_unknown_ids(client, w, writer):
    raised = w.raise_matter(description="灯杆上有编号 12")
    response = client.get(api(w.community, f"/{raised.id}"), headers=writer)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["status"], body["category"], body["point"]) == (
        raised.id,
        "submitted",
        "路灯维修亮化",
        "东议事点",
    )
    assert body["url"].endswith(f"/c/{w.community.slug}/matters/{raised.id}")
    assert_problem(client.get(api(w.community, "/999999"), headers=writer), 404)


# --- masking -----------------------------------------------------------------------------------------


def test_contact_details_are_masked_for_a_read_only_token(client, w, reader, token_for):
    raised = w.raise_matter(reporter_phone=PHONE)
    full = bearer(token_for(community=w.community, scopes="community:read,matters:read,matters:write"))

    seen = client.get(api(w.community, f"/{raised.id}"), headers=reader).get_json()
    assert (seen["reporter_phone"], seen["reporter_name"]) == (MASKED_PHONE, "王**")
    listed = client.get(api(w.community), headers=reader).get_json()["items"][0]
    assert listed["reporter_phone"] == MASKED_PHONE
    assert PHONE not in client.get(api(w.community), headers=reader).get_data(as_text=True)

    seen = client.get(api(w.community, f"/{raised.id}"), headers=full).get_json()
    assert (seen["reporter_phone"], seen["reporter_name"]) == (PHONE, "王秀英")
    assert client.get(api(w.community), headers=full).get_json()["items"][0]["reporter_phone"] == PHONE

    dispute = w.raise_matter(category="dispute", parties=["张三丰", "李四"])
    assert client.get(api(w.community, f"/{dispute.id}"), headers=reader).get_json()["parties"] == ["张**", "李*"]
    assert client.get(api(w.community, f"/{dispute.id}"), headers=full).get_json()["parties"] == ["张三丰", "李四"]


def test_a_read_only_token_cannot_move_note_or_rate(client, w, reader):
    raised = w.raise_matter()
    url = api(w.community, f"/{raised.id}")
    for action in ("accept", "reject", "withdraw", "escalate"):
        assert_problem(client.post(f"{url}/transitions", headers=reader, json={"action": action, "note": "x"}), 403)
    assert_problem(client.post(f"{url}/notes", headers=reader, json={"note": "看过了"}), 403)
    w.move(raised.id, "accept", by=w.moderator)
    w.move(raised.id, "resolve", by=w.moderator, note="修好了")
    assert_problem(client.post(f"{url}/transitions", headers=reader, json={"action": "close"}), 403)
    assert_problem(client.post(f"{url}/satisfaction", headers=reader, json={"score": 5}), 403)
    matter = w.matter(raised.id)
    assert (matter.status, matter.satisfaction) == (Status.RESOLVED, None)
    with w.scope():
        assert len(services.timeline(matter, internal=True)) == 3  # submit, accept, resolve: nothing more


# --- the workflow ------------------------------------------------------------------------------------


def move(client, w, headers, matter_id, action, **data):
    return client.post(api(w.community, f"/{matter_id}/transitions"), headers=headers, json={"action": action, **data})


def ok(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def test_every_action_through_the_api(client, w, writer):
    raised = w.raise_matter()
    m = raised.id
    body = ok(move(client, w, writer, m, "accept", version=1))
    assert (body["status"], body["version"], body["first_response_met"]) == ("accepted", 2, True)
    assert body["minutes_to_accept"] == 0 and body["accepted_at"]
    assert ok(move(client, w, writer, m, "start"))["status"] == "in_progress"

    assert_problem(move(client, w, writer, m, "resolve"), 422)["errors"].keys() == {"note"}
    body = ok(move(client, w, writer, m, "resolve", note="换了灯泡"))
    assert (body["status"], body["resolution_note"], body["resolution_met"]) == ("resolved", "换了灯泡", True)

    assert "note" in assert_problem(move(client, w, writer, m, "reopen"), 422)["errors"]
    body = ok(move(client, w, writer, m, "reopen", note="晚上又不亮了"))
    assert (body["status"], body["resolved_at"]) == ("reopened", None)
    assert ok(move(client, w, writer, m, "accept"))["status"] == "accepted"
    ok(move(client, w, writer, m, "resolve", note="换了整套灯具"))
    body = ok(move(client, w, writer, m, "close"))
    assert body["status"] == "closed" and body["closed_at"]

    rejected = w.raise_matter(title="不属于社区的事")
    assert_problem(move(client, w, writer, rejected.id, "reject"), 422)
    body = ok(move(client, w, writer, rejected.id, "reject", note="属于供电公司"))
    assert (body["status"], body["reject_reason"]) == ("rejected", "属于供电公司")

    withdrawn = w.raise_matter(title="已经好了")
    assert ok(move(client, w, writer, withdrawn.id, "withdraw"))["status"] == "withdrawn"

    escalated = w.raise_matter(title="需要街道协调")
    body = assert_problem(move(client, w, writer, escalated.id, "escalate", note="x", escalate_to="city"), 422)
    assert "escalate_to" in body["errors"]
    body = ok(move(client, w, writer, escalated.id, "escalate", note="涉及两个社区", escalate_to="street"))
    assert (body["status"], body["escalated_to"]) == ("escalated", "street")
    body = ok(move(client, w, writer, escalated.id, "accept"))
    assert (body["status"], body["escalated_to"]) == ("accepted", None)

    with w.scope():
        actions = [
            (e.action, e.from_status, e.to_status)
            for e in services.timeline(db.session.get(Matter, m), internal=True)
            if e.kind == EntryKind.TRANSITION
        ]
    assert actions == [
        ("submit", None, Status.SUBMITTED),
        ("accept", Status.SUBMITTED, Status.ACCEPTED),
        ("start", Status.ACCEPTED, Status.IN_PROGRESS),
        ("resolve", Status.IN_PROGRESS, Status.RESOLVED),
        ("reopen", Status.RESOLVED, Status.REOPENED),
        ("accept", Status.REOPENED, Status.ACCEPTED),
        ("resolve", Status.ACCEPTED, Status.RESOLVED),
        ("close", Status.RESOLVED, Status.CLOSED),
    ]
    assert_problem(move(client, w, writer, m, "jump"), 422)


def test_a_dispute_is_resolved_with_its_outcome(client, w, writer):
    raised = w.raise_matter(category="dispute", title="宅基地边界纠纷")
    ok(move(client, w, writer, raised.id, "accept"))
    assert "outcome" in assert_problem(move(client, w, writer, raised.id, "resolve", note="调解"), 422)["errors"]
    body = assert_problem(move(client, w, writer, raised.id, "resolve", note="调解", outcome="agreement"), 422)
    assert "agreement_text" in body["errors"]
    body = ok(
        move(client, w, writer, raised.id, "resolve", note="调解", outcome="agreement", agreement_text="以界桩为准")
    )
    assert (body["status"], body["outcome"], body["agreement_text"]) == ("resolved", "agreement", "以界桩为准")


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "start"),
        ([], "close"),
        ([], "reopen"),
        ([], "resolve"),
        (["accept"], "accept"),
        (["accept", "resolve"], "escalate"),
        (["reject"], "accept"),
        (["withdraw"], "withdraw"),
    ],
)
def test_a_move_from_the_wrong_state_is_409(client, w, writer, setup, action):
    raised = w.raise_matter()
    for step in setup:
        ok(move(client, w, writer, raised.id, step, note="理由"))
    before = w.matter(raised.id)
    status, version = before.status, before.version
    body = assert_problem(move(client, w, writer, raised.id, action, note="理由"), 409)
    assert body["type"] == "urn:yishi:problem:conflict"
    after = w.matter(raised.id)
    assert (after.status, after.version) == (status, version)


def test_a_stale_version_is_409_and_changes_nothing(client, w, writer):
    raised = w.raise_matter()
    read = client.get(api(w.community, f"/{raised.id}"), headers=writer).get_json()["version"]
    assert ok(move(client, w, writer, raised.id, "accept", version=read))["version"] == read + 1
    stale = client.post(
        api(w.community, f"/{raised.id}/transitions"),
        headers={**writer, "Accept-Language": "en"},
        json={"action": "start", "version": read},
    )
    assert "changed this matter meanwhile" in assert_problem(stale, 409)["detail"]
    matter = w.matter(raised.id)
    assert (matter.status, matter.version) == (Status.ACCEPTED, read + 1)
    assert ok(move(client, w, writer, raised.id, "start", version=read + 1))["status"] == "in_progress"
    assert_problem(move(client, w, writer, raised.id, "start", version=0), 422)


# --- timeline, notes, satisfaction -------------------------------------------------------------------


def test_timeline_and_notes(client, w, writer, reader):
    raised = w.raise_matter()
    url = api(w.community, f"/{raised.id}")
    public = client.post(f"{url}/notes", headers=writer, json={"note": "明天上午去看"})
    assert public.status_code == 201
    assert (public.get_json()["kind"], public.get_json()["actor_role"], public.get_json()["public"]) == (
        "note",
        "handler",
        True,
    )
    internal = client.post(f"{url}/notes", headers=writer, json={"note": "电工电话 13800009999", "public": False})
    assert internal.status_code == 201 and internal.get_json()["public"] is False
    assert "note" in assert_problem(client.post(f"{url}/notes", headers=writer, json={"note": ""}), 422)["errors"]
    ok(move(client, w, writer, raised.id, "accept", note="内部备注", public=False))

    handler_view = client.get(f"{url}/timeline", headers=writer).get_json()
    assert handler_view["total"] == 4
    assert [i["kind"] for i in handler_view["items"]] == ["transition", "note", "note", "transition"]
    assert [i["note"] for i in handler_view["items"]][1:3] == ["明天上午去看", "电工电话 13800009999"]

    reader_view = client.get(f"{url}/timeline", headers=reader).get_json()
    assert reader_view["total"] == 2  # the internal note and the internal transition note stay among handlers
    assert "13800009999" not in client.get(f"{url}/timeline", headers=reader).get_data(as_text=True)

    paged = client.get(f"{url}/timeline", headers=writer, query_string={"per_page": 3, "page": 2}).get_json()
    assert [i["id"] for i in paged["items"]] == [handler_view["items"][3]["id"]]

    ok(move(client, w, writer, raised.id, "reject", note="重复事项"))
    assert_problem(client.post(f"{url}/notes", headers=writer, json={"note": "晚了"}), 409)


def test_satisfaction(client, w, writer):
    raised = w.raise_matter()
    url = api(w.community, f"/{raised.id}/satisfaction")
    assert_problem(client.post(url, headers=writer, json={"score": 5}), 409)  # not resolved yet
    ok(move(client, w, writer, raised.id, "accept"))
    ok(move(client, w, writer, raised.id, "resolve", note="修好了"))
    assert "score" in assert_problem(client.post(url, headers=writer, json={"score": 6}), 422)["errors"]
    body = ok(client.post(url, headers=writer, json={"score": 4, "comment": "速度快"}))
    assert (body["satisfaction"], body["satisfaction_comment"]) == (4, "速度快")
    assert_problem(client.post(url, headers=writer, json={"score": 1}), 409)  # once only
    with w.scope():
        entries = services.timeline(db.session.get(Matter, raised.id), internal=False)
        assert entries[-1].kind == EntryKind.RATING and entries[-1].note.startswith("4/5")
    assert w.matter(raised.id).satisfaction == 4


# --- the board ---------------------------------------------------------------------------------------


def test_the_board_shows_no_names_or_phones(client, w, token_for):
    public = bearer(token_for(community=w.community, scopes="community:read"))
    light = w.raise_matter(title="路灯不亮 联系13911112222", reporter_name="王秀英", reporter_phone=PHONE)
    dispute = w.raise_matter(category="dispute", title="张三李四宅基地纠纷", parties=["张三", "李四"])
    gone = w.raise_matter(title="撤回的事项")
    w.move(gone.id, "withdraw", by=None, tracked=True)

    response = client.get(f"/api/v1/communities/{w.community.slug}/board", headers=public)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    for secret in ("王秀英", PHONE, "13911112222", "张三", "李四", "reporter"):
        assert secret not in text
    rows = {row["id"]: row for row in response.get_json()["items"]}
    assert set(rows) == {light.id, dispute.id}
    assert rows[light.id]["title"] == "路灯不亮 联系139****2222"
    assert rows[dispute.id]["title"] == "矛盾调解 · 第1居民小组"
    assert rows[light.id]["point"] == "东议事点" and rows[light.id]["status"] == "submitted"


# --- isolation ---------------------------------------------------------------------------------------


def test_another_communitys_token_gets_404_everywhere(client, w, writer, other_community, token_for):
    foreign = bearer(token_for(community=other_community))
    raised = w.raise_matter()
    ok(move(client, w, writer, raised.id, "accept"))
    ok(move(client, w, writer, raised.id, "resolve", note="好了"))
    base = api(w.community, f"/{raised.id}")
    calls = [
        ("get", api(w.community), None),
        ("post", api(w.community), payload(w)),
        ("get", base, None),
        ("post", f"{base}/transitions", {"action": "close"}),
        ("get", f"{base}/timeline", None),
        ("post", f"{base}/notes", {"note": "x"}),
        ("post", f"{base}/satisfaction", {"score": 1}),
        ("get", f"{base}/photos/1", None),
        ("get", f"/api/v1/communities/{w.community.slug}/board", None),
    ]
    for method, url, body in calls:
        response = getattr(client, method)(url, headers=foreign, json=body)
        assert_problem(response, 404)
        assert "王秀英" not in response.get_data(as_text=True)
    upload = client.post(f"{base}/photos", headers=foreign, data={}, content_type="multipart/form-data")
    assert_problem(upload, 404)
    matter = w.matter(raised.id)
    assert (matter.status, matter.satisfaction, count_matters(w)) == (Status.RESOLVED, None, 1)
    with w.scope():
        assert db.session.execute(select(func.count(TimelineEntry.id))).scalar_one() == 3


# --- a fixed number of queries -----------------------------------------------------------------------


def statements_for(client, url, headers) -> tuple[int, int]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        response = client.get(url, headers=headers)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(seen), len(response.get_json()["items"])


def test_the_list_takes_the_same_number_of_queries_for_5_or_30_matters(client, w, writer):
    def raise_some(count: int) -> None:
        for n in range(count):
            raised = w.raise_matter(
                title=f"事项{n}",
                category=("streetlight", "water", "road")[n % 3],
                resident_group_id=w.groups[n % 3],
            )
            if n % 4 == 0:
                w.move(raised.id, "accept", by=(w.moderator, w.west_moderator)[n % 3 == 2])

    # The token's first use stamps it (committed with that request): count the requests after it.
    assert client.get(api(w.community), headers=writer).status_code == 200
    raise_some(5)
    small, shown = statements_for(client, api(w.community) + "?per_page=5", writer)
    assert shown == 5
    raise_some(25)
    large, shown = statements_for(client, api(w.community) + "?per_page=30", writer)
    assert shown == 30
    assert small == large, (small, large)
