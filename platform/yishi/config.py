"""Configuration has one home: this module reads the environment (CONTRACT.md, "Configuration")."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from yishi.core.paths import project_root


class ConfigurationError(RuntimeError):
    """The environment does not describe a startable application."""


def _instance_secret(instance_path: Path) -> str:
    """A secret key generated once and kept in the instance folder (demo and test only)."""
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


def load_config(instance_path: Path, overrides: dict | None = None) -> dict:
    """Build the Flask configuration from the environment, then apply explicit overrides.

    ``YISHI_ENV`` is ``production``, ``demo`` or ``test``. Unset, it is ``production`` when
    ``DATABASE_URL`` names a database and ``demo`` for the one-machine SQLite default.
    Production refuses to start without ``SECRET_KEY``.
    """
    overrides = dict(overrides or {})
    env = (
        overrides.get("YISHI_ENV")
        or os.environ.get("YISHI_ENV")
        or ("production" if os.environ.get("DATABASE_URL") else "demo")
    )
    testing = env == "test"
    production = env == "production"
    root = project_root()

    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'yishi.sqlite3'}"
    if testing:
        database_url = os.environ.get("YISHI_TEST_DATABASE_URL") or "sqlite://"
    redis_url = os.environ.get("YISHI_TEST_REDIS_URL") if testing else os.environ.get("REDIS_URL")

    secret_key = overrides.get("SECRET_KEY") or os.environ.get("SECRET_KEY")
    if not secret_key:
        if env in ("demo", "test"):
            secret_key = _instance_secret(instance_path)
        else:
            raise ConfigurationError(
                "SECRET_KEY is not set. Set it to a long random value "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )

    config = {
        "YISHI_ENV": env,
        "TESTING": testing,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url or None,
        # Jobs: "redis" sends them to RQ workers; "embedded" runs an RQ worker thread on an
        # in-process Redis stand-in; "manual" (tests) runs them when the test asks.
        "JOBS_MODE": "redis" if redis_url else ("manual" if testing else "embedded"),
        "TENANTS_PATH": str(root / "tenants"),
        "MIGRATIONS_PATH": str(root / "migrations"),
        "TRANSLATIONS_PATH": str(root / "translations"),
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": {"zh_CN": "中文", "en": "English"},
        "BOOTSTRAP_SERVE_LOCAL": True,
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # A Redis that stops answering must not take the forms and the login down with it: the limits
        # are counted in this process's memory until it answers again (checked with a growing delay),
        # and short timeouts keep what each request pays for finding it dead small.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": "5 per minute; 20 per hour",
        # Matter intake, per IP and per reporter phone (CONTRACT.md, "HTTP conventions").
        "INTAKE_RATE_LIMIT": "20 per hour",
        "INTAKE_PHONE_RATE_LIMIT": "5 per hour",
        # Uploaded photos: a local folder by default (core/storage.py is the interface to replace).
        "STORAGE_PATH": os.environ.get("YISHI_STORAGE_PATH") or str(instance_path / "uploads"),
        "MAX_CONTENT_LENGTH": 40 * 1024 * 1024,  # six 5 MB photos and the form around them
        "IDEMPOTENCY_TTL_HOURS": 24,
        # Tests and trials only: run every periodic job every N seconds instead of on its cron.
        "SCHEDULE_EVERY_SECONDS": (
            float(os.environ["YISHI_SCHEDULE_EVERY"])
            if os.environ.get("YISHI_SCHEDULE_EVERY") and not production
            else None
        ),
        # Fault tests only: hold one job between its work and its commit (core/jobs.py, _fault_pause).
        "FAULT_PAUSE_BEFORE_COMMIT": None if production else os.environ.get("YISHI_FAULT_PAUSE_BEFORE_COMMIT"),
        # werkzeug's scrypt (N=2**15). Tests use a cheaper scrypt: same code path, a fraction of the time.
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1" if testing else "scrypt",
        "API_TITLE": "Yishi API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_REDOC_PATH": None,
        "OPENAPI_SWAGGER_UI_PATH": None,
        "PROPAGATE_EXCEPTIONS": False,
        "TRUST_PROXY_HOPS": int(os.environ.get("YISHI_PROXY_HOPS", "0")),
    }
    config.update(overrides)
    return config
