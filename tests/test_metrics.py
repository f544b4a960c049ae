"""The figures of metrics/definitions.py, each against a small hand-computed fixture: times to take
up (nearest-rank median and 90th percentile), the quarter-hour rate and its denominator, resolution,
satisfaction, disputes and agreements, withdrawn matters left out, half-open periods, distinct
participants across every kind of taking part, meetings held, groups covered, per 100 residents; one
community, several combined, never another's rows; months in the community's time zone; the
dashboard page and the figures API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.conftest import bearer
from tests.matter_world import build
from yishi.core.db import db
from yishi.modules.accounts.permissions import Actor
from yishi.modules.communities import services as communities
from yishi.modules.matters import services as matters
from yishi.modules.matters.models import Channel
from yishi.modules.meetings import services as meetings
from yishi.modules.meetings.models import CheckInMethod
from yishi.modules.metrics import services as metrics
from yishi.modules.metrics.definitions import METRICS
from yishi.modules.participation import services as participation
from yishi.modules.points import services as points
from yishi.schedule import SCHEDULE

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year, month, day, hour=0, minute=0, second=0, microsecond=0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=SHANGHAI)


# The period of most tests: October 2025 in Shanghai, long past, so "now" never matters.
START, END = local(2025, 10, 1), local(2025, 11, 1)
BASE = local(2025, 10, 6, 9)  # a Monday morning inside it


# --- building the fixtures through the services ------------------------------------------------------


@pytest.fixture
def w(community, create_user):
    return build(community, create_user)


@pytest.fixture
def w2(neighbour_community, create_user):
    """Donghu, the other community of the same street."""
    return build(neighbour_community, create_user)


@pytest.fixture
def w3(other_community, create_user):
    """Xiyuan, a community of another street."""
    return build(other_community, create_user)


def raised(w, at: datetime, *, category="streetlight", who=("王秀英", "13912345678"), group=0, **data) -> int:
    name, phone = who
    if category == "dispute":
        data.setdefault("parties", ["张三", "李四"])
    return w.raise_matter(
        at=at,
        category=category,
        reporter_name=name,
        reporter_phone=phone,
        resident_group_id=w.groups[group],
        **data,
    ).id


def take_up(w, matter_id: int, at: datetime) -> None:
    w.move(matter_id, "accept", by=w.admin, at=at)


def resolve(w, matter_id: int, at: datetime, **kwargs) -> None:
    w.move(matter_id, "resolve", by=w.admin, at=at, note="已办结", **kwargs)


def settle(w, matter_id: int, at: datetime, outcome: str) -> None:
    """Resolve a dispute, with or without an agreement."""
    text = "双方同意以田埂为界" if outcome == "agreement" else ""
    resolve(w, matter_id, at, outcome=outcome, agreement_text=text)


def reporter_moves(w, matter_id: int, action: str, at: datetime, **kwargs) -> None:
    """A move by whoever raised the matter (the anonymous reporter, holding its tracking code)."""
    w.move(matter_id, action, by=None, tracked=True, at=at, **kwargs)


def rate(w, matter_id: int, score: int, at: datetime) -> None:
    with w.scope():
        matters.rate(w.community, matters.get_matter(matter_id), score, actor=Actor(), tracked=True, at=at)
        db.session.commit()


def convene(w, starts_at: datetime, *, title="议事会") -> int:
    with w.scope():
        meeting = meetings.create_meeting(
            w.community,
            {"title": title, "point_id": w.east, "starts_at": starts_at, "ends_at": starts_at + timedelta(hours=1)},
            actor=Actor(user=w.moderator),
        )
        meeting_id = meeting.id
        db.session.commit()
    return meeting_id


def hold(w, meeting_id: int, *, attendees=(), publish=False) -> None:
    """Mark the meeting held at its start, check the attendees ((name, phone, group index)) in, and
    publish its minutes if asked."""
    actor = Actor(user=w.moderator)
    with w.scope():
        meeting = meetings.get_meeting(meeting_id)
        meetings.mark_held(w.community, meeting, actor=actor, at=meeting.starts_at)
        for name, phone, group in attendees:
            person = participation.person_for(name=name, phone=phone, group_id=w.groups[group])
            meetings.check_in(w.community, meeting, person, method=CheckInMethod.MANUAL, by=actor, at=meeting.starts_at)
        if publish:
            meetings.save_minutes(w.community, meeting, "# 纪要\n\n议定一项。", actor=actor)
            meetings.publish_minutes(w.community, meeting, actor=actor, at=meeting.ends_at)
        db.session.commit()


def figures_of(w, start=START, end=END, *, as_of=END) -> dict:
    return metrics.figures([w.community.id], start, end, as_of=as_of)[w.community.id]


# --- time to take up, and the quarter-hour rate ------------------------------------------------------


def test_minutes_to_take_up_nearest_rank_median_and_p90_and_quarter_hour_rate(w):
    # Seven matters taken up in 3, 5, 8, 12, 14, 20 and 40 minutes (raised in another order, so that
    # sorting by id would give other answers).
    for hour, minutes in enumerate((14, 3, 40, 8, 20, 5, 12)):
        at = BASE + timedelta(hours=hour)
        take_up(w, raised(w, at), at + timedelta(minutes=minutes))
    overdue = raised(w, BASE + timedelta(hours=10))  # never taken up; its quarter hour passed long ago
    raised(w, END - timedelta(minutes=5))  # not taken up, but its quarter hour ends after the period

    figures = figures_of(w)

    assert figures["accepted"] == 7
    assert figures["accept_minutes_median"] == 12  # rank ceil(7 * 0.5) = 4: 3 5 8 [12] 14 20 40
    assert figures["accept_minutes_p90"] == 40  # rank ceil(7 * 0.9) = 7
    assert figures["matters_raised"] == 9
    # Met: 3, 5, 8, 12, 14 (five). Cases: the seven taken up, plus the overdue one = 8.
    assert figures["first_response_cases"] == 8
    assert figures["quarter_hour_rate"] == 0.625

    # As of a moment before the overdue matter's quarter hour ran out, it is not a case yet.
    before_due = BASE + timedelta(hours=10, minutes=10)
    early = figures_of(w, as_of=before_due)
    assert early["first_response_cases"] == 7
    assert early["quarter_hour_rate"] == 0.714

    # Taken up late, it stays a case, now a missed one.
    take_up(w, overdue, BASE + timedelta(hours=11))
    later = figures_of(w)
    assert later["first_response_cases"] == 8
    assert later["quarter_hour_rate"] == 0.625
    assert later["accepted"] == 8
    assert later["accept_minutes_p90"] == 60  # 3 5 8 12 14 20 40 60: rank ceil(7.2) = 8


def test_the_quarter_hour_is_inclusive(w):
    on_time, late = raised(w, BASE), raised(w, BASE + timedelta(hours=1))
    take_up(w, on_time, BASE + timedelta(minutes=15))
    take_up(w, late, BASE + timedelta(hours=1, minutes=15, seconds=1))

    figures = figures_of(w)

    assert figures["first_response_cases"] == 2
    assert figures["quarter_hour_rate"] == 0.5
    assert figures["accept_minutes_median"] == 15 and figures["accept_minutes_p90"] == 15


def test_a_period_with_no_matter_has_counts_of_zero_and_no_rates(w):
    figures = figures_of(w)

    assert set(figures) == {metric.code for metric in METRICS}
    for code in ("matters_raised", "matters_resolved", "matters_closed", "accepted", "first_response_cases"):
        assert figures[code] == 0, code
    for code in ("quarter_hour_rate", "accept_minutes_median", "resolution_rate", "satisfaction_mean"):
        assert figures[code] is None, code
    assert figures["participants"] == 0 and figures["participants_per_100"] == 0.0
    assert figures["meetings_held"] == 0


# --- resolution, disputes, closing, satisfaction -------------------------------------------------------


def test_resolution_rate_disputes_agreements_and_closed(w):
    day = timedelta(days=1)
    a = raised(w, BASE)  # streetlight: 7 days to resolve
    take_up(w, a, BASE + timedelta(minutes=5))
    resolve(w, a, BASE + 2 * day)  # in time
    reporter_moves(w, a, "close", BASE + 3 * day)
    b = raised(w, BASE + timedelta(hours=1))
    take_up(w, b, BASE + timedelta(hours=1, minutes=5))
    resolve(w, b, BASE + timedelta(hours=1) + 8 * day)  # late
    c = raised(w, BASE + timedelta(hours=2), category="dispute")
    take_up(w, c, BASE + timedelta(hours=2, minutes=5))
    settle(w, c, BASE + timedelta(hours=2) + day, "agreement")
    reporter_moves(w, c, "close", END + day)  # closed after the period
    d = raised(w, BASE + timedelta(hours=3), category="dispute")
    take_up(w, d, BASE + timedelta(hours=3, minutes=5))
    settle(w, d, BASE + timedelta(hours=3) + day, "no_agreement")
    e = raised(w, BASE + timedelta(hours=4), category="dispute")  # a dispute taken up, not settled
    take_up(w, e, BASE + timedelta(hours=4, minutes=5))
    f = raised(w, local(2025, 9, 25, 10), category="road")  # raised before the period, resolved in it
    take_up(w, f, local(2025, 9, 25, 10, 5))
    resolve(w, f, local(2025, 10, 10, 10))  # 15 days, within the road's 30
    g = raised(w, local(2025, 10, 28, 10))  # resolved after the period
    take_up(w, g, local(2025, 10, 28, 10, 5))
    resolve(w, g, local(2025, 11, 3, 10))
    h = raised(w, BASE + timedelta(hours=5))  # resolved, then reopened: not resolved any more
    take_up(w, h, BASE + timedelta(hours=5, minutes=5))
    resolve(w, h, BASE + 2 * day)
    reporter_moves(w, h, "reopen", BASE + 3 * day, note="灯还是不亮")

    figures = figures_of(w)

    assert figures["matters_resolved"] == 5  # a, b, c, d, f
    assert figures["resolution_rate"] == 0.8  # all but b
    assert figures["disputes_mediated"] == 2  # c and d; e is not settled
    assert figures["agreements_reached"] == 1  # c
    assert figures["matters_closed"] == 1  # a; c closed after the period
    # Minutes from submission to resolution: c 1440, d 1440, a 2880, b 11520, f 21600.
    assert figures["resolve_minutes_median"] == 2880
    assert figures["resolve_minutes_p90"] == 21600
    assert figures["matters_raised"] == 7  # a, b, c, d, e, g, h (f was raised in September)


def test_satisfaction_mean_and_count_over_ratings_given_in_the_period(w):
    scores = {}
    for hour, score in enumerate((5, 4, 4, 1)):
        matter = raised(w, BASE + timedelta(hours=hour))
        take_up(w, matter, BASE + timedelta(hours=hour, minutes=5))
        resolve(w, matter, BASE + timedelta(days=1, hours=hour))
        scores[matter] = score
    for number, (matter, score) in enumerate(scores.items()):
        # the last rating is given after the period
        rate(w, matter, score, BASE + timedelta(days=2) if number < 3 else END + timedelta(hours=1))

    figures = figures_of(w)

    assert figures["satisfaction_count"] == 3
    assert figures["satisfaction_mean"] == 4.33  # (5 + 4 + 4) / 3, two decimals


# --- what does not count ------------------------------------------------------------------------------


def test_withdrawn_matters_are_not_raised_and_not_cases(w):
    kept = raised(w, BASE)
    take_up(w, kept, BASE + timedelta(minutes=5))
    gone = raised(w, BASE + timedelta(hours=1), category="road")
    reporter_moves(w, gone, "withdraw", BASE + timedelta(hours=2))  # after its quarter hour had passed

    figures = figures_of(w)

    assert figures["matters_raised"] == 1
    assert figures["first_response_cases"] == 1 and figures["quarter_hour_rate"] == 1.0
    assert metrics.breakdown([w.community.id], START, END, "category")[w.community.id] == {"streetlight": 1}
    months = metrics.monthly(w.community, START, END)
    assert months == {"2025-10": {"raised": 1, "resolved": 0, "within_target": 1}}


def test_periods_are_half_open(w):
    at_start = raised(w, START)
    raised(w, START - timedelta(microseconds=1))
    raised(w, END)
    before = raised(w, local(2025, 9, 20, 10))
    take_up(w, before, local(2025, 9, 20, 10, 5))
    resolve(w, before, START)  # resolved at the first instant: in
    late = raised(w, local(2025, 10, 20, 10))
    take_up(w, late, local(2025, 10, 20, 10, 5))
    resolve(w, late, END)  # resolved at the end: out
    take_up(w, at_start, START + timedelta(minutes=5))
    held_first, held_at_end = convene(w, START), convene(w, END)
    hold(w, held_first, attendees=[("赵一", "13900000001", 0)])
    hold(w, held_at_end, attendees=[("钱二", "13900000002", 1)])

    figures = figures_of(w)

    assert figures["matters_raised"] == 2  # at_start and late
    assert figures["matters_resolved"] == 1  # before
    assert figures["meetings_held"] == 1
    # Participants: the reporter of at_start (and late, the same 王秀英), and 赵一; not 钱二.
    assert figures["participants"] == 2


# --- people and meetings ---------------------------------------------------------------------------------


def test_participants_are_distinct_people_across_every_kind(w):
    # 赵一 raises two matters (the second with the phone typed with spaces) and attends a meeting.
    first = raised(w, BASE, who=("赵一", "13900000001"))
    raised(w, BASE + timedelta(hours=1), who=("赵一", "139 0000 0001"))
    held = convene(w, BASE + timedelta(days=1))
    hold(w, held, attendees=[("赵一", "13900000001", 0), ("钱二", "13900000002", 1)])
    # A resident with an account comments on an agenda item and volunteers to help: one person.
    planned = convene(w, BASE + timedelta(days=20))
    actor = Actor(user=w.resident)
    with w.scope():
        meeting = meetings.get_meeting(planned)
        item = meetings.add_agenda_item(w.community, meeting, actor=Actor(user=w.moderator), title="路灯安装位置")
        meetings.comment(w.community, meeting, item, "建议装在桥头", actor=actor, at=BASE + timedelta(days=2))
        matters.volunteer(w.community, matters.get_matter(first), actor=actor, at=BASE + timedelta(days=2))
        db.session.commit()
    # Outside the period: 孙三 raised a matter in September, 李四 came to a November meeting.
    raised(w, local(2025, 9, 10, 10), who=("孙三", "13900000003"))
    november = convene(w, local(2025, 11, 5, 19))
    hold(w, november, attendees=[("李四", "13900000004", 2)])

    figures = figures_of(w)

    assert figures["participants"] == 3  # 赵一, 钱二, the resident
    with w.scope():
        assert participation.distinct_participants(START, END) == 3
        assert participation.participants_by_kind(START, END) == {
            "raised": 1,
            "attended": 2,
            "commented": 1,
            "volunteered": 1,
        }


def test_meetings_held_counts_held_and_published_only(w):
    held, published = convene(w, BASE), convene(w, BASE + timedelta(days=1))
    planned, cancelled = convene(w, BASE + timedelta(days=2)), convene(w, BASE + timedelta(days=3))
    earlier = convene(w, local(2025, 9, 28, 19))
    hold(w, held)
    hold(w, published, publish=True)
    hold(w, earlier)
    with w.scope():
        meetings.cancel_meeting(w.community, meetings.get_meeting(cancelled), "下雨改期", actor=Actor(user=w.moderator))
        db.session.commit()

    figures = figures_of(w)

    assert figures["meetings_held"] == 2
    with w.scope():
        assert meetings.meetings_held(START, END) == 2
        assert meetings.get_meeting(planned).status.value == "planned"


def test_groups_covered_by_active_points(w):
    assert (figures_of(w)["groups_covered"], figures_of(w)["groups_total"]) == (3, 3)
    with w.scope():
        group = communities.create_resident_group(
            w.community,
            {"code": "g04", "name_zh": "第4居民小组", "name_en": "Group 4", "position": 4},
            actor=Actor(w.admin),
        )
        # A group served by two points is covered once.
        points.update_point(w.community, points.get_point(w.west), {"resident_group_ids": [w.groups[2], w.groups[0]]})
        db.session.commit()
    figures = figures_of(w)
    assert (figures["groups_covered"], figures["groups_total"]) == (3, 4)

    with w.scope():
        points.update_point(w.community, points.get_point(w.east), {"active": False})
        db.session.commit()
    figures = figures_of(w)
    assert (figures["groups_covered"], figures["groups_total"]) == (2, 4)  # g1 (west), g3
    with w.scope():
        points.update_point(w.community, points.get_point(w.west), {"resident_group_ids": [group.id]})
        db.session.commit()
    figures = figures_of(w)
    assert (figures["groups_covered"], figures["groups_total"]) == (1, 4)


def test_participants_per_100_residents(w, w2):
    for number in range(6):
        raised(w, BASE + timedelta(hours=number), who=(f"居民{number}", f"1390000000{number}"))
    for number in range(3):
        raised(w2, BASE + timedelta(hours=number), who=(f"居民{number}", f"1390000000{number}"))
    w2.community.resident_count = 300
    db.session.commit()

    both = metrics.figures([w.community.id, w2.community.id], START, END, as_of=END)

    assert both[w.community.id]["participants"] == 6
    assert both[w.community.id]["participants_per_100"] == 0.5  # 6 × 100 / 1200
    assert both[w2.community.id]["participants"] == 3
    assert both[w2.community.id]["participants_per_100"] == 1.0  # 3 × 100 / 300

    w2.community.resident_count = 0
    db.session.commit()
    assert figures_of(w2)["participants_per_100"] is None  # no residents known: no share


# --- several communities together, and never another's rows -----------------------------------------------


def _response_world(w, minutes_list, scores, hour0=0):
    for number, minutes in enumerate(minutes_list):
        at = BASE + timedelta(hours=hour0 + number)
        matter = raised(w, at, who=(f"居民{hour0 + number}", f"139000000{hour0 + number:02d}"))
        take_up(w, matter, at + timedelta(minutes=minutes))
        if number < len(scores):
            resolve(w, matter, at + timedelta(days=1))
            rate(w, matter, scores[number], at + timedelta(days=2))


def test_combined_figures_of_two_communities(w, w2):
    _response_world(w, (3, 5, 8), scores=(5,))
    _response_world(w2, (12, 14, 20, 40), scores=(4, 3), hour0=10)
    ids = [w.community.id, w2.community.id]

    apart = metrics.figures(ids, START, END, as_of=END)
    combined = metrics.figures(ids, START, END, as_of=END, combined=True)

    assert list(combined) == [metrics.TOTAL]
    total = combined[metrics.TOTAL]
    a, b = apart[w.community.id], apart[w2.community.id]
    assert (a["accept_minutes_median"], a["accept_minutes_p90"]) == (5, 8)  # ranks 2 and 3 of 3
    assert (b["accept_minutes_median"], b["accept_minutes_p90"]) == (14, 40)  # ranks 2 and 4 of 4
    assert (total["accept_minutes_median"], total["accept_minutes_p90"]) == (12, 40)  # over all seven
    assert total["matters_raised"] == 7 and total["accepted"] == 7
    assert a["quarter_hour_rate"] == 1.0 and b["quarter_hour_rate"] == 0.5
    assert total["quarter_hour_rate"] == 0.714  # not the mean of the two rates
    assert total["satisfaction_count"] == 3
    assert total["satisfaction_mean"] == 4.0  # (5 + 4 + 3) / 3, not the mean of 5 and 3.5
    assert total["matters_resolved"] == 3
    assert total["participants"] == 7
    assert total["participants_per_100"] == round(7 * 100 / 2400, 1)
    assert (total["groups_covered"], total["groups_total"]) == (3 + 2, 3 + 2)


def test_figures_of_a_community_never_include_another_communitys_rows(w, w2, w3):
    for world, count in ((w, 1), (w2, 2), (w3, 3)):
        for number in range(count):
            at = BASE + timedelta(hours=number)
            matter = raised(world, at, who=(f"居民{number}", f"1390000000{number}"))
            take_up(world, matter, at + timedelta(minutes=10 * (count)))
        hold(world, convene(world, BASE + timedelta(days=1)), attendees=[("周五", "13900000009", 0)])

    for world, count in ((w, 1), (w2, 2), (w3, 3)):
        alone = figures_of(world)
        assert alone["matters_raised"] == count
        assert alone["accept_minutes_median"] == 10 * count
        assert alone["participants"] == count + 1
        assert alone["meetings_held"] == 1
        assert metrics.breakdown([world.community.id], START, END, "channel")[world.community.id] == {"web": count}
        assert metrics.monthly(world.community, START, END)["2025-10"]["raised"] == count

    street = metrics.figures([w.community.id, w2.community.id], START, END, as_of=END, combined=True)
    assert street[metrics.TOTAL]["matters_raised"] == 3  # Xiyuan's three are not in it
    assert street[metrics.TOTAL]["participants"] == 5
    assert street[metrics.TOTAL]["meetings_held"] == 2


def test_breakdowns_by_category_channel_group_and_point(w):
    raised(w, BASE, category="dispute", group=0)
    raised(w, BASE + timedelta(hours=1), category="road", group=2)
    with w.scope():
        matters.submit(
            w.community,
            {"title": "组道积水", "category_id": w.categories["road"], "resident_group_id": w.groups[2],
             "reporter_name": "钱二"},
            channel=Channel.PHONE,
            actor=Actor(user=w.moderator),
            at=BASE + timedelta(hours=2),
        )  # fmt: skip
        db.session.commit()
    cid = w.community.id

    assert metrics.breakdown([cid], START, END, "category")[cid] == {"dispute": 1, "road": 2}
    assert metrics.breakdown([cid], START, END, "channel")[cid] == {"web": 2, "phone": 1}
    assert metrics.breakdown([cid], START, END, "group")[cid] == {str(w.groups[0]): 1, str(w.groups[2]): 2}
    assert metrics.breakdown([cid], START, END, "point")[cid] == {str(w.east): 1, str(w.west): 2}


# --- months in the community's time zone ----------------------------------------------------------------


def test_monthly_counts_by_month_in_the_communitys_time_zone(w):
    utc = UTC
    november = raised(w, datetime(2026, 10, 31, 20, 0, tzinfo=utc))  # 04:00 on 1 November in Shanghai
    october = raised(w, datetime(2026, 10, 31, 15, 59, tzinfo=utc))  # 23:59 on 31 October
    take_up(w, november, datetime(2026, 10, 31, 20, 10, tzinfo=utc))
    take_up(w, october, datetime(2026, 10, 31, 16, 30, tzinfo=utc))  # 31 minutes: late
    resolve(w, october, datetime(2026, 11, 30, 16, 30, tzinfo=utc))  # 00:30 on 1 December

    months = metrics.monthly(w.community, local(2026, 10, 1), local(2027, 1, 1))

    assert months == {
        "2026-10": {"raised": 1, "resolved": 0, "within_target": 0},
        "2026-11": {"raised": 1, "resolved": 0, "within_target": 1},
        "2026-12": {"raised": 0, "resolved": 1, "within_target": 0},
    }
    # The figures of November (Shanghai) agree.
    figures = figures_of(w, local(2026, 11, 1), local(2026, 12, 1), as_of=local(2026, 12, 1))
    assert figures["matters_raised"] == 1 and figures["matters_resolved"] == 0


# --- the dashboard page and the figures API ------------------------------------------------------------


class _Figures(HTMLParser):
    """The text of every element with a data-metric attribute, before any child element."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        code = dict(attrs).get("data-metric")
        if code is not None:
            self._open = code
            self.values[code] = ""
        elif self._open is not None:
            self._open = None  # stop at the first child (the "/ total" of groups covered)

    def handle_endtag(self, tag):
        self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self.values[self._open] += data


