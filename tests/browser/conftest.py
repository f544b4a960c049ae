"""A live Yishi server on a real port and headless Chromium (Playwright) to drive it.

The server has its own application and its own database (a SQLite file, or a fresh PostgreSQL
database ``<name>_browser`` beside ``YISHI_TEST_DATABASE_URL``): the ``app`` fixture of
tests/conftest.py runs every test inside one rolled-back transaction on a single connection, which
a multi-threaded server cannot share. CSRF is on, as in production.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
PHONE_VIEWPORT = {"width": 360, "height": 740}
DEFAULT_TIMEOUT_MS = 15_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

ADMIN_EMAIL = "shilipu-admin@browser.example"
ADMIN_NAME = "孙丽华"
ADMIN_PASSWORD = "spring breeze ten li"  # noqa: S105 - a test account's password

STREET_ADMIN_EMAIL = "chengdong-admin@browser.example"
STREET_ADMIN_PASSWORD = "east street office"  # noqa: S105 - a test account's password

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Everything in this folder is a browser test (``-m "not browser"`` leaves it out)."""
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _database():
    """Replaces the rolled-back-transaction fixture of tests/conftest.py: the live server owns its
    database, and the in-memory ``app`` of the unit tests is not needed here."""
    yield


# --- the live server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveServer:
    app: Flask
    base_url: str  # http://127.0.0.1:<port>, no trailing slash
    host: str  # 127.0.0.1:<port>
    admin_email: str
    admin_password: str
    admin_name: str
    community_slug: str = "shilipu"

    def url(self, path: str) -> str:
        return self.base_url + path


def _database_url(tmp: Path) -> tuple[str, Callable[[], None]]:
    """The live server's database URL and how to remove the database afterwards."""
    shared = os.environ.get("YISHI_TEST_DATABASE_URL")
    if not shared:
        return f"sqlite:///{tmp / 'browser.sqlite3'}", lambda: None

    url = make_url(shared)
    name = f"{url.database}_browser"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def run(statement: str) -> None:
        with admin.connect() as connection:
            connection.execute(text(statement))

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        try:
            run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def _create_live_app(tmp: Path, database_url: str) -> Flask:
    from yishi import create_app

    # The instance folder (generated secret key) goes to the temporary folder, not the checkout.
    previous = os.environ.get("YISHI_INSTANCE_PATH")
    os.environ["YISHI_INSTANCE_PATH"] = str(tmp / "instance")
    try:
        return create_app(
            {
                "YISHI_ENV": "test",
                "SQLALCHEMY_DATABASE_URI": database_url,
                "WTF_CSRF_ENABLED": True,
                "SESSION_COOKIE_SECURE": False,
            }
        )
    finally:
        if previous is None:
            os.environ.pop("YISHI_INSTANCE_PATH", None)
        else:
            os.environ["YISHI_INSTANCE_PATH"] = previous


def _seed(app: Flask) -> None:
    from flask_migrate import upgrade

    from yishi.core.db import db
    from yishi.modules.accounts import services as accounts
    from yishi.modules.accounts.models import CommunityRole
    from yishi.modules.communities import services as communities

    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_PATH"])
        communities.apply_tenants(Path(app.config["TENANTS_PATH"]))
        db.session.commit()
        shilipu = communities.get_community("shilipu")
        assert shilipu is not None, "tenants/shilipu.toml did not create the community"
        admin = accounts.create_user(email=ADMIN_EMAIL, name=ADMIN_NAME, password=ADMIN_PASSWORD, phone="13952370001")
        accounts.add_member(shilipu, admin, CommunityRole.ADMIN)
        street_admin = accounts.create_user(email=STREET_ADMIN_EMAIL, name="林志远", password=STREET_ADMIN_PASSWORD)
        accounts.add_street_admin(communities.get_street("chengdong"), street_admin)
        db.session.commit()
        db.session.remove()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("browser")
    database_url, drop_database = _database_url(tmp)
    try:
        app = _create_live_app(tmp, database_url)
        _seed(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="yishi-live-server", daemon=True)
        thread.start()
        try:
            host = f"127.0.0.1:{server.server_port}"
            yield LiveServer(
                app=app,
                base_url=f"http://{host}",
                host=host,
                admin_email=ADMIN_EMAIL,
                admin_password=ADMIN_PASSWORD,
                admin_name=ADMIN_NAME,
            )
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
            from yishi.core.db import db

            with app.app_context():
                db.session.remove()
                for engine in db.engines.values():
                    engine.dispose()
    finally:
        drop_database()


@pytest.fixture(autouse=True)
def _fresh_rate_limits(live_server):
    """Login limits are per account; each test starts with none used."""
    from yishi.core.security import limiter

    with live_server.app.app_context():
        limiter.reset()
    yield


# --- the browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI the browser tests are not optional: .ci/run installs chromium
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Contexts:
    """Makes browser contexts for one test and closes them at its end."""

    browser: object
    live_server: LiveServer
    opened: list = field(default_factory=list)

    def new(self, *, phone: bool = False, locale: str = "zh-CN", **options):
        if phone:
            options = {
                "viewport": PHONE_VIEWPORT,
                "screen": PHONE_VIEWPORT,
                "device_scale_factor": 2,
                "is_mobile": True,
                "has_touch": True,
                **options,
            }
        context = self.browser.new_context(locale=locale, base_url=self.live_server.base_url, **options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        self.opened.append(context)
        return context

    def phone(self, **options):
        """A 360 x 740 phone: the narrowest screen Yishi supports."""
        return self.new(phone=True, **options)

    def close(self) -> None:
        while self.opened:
            self.opened.pop().close()


@pytest.fixture
def contexts(browser, live_server) -> Iterator[Contexts]:
    made = Contexts(browser, live_server)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def page(contexts):
    """A page in a new desktop-sized context, locale zh-CN."""
    return contexts.new().new_page()


@pytest.fixture
def phone_page(contexts):
    """A page in a new 360 x 740 phone context, locale zh-CN."""
    return contexts.phone().new_page()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
