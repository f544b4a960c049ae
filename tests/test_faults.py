"""One outcome per request, whatever fails (issue 10): an API request commits its work and its
Idempotency-Key's answer together or leaves nothing behind; the error handler always answers in the
client's kind; rate limits survive a dead Redis; the app recovers when PostgreSQL drops its
connections."""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

import pytest
from flask import has_request_context, request
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.exceptions import InternalServerError

from tests.conftest import PASSWORD, IsolatedClient, _community, _street, bearer
from tests.matter_world import build
from yishi import create_app
from yishi.core import jobs, tenancy
from yishi.core.api import IdempotencyRecord
from yishi.core.db import db
from yishi.core.errors import PROBLEM_JSON, http_error_response
from yishi.core.security import limiter
from yishi.modules.accounts import services as accounts
from yishi.modules.categories import services as categories
from yishi.modules.communities import services as communities
from yishi.modules.matters import services as matters
from yishi.modules.matters.models import Matter

PHONE = "13912345678"


@pytest.fixture
def w(community, create_user):
    return build(community, create_user)


@pytest.fixture
def writer(community, token_for):
    return bearer(token_for(community=community))


def matters_url(slug: str) -> str:
    return f"/api/v1/communities/{slug}/matters"


def payload(category_id: int, group_id: int, **extra) -> dict:
    return {
        "title": "村口水渠堵塞",
        "description": "雨后积水漫到路上",
        "category_id": category_id,
        "resident_group_id": group_id,
        "reporter_name": "王秀英",
        "reporter_phone": PHONE,
        **extra,
    }


def counts() -> tuple[int, int]:
    """(matters, idempotency records) in the database, as the requests left it."""
    with tenancy.unscoped("the test counts every community's matters"):
        return (
            db.session.execute(select(func.count(Matter.id))).scalar_one(),
            db.session.execute(select(func.count(IdempotencyRecord.id))).scalar_one(),
        )


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert body["status"] == status
    return body


def _stores_an_answer(session) -> bool:
    return any(isinstance(row, IdempotencyRecord) and row.status is not None for row in session.dirty)


@contextmanager
def failing(point: str, path_prefix: str = "/api/", *, answers_only: bool = True):
    """Make a request's commit fail at ``point`` (``before_commit``; ``after_flush``, once its
    statements reached the database; ``after_commit``, once the database committed), for requests
    to ``path_prefix`` only; with ``answers_only``, only the commit that stores an Idempotency-Key's
    answer (whichever commit of the request that is). Never a savepoint's."""

    def arm(session):
        if not (has_request_context() and request.path.startswith(path_prefix)):
            return
        if session.in_nested_transaction() or (answers_only and not _stores_an_answer(session)):
            return
        session.info["failing"] = True
        if point == "before_commit":
            fail(session)

    def fail(session, *_args):
        if session.info.pop("failing", False):
            raise RuntimeError(f"injected failure at {point}")

    event.listen(Session, "before_commit", arm)
    if point != "before_commit":
        event.listen(Session, point, fail)
    try:
        yield
    finally:
        event.remove(Session, "before_commit", arm)
        if point != "before_commit":
            event.remove(Session, point, fail)


# --- the API's one commit -----------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["before_commit", "after_flush"])
def test_a_failed_final_commit_leaves_no_matter_and_no_key(app, client, w, writer, point):
    """``after_flush`` fails once the statements reached the database, before it commits them.
    The matter's notice is queued only by the commit that saves the matter."""
    jobs.run_pending(app)  # whatever building the world queued
    headers = {**writer, "Idempotency-Key": "intake-1"}
    body = payload(w.categories["water"], w.groups[0])
    with failing(point):
        response = client.post(matters_url(w.community.slug), headers=headers, json=body)
    assert_problem(response, 500)
    assert counts() == (0, 0)
    assert jobs.run_pending(app) == 0

    retry = client.post(matters_url(w.community.slug), headers=headers, json=body)
    assert retry.status_code == 201, retry.get_data(as_text=True)
    assert "Idempotent-Replayed" not in retry.headers
    assert jobs.run_pending(app) == 1
    again = client.post(matters_url(w.community.slug), headers=headers, json=body)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == retry.get_json()["id"]
    assert counts() == (1, 1)


