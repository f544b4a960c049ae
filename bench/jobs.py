"""How many small jobs a second a worker runs: `yishi worker` beside bare RQ workers, in one run.

    python bench/jobs.py                 # 2,000 jobs each; PostgreSQL yishi_bench_jobs, Redis db 7
    python bench/jobs.py --jobs 5000 --database sqlite:////tmp/bench-jobs.sqlite3

Three workers drain the same number of tiny jobs from the same Redis, one after the other:

* ``yishi worker`` (the real command, its own process) on its ``notifications`` queue: each job is the
  real notification job ``matters.tasks.tell`` (for a matter that is not there) run through
  ``core.jobs.execute`` — a fresh context, the tenant scope, its reads, the outbox row deleted and one
  commit — by the queue's worker threads;
* bare RQ ``SimpleWorker`` (no fork, JSON, a function that does nothing): the floor RQ itself sets;
* bare RQ ``Worker`` (a fork per job, as ``yishi worker`` ran before): what the issue measured.

The figure is jobs finished per second from the first job taken to the last finished (RQ's own
timestamps), and every job must have finished (nothing lost). The jobs are queued before any worker
starts, so queueing is not counted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "platform"))


def nothing(n: int = 0) -> int:
    """The bare workers' job."""
    return n


def _rate(conn, queue_name: str, job_ids: list[str]) -> tuple[float, int]:
    jobs = Job.fetch_many(job_ids, connection=conn, serializer=JSONSerializer)
    done = [j for j in jobs if j is not None and j.get_status() == "finished"]
    if not done:
        return 0.0, 0
    first = min(j.started_at for j in done)
    last = max(j.ended_at for j in done)
    return len(done) / max((last - first).total_seconds(), 1e-6), len(done)


def _wait(conn, job_ids: list[str], timeout: float) -> None:
    """Until every job has ended (finished or failed), by their own status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with conn.pipeline() as pipe:
            for job_id in job_ids:
                pipe.hget(f"rq:job:{job_id}", "status")
            statuses = pipe.execute()
        if all(status in (b"finished", b"failed") for status in statuses):
            return
        time.sleep(0.2)


def bare(conn, count: int, worker_class) -> tuple[float, int]:
    queue = Queue("bench-bare", connection=conn, serializer=JSONSerializer)
    ids = [queue.enqueue("bench.jobs.nothing", i, result_ttl=600).id for i in range(count)]
    worker = worker_class([queue], connection=conn, serializer=JSONSerializer)
    worker.work(burst=True, logging_level="WARNING")
    rate = _rate(conn, queue.name, ids)
    queue.empty()
    return rate


def yishi(database: str, redis_url: str, count: int, instance: Path, threads: int | None) -> tuple[float, int]:
    env = {**os.environ, "YISHI_ENV": "demo", "DATABASE_URL": database, "REDIS_URL": redis_url}
    env["YISHI_INSTANCE_PATH"] = str(instance)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "platform"), env.get("PYTHONPATH", "")])
    os.environ.update({k: env[k] for k in ("YISHI_ENV", "DATABASE_URL", "REDIS_URL", "YISHI_INSTANCE_PATH")})
    from flask_migrate import upgrade

    from yishi import create_app
    from yishi.core import jobs
    from yishi.core.db import db

    app = create_app()
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_PATH"])
        # A real declared job that does no work of its own: the cost measured is Yishi's per job.
        ids = [jobs.enqueue("yishi.core.maintenance.purge_expired_records", job_id=f"bench-{i}") for i in range(count)]
        db.session.commit()  # the outbox rows, then the push: the worker deletes each row with its job
    conn = redis.Redis.from_url(redis_url)
    worker = subprocess.Popen(
        [sys.executable, "-c", "from yishi.cli import main; main()", "worker"]
        + (["--threads", str(threads)] if threads else []),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(conn, ids, timeout=600)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return _rate(conn, "notifications", ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/yishi_bench_jobs")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--skip-fork", action="store_true", help="leave out the forking RQ worker (slow)")
    parser.add_argument("--threads", type=int, help="yishi worker --threads (default 1 per queue)")
    args = parser.parse_args()
    if args.database.startswith("postgresql"):
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        url = make_url(args.database)
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
    conn = redis.Redis.from_url(args.redis)
    conn.flushdb()
    instance = Path("/tmp") / f"yishi-bench-jobs-{os.getpid()}"
    rows = []
    rate, done = bare(conn, args.jobs, SimpleWorker)
    rows.append(("bare RQ SimpleWorker (no fork, nothing to do)", rate, done))
    rate, done = yishi(args.database, args.redis, args.jobs, instance, args.threads)
    rows.append((f"yishi worker, notifications queue ({args.threads or 'default'} threads)", rate, done))
    if not args.skip_fork:
        count = min(args.jobs, 500)
        rate, done = bare(conn, count, Worker)
        rows.append((f"bare RQ Worker (a fork per job; {count} jobs)", rate, done))
    conn.flushdb()
    load = os.getloadavg()
    print(f"{args.jobs} jobs, {args.database.split('://')[0]}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'worker':<52} {'jobs/s':>8} {'finished':>9}")
    for name, rate, done in rows:
        print(f"{name:<52} {rate:>8.0f} {done:>9}")
    ok = rows[1][2] == args.jobs and rows[1][1] >= 100
    print(f"yishi worker >= 100 jobs/s with nothing lost: {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
