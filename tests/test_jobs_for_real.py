"""Scheduled and queued work, done by the real processes: `yishi worker` on the real Redis (CI's second
run), the demo's embedded runner (both runs), and what happens when a worker is killed or Redis stops.

Each test builds its own app on its own database (a SQLite file, or a fresh PostgreSQL database beside
YISHI_TEST_DATABASE_URL), since the workers are other processes or threads that must see committed
rows. Nothing here sleeps to assert: every wait polls the database with a deadline.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from tests.conftest import _community, _street, bearer, user_factory
from tests.matter_world import build
from yishi import create_app
from yishi.core import jobs, tenancy
from yishi.core.api import IdempotencyRecord
from yishi.core.db import db, utcnow
from yishi.core.jobs import JobOutbox, Task, TaskStatus
from yishi.modules.accounts import services as accounts
from yishi.modules.accounts.permissions import SYSTEM
from yishi.modules.communities.models import Community, Street
from yishi.modules.matters.models import Escalation, Matter, Status
from yishi.modules.metrics.models import DashboardFigures
from yishi.modules.notifications.models import Notification
from yishi.modules.reports import services as reports
from yishi.modules.reports.models import ReportFile, ReportKind, StreetReport

REAL_REDIS = os.environ.get("YISHI_TEST_REDIS_URL")
needs_real_redis = pytest.mark.skipif(
    not REAL_REDIS, reason="`yishi worker` needs a real Redis (REDIS_URL): .ci/run's second run provides one"
)
REDIS_SERVER = shutil.which("redis-server")


def wait_for(condition, *, timeout: float = 60.0, every: float = 0.2, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# --- a database and an app of the test's own ---------------------------------------------------------


@contextlib.contextmanager
def own_database(tmp_path: Path):
    base = os.environ.get("YISHI_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
        return
    url = make_url(base)
    name = f"yishi_jobs_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def process_env(tmp_path: Path, database: str, redis_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("YISHI_", "REDIS_URL", "DATABASE_URL", "SECRET_KEY"))
    }
    env.update(YISHI_ENV="demo", YISHI_INSTANCE_PATH=str(tmp_path / "instance"), DATABASE_URL=database, **extra)
    env["PYTHONUNBUFFERED"] = "1"  # the log is read while the process runs, and after it is killed
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def own_app(monkeypatch, tmp_path: Path, database: str, redis_url: str | None = None, **config):
    for key, value in process_env(tmp_path, database, redis_url).items():
        if key.startswith(("YISHI_", "DATABASE_URL", "REDIS_URL")):
            monkeypatch.setenv(key, value)
    for key in ("YISHI_TEST_DATABASE_URL", "YISHI_TEST_REDIS_URL", *(() if redis_url else ("REDIS_URL",))):
        monkeypatch.delenv(key, raising=False)
    # Flask-Limiter keeps one storage for all apps: the suite's own must stay usable after this app.
    app = create_app({"WTF_CSRF_ENABLED": False, "RATELIMIT_STORAGE_URI": "memory://", **config})
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_PATH"])
    return app


def in_context(app, function, *args):
    """Run ``function`` in a fresh app context with no tenant, as a request or job would."""
    import contextvars

    def run():
        with app.app_context(), tenancy.no_scope():
            try:
                return function(*args)
            finally:
                db.session.remove()

    return contextvars.Context().run(run)


# --- the world the schedule has work in ---------------------------------------------------------------


def late_world(app) -> dict:
    """A community with a matter long past its quarter hour, a matter resolved ten days ago, an
    expired Idempotency-Key answer and a street whose last month has no report yet."""

    def make():
        street = _street("jobs-street")
        community = _community("jobs-community", street)
        world = build(community, user_factory())
        late = world.raise_matter()
        stale = world.raise_matter(title="路面坑洼", category="road")
        world.move(stale.id, "accept", by=world.moderator)
        world.move(stale.id, "resolve", by=world.moderator, note="已修好", at=utcnow() - timedelta(days=10))
        with tenancy.community_scope(community.id):
            db.session.execute(
                update(Matter)
                .where(Matter.id == late.id)
                .values(
                    submitted_at=utcnow() - timedelta(hours=2),
                    first_response_due_at=utcnow() - timedelta(hours=2),
                    first_response_escalate_at=utcnow() - timedelta(hours=1),
                )
            )
            db.session.commit()
        token, _secret = accounts.create_token(name="jobs", scopes="all", community=community)
        db.session.add(
            IdempotencyRecord(token_id=token.id, key="old", fingerprint="f", expires_at=utcnow() - timedelta(hours=1))
        )
        db.session.commit()
        return {
            "community_id": community.id,
            "street_id": street.id,
            "late": late.id,
            "stale": stale.id,
            "moderator_id": world.moderator.id,
        }

    return in_context(app, make)


def schedule_effects(app, world) -> dict:
    def read():
        with tenancy.unscoped("the test reads what the schedule did"):
            levels = set(
                db.session.execute(select(Escalation.level).where(Escalation.matter_id == world["late"])).scalars()
            )
            return {
                "reminder": 1 in levels,
                "escalation": 2 in levels,
                "auto_closed": db.session.get(Matter, world["stale"]).status == Status.CLOSED,
                "purged": db.session.execute(select(func.count(IdempotencyRecord.id))).scalar_one() == 0,
                "dashboards": db.session.execute(
                    select(func.count(DashboardFigures.id)).where(
                        DashboardFigures.community_id == world["community_id"]
                    )
                ).scalar_one()
                > 0,
                "monthly_report": db.session.execute(
                    select(func.count(StreetReport.id)).where(
                        StreetReport.street_id == world["street_id"],
                        StreetReport.kind == ReportKind.MONTHLY,
                        StreetReport.snapshot.is_not(None),
                    )
                ).scalar_one()
                == 1,
            }

    return in_context(app, read)


def reminder_reached_the_moderator(app, world) -> bool:
    """The reminder's notification job, queued by the sweep, has put it in the moderator's inbox."""

    def read():
        titles = db.session.execute(
            select(Notification.title).where(Notification.user_id == world["moderator_id"])
        ).scalars()
        return any(title.startswith(("超时提醒", "Late:")) for title in titles)

    return in_context(app, read)


def assert_the_schedule_ran(app, world, timeout: float = 90.0) -> None:
    seen: dict = {}

    def all_done():
        seen.update(schedule_effects(app, world))
        seen["reminder_notified"] = reminder_reached_the_moderator(app, world)
        return all(seen.values())

    try:
        wait_for(all_done, timeout=timeout, what="every periodic job's effect")
    except AssertionError:
        raise AssertionError(f"not every periodic job ran: {seen}") from None


# --- processes -----------------------------------------------------------------------------------------


def start_worker(tmp_path: Path, database: str, redis_url: str, **extra: str) -> subprocess.Popen:
    """The real command, as an operator starts it."""
    env = process_env(tmp_path, database, redis_url, **extra)
    with open(tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log", "w") as log:
        return subprocess.Popen(
            [sys.executable, "-c", "from yishi.cli import main; main()", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def worker_log(tmp_path: Path) -> str:
    return "\n".join(path.read_text(errors="replace") for path in sorted(tmp_path.glob("worker-*.log")))


@pytest.fixture
def redis_url():
    """A Redis database of these tests' own on the real server, emptied before and after."""
    url = REAL_REDIS.rsplit("/", 1)[0] + "/13"
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    yield url
    connection.flushdb()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """A redis-server of the test's own, so the test can stop it without disturbing anyone else."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_for(lambda: _pings(client), timeout=15, what="redis-server to answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


# --- the schedule fires -------------------------------------------------------------------------------


@needs_real_redis
def test_yishi_worker_runs_every_periodic_job_on_its_schedule(tmp_path, monkeypatch, redis_url):
    """`yishi worker` alone, with its scheduler: nobody calls a job; the schedule fires them all."""
    with own_database(tmp_path) as database:
        app = own_app(monkeypatch, tmp_path, database, redis_url)
        world = late_world(app)
        worker = start_worker(tmp_path, database, redis_url, YISHI_SCHEDULE_EVERY="2")
        try:
            assert_the_schedule_ran(app, world)
        finally:
            stop(worker)
            with app.app_context():
                db.engine.dispose()
        log = worker_log(tmp_path)
        assert "DeserializationError" not in log, log[-3000:]
        assert worker.returncode == 0, log[-3000:]  # SIGTERM is a clean stop


def test_the_embedded_runner_runs_every_periodic_job_on_its_schedule(tmp_path, monkeypatch):
    """What `yishi demo` runs: worker threads and the scheduler inside the web process."""
    with own_database(tmp_path) as database:
        app = own_app(monkeypatch, tmp_path, database, SCHEDULE_EVERY_SECONDS=2)
        assert app.config["JOBS_MODE"] == "embedded"
        world = late_world(app)
        runner = jobs.EmbeddedRunner(app)
        runner.start()
        try:
            assert_the_schedule_ran(app, world)
        finally:
            runner.stop()
            with app.app_context():
                db.engine.dispose()


def test_the_cron_times_of_the_schedule(app):
    """Without the test setting, each job runs at its cron time, once per time however many ticks."""
    from datetime import UTC, datetime

    connection = jobs.connection(app)
    at = datetime(2026, 12, 1, 3, 17, 30, tzinfo=UTC).timestamp()
    with app.app_context():
        first = jobs.enqueue_due_periodic_jobs(app, connection, now=at)
        again = jobs.enqueue_due_periodic_jobs(app, connection, now=at + 20)
        next_minute = jobs.enqueue_due_periodic_jobs(app, connection, now=at + 60)
    # First sight: every job runs once (each is idempotent); then only what is due.
    assert {job_id.split("_tasks_")[-1].rsplit("-", 1)[0] for job_id in first} == {
        "sweep_all",
        "refresh_dashboards",
        "monthly_reports",
        "periodic-yishi_core_maintenance_purge_expired_records",
    }
    assert again == []
    assert [job_id.rsplit("-", 1)[0] for job_id in next_minute] == ["periodic-yishi_modules_matters_tasks_sweep_all"]
    assert next_minute[0].endswith(str(int(datetime(2026, 12, 1, 3, 18, tzinfo=UTC).timestamp())))


# --- faults -------------------------------------------------------------------------------------------


@needs_real_redis
def test_a_worker_killed_mid_report_leaves_nothing_half_done_and_the_next_worker_finishes_it(
    tmp_path, monkeypatch, redis_url
):
    with own_database(tmp_path) as database:
        app = own_app(monkeypatch, tmp_path, database, redis_url)
        world = late_world(app)

        def start_report():
            street = db.session.get(Street, world["street_id"])
            start, end, label = reports.month_period(2026, 11, street.time_zone)
            report = reports.start_report(street, start, end, label, actor=SYSTEM)
            db.session.commit()
            return report.id, report.task_id

        # The first worker does the report's work, then is held before its commit — and killed there.
        first = start_worker(
            tmp_path,
            database,
            redis_url,
            YISHI_FAULT_PAUSE_BEFORE_COMMIT="yishi.modules.reports.tasks.build_report=120",
        )
        try:
            report_id, task_id = in_context(app, start_report)

            def task_status():
                return in_context(app, lambda: db.session.get(Task, task_id).status)

            wait_for(lambda: task_status() == TaskStatus.RUNNING, what="the first worker to start the report")
            first_start = in_context(app, lambda: db.session.get(Task, task_id).started_at)
            wait_for(lambda: "pauses" in worker_log(tmp_path), what="the report job to reach its commit", timeout=60)
            stop(first, signal.SIGKILL)
        finally:
            stop(first, signal.SIGKILL)

        def report_state():
            def read():
                report = db.session.get(StreetReport, report_id)
                files = db.session.execute(
                    select(func.count(ReportFile.id)).where(ReportFile.report_id == report_id)
                ).scalar_one()
                task = db.session.get(Task, task_id)
                # "running" is true again only once the new worker has started the job afresh
                running_on_the_dead_worker = task.status == TaskStatus.RUNNING and task.started_at == first_start
                return report.snapshot is not None, files, task.status, running_on_the_dead_worker

            return in_context(app, read)

        assert report_state() == (False, 0, TaskStatus.RUNNING, True)  # nothing half-written, nothing served

        second = start_worker(tmp_path, database, redis_url)
        try:
            wait_for(lambda: worker_log(tmp_path).count("scheduler on") == 2, what="the second worker to start")
            began = time.monotonic()
            # Within seconds of the new worker the task stops claiming to run, and the report completes.
            wait_for(
                lambda: not report_state()[3], timeout=30, what="the task to stop claiming the dead worker runs it"
            )
            told_within = time.monotonic() - began
            wait_for(lambda: report_state()[2] == TaskStatus.FINISHED, timeout=90, what="the retried report")
        finally:
            stop(second)
        assert told_within < jobs.ALIVE_TTL + 5, told_within  # the dead worker's heartbeat expires, then a tick
        assert report_state() == (True, 6, TaskStatus.FINISHED, False)  # one snapshot, six exports, once
        assert "abandoned by a dead worker" in worker_log(tmp_path)
        with app.app_context():
            db.engine.dispose()


@pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server (apt-get install redis-server)")
def test_with_redis_stopped_intake_answers_and_nothing_promised_is_lost(tmp_path, monkeypatch):
    """Redis down: the API still takes a matter (201), /readyz says the queue is down; when Redis and a
    worker come back, the moderators hear of the matter — and the worker outlived the outage."""
    own_redis = OwnRedis(tmp_path)
    own_redis.start()
    worker = None
    try:
        with own_database(tmp_path) as database:
            app = own_app(monkeypatch, tmp_path, database, own_redis.url)
            world = late_world(app)

            def make_token():
                community = db.session.get(Community, world["community_id"])
                _token, secret = accounts.create_token(name="intake", scopes="all", community=community)
                db.session.commit()
                return secret

            secret = in_context(app, make_token)
            worker = start_worker(tmp_path, database, own_redis.url)
            wait_for(lambda: "queues" in worker_log(tmp_path), what="the worker to start")
            own_redis.stop()

            client = app.test_client()
            groups = client.get("/api/v1/communities/jobs-community/resident-groups", headers=bearer(secret))
            assert groups.status_code == 200
            categories = client.get("/api/v1/communities/jobs-community/categories", headers=bearer(secret))
            response = client.post(
                "/api/v1/communities/jobs-community/matters",
                headers=bearer(secret),
                json={
                    "title": "停电时的路灯",
                    "category_id": next(c["id"] for c in categories.get_json()["items"] if c["code"] == "streetlight"),
                    "resident_group_id": groups.get_json()["items"][0]["id"],
                    "reporter_name": "王秀英",
                    "reporter_phone": "13912345678",
                },
            )
            assert response.status_code == 201, response.get_data(as_text=True)
            matter_id = response.get_json()["id"]
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.get_json()["checks"]["queue"].startswith("error")
            assert in_context(app, lambda: db.session.execute(select(func.count(JobOutbox.id))).scalar_one()) >= 1

            own_redis.start()

            def moderator_told():
                return in_context(
                    app,
                    lambda: db.session.execute(
                        select(Notification.id).where(
                            Notification.user_id == world["moderator_id"],
                            Notification.link.like(f"%/matters/{matter_id}"),
                        )
                    ).first(),
                )

            wait_for(moderator_told, timeout=60, what="the notification promised while Redis was down")
            assert worker.poll() is None, worker_log(tmp_path)[-3000:]  # it waited out the outage
            wait_for(
                lambda: in_context(app, lambda: db.session.execute(select(func.count(JobOutbox.id))).scalar_one()) == 0,
                what="the outbox to empty",
            )
            with app.app_context():
                db.engine.dispose()
    finally:
        if worker is not None:
            stop(worker)
        own_redis.stop()


def test_a_job_the_worker_cannot_decode_fails_loudly_once(app, caplog):
    """A job written with pickle (RQ's default, as its CronScheduler did) is marked failed and named in
    the log — never retried in silence."""
    from rq import Queue
    from rq.registry import FailedJobRegistry

    pickled = Queue("default", connection=jobs.connection(app))  # RQ's default serializer: pickle
    rq_job = pickled.enqueue(
        "yishi.core.jobs.execute", kwargs={"job_name": "x", "arguments": {}}, description="pickled"
    )
    with caplog.at_level("ERROR", logger="yishi.core.jobs"):
        jobs.run_pending(app)
    assert rq_job.id in FailedJobRegistry(queue=jobs.queue("default", app)).get_job_ids()
    assert any(rq_job.id in r.getMessage() and "pickled" in r.getMessage() for r in caplog.records), caplog.text
    assert jobs.run_pending(app) == 0  # not queued again
