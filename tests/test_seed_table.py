"""SEED-FACTS.md's table as a test: Shilipu's year built through the services — 6 points covering its 10
resident groups, 10 moderators, 86 matters completed (20 disputes, 10 road, 15 streetlight), 127
residents taking part, 60 meetings held — and the community dashboard and the street office's report
both show exactly those figures, with the quarter-hour rate and the median time to take up that the
response times given here make."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import bearer
from tests.test_metrics import shown_figures
from yishi.core import jobs, tenancy
from yishi.core.db import db
from yishi.modules.accounts.models import User
from yishi.modules.accounts.permissions import Actor
from yishi.modules.categories import services as categories
from yishi.modules.communities import services as communities
from yishi.modules.matters import services as matters
from yishi.modules.matters.models import Channel
from yishi.modules.meetings import services as meetings
from yishi.modules.meetings.models import CheckInMethod
from yishi.modules.metrics import services as metrics
from yishi.modules.participation import services as participation
from yishi.modules.points import services as points
from yishi.modules.selection import services as selection

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


YEAR_START, YEAR_END = local(2025, 1, 1), local(2026, 1, 1)

# Six points near the main roads: which of the ten groups (by index) each serves, and its moderators.
POINT_GROUPS = ((0, 1), (2, 3), (4, 5), (6, 7), (8,), (9,))
MODERATORS_PER_POINT = (2, 2, 2, 2, 1, 1)  # ten in all

# The 86 matters completed in the year, by category.
CATEGORY_PLAN = (
    ("dispute", 20),
    ("road", 10),
    ("streetlight", 15),
    ("environment", 12),
    ("water", 10),
    ("farmland", 8),
    ("elderly-children", 6),
    ("safety", 5),
)
COMPLETED = sum(count for _code, count in CATEGORY_PLAN)
RESIDENTS = 127  # the pool: resident i raises matter i (i < 86); the others only come to meetings
MEETINGS = 60
AGREEMENTS = 17  # of the 20 disputes; 3 ended without one
LATE_STREETLIGHTS = 4  # resolved after their 7 days
RATINGS = (5,) * 15 + (4,) * 5


def accept_minutes(number: int) -> int:
    """Minutes matter ``number`` waits to be taken up: 80 within the quarter hour (1..15, fifteen
    included), six late."""
    if number < 80:
        return 1 + number % 15
    return (16, 20, 25, 30, 45, 60)[number - 80]


# Hand-computed from accept_minutes: 1..5 six times each (30), 6..15 five times each (50), then the six
# late ones. Nearest rank of 86: the median is the 43rd value, the 90th percentile the 78th.
EXPECTED_MEDIAN = 8  # values 31-35 are 6, 36-40 are 7, 41-45 are 8
EXPECTED_P90 = 15  # values 76-80 are 15
EXPECTED_RATE = 0.93  # 80 / 86 = 0.9302, kept to the 0.1 % shown
EXPECTED_RESOLUTION_RATE = 0.953  # 82 / 86 = 0.95349: 95.3 %, not 95.4 %
EXPECTED_RESOLVE_MEDIAN = 2 * 24 * 60  # 82 matters resolved in two days, four in eight


def resident(number: int, groups: list[int]) -> dict:
    return {"name": f"居民{number:03d}", "phone": f"1390000{number:04d}", "group_id": groups[number % 10]}


@dataclass
class Year:
    community: object
    admin: User
    groups: list[int]
    point_ids: list[int]


def _setup(community, create_user) -> tuple[User, list[int], list[int], dict[int, User]]:
    admin = create_user(community=community, role="admin", name="党总支书记")
    future = [
        create_user(community=community, role="resident", name=f"议事长{n}", phone=f"1380000{n:04d}")
        for n in range(sum(MODERATORS_PER_POINT))
    ]
    with tenancy.community_scope(community.id):
        categories.apply_template(community, "agriculture")
        groups = [group.id for group in communities.list_resident_groups()]
        point_ids = [
            points.create_point(
                community,
                {
                    "code": f"p{n + 1}",
                    "name_zh": f"第{n + 1}议事点",
                    "name_en": f"Point {n + 1}",
                    "resident_group_ids": [groups[i] for i in served],
                },
            ).id
            for n, served in enumerate(POINT_GROUPS)
        ]
        moderator_of_group: dict[int, User] = {}
        candidates = iter(future)
        for point_id, served, count in zip(point_ids, POINT_GROUPS, MODERATORS_PER_POINT, strict=True):
            for _n in range(count):
                user = next(candidates)
                selection.appoint(
                    community, user_id=user.id, point_id=point_id, term_start=date(2024, 12, 1), actor=Actor(admin)
                )
                for index in served:
                    moderator_of_group.setdefault(index, user)
        db.session.commit()
    return admin, groups, point_ids, moderator_of_group


def _matters(community, groups: list[int], moderator_of_group: dict[int, User]) -> None:
    codes = {c.code: c.id for c in categories.list_categories()}
    plan = [code for code, count in CATEGORY_PLAN for _n in range(count)]
    disputes = streetlights = rated = 0
    for number, code in enumerate(plan):
        person = resident(number, groups)
        handler = Actor(user=moderator_of_group[number % 10])
        submitted = local(2025, 1, 3, 9) + timedelta(days=4 * number, minutes=number)
        data = {
            "title": f"事项{number}",
            "category_id": codes[code],
            "resident_group_id": person["group_id"],
            "reporter_name": person["name"],
            "reporter_phone": person["phone"],
        }
        if code == "dispute":
            data["parties"] = ["张三", "李四"]
        matter = matters.submit(community, data, channel=Channel.WEB, actor=Actor(), at=submitted).matter
        matters.transition(
            community, matter, "accept", actor=handler, at=submitted + timedelta(minutes=accept_minutes(number))
        )
        days = 2
        if code == "streetlight" and streetlights < LATE_STREETLIGHTS:
            days, streetlights = 8, streetlights + 1
        extra = {}
        if code == "dispute":
            agreed = disputes < AGREEMENTS
            disputes += 1
            extra = {
                "outcome": "agreement" if agreed else "no_agreement",
                "agreement_text": "双方签字" if agreed else "",
            }
        resolved = submitted + timedelta(days=days)
        matters.transition(community, matter, "resolve", actor=handler, note="已办结", at=resolved, **extra)
        if number % 2 == 0:
            matters.transition(community, matter, "close", actor=Actor(), tracked=True, at=resolved + timedelta(days=1))
        if rated < len(RATINGS) and number % 4 == 1:
            matters.rate(
                community, matter, RATINGS[rated], actor=Actor(), tracked=True, at=resolved + timedelta(hours=2)
            )
            rated += 1
        db.session.commit()
    assert rated == len(RATINGS)

    # What must not count: a matter withdrawn before anyone took it up, and last December's matter.
    first = resident(0, groups)
    withdrawn = matters.submit(
        community,
        {"title": "撤回的事项", "category_id": codes["other"], "resident_group_id": first["group_id"],
         "reporter_name": first["name"], "reporter_phone": first["phone"]},
        channel=Channel.WEB, actor=Actor(), at=local(2025, 6, 1, 10),
    ).matter  # fmt: skip
    matters.transition(community, withdrawn, "withdraw", actor=Actor(), tracked=True, at=local(2025, 6, 1, 10, 5))
    old = matters.submit(
        community,
        {"title": "去年的事项", "category_id": codes["road"], "resident_group_id": groups[0],
         "reporter_name": "去年的居民", "reporter_phone": "13700000000"},
        channel=Channel.WEB, actor=Actor(), at=local(2024, 12, 10, 10),
    ).matter  # fmt: skip
    old_handler = Actor(user=moderator_of_group[0])
    matters.transition(community, old, "accept", actor=old_handler, at=local(2024, 12, 10, 10, 3))
    matters.transition(community, old, "resolve", actor=old_handler, note="已办结", at=local(2024, 12, 12, 10))
    db.session.commit()


def _meetings(community, groups: list[int], point_ids: list[int], moderator_of_group: dict[int, User]) -> None:
    def convene(starts_at: datetime, point_index: int):
        convener = Actor(user=moderator_of_group[POINT_GROUPS[point_index][0]])
        meeting = meetings.create_meeting(
            community,
            {"title": "议事会", "point_id": point_ids[point_index], "starts_at": starts_at,
             "ends_at": starts_at + timedelta(hours=1)},
            actor=convener,
        )  # fmt: skip
        return meeting, convener

    def attend(meeting, convener, numbers):
        for number in numbers:
            person = resident(number, groups) if isinstance(number, int) else number
            who = participation.person_for(name=person["name"], phone=person["phone"], group_id=person["group_id"])
            meetings.check_in(community, meeting, who, method=CheckInMethod.MANUAL, by=convener, at=meeting.starts_at)

    completed = COMPLETED
    for number in range(MEETINGS):
        meeting, convener = convene(local(2025, 1, 5, 19) + timedelta(days=6 * number), number % 6)
        meetings.mark_held(community, meeting, actor=convener, at=meeting.starts_at)
        # Residents 86..126 come only to meetings; reporters come too (and are counted once).
        attend(meeting, convener, (completed + number % (RESIDENTS - completed), number % completed,
                                   (number + 30) % completed))  # fmt: skip
        if number % 2 == 0:
            meetings.save_minutes(community, meeting, "# 纪要\n\n议定事项。", actor=convener)
            meetings.publish_minutes(community, meeting, actor=convener, at=meeting.ends_at)
    # Not held in the year: a meeting still planned, one cancelled, and last December's.
    convene(local(2025, 12, 30, 19), 0)
    cancelled, convener = convene(local(2025, 7, 1, 19), 1)
    meetings.cancel_meeting(community, cancelled, "暴雨", actor=convener)
    december, convener = convene(local(2024, 12, 20, 19), 2)
    meetings.mark_held(community, december, actor=convener, at=december.starts_at)
    attend(december, convener, [{"name": "去年的来客", "phone": "13700000001", "group_id": groups[4]}])
    db.session.commit()


@pytest.fixture
def year(street, create_community, create_user) -> Year:
    community = create_community("shilipu", street, groups=10)
    community.name_zh, community.name_en, community.resident_count = "十里铺社区", "Shilipu Community", 1200
    db.session.commit()
    admin, groups, point_ids, moderator_of_group = _setup(community, create_user)
    with tenancy.community_scope(community.id):
        _matters(community, groups, moderator_of_group)
        _meetings(community, groups, point_ids, moderator_of_group)
    return Year(community, admin, groups, point_ids)


def _check(figures: dict) -> None:
    """The seed table, and the response figures the times above make."""
    assert figures["matters_resolved"] == COMPLETED == 86
    assert figures["matters_raised"] == 86  # the withdrawn one is not counted
    assert figures["disputes_mediated"] == 20
    assert figures["agreements_reached"] == AGREEMENTS
    assert figures["participants"] == RESIDENTS == 127
    assert figures["meetings_held"] == MEETINGS == 60
    assert (figures["groups_covered"], figures["groups_total"]) == (10, 10)
    assert figures["first_response_cases"] == 86 and figures["accepted"] == 86
    assert figures["quarter_hour_rate"] == EXPECTED_RATE
    assert figures["accept_minutes_median"] == EXPECTED_MEDIAN
    assert figures["accept_minutes_p90"] == EXPECTED_P90
    assert figures["resolution_rate"] == EXPECTED_RESOLUTION_RATE
    assert figures["resolve_minutes_median"] == EXPECTED_RESOLVE_MEDIAN
    assert figures["matters_closed"] == 43  # the even-numbered ones, confirmed by their reporters
    assert (figures["satisfaction_count"], figures["satisfaction_mean"]) == (20, 4.75)  # (15×5 + 5×4) / 20
    assert figures["participants_per_100"] == 10.6  # 127 × 100 / 1200 = 10.58


def test_the_seed_table_on_the_dashboard_and_in_the_street_report(app, year, client, login_as, street, token_for):
    community = year.community
    with tenancy.community_scope(community.id):
        assert len(points.list_points(active_only=True)) == 6
        assert points.coverage().uncovered == []
        appointed = selection.appointment_history()
        assert len(appointed) == 10 and len({user.id for _a, user, _p in appointed}) == 10
        assert {point.id for _a, _u, point in appointed} == set(year.point_ids)
    _check(metrics.figures([community.id], YEAR_START, YEAR_END)[community.id])
    by_category = metrics.breakdown([community.id], YEAR_START, YEAR_END, "category")[community.id]
    assert (by_category["dispute"], by_category["road"], by_category["streetlight"]) == (20, 10, 15)
    assert sum(by_category.values()) == 86
    assert len(metrics.breakdown([community.id], YEAR_START, YEAR_END, "point")[community.id]) == 6

    # The community dashboard, as its admin sees it.
    login_as(year.admin)
    page = client.get(f"/c/{community.slug}/dashboard?period=custom&start=2025-01-01&end=2025-12-31")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    shown = shown_figures(html)
    assert shown["matters_resolved"] == "86"
    assert shown["matters_raised"] == "86"
    assert shown["disputes_mediated"] == "20"
    assert shown["agreements_reached"] == "17"
    assert shown["participants"] == "127"
    assert shown["meetings_held"] == "60"
    assert shown["groups_covered"] == "10"
    assert re.search(r'data-metric="groups_covered">10<span[^>]*> / 10</span>', html)
    assert shown["quarter_hour_rate"] == "93.0%"
    assert shown["accept_minutes_median"] == "8"
    assert shown["resolution_rate"] == "95.3%"
    assert shown["resolve_minutes_median"] == "2,880"
    assert shown["satisfaction_mean"] == "4.75"

    # The street office's report of the year, through the API and its job.
    headers = bearer(token_for(street=street, scopes="street:read,reports:write"))
    started = client.post(f"/api/v1/streets/{street.slug}/reports", json={"year": 2025}, headers=headers)
    assert started.status_code == 202, started.get_data(as_text=True)
    jobs.run_pending(app)
    report = client.get(f"/api/v1/streets/{street.slug}/reports/{started.get_json()['id']}", headers=headers)
    assert report.status_code == 200
    body = report.get_json()
    assert body["status"] == "finished"
    snapshot = body["snapshot"]
    assert snapshot["period"]["label"] == "2025"
    assert datetime.fromisoformat(snapshot["period"]["start"]) == YEAR_START
    assert datetime.fromisoformat(snapshot["period"]["end"]) == YEAR_END
    (row,) = snapshot["communities"]
    assert (row["slug"], row["name_zh"], row["resident_count"]) == ("shilipu", "十里铺社区", 1200)
    _check(row["figures"])
    _check(snapshot["totals"])  # the street has no other community
    assert snapshot["breakdowns"]["category"]["shilipu"] == by_category
    ranking = {r["code"]: r for r in snapshot["rankings"]}
    assert ranking["quarter_hour_rate"]["ranked"] == [{"slug": "shilipu", "value": EXPECTED_RATE, "rank": 1}]
    assert ranking["quarter_hour_rate"]["hidden"] == []
    assert ranking["matters_resolved"]["basis"] == "per_100_residents"
    assert ranking["matters_resolved"]["ranked"][0]["value"] == round(86 * 100 / 1200, 2)