def shown_figures(html: str) -> dict[str, str]:
    parser = _Figures()
    parser.feed(html)
    return {code: value.strip() for code, value in parser.values.items()}


def dashboard(client, slug: str, first: date, last: date):
    return client.get(f"/c/{slug}/dashboard?period=custom&start={first.isoformat()}&end={last.isoformat()}")


def test_dashboard_page_shows_the_figures_of_the_period(w, client, login_as):
    for hour, minutes in enumerate((14, 3, 40, 8, 20, 5, 12)):
        at = BASE + timedelta(hours=hour)
        take_up(w, raised(w, at), at + timedelta(minutes=minutes))
    raised(w, BASE + timedelta(hours=10))  # overdue, never taken up
    raised(w, local(2025, 11, 2, 10))  # after the period
    login_as(w.admin)

    response = dashboard(client, w.community.slug, date(2025, 10, 1), date(2025, 10, 31))

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    shown = shown_figures(html)
    assert shown["matters_raised"] == "8"
    assert shown["accept_minutes_median"] == "12"
    assert shown["quarter_hour_rate"] == "62.5%"
    assert shown["matters_resolved"] == "0"
    assert shown["satisfaction_mean"] == "—"
    assert shown["groups_covered"] == "3"
    assert 'data-testid="period-label">2025-10-01–2025-10-31<' in html
    assert 'data-testid="month-chart"' in html and 'data-testid="chart-category"' in html


