"""Background jobs on RQ: one decorator, queues named by purpose, JSON payloads, one schedule list.

Three modes, one code path (RQ's own API in each):

* ``redis`` — ``REDIS_URL`` is set: jobs go to Redis; ``yishi worker`` runs them.
* ``embedded`` — the one-command demo: an in-process Redis stand-in (fakeredis) and an RQ worker
  thread inside the web process.
* ``manual`` — tests: jobs wait in the queue until :func:`run_pending` works them off, on fakeredis
  or on the real Redis of ``YISHI_TEST_REDIS_URL``.

A job is a plain function taking JSON-able arguments — ids, never objects. It runs in a fresh
context with no tenant in scope: a job that touches community data takes ``community_id`` and opens
``community_scope`` itself. Its work is committed once, when it returns.
"""

from __future__ import annotations

import contextvars
import enum
import importlib
import logging
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import fakeredis
import redis
from flask import Flask, current_app, has_app_context
from rq import Queue, Retry, SimpleWorker, Worker
from rq.cron import CronScheduler
from rq.exceptions import DuplicateJobError
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from yishi.core import tenancy
from yishi.core.db import AwareDateTime, TimestampMixin, db, utcnow

log = logging.getLogger(__name__)

# Queues named by purpose, most urgent first: a worker drains them in this order.
QUEUES = ("notifications", "default", "reports", "maintenance")


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


# --- periodic jobs: the one list ----------------------------------------------------------------


@dataclass(frozen=True)
class Periodic:
    job_name: str
    cron: str  # standard five-field cron, in UTC


SCHEDULE: list[Periodic] = [
    Periodic("yishi.core.maintenance.purge_expired_records", cron="17 3 * * *"),
]


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
        except Exception:  # noqa: BLE001 - no live data is not an error for a progress bar
            return self.progress, self.message
        meta = rq_job.get_meta(refresh=True)
        return int(meta.get("progress", self.progress)), str(meta.get("message", self.message))


_current_job: contextvars.ContextVar[Job | None] = contextvars.ContextVar("yishi_current_job", default=None)


def report_progress(percent: int, message: str = "") -> None:
    """Called from inside a job: publish progress for pages polling the task."""
    rq_job = _current_job.get()
    if rq_job is None:
        return
    rq_job.meta["progress"] = max(0, min(100, int(percent)))
    rq_job.meta["message"] = message
    rq_job.save_meta()


# --- connection and queues ------------------------------------------------------------------------

_fake_servers: dict[str, fakeredis.FakeServer] = {}


def connection(app: Flask | None = None) -> redis.Redis:
    app = app or current_app._get_current_object()
    state = app.extensions["yishi_jobs"]
    return state["connection"]


def _make_connection(app: Flask) -> redis.Redis:
    url = app.config.get("REDIS_URL")
    if url:
        return redis.Redis.from_url(url)
    # One in-process server per app instance: enqueue, worker and pages all see the same data.
    server = fakeredis.FakeServer()
    _fake_servers[str(id(app))] = server
    return fakeredis.FakeStrictRedis(server=server)


def queue(name: str, app: Flask | None = None) -> Queue:
    return Queue(name, connection=connection(app), serializer=JSONSerializer)


def enqueue(
    job_name_or_func: str | Callable[..., Any],
    /,
    *,
    job_id: str | None = None,
    task: Task | None = None,
    after_commit: bool = True,
    **kwargs: Any,
) -> str:
    """Queue a declared job. By default it is sent when the current transaction commits, so the
    worker never sees rows that are not there yet. ``job_id`` makes the job unique (a duplicate
    with the same id is not queued twice). Returns the job id."""
    name = job_name_or_func if isinstance(job_name_or_func, str) else job_name_or_func.job_name
    spec = _registry.get(name)
    if spec is None:
        raise KeyError(f"no job named {name!r}")
    task_id = task.id if task is not None else None
    job_id = task_id or job_id or str(uuid.uuid4())
    app = current_app._get_current_object()

    def send() -> None:
        try:
            _send()
        except DuplicateJobError:
            log.info("job %s is already queued; not queued twice", job_id)

    def _send() -> None:
        queue(spec.queue, app).enqueue(
            "yishi.core.jobs.execute",
            kwargs={"job_name": name, "arguments": kwargs, "task_id": task_id},
            job_id=job_id,
            job_timeout=spec.timeout,
            retry=spec.retry,
            unique=True,
            result_ttl=86400,
            failure_ttl=7 * 86400,
        )

    session = db.session()
    if after_commit and session.in_transaction():
        # Kept with the innermost transaction: a savepoint rolled back drops only the jobs queued in it.
        transaction = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(_PENDING, []).append((transaction, send))
    else:
        send()
    return job_id


_PENDING = "yishi_pending_jobs"


