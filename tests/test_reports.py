"""Street comparison reports: the job from queued to finished with its progress, a snapshot that never
changes once made (nor do its exports), the exports opened and read back, who may see and start a
report, the daily schedule that makes one monthly report per street and month, rankings that leave out
figures resting on too few cases, counts compared per 100 residents, and the API's validation."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from openpyxl import load_workbook
from pypdf import PdfReader
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.conftest import bearer
from tests.matter_world import build
from tests.test_metrics import BASE, END, START, local, raised, rate, resolve, take_up
from yishi.core import jobs
from yishi.core.db import db
from yishi.core.jobs import Task, TaskStatus
from yishi.modules.accounts.permissions import Actor
from yishi.modules.communities.models import CommunityStatus
from yishi.modules.meetings import services as meetings
from yishi.modules.metrics import services as metrics
from yishi.modules.metrics.definitions import MIN_RATINGS, MIN_SAMPLE, VERSION
from yishi.modules.points import services as points
from yishi.modules.reports import tasks
from yishi.modules.reports import views as report_views
from yishi.modules.reports.models import ReportFile, ReportKind, StreetReport
from yishi.schedule import SCHEDULE

MONTH = "2025-10"  # START..END of test_metrics: October 2025 in Shanghai


# --- fixtures and helpers ------------------------------------------------------------------------------


@pytest.fixture
def w(community, create_user):
    community.name_zh, community.name_en = "十里铺社区", "Shilipu Community"
    db.session.commit()
    return build(community, create_user)


@pytest.fixture
def w2(neighbour_community, create_user):
    neighbour_community.name_zh, neighbour_community.name_en = "东湖社区", "Donghu Community"
    db.session.commit()
    return build(neighbour_community, create_user)


@pytest.fixture
def w3(other_community, create_user):
    """Xiyuan, of another street (chengxi)."""
    other_community.name_zh, other_community.name_en = "西苑社区", "Xiyuan Community"
    db.session.commit()
    return build(other_community, create_user)


@pytest.fixture
def street_admin(street, create_user):
    return create_user(street=street, name="城东街道办")


@pytest.fixture
def writer(street, token_for):
    """The street office's system: may read the street and start reports."""
    return bearer(token_for(street=street, scopes="street:read,reports:write"))


def api(street, suffix: str = "") -> str:
    return f"/api/v1/streets/{street.slug}/reports{suffix}"


def pages(street, suffix: str = "") -> str:
    return f"/s/{street.slug}/reports{suffix}"


