"""Fixtures (STYLE.md §6): ``app``, a savepoint per test, ``client``, ``community``,
``other_community``, ``street``, factories, ``login_as`` and ``token_for``.

The same suite runs on SQLite with the in-process job runner (default) and on PostgreSQL and Redis
when ``YISHI_TEST_DATABASE_URL`` / ``YISHI_TEST_REDIS_URL`` are set.
"""

from __future__ import annotations

import contextvars
import os
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from yishi import create_app
from yishi.core import jobs, tenancy
from yishi.core.db import db
from yishi.core.security import limiter
from yishi.modules.accounts import services as accounts
from yishi.modules.accounts.models import CommunityRole
from yishi.modules.communities.models import Community, CommunityKind, CommunityStatus, ResidentGroup, Street

PASSWORD = "correct horse battery"


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, as it would in production: it pushes its own app
    context (own ``g``, own session, no tenant) instead of borrowing the test's."""

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        db.session.expire_all()  # the test reads what the request wrote, not its stale copies
        return response


def _reset_schema() -> None:
    db.drop_all()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    os.environ["YISHI_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("instance"))
    app = create_app({"YISHI_ENV": "test", "WTF_CSRF_ENABLED": False, "SERVER_NAME": None})
    app.test_client_class = IsolatedClient
    with app.app_context():
        _reset_schema()
        upgrade(directory=app.config["MIGRATIONS_PATH"])  # the schema under test is the migrated one
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _database(app):
    """Every test runs inside a transaction that is rolled back; the code's commits are savepoints."""
    with app.app_context():
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection
        db.session.remove()
        db.session.configure(join_transaction_mode="create_savepoint")
        jobs.connection(app).flushdb()
        limiter.reset()
        try:
            with tenancy.no_scope():
                yield
        finally:
            db.session.remove()
            engines[None] = engine
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


# --- tenants ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TenantRef:
    id: int
    slug: str
    street_id: int | None = None


def _street(slug: str) -> Street:
    street = Street(slug=slug, name_zh=f"{slug}街道", name_en=f"{slug.title()} Street", city="泰州市")
    db.session.add(street)
    db.session.flush()
    return street


def _community(slug: str, street: Street, *, status=CommunityStatus.ACTIVE, groups: int = 3) -> Community:
    community = Community(
        slug=slug,
        name_zh=f"{slug}社区",
        name_en=f"{slug.title()} Community",
        street_id=street.id,
        kind=CommunityKind.AGRICULTURE,
        resident_count=1200,
        status=status,
    )
    db.session.add(community)
    db.session.flush()
    with tenancy.community_scope(community.id):
        for number in range(1, groups + 1):
            db.session.add(
                ResidentGroup(
                    code=f"g{number:02d}", name_zh=f"第{number}居民小组", name_en=f"Group {number}", position=number
                )
            )
        db.session.flush()
    return community


@pytest.fixture
def street():
    street = _street("chengdong")
    db.session.commit()
    return street


@pytest.fixture
def community(street):
    community = _community("shilipu", street)
    db.session.commit()
    return community


@pytest.fixture
def neighbour_community(street):
    """Another community of the same street."""
    community = _community("donghu", street, groups=2)
    db.session.commit()
    return community


@pytest.fixture
def other_street():
    street = _street("chengxi")
    db.session.commit()
    return street


@pytest.fixture
def other_community(other_street):
    """A community of another street: nothing of it may ever show in ``community``."""
    community = _community("xiyuan", other_street, groups=2)
    db.session.commit()
    return community


@pytest.fixture
def create_community():
    def make(slug: str, street: Street, **kwargs) -> Community:
        community = _community(slug, street, **kwargs)
        db.session.commit()
        return community

    return make


# --- people -------------------------------------------------------------------------------------------


def user_factory():
    """Make users with a role in a community or a street (the ``create_user`` fixture; also for tests
    that build their own app on their own database)."""
    counter = {"n": 0}

    def make(
        *,
        community: Community | None = None,
        role: str | None = None,
        street: Street | None = None,
        name: str | None = None,
        platform_admin: bool = False,
        phone: str = "13812341234",
    ):
        counter["n"] += 1
        user = accounts.create_user(
            email=f"user{counter['n']}@test.example",
            name=name or f"用户{counter['n']}",
            password=PASSWORD,
            phone=phone,
            is_platform_admin=platform_admin,
        )
        if community is not None:
            accounts.add_member(community, user, CommunityRole(role or "resident"))
        if street is not None:
            accounts.add_street_admin(street, user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def create_user():
    return user_factory()


@pytest.fixture
def login_as(client):
    """Sign in through the real login form."""

    def login(user, *, password: str = PASSWORD):
        response = client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    return login


@pytest.fixture
def token_for():
    def make(*, community: Community | None = None, street: Street | None = None, scopes: str = "all") -> str:
        _token, secret = accounts.create_token(name="test", scopes=scopes, community=community, street=street)
        db.session.commit()
        return secret

    return make


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
