"""The escalation sweep with a frozen clock: reminders when a target passes in working hours (across
the National Day holiday and on a 调休 make-up working day), admins told later, once each; reopened
matters, auto-close, idempotency; and two moderators taking up the same matter at the same moment."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import create_engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from tests.conftest import PASSWORD, _community, _street
from tests.matter_world import build
from yishi.core import jobs, tenancy
from yishi.core.db import db
from yishi.core.errors import ConflictError
from yishi.modules.accounts import services as accounts
from yishi.modules.accounts.models import CommunityRole, User
from yishi.modules.accounts.permissions import Actor
from yishi.modules.communities.models import Community, Street, TargetClock
from yishi.modules.matters import services, tasks
from yishi.modules.matters.models import DueKind, EntryKind, Escalation, Matter, Status, TimelineEntry
from yishi.modules.notifications.services import notifications_of
from yishi.schedule import SCHEDULE

SHANGHAI = ZoneInfo("Asia/Shanghai")
PG_URL = os.environ.get("YISHI_TEST_DATABASE_URL", "")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


@pytest.fixture
def w(community, create_user):
    return build(community, create_user)


@pytest.fixture
def hours(w):
    """The community counts its targets in working hours, 08:30-17:30 Shanghai time."""
    w.community.target_clock = TargetClock.WORKING_HOURS
    w.community.working_hours = "08:30-17:30"
    db.session.commit()
    return w


def sweep(w, at: datetime) -> dict:
    with w.scope():
        sent = services.sweep(db.session.get(Community, w.community.id), now=at)
        db.session.commit()
    return sent


NOTHING = {"reminders": 0, "escalations": 0, "closed": 0}


def escalations(w) -> list[tuple]:
    with w.scope():
        rows = db.session.execute(select(Escalation).order_by(Escalation.id)).scalars()
        return [(e.matter_id, e.due_kind, e.level, e.due_at) for e in rows]


def entries(w, matter_id: int, kind: EntryKind | None = None) -> list[TimelineEntry]:
    with w.scope():
        statement = select(TimelineEntry).where(TimelineEntry.matter_id == matter_id).order_by(TimelineEntry.id)
        found = list(db.session.execute(statement).scalars())
        return [e for e in found if kind is None or e.kind == kind]


def inbox(*users: User) -> dict[str, list[str]]:
    db.session.expire_all()
    return {user.name: [n.link for n in notifications_of(user)] for user in users}


# --- working hours and the official calendar ---------------------------------------------------------


def test_a_matter_raised_before_national_day_is_reminded_after_it(app, hours):
    w = hours
    raised = w.raise_matter(at=local(2026, 9, 30, 17, 25))
    matter = w.matter(raised.id)
    assert matter.first_response_due_at == local(2026, 10, 8, 8, 40)  # 5 minutes on Sep 30, 10 on Oct 8
    assert matter.first_response_escalate_at == local(2026, 10, 8, 8, 55)  # 15 working minutes later
    assert matter.first_response_due_at.tzinfo == UTC
    jobs.run_pending(app)  # the moderators hear of the new matter
    people = (w.moderator, w.moderator2, w.west_moderator, w.admin)
    before = inbox(*people)
    assert len(before[w.moderator.name]) == 1 and before[w.west_moderator.name] == []

    for quiet in (
        local(2026, 10, 1, 9, 0),
        local(2026, 10, 3, 12, 0),
        local(2026, 10, 7, 23, 59),
        local(2026, 10, 8, 8, 39),
    ):
        assert sweep(w, quiet) == NOTHING, quiet
    assert escalations(w) == [] and jobs.run_pending(app) == 0

    assert sweep(w, local(2026, 10, 8, 8, 41)) == {"reminders": 1, "escalations": 0, "closed": 0}
    assert escalations(w) == [(raised.id, DueKind.FIRST_RESPONSE, 1, local(2026, 10, 8, 8, 40))]
    [reminder] = entries(w, raised.id, EntryKind.REMINDER)
    assert (reminder.public, reminder.actor_role, reminder.action) == (False, "system", "first_response:1")
    assert reminder.at == local(2026, 10, 8, 8, 41)
    with w.scope():
        assert reminder.id not in {e.id for e in services.timeline(w.matter(raised.id), internal=False)}
    assert jobs.run_pending(app) == 1
    after = inbox(*people)
    link = f"/c/{w.community.slug}/matters/{raised.id}"
    assert after[w.moderator.name] == [link, *before[w.moderator.name]]
    assert after[w.moderator2.name] == [link, *before[w.moderator2.name]]
    assert after[w.west_moderator.name] == [] and after[w.admin.name] == []

    for again in (local(2026, 10, 8, 8, 41), local(2026, 10, 8, 8, 50), local(2026, 10, 8, 8, 54)):
        assert sweep(w, again) == NOTHING
    assert len(escalations(w)) == 1 and jobs.run_pending(app) == 0

    assert sweep(w, local(2026, 10, 8, 8, 56)) == {"reminders": 0, "escalations": 1, "closed": 0}
    assert escalations(w)[1] == (raised.id, DueKind.FIRST_RESPONSE, 2, local(2026, 10, 8, 8, 40))
    [told] = entries(w, raised.id, EntryKind.ESCALATION)
    assert (told.public, told.actor_role, told.action) == (False, "system", "first_response:2")
    assert jobs.run_pending(app) == 1
    final = inbox(*people)
    assert final[w.admin.name] == [link]
    assert final[w.moderator.name] == after[w.moderator.name]  # the moderators are not told twice
    assert sweep(w, local(2026, 10, 9, 10, 0)) == NOTHING
    assert len(escalations(w)) == 2 and jobs.run_pending(app) == 0
    assert w.matter(raised.id).status == Status.SUBMITTED  # escalation tells people; it moves nothing


def test_the_make_up_working_day_counts(app, hours):
    w = hours
    raised = w.raise_matter(at=local(2026, 10, 9, 17, 25))  # a Friday evening
    matter = w.matter(raised.id)
    assert matter.first_response_due_at == local(2026, 10, 10, 8, 40)  # Saturday, 调休上班
    assert matter.first_response_escalate_at == local(2026, 10, 10, 8, 55)
    assert sweep(w, local(2026, 10, 10, 8, 39)) == NOTHING
    assert sweep(w, local(2026, 10, 10, 8, 40)) == {"reminders": 1, "escalations": 0, "closed": 0}
    assert sweep(w, local(2026, 10, 10, 8, 55)) == {"reminders": 0, "escalations": 1, "closed": 0}
    assert [(kind, level, due) for _m, kind, level, due in escalations(w)] == [
        (DueKind.FIRST_RESPONSE, 1, local(2026, 10, 10, 8, 40)),
        (DueKind.FIRST_RESPONSE, 2, local(2026, 10, 10, 8, 40)),
    ]


def test_a_matter_of_no_point_reminds_the_admins(app, hours):
    w = hours
    raised = w.raise_matter(at=local(2026, 10, 12, 9, 0), resident_group_id=None)
    assert raised.point_id is None
    jobs.run_pending(app)
    before = inbox(w.admin, w.moderator)
    assert sweep(w, local(2026, 10, 12, 9, 16))["reminders"] == 1
    assert jobs.run_pending(app) == 1
    after = inbox(w.admin, w.moderator)
    assert after[w.admin.name] == [f"/c/{w.community.slug}/matters/{raised.id}", *before[w.admin.name]]
    assert after[w.moderator.name] == before[w.moderator.name]


def test_an_ordinary_saturday_does_not_count(app, hours):
    w = hours
    raised = w.raise_matter(at=local(2026, 10, 16, 17, 25))  # Friday; the 17th is an ordinary Saturday
    assert w.matter(raised.id).first_response_due_at == local(2026, 10, 19, 8, 40)
    assert sweep(w, local(2026, 10, 17, 9, 0)) == NOTHING
    assert sweep(w, local(2026, 10, 19, 8, 41))["reminders"] == 1


def test_a_matter_taken_up_in_time_is_never_reminded_for_its_first_response(app, hours):
    w = hours
    raised = w.raise_matter(at=local(2026, 9, 30, 17, 25))
    w.move(raised.id, "accept", by=w.moderator, at=local(2026, 10, 8, 8, 35))
    assert w.matter(raised.id).first_response_met is True
    for at in (local(2026, 10, 8, 8, 41), local(2026, 10, 8, 9, 0), local(2026, 10, 12, 12, 0)):
        assert sweep(w, at) == NOTHING
    assert escalations(w) == []


def test_a_matter_taken_up_after_the_reminder_is_not_escalated_to_the_admins(app, hours):
    w = hours
    raised = w.raise_matter(at=local(2026, 9, 30, 17, 25))
    assert sweep(w, local(2026, 10, 8, 8, 41))["reminders"] == 1
    w.move(raised.id, "accept", by=w.moderator2, at=local(2026, 10, 8, 8, 45))
    matter = w.matter(raised.id)
    assert (matter.first_response_met, matter.minutes_to_accept, matter.assignee_id) == (
        False,
        7 * 24 * 60 + 15 * 60 + 20,  # wall-clock minutes from Sep 30 17:25 to Oct 8 08:45
        w.moderator2.id,
    )
    assert sweep(w, local(2026, 10, 8, 9, 0)) == NOTHING
    assert [level for _m, _k, level, _d in escalations(w)] == [1]


def test_a_reopened_matter_gets_a_new_due_time_and_may_be_reminded_again(app, hours):
    w = hours
    raised = w.raise_matter(at=local(2026, 10, 12, 9, 0))  # an ordinary Monday
    assert sweep(w, local(2026, 10, 12, 9, 16))["reminders"] == 1
    w.move(raised.id, "accept", by=w.moderator, at=local(2026, 10, 12, 9, 20))
    w.move(raised.id, "resolve", by=w.moderator, note="换了灯泡", at=local(2026, 10, 12, 10, 0))
    w.move(raised.id, "reopen", by=None, tracked=True, note="晚上还是不亮", at=local(2026, 10, 12, 17, 20))
    matter = w.matter(raised.id)
    assert matter.status == Status.REOPENED
    assert matter.first_response_due_at == local(2026, 10, 13, 8, 35)  # 10 minutes tonight, 5 tomorrow
    assert matter.first_response_met is False  # the first answer's record stays for the reports

    assert sweep(w, local(2026, 10, 13, 8, 34)) == NOTHING
    assert sweep(w, local(2026, 10, 13, 8, 36))["reminders"] == 1
    assert sweep(w, local(2026, 10, 13, 8, 37)) == NOTHING
    first_response = [(level, due) for _m, kind, level, due in escalations(w) if kind == DueKind.FIRST_RESPONSE]
    assert first_response == [(1, local(2026, 10, 12, 9, 15)), (1, local(2026, 10, 13, 8, 35))]
    assert len(entries(w, raised.id, EntryKind.REMINDER)) == 2


def test_the_resolution_target_is_reminded_and_escalated(app, w):
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # around the clock: 7 days for a streetlight
    raised = w.raise_matter(at=start)
    w.move(raised.id, "accept", by=w.moderator, at=start + timedelta(minutes=5))
    w.move(raised.id, "start", by=w.moderator, at=start + timedelta(minutes=6))
    assert sweep(w, start + timedelta(days=7) - timedelta(minutes=1)) == NOTHING
    assert sweep(w, start + timedelta(days=7)) == {"reminders": 1, "escalations": 0, "closed": 0}
    assert sweep(w, start + timedelta(days=8) - timedelta(minutes=1)) == NOTHING
    assert sweep(w, start + timedelta(days=8)) == {"reminders": 0, "escalations": 1, "closed": 0}  # a day later
    assert escalations(w) == [
        (raised.id, DueKind.RESOLUTION, 1, start + timedelta(days=7)),
        (raised.id, DueKind.RESOLUTION, 2, start + timedelta(days=7)),
    ]
    assert [e.action for e in entries(w, raised.id) if e.kind != EntryKind.TRANSITION] == [
        "resolution:1",
        "resolution:2",
    ]


# --- auto-close --------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [None, 3])
def test_a_resolved_matter_is_closed_by_the_system_after_auto_close_days(app, w, days):
    if days is not None:
        w.community.auto_close_days = days
        db.session.commit()
    days = days or 7
    assert w.community.auto_close_days == days
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    raised = w.raise_matter(at=start)
    other = w.raise_matter(at=start, title="还在处理")
    w.move(raised.id, "accept", by=w.moderator, at=start + timedelta(minutes=5))
    w.move(other.id, "accept", by=w.moderator, at=start + timedelta(minutes=5))
    resolved = start + timedelta(hours=2)
    w.move(raised.id, "resolve", by=w.moderator, note="修好了", at=resolved)

    assert sweep(w, resolved + timedelta(days=days) - timedelta(minutes=1))["closed"] == 0
    assert w.matter(raised.id).status == Status.RESOLVED
    assert sweep(w, resolved + timedelta(days=days))["closed"] == 1
    matter = w.matter(raised.id)
    assert (matter.status, matter.closed_at) == (Status.CLOSED, resolved + timedelta(days=days))
    last = entries(w, raised.id)[-1]
    assert (last.action, last.from_status, last.to_status) == ("close", Status.RESOLVED, Status.CLOSED)
    assert (last.actor_role, last.actor_user_id, last.public) == ("system", None, True)
    assert str(days) in last.note
    assert w.matter(other.id).status == Status.ACCEPTED  # only resolved matters close themselves
    assert sweep(w, resolved + timedelta(days=days + 1))["closed"] == 0


# --- idempotency -------------------------------------------------------------------------------------


def test_two_sweeps_at_the_same_time_send_one_escalation(app, hours):
    w = hours
    late = w.raise_matter(at=local(2026, 10, 12, 9, 0))
    later = w.raise_matter(at=local(2026, 10, 12, 9, 5), title="又一件")
    at = local(2026, 10, 12, 9, 40)  # both past their escalation time: level 1 and 2 at once
    assert jobs.run_pending(app) == 2  # the "submitted" notices
    notices = jobs.queue("notifications", app)
    with w.scope():
        sent = services.sweep(db.session.get(Community, w.community.id), now=at)
        assert notices.count == 0  # nothing leaves before the sweep commits (each escalation is a savepoint)
        db.session.commit()
    assert sent == {"reminders": 2, "escalations": 2, "closed": 0}
    assert notices.count == 4
    assert sweep(w, at) == NOTHING
    rows = escalations(w)
    assert len(rows) == 4 and len(set(rows)) == 4
    assert {(m, level) for m, _k, level, _d in rows} == {(late.id, 1), (late.id, 2), (later.id, 1), (later.id, 2)}
    assert jobs.run_pending(app) == 4 and notices.count == 0  # four escalation notices, no more


def test_a_second_scheduler_that_read_the_same_late_matter_sends_nothing(app, hours):
    """Two schedulers both found the matter late before either wrote: the unique key decides."""
    w = hours
    raised = w.raise_matter(at=local(2026, 10, 12, 9, 0))
    due = local(2026, 10, 12, 9, 15)
    rule = services.RULES[0]
    assert (rule.due_kind, rule.level) == (DueKind.FIRST_RESPONSE, 1)
    jobs.run_pending(app)
    with w.scope():
        community = db.session.get(Community, w.community.id)
        assert services._escalate_once(community, raised.id, rule, due, local(2026, 10, 12, 9, 16)) is True
        assert services._escalate_once(community, raised.id, rule, due, local(2026, 10, 12, 9, 16)) is False
        db.session.commit()
    assert escalations(w) == [(raised.id, DueKind.FIRST_RESPONSE, 1, due)]
    assert len(entries(w, raised.id, EntryKind.REMINDER)) == 1
    assert jobs.run_pending(app) == 1  # one notice
    with w.scope():  # the database itself refuses a duplicate
        db.session.add(
            Escalation(
                community_id=w.community.id,
                matter_id=raised.id,
                due_kind=DueKind.FIRST_RESPONSE,
                level=1,
                due_at=due,
            )
        )
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
    assert sweep(w, local(2026, 10, 12, 9, 17)) == NOTHING


# --- the scheduled job -------------------------------------------------------------------------------


def test_sweep_all_is_scheduled_and_sweeps_every_active_community(app, hours, other_community, create_user):
    assert tasks.sweep_all.job_name == "yishi.modules.matters.tasks.sweep_all"
    assert [p.cron for p in SCHEDULE if p.job_name == tasks.sweep_all.job_name] == ["* * * * *"]
    w = hours
    there = build(other_community, create_user)
    here_matter = w.raise_matter(at=local(2026, 9, 30, 17, 25))
    with time_machine.travel(local(2026, 10, 1, 12, 0), tick=False):
        there_matter = there.raise_matter()  # around the clock: due at 12:15
    jobs.run_pending(app)

    with time_machine.travel(local(2026, 10, 3, 12, 0), tick=False):
        assert tasks.sweep_all() == {"communities": 2, "reminders": 1, "escalations": 1, "closed": 0}
    assert escalations(w) == []  # still the holiday here
    assert [(m, level) for m, _k, level, _d in escalations(there)] == [(there_matter.id, 1), (there_matter.id, 2)]

    with time_machine.travel(local(2026, 10, 8, 8, 41)):
        jobs.enqueue(tasks.sweep_all, after_commit=False)
        assert jobs.run_pending(app) == 1 + 2  # the sweep, then the two moderators' reminders it queued
        assert jobs.run_pending(app) == 0
    assert [(m, level) for m, _k, level, _d in escalations(w)] == [(here_matter.id, 1)]
    assert inbox(w.moderator)[w.moderator.name][0] == f"/c/{w.community.slug}/matters/{here_matter.id}"
    assert inbox(w.west_moderator)[w.west_moderator.name] == []


# --- two moderators at once --------------------------------------------------------------------------


def test_a_stale_read_is_refused_when_someone_else_took_it_up_meanwhile(app, w):
    """The sequential form of the race: the second moderator's copy is stale when it writes."""
    raised = w.raise_matter()
    with w.scope():
        community = db.session.get(Community, w.community.id)
        mine = services.get_matter(raised.id)
        assert mine.version == 1
        # Another request takes it up and commits between this one's read and its write.
        db.session.execute(
            update(Matter)
            .where(Matter.id == raised.id)
            .values(version=Matter.version + 1, status=Status.ACCEPTED, assignee_id=w.moderator.id),
            execution_options={"synchronize_session": False},
        )
        with pytest.raises(ConflictError):
            services.transition(community, mine, "accept", actor=Actor(user=w.moderator2))
        db.session.rollback()
    matter = w.matter(raised.id)
    assert (matter.status, matter.version) == (Status.SUBMITTED, 1)  # the rollback undid the other write too

    w.move(raised.id, "accept", by=w.moderator)
    with w.scope(), pytest.raises(ConflictError):
        services.transition(
            db.session.get(Community, w.community.id),
            services.get_matter(raised.id),
            "accept",
            actor=Actor(user=w.moderator2),
            expected_version=1,
        )
    matter = w.matter(raised.id)
    assert (matter.status, matter.version, matter.assignee_id) == (Status.ACCEPTED, 2, w.moderator.id)
    assert [e.action for e in entries(w, raised.id)] == ["submit", "accept"]


