"""Background jobs on RQ: one decorator, queues named by purpose, JSON payloads, an outbox, a scheduler.

Three modes, one code path (RQ's own API in each):

* ``redis`` — ``REDIS_URL`` is set: jobs go to Redis; ``yishi worker`` runs them.
* ``embedded`` — the one-command demo: an in-process Redis stand-in (fakeredis) and worker threads
  inside the web process.
* ``manual`` — tests: jobs wait in the queue until :func:`run_pending` works them off, on fakeredis
  or on the real Redis of ``YISHI_TEST_REDIS_URL``.

A job is a plain function taking JSON-able arguments — ids, never objects. It runs in a fresh
context with no tenant in scope: a job that touches community data takes ``community_id`` and opens
``community_scope`` itself. Its work is committed once, when it returns.

What makes it hold up when things fail:

* **The outbox.** A job queued inside a transaction is written to ``job_outbox`` in that same
  transaction, then pushed to Redis once the transaction commits. A commit never waits for Redis:
  when Redis is down the row stays, and the scheduler pushes it when Redis answers again. The job
  deletes its own outbox row in the transaction that commits its work, so a row left over means
  "promised, not known to have run".
* **The scheduler** is ours, not RQ's ``CronScheduler`` (which enqueues with pickle, so a JSON worker
  failed every periodic job): one tick, run by every ``yishi worker`` and by the embedded runner
  under a Redis lock, enqueues due periodic jobs (:data:`yishi.schedule.SCHEDULE`) through the same
  JSON path as every other job, moves due retries, pushes the outbox, and recovers the jobs of
  workers that died.
* **Workers** are RQ ``SimpleWorker``\\ s — no fork per job — one per queue in threads of one process,
  so a long report never holds up a notification. Each process keeps a short-lived liveness key; a
  job whose worker's key has expired was abandoned (the process was killed) and is retried at once,
  or failed honestly, and its task says so.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import importlib
import logging
import math
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import fakeredis
import redis
from croniter import croniter
from flask import Flask, current_app, has_app_context
from rq import Queue, Retry, SimpleWorker
from rq.exceptions import DeserializationError, DuplicateJobError, NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, delete, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from yishi.core import tenancy
from yishi.core.db import AwareDateTime, TimestampMixin, db, utcnow

log = logging.getLogger(__name__)

# Queues named by purpose. Each gets its own worker thread in every `yishi worker`, so a burst on one
# (ten thousand notifications, a street report) never delays another (the escalation sweep).
QUEUES = ("notifications", "escalation", "default", "reports", "maintenance")

WORKER_PREFIX = "yishi"
_ALIVE_KEY = "yishi:worker-alive:{}"
_SCHEDULE_KEY = "yishi:schedule:{}"
_SCHEDULER_LOCK = "yishi:scheduler-lock"
ALIVE_TTL = 10  # seconds a worker process counts as alive after its last heartbeat
HEARTBEAT_EVERY = 2
SCHEDULER_LEASE = 10  # seconds one scheduler tick may hold the lock
TERMINAL = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[..., Any]
    queue: str
    timeout: int
    retry: Retry | None
    community_argument: str | None = None


_registry: dict[str, JobSpec] = {}


def job(
    queue: str = "default", *, timeout: int = 600, retries: tuple[int, ...] = (), community_argument: str | None = None
):
    """Declare a background job. ``retries`` are the waits in seconds before each retry.

    ``community_argument`` names the argument holding the community id: the job then runs, and
    commits, inside that community's scope (and nothing else's).
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; queues are {QUEUES}")

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        name = f"{func.__module__}.{func.__qualname__}"
        retry = Retry(max=len(retries), interval=list(retries)) if retries else None
        _registry[name] = JobSpec(name, func, queue, timeout, retry, community_argument)
        func.job_name = name  # type: ignore[attr-defined]
        return func

    return decorator