def start(client, street, headers, **period) -> dict:
    response = client.post(api(street), json=period or {"month": MONTH}, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


def read(client, street, headers, report_id: int) -> dict:
    response = client.get(api(street, f"/{report_id}"), headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def made(app, client, street, headers, **period) -> dict:
    """A report started through the API and computed by its job; its description with the snapshot."""
    report = start(client, street, headers, **period)
    jobs.run_pending(app)
    return read(client, street, headers, report["id"])


def row_of(snapshot: dict, slug: str) -> dict:
    return next(row for row in snapshot["communities"] if row["slug"] == slug)


def ranking_of(snapshot: dict, code: str) -> dict:
    return next(ranking for ranking in snapshot["rankings"] if ranking["code"] == code)


def some_matters(w, count: int, *, minutes: int = 5, first: int = 0) -> list[int]:
    """``count`` matters in October, each by another resident, taken up after ``minutes``, resolved a day later."""
    ids = []
    for number in range(first, first + count):
        at = BASE + timedelta(hours=number)
        matter = raised(w, at, who=(f"居民{number}", f"139000{number:05d}"))
        take_up(w, matter, at + timedelta(minutes=minutes))
        resolve(w, matter, at + timedelta(days=1))
        ids.append(matter)
    return ids


def report_count(**where) -> int:
    statement = select(func.count(StreetReport.id))
    for key, value in where.items():
        statement = statement.where(getattr(StreetReport, key) == value)
    return db.session.execute(statement).scalar_one()


# --- the job and its progress ------------------------------------------------------------------------------


def test_a_report_started_on_its_page_is_queued_then_finished_with_progress(
    app, client, w, w2, street, street_admin, login_as, monkeypatch
):
    some_matters(w, 2)
    jobs.run_pending(app)  # the moderators hear of the matters first
    login_as(street_admin)

    response = client.post(pages(street), data={"period": "custom", "start": "2025-10-01", "end": "2025-10-31"})

    assert response.status_code == 302
    report_id = int(re.search(r"/reports/(\d+)$", response.headers["Location"]).group(1))
    report = db.session.get(StreetReport, report_id)
    assert report.snapshot is None and report.kind == ReportKind.ON_DEMAND
    assert (report.period_start, report.period_end) == (START, END)
    assert report.created_by_id == street_admin.id
    task = db.session.get(Task, report.task_id)
    assert task.status == TaskStatus.QUEUED and task.street_id == street.id and task.community_id is None
    assert client.get(pages(street, f"/{report_id}.json")).get_json() == {
        "status": "queued",
        "progress": 0,
        "message": "",
        "error": None,
    }
    waiting = client.get(pages(street, f"/{report_id}")).get_data(as_text=True)
    assert 'data-testid="report-progress"' in waiting and 'data-testid="report-figures"' not in waiting

    reported: list[tuple[int, str]] = []
    polled: list[dict] = []  # what the poll answers while the job runs
    real = tasks.report_progress

    def spy(percent: int, message: str = "") -> None:
        reported.append((percent, message))
        real(percent, message)
        polled.append(report_views._status(db.session.get(StreetReport, report_id)))

    monkeypatch.setattr(tasks, "report_progress", spy)
    assert jobs.run_pending(app) == 1
    db.session.expire_all()  # the job wrote in its own session

    task = db.session.get(Task, report.task_id)
    assert task.status == TaskStatus.FINISHED and task.progress == 100
    assert task.result == {"report_id": report_id, "communities": 2}
    percents = [percent for percent, _message in reported]
    assert percents == sorted(percents) and percents[0] > 0 and percents[-1] == 100
    messages = [message for _percent, message in reported]
    assert messages[:3] == ["figures", "breakdowns", "rankings"]  # the totals are added up with the figures
    assert {f"{fmt} ({locale})" for fmt in ("csv", "xlsx", "pdf") for locale in ("zh_CN", "en")} <= set(messages)
    assert polled[:2] == [
        {"status": "running", "progress": 10, "message": "figures", "error": None},
        {"status": "running", "progress": 65, "message": "breakdowns", "error": None},
    ]
    live = Job.fetch(task.id, connection=jobs.connection(app), serializer=JSONSerializer)
    assert live.meta["progress"] == 100  # what a page polling the running job saw last

    assert client.get(pages(street, f"/{report_id}.json")).get_json() == {
        "status": "finished",
        "progress": 100,
        "message": "",
        "error": None,
    }
    report = db.session.get(StreetReport, report_id)
    assert report.finished_at is not None and report.definitions_version == VERSION
    done = client.get(pages(street, f"/{report_id}")).get_data(as_text=True)
    assert 'data-testid="report-figures"' in done and 'data-testid="report-progress"' not in done
    assert "十里铺社区" in done and "东湖社区" in done
    for fmt in ("csv", "xlsx", "pdf"):
        assert f'data-testid="export-{fmt}"' in done
    listed = client.get(pages(street)).get_data(as_text=True)
    assert f'href="/s/{street.slug}/reports/{report_id}"' in listed


def test_a_failed_job_shows_as_failed_and_its_retry_finishes_it(app, client, w, street, writer, monkeypatch):
    some_matters(w, 1)
    report = start(client, street, writer)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(tasks.snapshot, "build", broken)
    jobs.run_pending(app)

    failed = read(client, street, writer, report["id"])
    assert failed["status"] == "failed" and failed["snapshot"] is None and failed["exports"] == {}
    task = db.session.get(Task, db.session.get(StreetReport, report["id"]).task_id)
    assert task.status == TaskStatus.FAILED and "the database went away" in task.error
    assert db.session.execute(select(func.count(ReportFile.id))).scalar_one() == 0

    monkeypatch.undo()
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=31)):  # the first retry is due after 30 s
        assert jobs.run_pending(app) == 1
    retried = read(client, street, writer, report["id"])
    assert retried["status"] == "finished" and retried["progress"] == 100
    assert row_of(retried["snapshot"], "shilipu")["figures"]["matters_raised"] == 1


# --- a snapshot never changes ----------------------------------------------------------------------------------