def test_a_stale_reopen_in_working_hours_is_a_conflict(app, hours):
    """Reopening computes new due times from the community's calendar (queries) before it writes."""
    w = hours
    raised = w.raise_matter(at=local(2026, 10, 12, 9, 0))
    w.move(raised.id, "accept", by=w.moderator, at=local(2026, 10, 12, 9, 5))
    w.move(raised.id, "resolve", by=w.moderator, note="修好了", at=local(2026, 10, 12, 10, 0))
    with w.scope():
        community = db.session.get(Community, w.community.id)
        mine = services.get_matter(raised.id)
        db.session.execute(  # the reporter closed it in another tab meanwhile
            update(Matter)
            .where(Matter.id == raised.id)
            .values(version=Matter.version + 1, status=Status.CLOSED, closed_at=local(2026, 10, 12, 10, 30)),
            execution_options={"synchronize_session": False},
        )
        with pytest.raises(ConflictError):
            services.transition(
                community, mine, "reopen", actor=Actor(), tracked=True, note="还是不亮", at=local(2026, 10, 12, 11, 0)
            )
        db.session.rollback()
    assert w.matter(raised.id).status == Status.RESOLVED


@pytest.mark.skipif(
    not PG_URL.startswith("postgresql"),
    reason="the race needs separate connections to a real PostgreSQL: set YISHI_TEST_DATABASE_URL=postgresql+psycopg://…",
)
def test_two_moderators_accepting_at_once_on_postgresql(app):
    engines = db.engines
    test_connection = engines[None]
    engine = create_engine(PG_URL)
    slug = f"race-{uuid.uuid4().hex[:8]}"
    created: dict[str, object] = {"users": []}
    db.session.remove()
    engines[None] = engine
    try:
        street = _street(slug)
        community = _community(slug, street)
        db.session.commit()
        created.update(street=street.id, community=community.id)
        counter = iter(range(1, 100))

        def make_user(*, community=None, role=None, name=None, phone="13812341234", **_):
            user = accounts.create_user(
                email=f"{slug}-{next(counter)}@test.example", name=name or slug, password=PASSWORD, phone=phone
            )
            created["users"].append(user.id)
            if community is not None:
                accounts.add_member(community, user, CommunityRole(role or "resident"))
            db.session.commit()
            return user

        world = build(community, make_user)
        raised = world.raise_matter()
        contenders = [world.moderator.id, world.moderator2.id]
        db.session.remove()

        barrier = threading.Barrier(2)
        results: dict[int, str] = {}

        def take_up(user_id: int) -> None:
            with app.app_context():
                try:
                    with tenancy.community_scope(created["community"]):
                        here = db.session.get(Community, created["community"])
                        actor = Actor(user=db.session.get(User, user_id))
                        matter = services.get_matter(raised.id)
                        assert matter.version == 1 and matter.status == Status.SUBMITTED
                        barrier.wait(timeout=20)
                        services.transition(here, matter, "accept", actor=actor)
                        db.session.commit()
                    results[user_id] = "won"
                except ConflictError:
                    db.session.rollback()
                    results[user_id] = "conflict"
                except Exception as error:  # noqa: BLE001 - reported in the assertion below
                    db.session.rollback()
                    results[user_id] = f"{type(error).__name__}: {error}"
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=take_up, args=(user_id,)) for user_id in contenders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        assert sorted(results.values()) == ["conflict", "won"], results
        winner = next(user_id for user_id, result in results.items() if result == "won")

        with tenancy.community_scope(created["community"]):
            matter = services.get_matter(raised.id)
            assert (matter.status, matter.version, matter.assignee_id) == (Status.ACCEPTED, 2, winner)
            accepts = db.session.execute(
                select(func.count(TimelineEntry.id)).where(
                    TimelineEntry.matter_id == raised.id, TimelineEntry.action == "accept"
                )
            ).scalar_one()
            assert accepts == 1
    finally:
        db.session.remove()
        engines[None] = test_connection
        with engine.begin() as connection:
            if "community" in created:
                connection.execute(delete(Community).where(Community.id == created["community"]))
            if created["users"]:
                connection.execute(delete(User).where(User.id.in_(created["users"])))
            if "street" in created:
                connection.execute(delete(Street).where(Street.id == created["street"]))
        with engine.connect() as connection:
            assert connection.execute(select(Community.id).where(Community.slug == slug)).first() is None
        engine.dispose()