def _spec(name: str) -> JobSpec:
    spec = _registry.get(name) or _import_job(name)
    if spec is None:
        raise KeyError(f"no job named {name!r}")
    return spec


def _import_job(job_name: str) -> JobSpec | None:
    module_name, _, _attr = job_name.rpartition(".")
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None
    return _registry.get(job_name)


# --- periodic jobs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Periodic:
    """A job run on a schedule: standard five-field cron, in UTC."""

    func: Callable[..., Any]
    cron: str

    @property
    def job_name(self) -> str:
        return self.func.job_name  # type: ignore[attr-defined]


def schedule(app: Flask | None = None) -> tuple[Periodic, ...]:
    app = app or current_app._get_current_object()
    return app.extensions["yishi_jobs"]["schedule"]


# --- user-visible jobs ---------------------------------------------------------------------------


class TaskStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class Task(TimestampMixin, db.Model):
    """A user-visible job, so pages can show its progress and result (after Microblog).

    A task belongs to one community or one street office, like an API token; read it through
    :func:`get_task_for`, which checks the owner.
    """

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_community_id_created_at", "community_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    job_name: Mapped[str] = mapped_column(String(200), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[TaskStatus] = mapped_column(
        Enum(TaskStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        nullable=False,
        default=TaskStatus.QUEUED,
    )
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(AwareDateTime())

    def live_progress(self) -> tuple[int, str]:
        """Progress as the running job last reported it (kept in Redis, so it shows before commit)."""
        if self.status != TaskStatus.RUNNING:
            return self.progress, self.message
        try:
            rq_job = Job.fetch(self.id, connection=connection(), serializer=JSONSerializer)
            meta = rq_job.get_meta(refresh=True)
        except Exception:  # noqa: BLE001 - no live data is not an error for a progress bar
            return self.progress, self.message
        return int(meta.get("progress", self.progress)), str(meta.get("message", self.message))


class JobOutbox(db.Model):
    """A job that a committed transaction promised and that is not yet known to have run.

    Written in the transaction that queues the job, deleted in the transaction that commits the job's
    work (or when the job has failed for good). Platform bookkeeping, not community data: it holds ids.
    """

    __tablename__ = "job_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    job_name: Mapped[str] = mapped_column(String(200), nullable=False)
    arguments: Mapped[dict] = mapped_column(JSON, nullable=False)
    task_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow, nullable=False, index=True)


_current_job: contextvars.ContextVar[Job | None] = contextvars.ContextVar("yishi_current_job", default=None)


def report_progress(percent: int, message: str = "") -> None:
    """Called from inside a job: publish progress for pages polling the task."""
    rq_job = _current_job.get()
    if rq_job is None:
        return
    rq_job.meta["progress"] = max(0, min(100, int(percent)))
    rq_job.meta["message"] = message
    try:
        rq_job.save_meta()
    except redis.RedisError:  # progress is a courtesy: the work goes on without it
        log.warning("could not publish the progress of job %s", rq_job.id)


# --- connection and queues ------------------------------------------------------------------------


def connection(app: Flask | None = None) -> redis.Redis:
    app = app or current_app._get_current_object()
    return app.extensions["yishi_jobs"]["connection"]


def _make_connection(app: Flask) -> redis.Redis:
    url = app.config.get("REDIS_URL")
    if url:
        # Short timeouts: a Redis that is down must cost a request milliseconds, not a hang.
        return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)
    # One in-process server per app instance: enqueue, worker and pages all see the same data.
    return fakeredis.FakeStrictRedis(server=fakeredis.FakeServer())


def _worker_connection(app: Flask) -> redis.Redis:
    """A connection of a worker's own: RQ sets a long socket timeout on it for its blocking pop."""
    url = app.config.get("REDIS_URL")
    if url:
        return redis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=30)
    return connection(app)


def queue(name: str, app: Flask | None = None, conn: redis.Redis | None = None) -> Queue:
    return Queue(name, connection=conn or connection(app), serializer=JSONSerializer)