def test_dashboard_needs_matters_read_in_this_community(w, w3, client, login_as):
    for user, status in (
        (w.resident, 403),  # a member without matters:read
        (w3.admin, 404),  # the admin of another street's community
        (w.staff, 200),  # staff read matters: the dashboard is theirs too
    ):
        login_as(user)
        assert dashboard(client, w.community.slug, date(2025, 10, 1), date(2025, 10, 31)).status_code == status
        assert client.post("/logout").status_code == 302
    response = dashboard(client, w.community.slug, date(2025, 10, 1), date(2025, 10, 31))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_figures_api(w, w2, client, token_for):
    for hour, minutes in enumerate((14, 3, 40, 8, 20, 5, 12)):
        at = BASE + timedelta(hours=hour)
        take_up(w, raised(w, at), at + timedelta(minutes=minutes))
    raised(w2, BASE)  # the neighbour's matter is not Shilipu's
    url = f"/api/v1/communities/{w.community.slug}/figures"
    query = {"start": START.isoformat(), "end": END.isoformat()}
    headers = bearer(token_for(community=w.community, scopes="matters:read"))

    response = client.get(url, query_string=query, headers=headers)

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["figures"] == figures_of(w)
    assert body["figures"]["matters_raised"] == 7 and body["figures"]["accept_minutes_median"] == 12
    assert body["version"] and [d["code"] for d in body["definitions"]] == [m.code for m in METRICS]
    assert datetime.fromisoformat(body["start"]) == START and datetime.fromisoformat(body["end"]) == END

    bad = [
        {"start": END.isoformat(), "end": START.isoformat()},  # ends before it starts
        {"start": START.isoformat(), "end": START.isoformat()},  # empty
        {"start": START.isoformat()},  # no end
        {"start": "2025-10-01T00:00:00", "end": "2025-11-01T00:00:00"},  # no time zone
    ]
    for args in bad:
        answer = client.get(url, query_string=args, headers=headers)
        assert answer.status_code == 422, args
        assert answer.content_type.startswith("application/problem+json")

    reader = bearer(token_for(community=w.community, scopes="community:read"))
    assert client.get(url, query_string=query, headers=reader).status_code == 403
    stranger = bearer(token_for(community=w2.community, scopes="all"))
    assert client.get(url, query_string=query, headers=stranger).status_code == 404