def test_a_view_that_fails_after_flushing_leaves_no_key(client, w, writer, monkeypatch):
    from yishi.modules.matters import api as matters_api

    def broken(*_args, **_kwargs):
        raise RuntimeError("the answer could not be built")

    headers = {**writer, "Idempotency-Key": "intake-2"}
    body = payload(w.categories["water"], w.groups[0])
    with monkeypatch.context() as patch:
        patch.setattr(matters_api, "_one", broken)  # runs after submit() flushed the matter
        response = client.post(matters_url(w.community.slug), headers=headers, json=body)
    assert_problem(response, 500)
    assert counts() == (0, 0)
    retry = client.post(matters_url(w.community.slug), headers=headers, json=body)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert counts() == (1, 1)


def test_a_refusal_rolls_back_the_work_and_is_replayed(client, w, writer, monkeypatch):
    """A 4xx is the request's outcome too: nothing it flushed stays, and its answer is kept."""
    from yishi.core.errors import ConflictError

    original = matters.submit

    def refuse_after_flushing(*args, **kwargs):
        original(*args, **kwargs)
        raise ConflictError("refused after the matter was flushed")

    headers = {**writer, "Idempotency-Key": "intake-3"}
    body = payload(w.categories["water"], w.groups[0])
    monkeypatch.setattr(matters, "submit", refuse_after_flushing)
    assert_problem(client.post(matters_url(w.community.slug), headers=headers, json=body), 409)
    assert counts() == (0, 1)
    replay = client.post(matters_url(w.community.slug), headers=headers, json=body)
    assert_problem(replay, 409)
    assert replay.headers["Idempotent-Replayed"] == "true"


