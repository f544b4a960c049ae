"""Yishi 议事: a multi-tenant platform for community consultation (社区协商议事)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from flask import Flask
from flask_bootstrap import Bootstrap5
from flask_migrate import Migrate
from werkzeug.routing import IntegerConverter

from yishi.config import load_config

__all__ = ["create_app"]

# Feature modules, in the order their blueprints register. Each may have views.py (pages) with
# ``blueprint``-named Flask blueprints, api.py with flask-smorest blueprints, and tasks.py with jobs.
MODULES = (
    "accounts",
    "communities",
    "tasks",
    "notifications",
    "categories",
    "points",
    "selection",
    "onboarding",
    "calendar",
    "participation",
    "matters",
    "meetings",
    "metrics",
    "reports",
)


class BoundedIntegerConverter(IntegerConverter):
    def __init__(self, url_map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 - werkzeug's names
        from yishi.core.schemas import MAX_ID

        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max, signed=signed)


bootstrap = Bootstrap5()
migrate = Migrate(compare_type=True, render_as_batch=True)


def create_app(config: dict | None = None) -> Flask:
    """The application factory (Flask tutorial style): ``config`` overrides the environment."""
    from yishi.core import api, i18n, jobs, security
    from yishi.core.db import db
    from yishi.core.db import init_app as db_init_app
    from yishi.core.health import blueprint as health_blueprint
    from yishi.core.paths import project_root

    instance_path = os.environ.get("YISHI_INSTANCE_PATH") or str(project_root() / "instance")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.config.update(load_config(Path(app.instance_path), config))
    # `<int:...>` in every route: ids beyond the database's integer answer 404, not a database error.
    app.url_map.converters["int"] = BoundedIntegerConverter

    db_init_app(app)
    migrate.init_app(app, db, directory=app.config["MIGRATIONS_PATH"])
    bootstrap.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    api.init_app(app)

    from yishi.modules.accounts import auth
    from yishi.modules.communities import context

    auth.init_app(app)
    context.init_app(app)
    app.register_blueprint(health_blueprint)
    _register_modules(app)
    _register_template_helpers(app)
    from yishi.schedule import SCHEDULE

    jobs.init_app(app, SCHEDULE)
    return app


def _register_modules(app: Flask) -> None:
    from flask import Blueprint as FlaskBlueprint
    from flask_smorest import Blueprint as ApiBlueprint

    from yishi.core.api import api
    from yishi.core.security import csrf

    for name in MODULES:
        for part in ("models", "tasks", "views", "api"):
            try:
                module = importlib.import_module(f"yishi.modules.{name}.{part}")
            except ModuleNotFoundError as error:
                if error.name != f"yishi.modules.{name}.{part}":
                    raise
                continue
            for value in vars(module).values():
                if isinstance(value, ApiBlueprint) and part == "api":
                    # Token-authenticated and never reading cookies: CSRF does not apply.
                    csrf.exempt(value)
                    api.register_blueprint(value)
                elif isinstance(value, FlaskBlueprint) and part == "views" and value.name not in app.blueprints:
                    app.register_blueprint(value)


def _page_url(number: int) -> str:
    """This page's address with another page number, its other query arguments kept."""
    from flask import request, url_for

    return url_for(request.endpoint, **{**(request.view_args or {}), **request.args.to_dict(), "page": number})


def _register_template_helpers(app: Flask) -> None:
    from datetime import datetime

    from flask_babel import format_datetime

    from yishi.modules.accounts.services import mask_phone

    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.globals["page_url"] = _page_url
    app.jinja_env.filters["datetime"] = lambda value, fmt="short": format_datetime(value, fmt) if value else ""
    app.jinja_env.filters["datetime_iso"] = lambda value: format_datetime(datetime.fromisoformat(value), "short")
