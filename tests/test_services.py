"""The suite runs on the services it was asked to run on, and readiness reflects them."""

from __future__ import annotations

import contextvars
import os

import fakeredis
import pytest

from yishi.core import jobs
from yishi.core.db import db


def test_the_suite_runs_on_the_configured_database_and_queue(app):
    expected = "postgresql" if os.environ.get("YISHI_TEST_DATABASE_URL") else "sqlite"
    assert db.engines[None].dialect.name == expected
    connection = jobs.connection(app)
    if os.environ.get("YISHI_TEST_REDIS_URL"):
        assert (
            not isinstance(connection, (fakeredis.FakeRedis, fakeredis.FakeStrictRedis))
            and app.config["JOBS_MODE"] == "redis"
        )
    else:
        assert (
            isinstance(connection, (fakeredis.FakeRedis, fakeredis.FakeStrictRedis))
            and app.config["JOBS_MODE"] == "manual"
        )


def test_readyz_is_503_when_the_queue_does_not_answer(app, client, monkeypatch):
    class Down:
        def ping(self):
            raise ConnectionError("queue down")

    monkeypatch.setitem(app.extensions["yishi_jobs"], "connection", Down())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["queue"].startswith("error")


@pytest.mark.skipif(
    not os.environ.get("YISHI_TEST_REDIS_URL"),
    reason="`yishi worker` needs a real Redis (REDIS_URL); .ci/run provides one",
)
def test_yishi_worker_runs_queued_jobs_on_redis(tmp_path, monkeypatch):
    """The real command on the real Redis: enqueue from one app, `yishi worker --burst` runs it."""
    from click.testing import CliRunner
    from sqlalchemy import select

    from yishi import create_app
    from yishi.cli import main
    from yishi.core.api import IdempotencyRecord
    from yishi.core.db import utcnow

    database = f"sqlite:///{tmp_path / 'worker.sqlite3'}"
    redis_url = os.environ["YISHI_TEST_REDIS_URL"].rsplit("/", 1)[0] + "/14"
    monkeypatch.setenv("YISHI_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("YISHI_ENV", "demo")
    app = create_app()
    jobs.connection(app).flushdb()
    with app.app_context():
        from yishi.modules.accounts.services import create_token
        from yishi.modules.communities.models import Street

        db.create_all()
        street = Street(slug="worker-street", name_zh="街道", name_en="Street")
        db.session.add(street)
        db.session.flush()
        token, _secret = create_token(name="w", scopes="all", street=street)
        db.session.add(IdempotencyRecord(token_id=token.id, key="old", fingerprint="f", expires_at=utcnow()))
        db.session.commit()
        jobs.enqueue("yishi.core.maintenance.purge_expired_records", after_commit=False)
    # A fresh context: the command must build its own app from the environment, as in production.
    result = contextvars.Context().run(CliRunner().invoke, main, ["worker", "--burst"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.execute(select(IdempotencyRecord)).first() is None
        db.engine.dispose()
    jobs.connection(app).flushdb()