def test_the_answer_stands_when_something_after_the_commit_fails(client, w, writer):
    """The database committed the matter and its answer: the client is told so, not 500."""
    headers = {**writer, "Idempotency-Key": "intake-4"}
    body = payload(w.categories["water"], w.groups[0])
    with failing("after_commit"):
        response = client.post(matters_url(w.community.slug), headers=headers, json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert counts() == (1, 1)
    replay = client.post(matters_url(w.community.slug), headers=headers, json=body)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json()["id"] == response.get_json()["id"]
    assert counts() == (1, 1)


def test_an_api_write_without_a_key_is_committed_by_the_request(client, w, writer):
    response = client.post(
        matters_url(w.community.slug), headers=writer, json=payload(w.categories["water"], w.groups[0])
    )
    assert response.status_code == 201
    assert counts() == (1, 0)


# --- the error handler never fails ------------------------------------------------------------------


def test_a_failing_after_request_hook_answers_problem_json(client, w, writer, monkeypatch):
    from yishi.core import api as core_api

    def broken(*_args):
        raise RuntimeError("the answer could not be kept")

    monkeypatch.setattr(core_api, "_keep_answer", broken)
    headers = {**writer, "Idempotency-Key": "intake-5"}
    response = client.post(
        matters_url(w.community.slug), headers=headers, json=payload(w.categories["water"], w.groups[0])
    )
    assert_problem(response, 500)
    assert counts() == (0, 0)


def test_the_error_page_comes_even_when_the_session_is_left_committed(client, create_user):
    """A page whose commit fails in an ``after_commit`` listener (Redis gone, in the issue) left the
    session "committed": the handler's own rollback raised, and the browser got a bare 500."""
    user = create_user()
    with failing("after_commit", path_prefix="/login", answers_only=False):
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "500" in response.get_data(as_text=True)


def test_the_api_error_handler_answers_on_a_committed_session(app):
    with app.test_request_context("/api/v1/communities/nowhere/matters", method="POST"):
        with failing("after_commit", answers_only=False), pytest.raises(RuntimeError):
            db.session.commit()
        response = http_error_response(InternalServerError())
        assert_problem(response, 500)
        assert db.session.execute(text("SELECT 1")).scalar_one() == 1  # usable again


def test_when_building_the_answer_fails_a_plain_one_of_the_right_kind_comes(client, monkeypatch):
    from yishi.core import errors

    def broken(*_args, **_kwargs):
        raise RuntimeError("templates or translations broken")

    monkeypatch.setattr(errors, "problem", broken)
    monkeypatch.setattr(errors, "render_template", broken)
    body = assert_problem(client.get("/api/v1/nowhere"), 404)
    assert body["type"] == "about:blank"
    page = client.get("/c/nowhere/")
    assert page.status_code == 404 and page.mimetype == "text/html"


# --- rate limits without their Redis -----------------------------------------------------------------


@pytest.fixture
def separate_app(app):
    """Build another app (own configuration, own database). The rate limiter is one object shared
    by every app of the process: give it back the suite's storage afterwards."""
    built = []

    def make(**config):
        other = create_app({"YISHI_ENV": "test", "WTF_CSRF_ENABLED": False, "SERVER_NAME": None, **config})
        other.test_client_class = IsolatedClient
        built.append(other)
        return other

    yield make
    for other in built:
        with other.app_context():
            db.engine.dispose()
    limiter.init_app(app)
    limiter._storage_dead = False  # init_app leaves the dead Redis marked dead


def seed(community_slug: str = "shilipu") -> dict:
    """A street, a community with its groups and categories, a person who can sign in, an API token."""
    street = _street("chengdong")
    community = _community(community_slug, street)
    with tenancy.community_scope(community.id):
        added = categories.apply_template(community, "agriculture")
        category_id = next(category.id for category in added if category.code == "water")
        groups = [group.id for group in communities.list_resident_groups()]
    user = accounts.create_user(email="resident@test.example", name="陈居民", password=PASSWORD, phone="13711112222")
    _token, secret = accounts.create_token(name="test", scopes="all", community=community)
    db.session.commit()
    return {
        "slug": community.slug,
        "email": user.email,
        "secret": secret,
        "category_id": category_id,
        "group_id": groups[0],
    }


def test_forms_and_login_work_and_stay_limited_when_the_limits_redis_is_down(separate_app, tmp_path):
    dead = separate_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'dead-redis.sqlite3'}",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0",  # nobody listens there
    )
    with dead.app_context():
        db.create_all()
        world = seed()
    right = {"email": world["email"], "password": PASSWORD}
    wrong = {"email": world["email"], "password": "wrong"}
    started = time.monotonic()
    assert dead.test_client().post("/login", data=right).status_code == 302
    intake = {
        "title": "桥头路灯不亮",
        "category_id": world["category_id"],
        "resident_group_id": world["group_id"],
        "reporter_name": "王秀英",
        "reporter_phone": PHONE,
    }
    assert dead.test_client().post(f"/c/{world['slug']}/matters/new", data=intake).status_code == 302
    # The limits still hold, counted in memory: the sixth attempt at the account within the minute
    # (the first one succeeded) is refused.
    attempts = [dead.test_client().post("/login", data=wrong).status_code for _ in range(5)]
    assert attempts == [400] * 4 + [429]
    assert time.monotonic() - started < 60  # all of it within the limit's minute


# --- PostgreSQL dropping connections -----------------------------------------------------------------

needs_postgresql = pytest.mark.skipif(
    not os.environ.get("YISHI_TEST_DATABASE_URL"),
    reason="needs PostgreSQL (YISHI_TEST_DATABASE_URL): its own database, its own connections",
)