def test_a_street_token_reads_its_communitys_figures_only(w, w3, client, token_for):
    take_up(w, raised(w, BASE), BASE + timedelta(minutes=4))
    query = {"start": START.isoformat(), "end": END.isoformat()}
    own = bearer(token_for(street=w.community.street, scopes="matters:read"))
    other = bearer(token_for(street=w3.community.street, scopes="all"))

    mine = client.get(f"/api/v1/communities/{w.community.slug}/figures", query_string=query, headers=own)
    theirs = client.get(f"/api/v1/communities/{w.community.slug}/figures", query_string=query, headers=other)

    assert mine.status_code == 200 and mine.get_json()["figures"]["matters_raised"] == 1
    assert theirs.status_code == 404


def test_dashboard_periods_are_days_of_the_communitys_time_zone(w, client, login_as):
    raised(w, datetime(2026, 1, 31, 16, 30, tzinfo=UTC))  # 00:30 on 1 February in Shanghai
    raised(w, local(2026, 1, 15, 10))
    raised(w, local(2025, 12, 20, 10))
    raised(w, local(2025, 1, 20, 10))
    expected = {
        "month": ("2026-02", "1"),
        "quarter": ("2026-Q1", "2"),
        "year": ("2026", "2"),
        "12m": ("2025-02-01–2026-02-01", "3"),  # the twelve months before this one, and this one to today
        "custom&start=2026-02-09&end=2026-02-01": ("2026-02", "1"),  # ends before it starts: this month
        "custom&start=someday&end=2026-02-01": ("2026-02", "1"),
        "custom&start=2025-12-01&end=2026-01-31": ("2025-12-01–2026-01-31", "2"),
    }
    with time_machine.travel(datetime(2026, 1, 31, 17, 0, tzinfo=UTC)):  # 01:00 on 1 February in Shanghai
        login_as(w.admin)
        for period, (label, count) in expected.items():
            html = client.get(f"/c/{w.community.slug}/dashboard?period={period}").get_data(as_text=True)
            assert f'data-testid="period-label">{label}<' in html, period
            assert shown_figures(html)["matters_raised"] == count, period
        default = client.get(f"/c/{w.community.slug}/dashboard").get_data(as_text=True)
        assert 'data-testid="period-label">2026-02<' in default