class _Breaker:
    """After Redis failed to take a job, stop trying for a few seconds: the outbox keeps the jobs and
    the scheduler sends them, so a request never waits on a Redis that is known to be down."""

    def __init__(self, pause: float = 5.0) -> None:
        self.pause = pause
        self._until = 0.0

    def open(self) -> None:
        self._until = time.monotonic() + self.pause

    def close(self) -> None:
        self._until = 0.0

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._until


def _push(app: Flask, name: str, job_id: str, arguments: dict, task_id: str | None, conn=None) -> None:
    """Hand one job to Redis (raises DuplicateJobError if a job with that id exists)."""
    spec = _spec(name)
    queue(spec.queue, app, conn).enqueue(
        "yishi.core.jobs.execute",
        kwargs={"job_name": name, "arguments": arguments, "task_id": task_id},
        job_id=job_id,
        description=name,
        job_timeout=spec.timeout,
        retry=spec.retry,
        unique=True,
        result_ttl=86400,
        failure_ttl=7 * 86400,
    )


def enqueue(
    job_name_or_func: str | Callable[..., Any],
    /,
    *,
    job_id: str | None = None,
    task: Task | None = None,
    after_commit: bool = True,
    **kwargs: Any,
) -> str:
    """Queue a declared job. By default it is written to the outbox in the current transaction and
    sent when that transaction commits, so the worker never sees rows that are not there yet and a
    rollback drops it. ``job_id`` makes the job unique (a duplicate with the same id is not queued
    twice). Returns the job id."""
    name = job_name_or_func if isinstance(job_name_or_func, str) else job_name_or_func.job_name
    _spec(name)  # a misspelt job fails here, at the call, not in a worker at 3 a.m.
    task_id = task.id if task is not None else None
    job_id = task_id or job_id or str(uuid.uuid4())
    app = current_app._get_current_object()
    session = db.session()
    if after_commit and session.in_transaction():
        session.add(JobOutbox(job_id=job_id, job_name=name, arguments=kwargs, task_id=task_id))
        # Kept with the innermost transaction: a savepoint rolled back drops only the jobs queued in it.
        transaction = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(_PENDING, []).append((transaction, (app, name, job_id, kwargs, task_id)))
    else:
        try:
            _push(app, name, job_id, kwargs, task_id)
        except DuplicateJobError:
            log.info("job %s is already queued; not queued twice", job_id)
    return job_id


_PENDING = "yishi_pending_jobs"