@pytest.fixture
def postgresql_app(separate_app):
    """An app on a database of its own: the suite wraps every test in one rolled-back connection, so
    dropped connections and concurrent transactions need their own engine."""
    suite_url = make_url(os.environ["YISHI_TEST_DATABASE_URL"])
    name = f"{suite_url.database}_faults"
    admin = create_engine(suite_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    own = separate_app(SQLALCHEMY_DATABASE_URI=suite_url.set(database=name).render_as_string(hide_password=False))
    with own.app_context():
        db.create_all()
        world = seed()

    def terminate() -> int:
        """Drop every connection the app holds, as an operator's pg_terminate_backend would."""
        with admin.connect() as connection:
            return len(
                connection.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name},
                ).all()
            )

    def blocked_on(statement_start: str) -> bool:
        with admin.connect() as connection:
            return bool(
                connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = :name"
                        " AND wait_event_type = 'Lock' AND query LIKE :query"
                    ),
                    {"name": name, "query": statement_start + "%"},
                ).scalar_one()
            )

    def own_counts() -> tuple[int, int]:
        with own.app_context():
            return counts()

    yield own, world, terminate, blocked_on, own_counts
    with own.app_context():
        db.engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@needs_postgresql
def test_the_app_recovers_at_once_when_postgresql_drops_its_connections(postgresql_app, monkeypatch):
    own, world, terminate, _blocked_on, own_counts = postgresql_app
    client = own.test_client()
    headers = bearer(world["secret"])
    url = matters_url(world["slug"])
    assert client.get(url, headers=headers).status_code == 200
    assert terminate() >= 1
    assert client.get(url, headers=headers).status_code == 200  # pool_pre_ping replaced the dead connection

    # A request in flight when its connection goes fails, with problem+json, and leaves nothing.
    original = matters.submit

    def dropped_midway(*args, **kwargs):
        done = original(*args, **kwargs)
        terminate()
        return done

    body = payload(world["category_id"], world["group_id"])
    keyed = {**headers, "Idempotency-Key": "dropped"}
    with monkeypatch.context() as patch:
        patch.setattr(matters, "submit", dropped_midway)
        assert_problem(client.post(url, headers=keyed, json=body), 500)
    assert own_counts() == (0, 0)
    retry = client.post(url, headers=keyed, json=body)
    assert retry.status_code == 201, retry.get_data(as_text=True)
    assert own_counts() == (1, 1)


@needs_postgresql
def test_the_same_key_at_the_same_moment_makes_one_matter(postgresql_app, monkeypatch):
    """The second request's claim waits on the unique index while the first works, then replays
    the answer the first committed with its matter."""
    own, world, _terminate, blocked_on, own_counts = postgresql_app
    headers = {**bearer(world["secret"]), "Idempotency-Key": "same-moment"}
    url = matters_url(world["slug"])
    body = payload(world["category_id"], world["group_id"])
    assert own.test_client().get(url, headers=bearer(world["secret"])).status_code == 200  # token stamped

    first_working, first_may_finish = threading.Event(), threading.Event()
    original = matters.submit

    def held(*args, **kwargs):
        done = original(*args, **kwargs)
        if threading.current_thread().name == "first":
            first_working.set()
            first_may_finish.wait(timeout=30)
        return done

    monkeypatch.setattr(matters, "submit", held)
    answers = {}

    def post(name: str) -> None:
        with own.app_context():  # where the test client reads back what the request wrote
            answers[name] = own.test_client().post(url, headers=headers, json=body)

    first = threading.Thread(target=post, args=("first",), name="first")
    second = threading.Thread(target=post, args=("second",), name="second")
    first.start()
    try:
        assert first_working.wait(timeout=30), "the first request never reached its work"
        second.start()
        deadline = time.monotonic() + 30
        while not blocked_on("INSERT INTO idempotency_records"):
            assert time.monotonic() < deadline, "the second request's claim never waited for the first"
            time.sleep(0.05)
    finally:
        first_may_finish.set()
        first.join(timeout=60)
        if second.is_alive() or second.ident is not None:
            second.join(timeout=60)
    assert answers["first"].status_code == 201, answers["first"].get_data(as_text=True)
    assert answers["second"].status_code == 201, answers["second"].get_data(as_text=True)
    assert answers["second"].headers["Idempotent-Replayed"] == "true"
    assert answers["second"].get_json()["id"] == answers["first"].get_json()["id"]
    assert own_counts() == (1, 1)
