"""Migrations run up from empty and back down, and the models do not drift from them."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from yishi import create_app
from yishi.core.db import db


@pytest.fixture
def scratch_app(app, tmp_path):
    """A separate app on its own database: the savepoint fixture cannot wrap DDL on PostgreSQL."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql"):
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        base = make_url(url)
        name = f"{base.database}_migrations"
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        scratch_url = base.set(database=name).render_as_string(hide_password=False)
    else:
        admin, name, scratch_url = None, None, f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    scratch = create_app({"YISHI_ENV": "test", "SQLALCHEMY_DATABASE_URI": scratch_url})
    yield scratch
    with scratch.app_context():
        db.engine.dispose()
    if admin is not None:
        from sqlalchemy import text

        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_from_empty_downgrade_to_base_and_up_again(scratch_app):
    directory = scratch_app.config["MIGRATIONS_PATH"]
    with scratch_app.app_context():
        upgrade(directory=directory)
        tables = set(inspect(db.engine).get_table_names())
        assert {"communities", "resident_groups", "users", "api_tokens", "audit_entries", "tasks"} <= tables
        downgrade(directory=directory, revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(directory=directory)
        assert "communities" in inspect(db.engine).get_table_names()


def test_models_and_migrations_do_not_drift(scratch_app):
    with scratch_app.app_context():
        upgrade(directory=scratch_app.config["MIGRATIONS_PATH"])
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
    assert differences == [], differences