def test_street_totals_added_up_equal_the_totals_computed_together(community, neighbour_community, create_user):
    """The report adds the street's totals up from its communities' rows; they must be the figures of
    all the communities computed as one."""
    from datetime import UTC, datetime, timedelta

    from tests.matter_world import build
    from yishi.modules.metrics import services as metric_services

    start = datetime(2026, 3, 1, tzinfo=UTC)
    for world, count in ((build(community, create_user), 7), (build(neighbour_community, create_user), 4)):
        for number in range(count):
            at = start + timedelta(days=number, hours=1)
            raised = world.raise_matter(at=at, category="dispute" if number % 3 == 0 else "streetlight")
            world.move(raised.id, "accept", by=world.admin, at=at + timedelta(minutes=4 + 5 * number))
            if number % 2 == 0:
                kwargs = {"outcome": "agreement", "agreement_text": "和解"} if number % 3 == 0 else {}
                world.move(raised.id, "resolve", by=world.admin, at=at + timedelta(hours=number), note="好", **kwargs)
    ids = [community.id, neighbour_community.id]
    end = start + timedelta(days=30)
    per_community, totals = metric_services.street_figures(ids, start, end)
    together = metric_services.figures(ids, start, end, combined=True)[metric_services.TOTAL]
    assert totals == together
    assert per_community == metric_services.figures(ids, start, end)
    assert totals["matters_raised"] == 11 and totals["accept_minutes_median"] is not None


