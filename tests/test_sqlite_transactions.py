"""SQLite as the embedded default: WAL and a busy timeout on a file, write transactions that take the
lock at BEGIN, and requests that write nothing before their tenant is known (issue 10).

The concurrency itself is proven against the real demo server in ``test_embedded_concurrency``;
these pin the pieces it rests on.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine, make_url

from tests.conftest import bearer
from yishi import create_app
from yishi.core.db import SQLITE_BUSY_TIMEOUT_MS, db, is_sqlite_file, sqlite_begin_statement
from yishi.modules.accounts.models import ApiToken


@pytest.mark.parametrize(
    ("url", "in_a_file"),
    [
        ("sqlite:////tmp/yishi.sqlite3", True),
        ("sqlite:///relative.sqlite3", True),
        ("sqlite://", False),
        ("sqlite:///:memory:", False),
        ("sqlite:///file::memory:?cache=shared", False),
        ("postgresql+psycopg://postgres@127.0.0.1/yishi", False),
    ],
)
def test_wal_applies_to_sqlite_files_only(url, in_a_file):
    assert is_sqlite_file(make_url(url)) is in_a_file


def test_requests_that_may_write_take_the_write_lock_at_begin(app):
    assert sqlite_begin_statement() == "BEGIN IMMEDIATE"  # jobs and commands
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with app.test_request_context("/", method=method):
            assert sqlite_begin_statement() == "BEGIN IMMEDIATE"
    for method in ("GET", "HEAD", "OPTIONS"):
        with app.test_request_context("/", method=method):
            assert sqlite_begin_statement() == "BEGIN"


def test_a_sqlite_file_runs_in_wal_with_a_busy_timeout(tmp_path):
    app = create_app({"YISHI_ENV": "test", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'file.sqlite3'}"})
    with app.app_context():
        try:
            with db.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                connection.execute(text("CREATE TABLE t (x INTEGER)"))  # transactions still work
                connection.commit()
        finally:
            db.engine.dispose()


def test_an_api_request_writes_nothing_before_its_tenant_and_stamps_the_token_after(client, community, token_for):
    secret = token_for(community=community)
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.split(None, 1)[0].upper() + " " + statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        response = client.get(f"/api/v1/communities/{community.slug}/matters", headers=bearer(secret))
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert response.status_code == 200
    writes = [i for i, s in enumerate(seen) if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    matters_query = max(i for i, s in enumerate(seen) if "FROM matters" in s)
    assert writes and all(i > matters_query for i in writes), seen  # the stamp, after the request's work
    assert all("api_tokens" in seen[i] for i in writes)
    token = db.session.execute(select(ApiToken)).scalar_one()
    assert token.last_used_at is not None

    # Used again at once: nothing to write at all.
    seen.clear()
    event.listen(Engine, "before_cursor_execute", record)
    try:
        client.get(f"/api/v1/communities/{community.slug}/matters", headers=bearer(secret))
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert not [s for s in seen if s.startswith(("INSERT", "UPDATE", "DELETE"))], seen