@event.listens_for(Session, "after_commit")
def _send_pending_jobs(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released (SQLAlchemy calls that a commit too): wait for the real commit
    for _transaction, send in session.info.pop(_PENDING, []):
        send()


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending_jobs(session: Session, previous_transaction) -> None:
    """Drop the jobs queued inside the transaction rolled back: a savepoint's own, or all of them."""
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [(t, send) for t, send in pending if not _inside(t, previous_transaction)]


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


# The app whose worker runs jobs here: set by run_pending, run_worker and the embedded runner (and
# inherited by RQ's forked work horses). Jobs run in an empty context, so they cannot find it otherwise.
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
        if os.getpid() != _worker_pid:  # a forked work horse must not reuse the parent's connections
            db.engine.dispose(close=False)
        spec = _registry.get(job_name) or _import_job(job_name)
        _current_job.set(rq_job)
        task = db.session.get(Task, task_id) if task_id else None
        if task is not None:
            task.status, task.started_at, task.progress = TaskStatus.RUNNING, utcnow(), 0
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
            if task is not None:
                task = db.session.get(Task, task_id)
                task.status, task.progress, task.finished_at = TaskStatus.FINISHED, 100, utcnow()
                task.result = result if isinstance(result, dict) else None
            db.session.commit()
            return result
        except Exception as error:
            db.session.rollback()
            if task is not None:
                task = db.session.get(Task, task_id)
                task.status, task.finished_at = TaskStatus.FAILED, utcnow()
                task.error = f"{type(error).__name__}: {error}"[:2000]
                db.session.commit()
            raise
        finally:
            db.session.remove()


def _import_job(job_name: str) -> JobSpec:
    module_name, _, _attr = job_name.rpartition(".")
    importlib.import_module(module_name)
    return _registry[job_name]


# --- workers ----------------------------------------------------------------------------------------


class _ThreadWorker(SimpleWorker):
    """An RQ worker that can live in a thread (or a test): no signal handlers, timer-based timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        return None


def run_pending(app: Flask | None = None, *, max_jobs: int | None = None) -> int:
    """Work off every queued job in this thread (tests; the embedded runner). Returns jobs run."""
    app = app or current_app._get_current_object()
    _bind(app)
    conn = connection(app)
    queues = [queue(name, app) for name in QUEUES]
    _move_due_scheduled_jobs(queues)
    before = sum(q.count for q in queues)
    if before == 0:
        return 0
    worker = _ThreadWorker(queues, connection=conn, serializer=JSONSerializer)
    worker.work(burst=True, max_jobs=max_jobs, logging_level="WARNING")
    return before - sum(q.count for q in queues)


def _move_due_scheduled_jobs(queues: list[Queue]) -> None:
    """RQ's scheduler forks, which an in-process Redis cannot follow: do its one step here."""
    from rq.registry import ScheduledJobRegistry

    for q in queues:
        registry = ScheduledJobRegistry(queue=q)
        for job_id in registry.get_jobs_to_schedule(int(utcnow().timestamp())):
            job = q.fetch_job(job_id)
            if job is not None:
                q._enqueue_job(job)  # noqa: SLF001 - RQ's own scheduler does the same
            registry.remove(job_id)


def cron_scheduler(app: Flask) -> CronScheduler:
    """An RQ cron scheduler loaded with :data:`SCHEDULE`. Periodic jobs are idempotent, so two
    schedulers running at once do no harm."""
    scheduler = CronScheduler(connection=connection(app))
    for periodic in SCHEDULE:
        spec = _registry.get(periodic.job_name) or _import_job(periodic.job_name)
        scheduler.register(
            execute,
            queue_name=spec.queue,
            kwargs={"job_name": spec.name, "arguments": {}},
            cron=periodic.cron,
            job_timeout=spec.timeout,
        )
    return scheduler


def run_worker(app: Flask, *, burst: bool = False, with_cron: bool = True) -> None:
    """``yishi worker``: an RQ worker with its scheduler on REDIS_URL (and the cron list in a thread)."""
    _bind(app)
    conn = connection(app)
    if with_cron and not burst:
        scheduler = cron_scheduler(app)
        thread = threading.Thread(target=_cron_loop, args=(scheduler,), name="yishi-cron", daemon=True)
        thread.start()
    queues = [queue(name, app) for name in QUEUES]
    worker = Worker(queues, connection=conn, serializer=JSONSerializer)
    worker.work(with_scheduler=True, burst=burst)


def _cron_loop(scheduler: CronScheduler) -> None:
    import time

    while True:
        try:
            if scheduler.enqueue_jobs():
                scheduler.save()
        except Exception:  # noqa: BLE001 - a broken tick must not kill the worker
            log.exception("cron tick failed")
        time.sleep(max(1.0, min(60.0, scheduler.calculate_sleep_interval())))


class EmbeddedRunner:
    """The demo's worker: a daemon thread working the in-process queues every half second."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="yishi-embedded-jobs", daemon=True)
        self._scheduler = cron_scheduler(app)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self.app.app_context():
                    if self._scheduler.enqueue_jobs():
                        self._scheduler.save()
                    run_pending(self.app)
            except Exception:  # noqa: BLE001 - keep the demo's runner alive; the job's failure is recorded
                log.exception("embedded job runner step failed")
            self._stop.wait(0.5)


def init_app(app: Flask) -> None:
    app.extensions["yishi_jobs"] = {"connection": _make_connection(app)}
    # Import every module's tasks so their jobs are registered before anything is queued or run.
    for module in ("yishi.core.maintenance",):
        importlib.import_module(module)