def download(client, street, headers, report_id: int, fmt: str, locale: str = "zh_CN"):
    return client.get(api(street, f"/{report_id}/export.{fmt}"), query_string={"locale": locale}, headers=headers)


def _exports(client, street, headers, report_id: int) -> dict[tuple[str, str], bytes]:
    found = {}
    for fmt in ("csv", "xlsx", "pdf"):
        for locale in ("zh_CN", "en"):
            response = download(client, street, headers, report_id, fmt, locale)
            assert response.status_code == 200, (fmt, locale)
            found[(fmt, locale)] = response.data
    return found


def test_a_snapshot_and_its_exports_never_change(app, client, w, street, writer):
    some_matters(w, 2)
    first = made(app, client, street, writer)
    files_before = _exports(client, street, writer, first["id"])
    stored_before = sorted(
        db.session.execute(select(ReportFile.format, ReportFile.locale, ReportFile.storage_key, ReportFile.size))
    )
    assert len(stored_before) == 6

    some_matters(w, 1, first=10)  # a matter of the same month, raised after the report was made
    jobs.run_pending(app)
    jobs.enqueue(tasks.build_report, report_id=first["id"])  # the job runs again for the same report
    db.session.commit()
    assert jobs.run_pending(app) == 1

    again = read(client, street, writer, first["id"])
    assert again["snapshot"] == first["snapshot"]  # generated_at included: nothing was recomputed
    assert again["finished_at"] == first["finished_at"]
    assert row_of(again["snapshot"], "shilipu")["figures"]["matters_raised"] == 2
    assert _exports(client, street, writer, first["id"]) == files_before
    stored_after = sorted(
        db.session.execute(select(ReportFile.format, ReportFile.locale, ReportFile.storage_key, ReportFile.size))
    )
    assert stored_after == stored_before

    # The figures themselves did change, and a new report of the same month has the new matter.
    assert metrics.figures([w.community.id], START, END)[w.community.id]["matters_raised"] == 3
    second = made(app, client, street, writer)
    assert second["id"] != first["id"]
    assert row_of(second["snapshot"], "shilipu")["figures"]["matters_raised"] == 3
    assert read(client, street, writer, first["id"])["snapshot"] == first["snapshot"]


# --- the exports, opened and read back ------------------------------------------------------------------


def _csv_sections(content: bytes) -> dict[str, list[list[str]]]:
    text = content.decode("utf-8-sig")
    sections: dict[str, list[list[str]]] = {}
    current = None
    for row in csv.reader(io.StringIO(text)):
        if len(row) == 1 and row[0].startswith("[") and row[0].endswith("]"):
            current = row[0]
            sections[current] = []
        elif current is not None and row:
            sections[current].append(row)
    return sections


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def _number(cell: str):
    if cell == "":
        return None
    value = float(cell)
    return int(value) if value.is_integer() and "." not in cell else value


