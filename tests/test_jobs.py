"""Background jobs: RQ's own API in every mode, tasks with progress, and the tenant never inherited."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from yishi.core import jobs, tenancy
from yishi.core.db import db
from yishi.core.jobs import Task, TaskStatus, job
from yishi.modules.communities.models import ResidentGroup


@job("default")
def count_groups_in(community_id: int) -> dict:
    """A test job: what a job sees when it opens its own community's scope."""
    jobs.report_progress(50, "halfway")
    with tenancy.community_scope(community_id):
        codes = sorted(g.code for g in db.session.execute(select(ResidentGroup)).scalars())
    return {"codes": codes}


@job("default")
def peek_without_scope() -> dict:
    """A test job that forgets to set a scope: it must fail closed, not read the caller's tenant."""
    return {"groups": len(db.session.execute(select(ResidentGroup)).all())}


@job("default", community_argument="community_id")
def write_a_group(community_id: int, code: str) -> None:
    db.session.add(ResidentGroup(code=code, name_zh="作业", name_en="Job"))  # the job's scope is its community


@job("default")
def always_fails() -> None:
    raise RuntimeError("boom")


def test_job_with_cleared_context_sees_only_its_tenant(app, community, other_community):
    # The caller is inside ANOTHER community's scope: the job must not inherit it.
    with tenancy.community_scope(other_community.id):
        task = jobs.start_task(
            count_groups_in, title="count", arguments={"community_id": community.id}, community_id=community.id
        )
        db.session.commit()
        assert jobs.run_pending(app) == 1
    db.session.expire_all()
    finished = db.session.get(Task, task.id)
    assert finished.status == TaskStatus.FINISHED and finished.progress == 100
    assert finished.result == {"codes": ["g01", "g02", "g03"]}


def test_job_without_scope_fails_closed_even_if_the_caller_had_one(app, community):
    with tenancy.community_scope(community.id):
        task = jobs.start_task(peek_without_scope, title="peek", arguments={}, community_id=community.id)
        db.session.commit()
        jobs.run_pending(app)
    db.session.expire_all()
    failed = db.session.get(Task, task.id)
    assert failed.status == TaskStatus.FAILED
    assert "TenantScopeError" in failed.error


def test_jobs_are_sent_only_when_the_transaction_commits(app, community):
    jobs.enqueue(write_a_group, community_id=community.id, code="late")
    assert jobs.run_pending(app) == 0  # not committed yet: nothing queued
    db.session.rollback()
    assert jobs.run_pending(app) == 0  # rolled back: never queued
    jobs.enqueue(write_a_group, community_id=community.id, code="late")
    db.session.commit()
    assert jobs.run_pending(app) == 1
    with tenancy.community_scope(community.id):
        assert db.session.execute(select(ResidentGroup).where(ResidentGroup.code == "late")).scalar_one()


def test_duplicate_job_ids_are_not_queued_twice(app, community):
    for _ in range(2):
        jobs.enqueue(write_a_group, job_id="once-only", after_commit=False, community_id=community.id, code="u1")
    assert jobs.run_pending(app) == 1


def test_failed_job_is_recorded_and_its_writes_rolled_back(app, community):
    task = jobs.start_task(always_fails, title="fails", arguments={}, community_id=community.id)
    db.session.commit()
    jobs.run_pending(app)
    db.session.expire_all()
    assert db.session.get(Task, task.id).status == TaskStatus.FAILED


def test_unknown_queue_or_job_is_refused():
    with pytest.raises(ValueError):
        job("no-such-queue")
    with pytest.raises(KeyError):
        jobs.enqueue("no.such.job")


def test_every_periodic_job_is_declared(app):
    from yishi.schedule import SCHEDULE

    assert jobs.schedule(app) == SCHEDULE
    for periodic in SCHEDULE:
        assert jobs._import_job(periodic.job_name).name == periodic.job_name


def test_a_schedule_naming_an_undeclared_job_fails_at_start(app):
    def not_a_job():
        return None

    not_a_job.job_name = "yishi.nowhere.not_a_job"
    with pytest.raises(RuntimeError, match="not a declared job"):
        jobs.init_app(app, [jobs.Periodic(not_a_job, cron="* * * * *")])
    with pytest.raises(ValueError):
        jobs.init_app(
            app, [jobs.Periodic(jobs._registry["yishi.core.maintenance.purge_expired_records"].func, "61 * * * *")]
        )


def test_purge_job_forgets_expired_idempotency_records(app, client, community, token_for):
    from datetime import timedelta

    from tests.conftest import bearer
    from yishi.core.api import IdempotencyRecord
    from yishi.core.db import utcnow

    secret = token_for(community=community)
    client.post(
        f"/api/v1/communities/{community.slug}/resident-groups",
        headers={**bearer(secret), "Idempotency-Key": "k"},
        json={"code": "k1", "name_zh": "甲", "name_en": "A"},
    )
    record = db.session.execute(select(IdempotencyRecord)).scalar_one()
    record.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    jobs.enqueue("yishi.core.maintenance.purge_expired_records", after_commit=False)
    assert jobs.run_pending(app) == 1
    assert db.session.execute(select(IdempotencyRecord)).first() is None


def test_audit_export_is_a_task_with_progress_page_and_download(
    app, client, community, create_user, login_as, token_for
):
    admin = create_user(community=community, role="admin", name="孙丽华")
    login_as(admin)
    response = client.post(f"/c/{community.slug}/admin/audit/export")
    assert response.status_code == 302
    task_url = response.headers["Location"]
    page = client.get(task_url).get_data(as_text=True)
    assert "data-task-poll" in page  # queued: the page polls
    assert client.get(task_url + ".json").get_json()["status"] == "queued"
    assert jobs.run_pending(app) == 1
    status = client.get(task_url + ".json").get_json()
    assert status["status"] == "finished" and status["progress"] == 100 and status["download_url"]
    download = client.get(status["download_url"])
    assert download.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["at", "actor", "action"]
    assert any(row[2] == "member.role_set" for row in rows[1:])
    # The same task through the API.
    from tests.conftest import bearer

    secret = token_for(community=community, scopes="tasks:read")
    task_id = task_url.rsplit("/", 1)[1]
    api = client.get(f"/api/v1/communities/{community.slug}/tasks/{task_id}", headers=bearer(secret)).get_json()
    assert api["status"] == "finished" and api["download_url"].endswith("/download")
