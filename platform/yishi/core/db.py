"""The database: one SQLAlchemy instance, typed declarative models, shared column helpers."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import has_request_context, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names keep Alembic migrations reproducible on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    return datetime.now(UTC)


class AwareDateTime(TypeDecorator):
    """Timestamps are stored in UTC and always returned timezone-aware, on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow, nullable=False)


# How long a SQLite writer waits for another's commit before "database is locked". Writers queue
# behind one another (BEGIN IMMEDIATE, below), so this bounds the longest write transaction that can
# run beside a request (a report job in the embedded runner), not the ordinary one of milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Requests that only read: they begin a deferred transaction, so under WAL they never wait for a writer.
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_sqlite_file(url) -> bool:
    """A SQLite database in a file (WAL applies), not an in-memory one (``sqlite://``, the tests')."""
    database = url.database or ""
    return (
        url.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file::memory:")
        and url.query.get("mode") != "memory"
    )


def sqlite_begin_statement() -> str:
    """``BEGIN IMMEDIATE`` for every transaction that may write, plain ``BEGIN`` for read-only requests.

    A deferred transaction that reads and then writes must upgrade its lock; if another connection
    committed meanwhile, SQLite answers SQLITE_BUSY at once, whatever the busy timeout, because
    waiting could not help (its snapshot is stale). Taking the write lock at BEGIN instead makes
    writers wait their turn (up to the busy timeout) and never fail. Requests that change nothing
    (GET, HEAD, OPTIONS) keep deferred transactions, so in WAL mode they read beside a writer without
    waiting; they must not write (the API token's last-used stamp runs after the request's own
    transaction for that reason: ``accounts.auth``). Jobs, commands and the other methods write.
    """
    if has_request_context() and request.method in READ_ONLY_METHODS:
        return "BEGIN"
    return "BEGIN IMMEDIATE"


def init_app(app) -> None:
    """Bind the database; give SQLite real transactions (and savepoints), foreign keys, and on a
    file WAL with a busy timeout, so the embedded default holds under concurrent use."""
    db.init_app(app)
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        in_a_file = is_sqlite_file(engine.url)

        # pysqlite's own transaction handling defeats SAVEPOINT and delays BEGIN; take it over, as
        # SQLAlchemy's documentation recommends, so SQLite behaves like PostgreSQL here.
        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if in_a_file:
                # WAL: readers never block the writer nor wait for it. synchronous=NORMAL is WAL's
                # documented safe pairing: no corruption on power loss, at most the last commits lost.
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            connection.exec_driver_sql(sqlite_begin_statement())