def test_exports_are_read_back_with_the_snapshots_figures(app, client, w, w2, street, writer, street_admin, login_as):
    some_matters(w, 3, minutes=5)
    some_matters(w2, 2, minutes=20)
    rate(w, some_matters(w, 1, minutes=20, first=20)[0], 4, BASE + timedelta(days=3))
    body = made(app, client, street, writer)
    snapshot, report_id = body["snapshot"], body["id"]
    assert set(body["exports"]) == {"csv", "xlsx", "pdf"}
    shilipu, donghu = row_of(snapshot, "shilipu"), row_of(snapshot, "donghu")
    assert [row["slug"] for row in snapshot["communities"]] == ["donghu", "shilipu"]
    assert shilipu["figures"]["quarter_hour_rate"] == 0.75 and donghu["figures"]["quarter_hour_rate"] == 0.0

    # CSV: numbers as numbers, one column per community and the street's total.
    response = client.get(api(street, f"/{report_id}/export.csv"), headers=writer)
    assert response.content_type.startswith("text/csv")
    assert f"report-{report_id}-zh_CN.csv" in response.headers["Content-Disposition"]
    figures = _csv_sections(response.data)["[指标对比]"]
    header, rows = figures[0], {row[0]: row for row in figures[1:]}
    assert header[2:] == ["东湖社区", "十里铺社区", "街道合计"]
    for code in ("matters_raised", "accepted", "quarter_hour_rate", "accept_minutes_median", "satisfaction_mean"):
        shown = [_number(cell) for cell in rows[code][2:]]
        assert shown == [donghu["figures"][code], shilipu["figures"][code], snapshot["totals"][code]], code
    assert [_number(cell) for cell in rows["matters_raised"][2:]] == [2, 4, 6]
    assert rows["satisfaction_mean"][2] == ""  # Donghu has no rating: an empty cell, not 0
    english = _csv_sections(client.get(api(street, f"/{report_id}/export.csv?locale=en"), headers=writer).data)
    assert english["[Figures]"][0][2:] == ["Donghu Community", "Shilipu Community", "Street total"]

    # Excel: numeric cells with a number format by unit.
    response = client.get(api(street, f"/{report_id}/export.xlsx"), headers=writer)
    assert response.content_type.startswith("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    sheet = book["对比"]
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert [cell.value for cell in next(sheet.iter_rows(max_row=1))][2:] == ["东湖社区", "十里铺社区", "街道合计"]
    raised_cells = cells["matters_raised"][2:5]
    assert [cell.value for cell in raised_cells] == [2, 4, 6]
    assert all(isinstance(cell.value, int) for cell in raised_cells)
    rate_cell = cells["quarter_hour_rate"][3]
    assert isinstance(rate_cell.value, float) and rate_cell.value == 0.75 and rate_cell.number_format == "0.0%"
    assert cells["accept_minutes_median"][3].value == shilipu["figures"]["accept_minutes_median"] == 5
    assert cells["satisfaction_mean"][3].value == 4 and cells["satisfaction_mean"][2].value is None
    assert cells["resident_count"][2].value == 1200

    # PDF: the Chinese names are text that can be found (and copied) in it.
    response = client.get(api(street, f"/{report_id}/export.pdf"), headers=writer)
    assert response.content_type == "application/pdf" and response.data.startswith(b"%PDF")
    text = _pdf_text(response.data)
    for name in ("十里铺社区", "东湖社区", "chengdong街道", re.sub(r"\s+", "", snapshot["title"]), VERSION):
        assert name in text, name
    assert "75.0%" in text  # Shilipu's quarter-hour rate, as a percentage
    english = _pdf_text(client.get(api(street, f"/{report_id}/export.pdf?locale=en"), headers=writer).data)
    assert "ShilipuCommunity" in english and "DonghuCommunity" in english and "十里铺社区" not in english

    # The page's download is the same file; an unknown locale falls back to Chinese there, and is refused by the API.
    login_as(street_admin)
    page = client.get(pages(street, f"/{report_id}/export.csv"), query_string={"locale": "fr"})
    assert page.status_code == 200 and page.data == download(client, street, writer, report_id, "csv").data
    assert client.get(api(street, f"/{report_id}/export.csv?locale=fr"), headers=writer).status_code == 422
    assert client.get(pages(street, f"/{report_id}/export.docx")).status_code == 404


def test_an_unfinished_report_has_no_exports(client, w, street, writer):
    report = start(client, street, writer)
    assert report["status"] == "queued" and report["exports"] == {} and report["snapshot"] is None
    assert client.get(api(street, f"/{report['id']}/export.csv"), headers=writer).status_code == 404


# --- who may see and start a report -----------------------------------------------------------------------


def test_a_street_report_holds_its_own_streets_communities_only(
    app, client, w, w2, w3, street, other_street, street_admin, login_as, token_for, create_community
):
    some_matters(w, 2)
    some_matters(w2, 1)
    some_matters(w3, 5)
    create_community("weikai", street, status=CommunityStatus.PENDING)  # not yet admitted: not in reports
    login_as(street_admin)
    client.post(pages(street), data={"period": "month", "month": MONTH})
    report = db.session.execute(select(StreetReport).where(StreetReport.street_id == street.id)).scalar_one()
    jobs.run_pending(app)
    db.session.expire_all()  # the job wrote in its own session

    snapshot = db.session.get(StreetReport, report.id).snapshot
    assert [row["slug"] for row in snapshot["communities"]] == ["donghu", "shilipu"]
    assert snapshot["totals"]["matters_raised"] == 3
    assert set(snapshot["breakdowns"]["category"]) == {"donghu", "shilipu"}
    dumped = json.dumps(snapshot, ensure_ascii=False)
    assert "xiyuan" not in dumped and "西苑" not in dumped and "Xiyuan" not in dumped
    page = client.get(pages(street, f"/{report.id}")).get_data(as_text=True)
    assert "东湖社区" in page and "西苑社区" not in page

    # Chengxi's own report has Xiyuan only.
    theirs = made(app, client, other_street, bearer(token_for(street=other_street, scopes="all")))
    assert [row["slug"] for row in theirs["snapshot"]["communities"]] == ["xiyuan"]
    assert theirs["snapshot"]["totals"]["matters_raised"] == 5


def test_another_streets_admin_and_token_get_404(
    app, client, w, street, other_street, writer, create_user, login_as, token_for
):
    report_id = made(app, client, street, writer)["id"]
    login_as(create_user(street=other_street, name="城西街道办"))

    for url in (
        pages(street),
        pages(street, f"/{report_id}"),
        pages(street, f"/{report_id}.json"),
        pages(street, f"/{report_id}/export.csv"),
        pages(other_street, f"/{report_id}"),  # Chengdong's report under Chengxi's own address
        pages(other_street, f"/{report_id}.json"),
        pages(other_street, f"/{report_id}/export.pdf"),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(pages(street), data={"period": "month", "month": MONTH}).status_code == 404
    assert client.get(pages(other_street)).status_code == 200  # their own list works

    stranger = bearer(token_for(street=other_street, scopes="all"))
    for url in (
        api(street),
        api(street, f"/{report_id}"),
        api(street, f"/{report_id}/export.xlsx"),
        api(other_street, f"/{report_id}"),
        api(other_street, f"/{report_id}/export.xlsx"),
    ):
        assert client.get(url, headers=stranger).status_code == 404, url
    assert client.post(api(street), json={"month": MONTH}, headers=stranger).status_code == 404
    assert report_count(street_id=street.id) == 1 and report_count(street_id=other_street.id) == 0


def test_a_community_admin_cannot_open_street_reports(app, client, w, street, writer, login_as, token_for):
    report_id = made(app, client, street, writer)["id"]
    login_as(w.admin)

    for url in (pages(street), pages(street, f"/{report_id}"), pages(street, f"/{report_id}.json"),
                pages(street, f"/{report_id}/export.csv")):  # fmt: skip
        assert client.get(url).status_code == 404, url
    assert client.post(pages(street), data={"period": "month", "month": MONTH}).status_code == 404

    community_token = bearer(token_for(community=w.community, scopes="all"))
    assert client.get(api(street), headers=community_token).status_code == 404
    assert client.get(api(street, f"/{report_id}"), headers=community_token).status_code == 404
    assert client.post(api(street), json={"month": MONTH}, headers=community_token).status_code == 404
    assert report_count() == 1


def test_signed_out_visitors_are_sent_to_sign_in(app, client, w, street, writer):
    report_id = made(app, client, street, writer)["id"]
    for url in (pages(street), pages(street, f"/{report_id}"), pages(street, f"/{report_id}/export.csv")):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    assert client.get(api(street)).status_code == 401


def test_a_read_only_street_token_reads_but_cannot_start(app, client, w, street, writer, token_for):
    report_id = made(app, client, street, writer)["id"]
    reader = bearer(token_for(street=street, scopes="street:read"))

    listed = client.get(api(street), headers=reader)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.get_json()["items"]] == [report_id]
    assert listed.get_json()["items"][0]["snapshot"] is None  # lists leave the snapshots out
    assert read(client, street, reader, report_id)["snapshot"]["communities"][0]["slug"] == "shilipu"
    assert client.get(api(street, f"/{report_id}/export.pdf"), headers=reader).status_code == 200

    refused = client.post(api(street), json={"month": MONTH}, headers=reader)
    assert refused.status_code == 403
    assert "reports:write" in refused.get_json()["detail"]
    assert report_count() == 1 and jobs.run_pending(app) == 0

    no_read = bearer(token_for(street=street, scopes="reports:write"))
    assert client.get(api(street, f"/{report_id}"), headers=no_read).status_code == 403


def test_an_idempotent_start_makes_one_report(app, client, w, street, writer):
    headers = {**writer, "Idempotency-Key": "report-2025-10"}
    first = client.post(api(street), json={"month": MONTH}, headers=headers)
    second = client.post(api(street), json={"month": MONTH}, headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.get_json()["id"] == second.get_json()["id"]
    assert report_count() == 1 and jobs.run_pending(app) == 1


# --- the monthly schedule ---------------------------------------------------------------------------------------


def test_monthly_reports_are_checked_daily():
    (entry,) = [p for p in SCHEDULE if p.job_name == tasks.monthly_reports.job_name]
    assert entry.job_name == "yishi.modules.reports.tasks.monthly_reports"
    minute, hour, day, month, weekday = entry.cron.split()
    assert (day, month, weekday) == ("*", "*", "*") and minute.isdigit() and hour.isdigit()


def _run_schedule(app) -> None:
    jobs.enqueue(tasks.monthly_reports)
    db.session.commit()
    jobs.run_pending(app)  # the schedule's job, then the report jobs it started
    db.session.expire_all()


def _monthly() -> list[tuple[int, str, datetime]]:
    return sorted(
        db.session.execute(
            select(StreetReport.street_id, StreetReport.label, StreetReport.period_start).where(
                StreetReport.kind == ReportKind.MONTHLY
            )
        ).all()
    )


def test_the_schedule_makes_one_monthly_report_per_street_and_month(app, w, street, other_street):
    utc = UTC
    with time_machine.travel(datetime(2026, 11, 3, 1, 30, tzinfo=utc)):  # 09:30 on 3 November in Shanghai
        _run_schedule(app)
        _run_schedule(app)  # the same day again
    october = local(2026, 10, 1)
    assert _monthly() == [(street.id, "2026-10", october), (other_street.id, "2026-10", october)]
    with time_machine.travel(datetime(2026, 11, 20, 1, 30, tzinfo=utc)):  # another day of the month
        _run_schedule(app)
    with time_machine.travel(datetime(2026, 11, 30, 15, 59, tzinfo=utc)):  # 23:59 on 30 November in Shanghai
        _run_schedule(app)
    assert _monthly() == [(street.id, "2026-10", october), (other_street.id, "2026-10", october)]
    for report in db.session.execute(select(StreetReport)).scalars():
        assert report.snapshot is not None and report.snapshot["period"]["label"] == "2026-10"
        assert report.period_end == local(2026, 11, 1)

    with time_machine.travel(datetime(2026, 11, 30, 16, 30, tzinfo=utc)):  # 00:30 on 1 December in Shanghai
        _run_schedule(app)
        _run_schedule(app)
    november = local(2026, 11, 1)
    assert _monthly() == [
        (street.id, "2026-10", october),
        (street.id, "2026-11", november),
        (other_street.id, "2026-10", october),
        (other_street.id, "2026-11", november),
    ]


def test_the_schedule_reports_what_it_started_and_ignores_on_demand_reports(app, client, w, street, writer):
    start(client, street, writer, month="2026-10")  # an on-demand report of the same month
    moment = datetime(2026, 11, 3, 1, 30, tzinfo=UTC).isoformat()
    first = tasks.monthly_reports(now=moment)
    db.session.commit()
    again = tasks.monthly_reports(now=moment)
    db.session.commit()
    assert first == {"reports_started": 1} and again == {"reports_started": 0}
    assert report_count(kind=ReportKind.MONTHLY) == 1 and report_count(kind=ReportKind.ON_DEMAND) == 1


def test_the_database_refuses_a_second_monthly_report_of_a_month(street):
    def add(kind: ReportKind) -> None:
        db.session.add(
            StreetReport(
                street_id=street.id,
                kind=kind,
                title="月报",
                label="2026-10",
                period_start=local(2026, 10, 1),
                period_end=local(2026, 11, 1),
            )
        )
        db.session.flush()

    add(ReportKind.MONTHLY)
    with pytest.raises(IntegrityError), db.session.begin_nested():  # a second scheduler's duplicate
        add(ReportKind.MONTHLY)
    add(ReportKind.ON_DEMAND)  # on-demand reports of the same month are as many as asked for
    add(ReportKind.ON_DEMAND)
    assert report_count(kind=ReportKind.MONTHLY) == 1 and report_count(kind=ReportKind.ON_DEMAND) == 2


# --- rankings ---------------------------------------------------------------------------------------------------


def test_a_figure_resting_on_too_few_cases_is_not_ranked(
    app, client, w, w2, street, writer, create_community, create_user
):
    # Shilipu: one matter, taken up in four minutes, resolved in half an hour, rated 5. Donghu: ten,
    # taken up in ten minutes (five rated 4). Chunfeng: nine, taken up in twelve minutes.
    lone = raised(w, BASE)
    take_up(w, lone, BASE + timedelta(minutes=4))
    resolve(w, lone, BASE + timedelta(minutes=30))
    rate(w, lone, 5, BASE + timedelta(hours=2))
    for number, matter in enumerate(some_matters(w2, MIN_SAMPLE, minutes=10)):
        if number < MIN_RATINGS:
            rate(w2, matter, 4, BASE + timedelta(days=3))
    w4 = build(create_community("chunfeng", street), create_user)
    some_matters(w4, MIN_SAMPLE - 1, minutes=12)

    snapshot = made(app, client, street, writer)["snapshot"]

    assert row_of(snapshot, "shilipu")["figures"]["accept_minutes_median"] == 4  # shown, but not ranked
    for code in ("quarter_hour_rate", "accept_minutes_median", "accept_minutes_p90", "resolve_minutes_median",
                 "resolution_rate"):  # fmt: skip
        ranking = ranking_of(snapshot, code)
        assert [item["slug"] for item in ranking["ranked"]] == ["donghu"], code
        assert sorted(ranking["hidden"]) == ["chunfeng", "shilipu"], code
    assert ranking_of(snapshot, "accept_minutes_median")["ranked"] == [{"slug": "donghu", "value": 10, "rank": 1}]
    satisfaction = ranking_of(snapshot, "satisfaction_mean")
    assert satisfaction["ranked"] == [{"slug": "donghu", "value": 4.0, "rank": 1}]
    assert sorted(satisfaction["hidden"]) == ["chunfeng", "shilipu"]  # one rating; none
    # Counts are ranked whatever the sample (per 100 residents).
    assert {item["slug"] for item in ranking_of(snapshot, "matters_resolved")["ranked"]} == {
        "chunfeng",
        "donghu",
        "shilipu",
    }
    thin = [note for note in snapshot["notes"] if "十里铺社区" in note["zh"] and "1" in note["zh"]]
    assert thin and "Shilipu Community" in thin[0]["en"]
    assert any("chunfeng社区" in note["zh"] and "9" in note["zh"] for note in snapshot["notes"])
    assert not any("东湖社区" in note["zh"] and "样本" in note["zh"] for note in snapshot["notes"])


def test_counts_are_ranked_per_100_residents(app, client, w, w2, street, writer, create_community, create_user):
    some_matters(w, 6)  # 1,200 residents: 0.5 per 100
    some_matters(w2, 3)  # 300 residents: 1.0 per 100
    w2.community.resident_count = 300
    db.session.commit()
    w4 = build(create_community("chunfeng", street), create_user)
    w4.community.resident_count = 600
    db.session.commit()
    some_matters(w4, 3)  # 600 residents: 0.5 per 100, a tie with Shilipu
    empty = create_community("kongcun", street)
    empty.resident_count = 0  # no residents known: nothing to divide by
    db.session.commit()

    snapshot = made(app, client, street, writer)["snapshot"]

    raised_ranking = ranking_of(snapshot, "matters_raised")
    assert raised_ranking["basis"] == "per_100_residents"
    assert sorted(raised_ranking["ranked"], key=lambda item: (item["rank"], item["slug"])) == [
        {"slug": "donghu", "value": 1.0, "rank": 1},
        {"slug": "chunfeng", "value": 0.5, "rank": 2},
        {"slug": "shilipu", "value": 0.5, "rank": 2},  # ties share a rank
    ]
    assert raised_ranking["hidden"] == ["kongcun"]
    assert row_of(snapshot, "shilipu")["figures"]["matters_raised"] == 6  # the figure itself stays a count
    participants = ranking_of(snapshot, "participants")
    assert participants["basis"] == "per_100_residents"
    assert [item["slug"] for item in participants["ranked"]][0] == "donghu"
    assert row_of(snapshot, "donghu")["figures"]["participants_per_100"] == 1.0
    assert row_of(snapshot, "kongcun")["figures"]["participants_per_100"] is None
    assert ranking_of(snapshot, "quarter_hour_rate")["basis"] == "value"


def test_notes_point_at_what_stands_out(app, client, w, w2, street, writer):
    some_matters(w, MIN_SAMPLE, minutes=30)  # every matter taken up late: a rate of 0
    some_matters(w2, MIN_SAMPLE, minutes=10)  # every one in time: the street's rate is 0.5
    with w.scope():
        meeting = meetings.create_meeting(
            w.community,
            {"title": "议事会", "point_id": w.east, "starts_at": BASE, "ends_at": BASE + timedelta(hours=1)},
            actor=Actor(user=w.moderator),
        )
        meetings.mark_held(w.community, meeting, actor=Actor(user=w.moderator), at=BASE)
        db.session.commit()
    with w2.scope():
        points.update_point(w2.community, points.get_point(w2.east), {"active": False})  # its two groups unserved
        db.session.commit()

    snapshot = made(app, client, street, writer)["snapshot"]

    assert snapshot["totals"]["quarter_hour_rate"] == 0.5
    # Rates rank highest first, minutes lowest first.
    assert ranking_of(snapshot, "quarter_hour_rate")["ranked"] == [
        {"slug": "donghu", "value": 1.0, "rank": 1},
        {"slug": "shilipu", "value": 0.0, "rank": 2},
    ]
    assert ranking_of(snapshot, "accept_minutes_median")["ranked"] == [
        {"slug": "donghu", "value": 10, "rank": 1},
        {"slug": "shilipu", "value": 30, "rank": 2},
    ]
    notes = [note["en"] for note in snapshot["notes"]]
    about_shilipu = [note for note in notes if note.startswith("Shilipu Community")]
    about_donghu = [note for note in notes if note.startswith("Donghu Community")]
    assert len(about_shilipu) == 1 and "0%" in about_shilipu[0] and "50%" in about_shilipu[0]  # well below
    assert len(about_donghu) == 2  # no meeting; two groups no point serves
    assert any(" 2 " in note for note in about_donghu)
    assert all(note["zh"] for note in snapshot["notes"])


# --- the API's periods and its validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "period",
    [
        {"month": "2025-10", "year": 2025},  # two periods at once
        {"month": "2025-10", "start": "2025-10-01", "end": "2025-10-31"},
        {"month": "2025-13"},
        {"month": "2025-1"},
        {"month": "0000-01"},
        {"quarter": "2025-Q5"},
        {"year": 1999},
        {"start": "2025-10-01"},  # no end
        {"start": "2025-10-31", "end": "2025-10-01"},  # ends before it starts
        {"start": "2020-01-01", "end": "2025-12-31"},  # longer than three years
        {"start": "2025-02-30", "end": "2025-03-01"},
        {},
    ],
)
def test_the_api_refuses_a_bad_period(app, client, street, writer, period):
    response = client.post(api(street), json=period, headers=writer)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.content_type.startswith("application/problem+json")
    assert response.get_json()["errors"]
    assert report_count() == 0 and jobs.run_pending(app) == 0


@pytest.mark.parametrize(
    ("period", "label", "first", "end"),
    [
        ({"month": "2025-12"}, "2025-12", local(2025, 12, 1), local(2026, 1, 1)),
        ({"quarter": "2025-Q4"}, "2025-Q4", local(2025, 10, 1), local(2026, 1, 1)),
        ({"quarter": "2025-Q1"}, "2025-Q1", local(2025, 1, 1), local(2025, 4, 1)),
        ({"year": 2025}, "2025", local(2025, 1, 1), local(2026, 1, 1)),
        ({"start": "2025-10-01", "end": "2025-10-31"}, "2025-10-01–2025-10-31", START, END),
        ({"start": "2025-10-05", "end": "2025-10-05"}, "2025-10-05–2025-10-05", local(2025, 10, 5), local(2025, 10, 6)),
    ],
)
def test_the_api_periods_in_the_streets_time_zone(client, street, writer, period, label, first, end):
    report = start(client, street, writer, **period)
    assert report["label"] == label and report["status"] == "queued" and report["kind"] == "on_demand"
    assert datetime.fromisoformat(report["period_start"]) == first
    assert datetime.fromisoformat(report["period_end"]) == end
    assert report["url"].endswith(f"/s/{street.slug}/reports/{report['id']}")
