"""The working-day calendar: official holidays and 调休 from tenants/calendars, a community's own
overrides, and target due times around the clock or in working hours."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import bearer
from yishi.core import tenancy
from yishi.core.audit import AuditEntry
from yishi.core.db import db
from yishi.core.errors import NotFoundError, PermissionDenied
from yishi.modules.accounts.permissions import Actor
from yishi.modules.calendar import services
from yishi.modules.communities.models import TargetClock

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


@pytest.fixture
def working_hours(community):
    community.target_clock = TargetClock.WORKING_HOURS
    community.working_hours = "08:30-17:30"
    db.session.commit()
    return community


# --- the official calendar ---------------------------------------------------------------------------


def test_the_official_2026_calendar_matches_the_state_council_notice(app):
    official = services.load_official_calendar()
    days_off = sorted(day for day, entry in official.items() if not entry.is_workday)
    workdays = sorted(day for day, entry in official.items() if entry.is_workday)
    assert workdays == [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ]
    periods = {
        "元旦": (date(2026, 1, 1), 3),
        "春节": (date(2026, 2, 15), 9),
        "清明节": (date(2026, 4, 4), 3),
        "劳动节": (date(2026, 5, 1), 5),
        "端午节": (date(2026, 6, 19), 3),
        "中秋节": (date(2026, 9, 25), 3),
        "国庆节": (date(2026, 10, 1), 7),
    }
    assert len(days_off) == sum(length for _first, length in periods.values())
    for name, (first, length) in periods.items():
        named = sorted(day for day in days_off if official[day].name_zh == name)
        assert named[0] == first and len(named) == length and (named[-1] - named[0]).days == length - 1, name
    assert official[date(2026, 2, 14)] == (True, "春节调休上班", "Spring Festival make-up working day")
    assert official[date(2026, 2, 16)].is_workday is False
    assert date(2026, 10, 8) not in official  # an ordinary Thursday after the National Day week


def test_a_broken_calendar_file_is_named_in_the_error(tmp_path):
    (tmp_path / "2027.toml").write_text('holidays = [{date = "not a date", name_zh = "x", name_en = "x"}]\n')
    with pytest.raises(ValueError, match="2027.toml"):
        services.load_official_calendar(tmp_path)
    (tmp_path / "2027.toml").write_text('holidays = [{date = 2028-01-01, name_zh = "元旦", name_en = "New Year"}]\n')
    with pytest.raises(ValueError, match="2027.toml.*not in 2027"):
        services.load_official_calendar(tmp_path)
    (tmp_path / "2027.toml").write_text("workdays = [{date = 2027-01-01}]\n")
    with pytest.raises(ValueError, match="2027.toml.*name_zh"):
        services.load_official_calendar(tmp_path)
    assert services.load_official_calendar(tmp_path / "missing") == {}


def test_is_workday_official_then_weekend(app, community):
    with tenancy.community_scope(community.id):
        assert services.is_workday(date(2026, 2, 14)) is True  # 调休 Saturday
        assert services.is_workday(date(2026, 2, 28)) is True
        assert services.is_workday(date(2026, 2, 16)) is False  # Spring Festival Monday
        assert services.is_workday(date(2026, 10, 7)) is False
        assert services.is_workday(date(2026, 10, 8)) is True
        assert services.is_workday(date(2026, 10, 10)) is True  # 调休 Saturday
        assert services.is_workday(date(2026, 3, 7)) is False  # an ordinary Saturday
        # A year without a file: the week alone.
        assert services.is_workday(date(2035, 1, 1)) is True
        assert services.is_workday(date(2035, 1, 6)) is False


def test_an_override_beats_the_official_calendar(app, community, other_community, create_user):
    admin = Actor(user=create_user(community=community, role="admin"))
    resident = Actor(user=create_user(community=community, role="resident"))
    with pytest.raises(PermissionDenied):
        services.set_override(community, date(2026, 10, 5), True, "", actor=resident)
    services.set_override(community, date(2026, 10, 5), True, "值班", actor=admin)
    services.set_override(community, date(2026, 3, 2), False, "社区活动", actor=admin)
    services.set_override(community, date(2026, 3, 2), False, "社区议事日", actor=admin)  # replaces
    db.session.commit()
    with tenancy.community_scope(community.id):
        assert services.is_workday(date(2026, 10, 5)) is True
        assert services.is_workday(date(2026, 3, 2)) is False
        status = {day.date: day for day in services.month_view(2026, 10)}[date(2026, 10, 5)]
        assert (status.source, status.note, status.name_zh) == ("override", "值班", "国庆节")
        assert services.get_override(date(2026, 3, 2)).note == "社区议事日"
        actions = db.session.execute(select(AuditEntry.action)).scalars().all()
        assert actions.count("calendar.override_set") == 3
    with tenancy.community_scope(other_community.id):
        assert services.is_workday(date(2026, 10, 5)) is False
        assert services.is_workday(date(2026, 3, 2)) is True
    services.remove_override(community, date(2026, 10, 5), actor=admin)
    with pytest.raises(NotFoundError):
        services.remove_override(community, date(2026, 10, 5), actor=admin)
    with tenancy.community_scope(community.id):
        assert services.is_workday(date(2026, 10, 5)) is False


def test_month_view_sources(app, community):
    with tenancy.community_scope(community.id):
        february = services.month_view(2026, 2)
    assert len(february) == 28
    by_day = {day.date.day: day for day in february}
    assert (by_day[14].is_workday, by_day[14].source) == (True, "official")
    assert (by_day[16].is_workday, by_day[16].source, by_day[16].name_en) == (False, "official", "Spring Festival")
    assert (by_day[7].is_workday, by_day[7].source) == (False, "weekend")
    assert (by_day[9].is_workday, by_day[9].source) == (True, "weekday")


# --- due times ---------------------------------------------------------------------------------------


def test_due_at_around_the_clock(app, community):
    assert community.target_clock == TargetClock.AROUND_THE_CLOCK
    with tenancy.community_scope(community.id):
        due = services.due_at(local(2026, 2, 13, 17, 20), 15)
        assert due == local(2026, 2, 13, 17, 35) and due.tzinfo == UTC
        assert services.due_at(local(2026, 10, 1, 3, 0), 7 * 24 * 60) == local(2026, 10, 8, 3, 0)
        with pytest.raises(ValueError):
            services.due_at(datetime(2026, 2, 13, 17, 20), 15)  # naive


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        # Inside the day.
        (local(2026, 3, 2, 9, 0), 15, local(2026, 3, 2, 9, 15)),
        (local(2026, 3, 2, 8, 30), 540, local(2026, 3, 2, 17, 30)),
        # Before opening and after closing.
        (local(2026, 3, 2, 7, 0), 15, local(2026, 3, 2, 8, 45)),
        (local(2026, 3, 2, 20, 0), 15, local(2026, 3, 3, 8, 45)),
        # Across an ordinary weekend.
        (local(2026, 3, 6, 17, 20), 15, local(2026, 3, 9, 8, 35)),
        (local(2026, 3, 7, 10, 0), 15, local(2026, 3, 9, 8, 45)),
        # Friday before the Spring Festival: onto the 调休 Saturday 14 Feb.
        (local(2026, 2, 13, 17, 20), 15, local(2026, 2, 14, 8, 35)),
        # From the 调休 Saturday across the whole Spring Festival holiday (15-23 Feb).
        (local(2026, 2, 14, 17, 0), 60, local(2026, 2, 24, 9, 0)),
        (local(2026, 2, 16, 12, 0), 15, local(2026, 2, 24, 8, 45)),
        # Across the National Day week (1-7 Oct), then onto the 调休 Saturday 10 Oct.
        (local(2026, 9, 30, 17, 0), 120, local(2026, 10, 8, 10, 0)),
        (local(2026, 10, 9, 17, 0), 60, local(2026, 10, 10, 9, 0)),
        # Several working days.
        (local(2026, 3, 2, 9, 0), 3 * 540, local(2026, 3, 5, 9, 0)),
    ],
)
def test_due_at_in_working_hours(app, working_hours, start, minutes, due):
    with tenancy.community_scope(working_hours.id):
        result = services.due_at(start, minutes)
    assert result == due and result.tzinfo == UTC, result.astimezone(SHANGHAI)


def test_due_at_uses_the_communitys_zone_hours_and_overrides(app, working_hours, create_user):
    admin = Actor(user=create_user(community=working_hours, role="admin"))
    utc_start = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai, before opening
    with tenancy.community_scope(working_hours.id):
        assert services.due_at(utc_start, 15) == datetime(2026, 3, 2, 0, 45, tzinfo=UTC)
    services.set_override(working_hours, date(2026, 3, 3), False, "停电", actor=admin)
    services.update_clock_settings(working_hours, {"working_hours": "09:00-12:00"}, actor=admin)
    with tenancy.community_scope(working_hours.id):
        assert services.due_at(local(2026, 3, 2, 11, 50), 15) == local(2026, 3, 4, 9, 5)


# --- API -------------------------------------------------------------------------------------------


def test_calendar_api(client, community, token_for):
    secret = token_for(community=community)
    base = f"/api/v1/communities/{community.slug}/calendar"
    month = client.get(base + "/days?year=2026&month=2", headers=bearer(secret)).get_json()
    assert (month["year"], month["month"], len(month["days"])) == (2026, 2, 28)
    days = {day["date"]: day for day in month["days"]}
    assert days["2026-02-14"]["is_workday"] is True and days["2026-02-14"]["source"] == "official"
    assert days["2026-02-16"]["is_workday"] is False and days["2026-02-16"]["name_zh"] == "春节"
    assert days["2026-02-07"]["source"] == "weekend"
    assert client.get(base + "/days?month=13", headers=bearer(secret)).status_code == 422
    assert client.get(base + "/days", headers=bearer(secret)).status_code == 200

    bad = client.post(base + "/overrides", headers=bearer(secret), json={"date": "2026-02-30", "is_workday": "maybe"})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"date", "is_workday"}
    created = client.post(
        base + "/overrides", headers=bearer(secret), json={"date": "2026-02-16", "is_workday": True, "note": "值班"}
    )
    assert created.status_code == 200 and created.get_json() == {
        "date": "2026-02-16",
        "is_workday": True,
        "note": "值班",
    }
    assert client.get(base + "/overrides/2026-02-16", headers=bearer(secret)).get_json()["note"] == "值班"
    month = client.get(base + "/days?year=2026&month=2", headers=bearer(secret)).get_json()
    assert {d["date"]: d for d in month["days"]}["2026-02-16"]["source"] == "override"
    assert client.delete(base + "/overrides/2026-02-16", headers=bearer(secret)).status_code == 204
    assert client.get(base + "/overrides/2026-02-16", headers=bearer(secret)).status_code == 404
    assert client.delete(base + "/overrides/2026-02-16", headers=bearer(secret)).status_code == 404
    assert client.get(base + "/overrides/16-02-2026", headers=bearer(secret)).status_code == 404

    settings = client.get(base + "/settings", headers=bearer(secret)).get_json()
    assert settings == {"target_clock": "around_the_clock", "working_hours": "08:30-17:30", "auto_close_days": 7}
    bad = client.patch(
        base + "/settings", headers=bearer(secret), json={"target_clock": "sometimes", "working_hours": "25:00-08:00"}
    )
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert set(bad.get_json()["errors"]) == {"target_clock", "working_hours"}
    assert "08:30-17:30" in bad.get_json()["errors"]["working_hours"][0]
    closed = client.patch(base + "/settings", headers=bearer(secret), json={"working_hours": "17:30-08:30"})
    assert closed.status_code == 422
    changed = client.patch(
        base + "/settings",
        headers=bearer(secret),
        json={"target_clock": "working_hours", "working_hours": "09:00-18:00"},
    )
    assert changed.status_code == 200 and changed.get_json()["target_clock"] == "working_hours"
    assert (community.target_clock, community.working_hours) == (TargetClock.WORKING_HOURS, "09:00-18:00")
    too_long = client.patch(base + "/settings", headers=bearer(secret), json={"auto_close_days": 0})
    assert too_long.status_code == 422 and set(too_long.get_json()["errors"]) == {"auto_close_days"}
    days = client.patch(base + "/settings", headers=bearer(secret), json={"auto_close_days": 3})
    assert days.status_code == 200 and community.auto_close_days == 3


def test_calendar_api_needs_write_to_change(client, community, token_for):
    secret = token_for(community=community, scopes="community:read")
    base = f"/api/v1/communities/{community.slug}/calendar"
    assert client.get(base + "/days", headers=bearer(secret)).status_code == 200
    denied = client.post(base + "/overrides", headers=bearer(secret), json={"date": "2026-03-02", "is_workday": False})
    assert denied.status_code == 403
    assert (
        client.patch(base + "/settings", headers=bearer(secret), json={"working_hours": "09:00-17:00"}).status_code
        == 403
    )


# --- page ------------------------------------------------------------------------------------------


def test_calendar_page(client, community, create_user, login_as):
    login_as(create_user(community=community, role="admin"))
    home = client.get(f"/c/{community.slug}/").get_data(as_text=True)
    url = f"/c/{community.slug}/admin/calendar"
    assert url in home
    page = client.get(url + "?year=2026&month=2").get_data(as_text=True)
    assert page.count('data-testid="calendar-day"') == 28
    assert 'data-date="2026-02-14" data-workday="true" data-source="official"' in page
    assert 'data-date="2026-02-16" data-workday="false" data-source="official"' in page
    assert "春节" in page and "cal-makeup" in page and "cal-holiday" in page
    assert client.get(url + "?year=2026&month=13").status_code == 404

    saved = client.post(
        url + "?year=2026&month=2", data={"day": "2026-02-16", "is_workday": "1", "note": "值班", "submit": "1"}
    )
    assert saved.status_code == 302 and "month=2" in saved.headers["Location"]
    page = client.get(url + "?year=2026&month=2").get_data(as_text=True)
    assert 'data-date="2026-02-16" data-workday="true" data-source="override"' in page
    assert page.count('data-testid="override-row"') == 1
    bad = client.post(url, data={"day": "2026-02-31", "is_workday": "1", "submit": "1"})
    assert bad.status_code == 200 and "is-invalid" in bad.get_data(as_text=True)

    removed = client.post(url + "/overrides/2026-02-16/delete")
    assert removed.status_code == 302
    assert client.post(url + "/overrides/2026-02-16/delete").status_code == 404
    with tenancy.community_scope(community.id):
        assert services.is_workday(date(2026, 2, 16)) is False

    bad = client.post(
        url, data={"clock-target_clock": "working_hours", "clock-working_hours": "25:00-08:00", "clock-submit": "1"}
    )
    body = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "is-invalid" in body and "08:30-17:30" in body
    assert community.target_clock == TargetClock.AROUND_THE_CLOCK
    saved = client.post(
        url, data={"clock-target_clock": "working_hours", "clock-working_hours": "09:00-17:00", "clock-submit": "1"}
    )
    assert saved.status_code == 302
    assert (community.target_clock, community.working_hours) == (TargetClock.WORKING_HOURS, "09:00-17:00")


def test_calendar_page_is_for_admins(client, community, create_user, login_as):
    login_as(create_user(community=community, role="resident"))
    assert client.get(f"/c/{community.slug}/admin/calendar").status_code == 403