def test_kept_dashboards_are_served_while_fresh_and_recomputed_after(app, w, client, login_as):
    """The refresh job keeps the standard dashboards; the page serves them while fresh and for the
    same bounds, and computes live when they are stale (or for a period it does not keep)."""
    from yishi.core import jobs
    from yishi.modules.metrics.models import DashboardFigures

    now = datetime.now(UTC)
    raised(w, now - timedelta(hours=2))
    assert "yishi.modules.metrics.tasks.refresh_dashboards" in {p.job_name for p in SCHEDULE}
    jobs.enqueue("yishi.modules.metrics.tasks.refresh_dashboards", after_commit=False)
    assert jobs.run_pending(app) == 2  # the new matter's notification, and the refresh
    with w.scope():
        kept = {row.period_kind: row for row in db.session.execute(db.select(DashboardFigures)).scalars()}
    assert set(kept) == {"month", "12m"} and kept["12m"].data["figures"]["matters_raised"] == 1

    raised(w, now - timedelta(hours=1))  # after the job: the kept figures do not know it yet
    login_as(w.admin)
    page = client.get(f"/c/{w.community.slug}/dashboard?period=12m").get_data(as_text=True)
    assert shown_figures(page)["matters_raised"] == "1"
    assert 'data-testid="computed-at"' in page
    # a period the job does not keep is always computed live
    live = client.get(f"/c/{w.community.slug}/dashboard?period=year").get_data(as_text=True)
    assert shown_figures(live)["matters_raised"] == "2"

    with w.scope():  # ten minutes later the kept figures are stale: the page computes them again
        row = db.session.execute(db.select(DashboardFigures).where(DashboardFigures.period_kind == "12m")).scalar_one()
        row.computed_at = now - metrics.FRESH_FOR - timedelta(seconds=1)
        db.session.commit()
    page = client.get(f"/c/{w.community.slug}/dashboard?period=12m").get_data(as_text=True)
    assert shown_figures(page)["matters_raised"] == "2"