@event.listens_for(Session, "after_commit")
def _send_pending_jobs(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released (SQLAlchemy calls that a commit too): wait for the real commit
    for _transaction, (app, name, job_id, arguments, task_id) in session.info.pop(_PENDING, []):
        state = app.extensions["yishi_jobs"]
        if state["breaker"].is_open:
            continue  # Redis was down a moment ago: the outbox row waits for the scheduler
        try:
            _push(app, name, job_id, arguments, task_id)
            state["breaker"].close()
        except DuplicateJobError:
            log.info("job %s is already queued; not queued twice", job_id)
        except redis.RedisError as error:
            state["breaker"].open()
            log.warning("queue unreachable (%s): job %s (%s) waits in the outbox", error, job_id, name)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending_jobs(session: Session, previous_transaction) -> None:
    """Drop the jobs queued inside the transaction rolled back: a savepoint's own, or all of them."""
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [(t, job) for t, job in pending if not _inside(t, previous_transaction)]


def _inside(transaction, outer) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


def start_task(
    job_name_or_func,
    *,
    title: str,
    arguments: dict[str, Any],
    community_id: int | None = None,
    street_id: int | None = None,
    user_id: int | None = None,
) -> Task:
    """Record a user-visible task owned by a community or a street, and queue its job (sent at commit)."""
    name = job_name_or_func if isinstance(job_name_or_func, str) else job_name_or_func.job_name
    task = Task(job_name=name, title=title, community_id=community_id, street_id=street_id, user_id=user_id)
    db.session.add(task)
    db.session.flush()
    enqueue(name, task=task, **arguments)
    return task


def get_task_for(task_id: str, *, community_id: int | None = None, street_id: int | None = None) -> Task | None:
    """A task, only if it belongs to the given community or street."""
    task = db.session.get(Task, task_id)
    if task is None:
        return None
    if community_id is not None and task.community_id == community_id:
        return task
    if street_id is not None and task.street_id == street_id:
        return task
    return None


# --- running a job -----------------------------------------------------------------------------------


# The app whose worker runs jobs here: set by run_pending, run_worker and the embedded runner. Jobs run
# in an empty context, so they cannot find it otherwise.
_bound_app: Flask | None = None


def _bind(app: Flask) -> None:
    global _bound_app
    _bound_app = app


def _app() -> Flask:
    if _bound_app is not None:
        return _bound_app
    if has_app_context():
        return current_app._get_current_object()
    from yishi import create_app

    return create_app()


_worker_pid = os.getpid()


def execute(job_name: str, arguments: dict, task_id: str | None = None) -> Any:
    """What RQ runs for every job: a fresh context, no tenant, one commit."""
    from rq import get_current_job

    # RQ keeps its current job in a context variable: read it here, the fresh context has none.
    rq_job = get_current_job()
    context = contextvars.Context()  # never inherit the caller's tenant or request
    return context.run(_execute, job_name, arguments, task_id, rq_job)


def _execute(job_name: str, arguments: dict, task_id: str | None, rq_job: Job | None = None) -> Any:
    app = _app()
    with app.app_context():
        if os.getpid() != _worker_pid:  # a forked work horse (`rq worker`) must not reuse the parent's connections
            db.engine.dispose(close=False)
        spec = _spec(job_name)
        _current_job.set(rq_job)
        task = db.session.get(Task, task_id) if task_id else None
        if task is not None:
            task.status, task.started_at, task.progress, task.message = TaskStatus.RUNNING, utcnow(), 0, ""
            db.session.commit()
        try:
            scope = (
                tenancy.community_scope(int(arguments[spec.community_argument]))
                if spec.community_argument
                else tenancy.no_scope()
            )
            with scope:
                result = spec.func(**arguments)
                db.session.flush()
            _fault_pause(app, job_name)
            if rq_job is not None:  # the promise is kept in the same transaction as the work
                db.session.execute(delete(JobOutbox).where(JobOutbox.job_id == rq_job.id))
            if task is not None:
                task = db.session.get(Task, task_id)
                task.status, task.progress, task.finished_at = TaskStatus.FINISHED, 100, utcnow()
                task.result = result if isinstance(result, dict) else None
            db.session.commit()
            return result
        except Exception as error:
            db.session.rollback()
            will_retry = bool(rq_job is not None and rq_job.retries_left)
            if not will_retry and rq_job is not None:
                db.session.execute(delete(JobOutbox).where(JobOutbox.job_id == rq_job.id))
            if task is not None:
                task = db.session.get(Task, task_id)
                # This attempt failed; a retry, when one is left, starts it again after its pause.
                task.status, task.finished_at = TaskStatus.FAILED, utcnow()
                task.error = f"{type(error).__name__}: {error}"[:2000]
                task.message = "will be retried" if will_retry else ""
            db.session.commit()
            raise
        finally:
            db.session.remove()


def _fault_pause(app: Flask, job_name: str) -> None:
    """Fault tests only (never in production): ``YISHI_FAULT_PAUSE_BEFORE_COMMIT=<job name>=<seconds>``
    holds a job between its work and its commit, so a test can kill the worker exactly there."""
    setting = app.config.get("FAULT_PAUSE_BEFORE_COMMIT")
    if setting and app.config["YISHI_ENV"] != "production":
        name, _, seconds = setting.rpartition("=")
        if name == job_name:
            log.warning("fault test: job %s pauses %s s before its commit", job_name, seconds)
            time.sleep(float(seconds))


# --- workers ----------------------------------------------------------------------------------------


def _log_undecodable(job: Job, exc_type, exc_value, _traceback) -> bool:
    """A job written by something other than Yishi (pickle, or another app): say which, loudly, once.
    RQ then marks it failed; it is never retried."""
    if isinstance(exc_value, DeserializationError) or exc_type is DeserializationError:
        log.error(
            "job %s (%s) on queue %s cannot be decoded as JSON and is marked failed: %s",
            job.id,
            job.description,
            job.origin,
            exc_value,
        )
    return True  # let RQ's default handling (failed registry) go on


class _ThreadWorker(SimpleWorker):
    """An RQ worker that runs jobs in its own thread: no fork per job, no signal handlers,
    timer-based timeouts."""

    death_penalty_class = TimerDeathPenalty
    max_connection_wait_time = 5.0  # back on its feet within seconds of Redis returning

    def _install_signal_handlers(self) -> None:
        return None


def _new_worker(queues: list[Queue], conn, name: str | None = None) -> _ThreadWorker:
    return _ThreadWorker(
        queues,
        connection=conn,
        serializer=JSONSerializer,
        name=name,
        worker_ttl=20,  # short blocking pops, so a stop request is heard within seconds
        exception_handlers=[_log_undecodable],
    )


def run_pending(app: Flask | None = None, *, max_jobs: int | None = None, queues: Iterable[str] = QUEUES) -> int:
    """Work off every queued job in this thread (tests; the embedded runner). Returns jobs run."""
    app = app or current_app._get_current_object()
    _bind(app)
    conn = connection(app)
    queue_list = [queue(name, app) for name in queues]
    _move_due_scheduled_jobs(queue_list)
    before = sum(q.count for q in queue_list)
    if before == 0:
        return 0
    worker = _new_worker(queue_list, conn)
    worker.work(burst=True, max_jobs=max_jobs, logging_level="WARNING")
    return before - sum(q.count for q in queue_list)


def _move_due_scheduled_jobs(queues: list[Queue]) -> int:
    """Retries waiting for their time, moved to their queue when it comes (RQ's own scheduler forks,
    and an in-process Redis cannot follow it; the scheduler tick does this step instead)."""
    moved = 0
    for q in queues:
        registry = ScheduledJobRegistry(queue=q)
        for job_id in registry.get_jobs_to_schedule(int(utcnow().timestamp())):
            rq_job = q.fetch_job(job_id)
            if rq_job is not None:
                q._enqueue_job(rq_job)  # noqa: SLF001 - RQ's own scheduler does the same
                moved += 1
            registry.remove(job_id)
    return moved


# --- the scheduler tick -------------------------------------------------------------------------------


def _slot(periodic: Periodic, now: float, every: float | None) -> float:
    """The latest time at or before ``now`` the job was due."""
    if every:
        return math.floor(now / every) * every
    moment = datetime.fromtimestamp(now, UTC)
    if croniter.match(periodic.cron, moment.replace(second=0, microsecond=0)):
        return moment.replace(second=0, microsecond=0).timestamp()
    return croniter(periodic.cron, moment).get_prev(float)


def enqueue_due_periodic_jobs(app: Flask, conn: redis.Redis, now: float | None = None) -> list[str]:
    """Queue every periodic job whose time has come since it last ran (once, however many times were
    missed while no scheduler ran). The job id names the slot, so two schedulers queue it once."""
    now = time.time() if now is None else now
    every = app.config.get("SCHEDULE_EVERY_SECONDS")
    queued = []
    for periodic in schedule(app):
        slot = _slot(periodic, now, every)
        key = _SCHEDULE_KEY.format(periodic.job_name)
        last = conn.get(key)
        if last is not None and float(last) >= slot:
            continue
        job_id = f"periodic-{periodic.job_name.replace('.', '_')}-{int(slot)}"
        try:
            _push(app, periodic.job_name, job_id, {}, None, conn)
            queued.append(job_id)
        except DuplicateJobError:
            pass
        conn.set(key, slot, ex=40 * 86400)
    return queued


def drain_outbox(app: Flask, conn: redis.Redis, *, older_than: float = 10.0, limit: int = 500) -> dict:
    """Send the jobs that committed transactions promised and Redis never took (it was down, or the
    process died between commit and send). A row whose job exists already is left to that job, or,
    when that job is over, forgotten."""
    sent = forgotten = 0
    with tenancy.no_scope():
        rows = (
            db.session.execute(
                select(JobOutbox)
                .where(JobOutbox.created_at <= utcnow() - timedelta(seconds=older_than))
                .order_by(JobOutbox.id)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        for row in rows:
            try:
                _push(app, row.job_name, row.job_id, row.arguments, row.task_id, conn)
                sent += 1
            except DuplicateJobError:
                try:
                    status = Job.fetch(row.job_id, connection=conn, serializer=JSONSerializer).get_status()
                except NoSuchJobError:
                    status = None
                if status in TERMINAL:
                    db.session.delete(row)  # its job has run (this row was a duplicate id) or failed for good
                    forgotten += 1
            except KeyError:
                log.error("outbox row %s names no job %r: dropped", row.id, row.job_name)
                db.session.delete(row)
                forgotten += 1
        db.session.commit()
    if sent:
        log.info("outbox: sent %s job(s) that waited for the queue", sent)
    return {"sent": sent, "forgotten": forgotten}


def recover_abandoned_jobs(app: Flask, conn: redis.Redis) -> list[str]:
    """Jobs whose worker process is gone (killed, machine lost): retried now if they have retries left,
    otherwise failed, and their task told either way. Alive workers keep a key that expires
    :data:`ALIVE_TTL` seconds after their last heartbeat."""
    recovered: list[str] = []
    for name in QUEUES:
        q = queue(name, app, conn)
        registry = StartedJobRegistry(queue=q)
        abandoned = []
        for member in conn.zrange(registry.key, 0, -1):
            member = member.decode() if isinstance(member, bytes) else member
            job_id, _, execution_id = member.rpartition(":")
            try:
                execution = Execution.fetch(id=execution_id, job_id=job_id, connection=conn)
                worker_name = execution.worker_name or ""
            except Exception:  # noqa: BLE001 - an execution record gone means its worker is gone too
                worker_name = ""
            parts = worker_name.split(".")
            if len(parts) == 3 and parts[0] == WORKER_PREFIX and conn.exists(_ALIVE_KEY.format(parts[1])):
                continue  # a living Yishi worker runs it
            if worker_name and not worker_name.startswith(f"{WORKER_PREFIX}."):
                continue  # not one of ours: RQ's own maintenance handles it
            abandoned.append((member, job_id))
        if not abandoned:
            continue
        conn.zadd(registry.key, {member: 0 for member, _ in abandoned})
        registry.cleanup(timestamp=1)  # RQ's own handling of abandoned jobs: retry, or fail
        for _member, job_id in abandoned:
            try:
                rq_job = Job.fetch(job_id, connection=conn, serializer=JSONSerializer)
            except NoSuchJobError:
                continue
            status = rq_job.get_status()
            if status == JobStatus.SCHEDULED:
                # The job did not fail, its worker died: no reason to wait out a back-off.
                ScheduledJobRegistry(queue=q).remove(rq_job)
                q._enqueue_job(rq_job)  # noqa: SLF001 - as RQ's scheduler does
            _task_after_abandonment(rq_job, retried=status != JobStatus.FAILED)
            recovered.append(job_id)
            log.warning("job %s (%s) was abandoned by a dead worker: %s", job_id, rq_job.description, status)
    return recovered


def _task_after_abandonment(rq_job: Job, *, retried: bool) -> None:
    task_id = (rq_job.kwargs or {}).get("task_id")
    job_name = (rq_job.kwargs or {}).get("job_name")
    with tenancy.no_scope():
        if not retried:
            db.session.execute(delete(JobOutbox).where(JobOutbox.job_id == rq_job.id))
        task = db.session.get(Task, task_id) if task_id else None
        if task is not None and task.status in (TaskStatus.RUNNING, TaskStatus.QUEUED):
            if retried:
                task.status, task.message = TaskStatus.QUEUED, "retrying: its worker stopped"
            else:
                task.status, task.finished_at = TaskStatus.FAILED, utcnow()
                task.error = f"{job_name}: its worker stopped and no retries were left"
        db.session.commit()


def scheduler_tick(app: Flask, conn: redis.Redis) -> dict:
    """One step of the scheduler, under a lock so that several workers take turns."""
    # A short lease: a scheduler killed mid-tick holds up the others for seconds, not a minute.
    lock = conn.lock(_SCHEDULER_LOCK, timeout=SCHEDULER_LEASE, blocking=False)
    if not lock.acquire(blocking=False):
        log.debug("scheduler tick skipped: another scheduler holds the lease")
        return {}
    began = time.monotonic()
    try:
        with app.app_context():
            queued = enqueue_due_periodic_jobs(app, conn)
            moved = _move_due_scheduled_jobs([queue(name, app, conn) for name in QUEUES])
            recovered = recover_abandoned_jobs(app, conn)
            outbox = drain_outbox(app, conn)
        if time.monotonic() - began > SCHEDULER_LEASE / 2:
            log.warning("scheduler tick took %.1f s", time.monotonic() - began)
        return {"periodic": queued, "retries": moved, "recovered": recovered, **outbox}
    finally:
        with contextlib.suppress(redis.RedisError):
            lock.release()


class _Loop:
    """A daemon thread calling ``step`` every ``every`` seconds until stopped; a failed step is
    logged and tried again with a growing pause (Redis or the database away), never fatal."""

    def __init__(self, name: str, step: Callable[[], Any], every: float) -> None:
        self.step, self.every = step, every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        pause = self.every
        while not self.stopped.is_set():
            try:
                self.step()
                pause = self.every
            except Exception:  # noqa: BLE001 - log, back off, go on
                log.exception("%s: step failed; trying again in %.0f s", self.thread.name, pause)
                pause = min(max(pause * 2, 1.0), 5.0)
            self.stopped.wait(pause)


# Worker threads per queue in one `yishi worker`. A small job spends most of its time waiting on Redis
# and the database, so several threads on the busiest queue multiply its throughput; the others need one.
THREADS: dict[str, int] = {}  # one each by default: measured, more threads on a CPU-bound job gain nothing


class WorkerProcess:
    """``yishi worker``: RQ worker threads for each queue (:data:`THREADS`), the scheduler, and a
    liveness heartbeat.

    Redis going away never ends it: each thread retries with a growing pause until Redis answers.
    """

    def __init__(
        self,
        app: Flask,
        queues: Iterable[str] = QUEUES,
        *,
        with_scheduler: bool = True,
        threads: int | None = None,
    ) -> None:
        self.app = app
        self.token = uuid.uuid4().hex[:12]
        self.queues = list(queues)
        self.threads = {name: threads or THREADS.get(name, 1) for name in self.queues}
        self.with_scheduler = with_scheduler
        self.stopping = threading.Event()
        self._workers: dict[str, _ThreadWorker] = {}
        self._threads: list[threading.Thread] = []
        self._loops: list[_Loop] = []

    def _heartbeat(self) -> None:
        connection(self.app).set(_ALIVE_KEY.format(self.token), os.getpid(), ex=ALIVE_TTL)

    def _lane(self, name: str, number: int) -> None:
        pause = 1.0
        lane = f"{name}-{number}"
        while not self.stopping.is_set():
            try:
                conn = _worker_connection(self.app)
                worker = _new_worker([queue(name, self.app, conn)], conn, f"{WORKER_PREFIX}.{self.token}.{lane}")
                self._workers[lane] = worker
                worker.work(logging_level="INFO")
                if self.stopping.is_set():
                    return
                log.warning("worker for queue %s stopped; starting again in %.0f s", name, pause)
            except redis.RedisError as error:
                log.warning("queue %s: Redis unreachable (%s); trying again in %.0f s", name, error, pause)
            except Exception:  # noqa: BLE001 - a lane must outlive any one failure
                log.exception("worker for queue %s failed; starting again in %.0f s", name, pause)
            self.stopping.wait(pause)
            pause = min(pause * 2, 5.0)

    def start(self) -> None:
        _bind(self.app)
        self._loops.append(_Loop("yishi-heartbeat", self._heartbeat, HEARTBEAT_EVERY))
        if self.with_scheduler:
            every = min(1.0, self.app.config.get("SCHEDULE_EVERY_SECONDS") or 1.0)
            self._loops.append(_Loop("yishi-scheduler", lambda: scheduler_tick(self.app, connection(self.app)), every))
        for loop in self._loops:
            loop.thread.start()
        for name in self.queues:
            for number in range(1, self.threads[name] + 1):
                thread = threading.Thread(
                    target=self._lane, args=(name, number), name=f"yishi-worker-{name}-{number}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        for worker in list(self._workers.values()):
            worker._stop_requested = True  # noqa: SLF001 - RQ's own flag: stop after the current job
        for loop in self._loops:
            loop.stopped.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(redis.RedisError):
            connection(self.app).delete(_ALIVE_KEY.format(self.token))


def run_worker(app: Flask, *, burst: bool = False, queues: Iterable[str] = QUEUES, threads: int | None = None) -> None:
    """``yishi worker``: every queue in its own thread, with the scheduler, until SIGTERM or SIGINT.
    ``burst`` works off what is queued (due retries and the outbox included) and returns."""
    _bind(app)
    if burst:
        with app.app_context():
            conn = connection(app)
            _move_due_scheduled_jobs([queue(name, app) for name in queues])
            drain_outbox(app, conn, older_than=0)
        run_pending(app, queues=queues)
        return
    process = WorkerProcess(app, queues, threads=threads)
    stop = threading.Event()

    def _request_stop(signum, _frame) -> None:
        log.info("signal %s: stopping after the current jobs", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    process.start()
    log.info("yishi worker %s: queues %s, scheduler on", process.token, ", ".join(process.queues))
    stop.wait()
    process.stop()


class EmbeddedRunner:
    """The demo's worker, inside the web process on the in-process Redis: a thread per queue working
    off what is queued, and the same scheduler tick as ``yishi worker``."""

    def __init__(self, app: Flask, every: float = 0.25) -> None:
        self.app = app
        self._loops = [
            _Loop(f"yishi-embedded-{name}", lambda name=name: run_pending(self.app, queues=(name,)), every)
            for name in QUEUES
        ]
        self._loops.append(
            _Loop("yishi-embedded-scheduler", lambda: scheduler_tick(self.app, connection(self.app)), 1.0)
        )

    def start(self) -> None:
        _bind(self.app)
        for loop in self._loops:
            loop.thread.start()

    def stop(self) -> None:
        for loop in self._loops:
            loop.stopped.set()
        for loop in self._loops:
            loop.thread.join(timeout=5)


def init_app(app: Flask, schedule: Iterable[Periodic] = ()) -> None:
    """Bind the queue connection and the schedule; every scheduled job must be a declared job."""
    periodic = tuple(schedule)
    for entry in periodic:
        if entry.job_name not in _registry:
            raise RuntimeError(f"the schedule names {entry.job_name!r}, which is not a declared job")
        croniter(entry.cron)  # a malformed cron fails at start, not at the first tick
    app.extensions["yishi_jobs"] = {"connection": _make_connection(app), "schedule": periodic, "breaker": _Breaker()}
