"""The ``yishi`` command (CONTRACT.md, "Command line"): a Flask CLI group, so every ``flask``
command (``db upgrade``, ``routes``, ``shell``) works under it too."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from yishi import create_app


def _app_factory():
    return create_app()


@click.group(cls=FlaskGroup, create_app=_app_factory, add_version_option=False, load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """Yishi 议事: community consultation platform."""


def _fail(message: str) -> None:
    raise click.ClickException(message)


# --- tenants ------------------------------------------------------------------------------------------


@main.group()
def tenants() -> None:
    """Streets and communities from the TOML files in tenants/."""


@tenants.command("apply")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@with_appcontext
def tenants_apply(path: Path) -> None:
    """Create or update streets and communities from PATH (a file or a folder). Idempotent."""
    from yishi.core.db import db
    from yishi.modules.communities.services import TenantFileError, apply_tenants

    try:
        report = apply_tenants(path)
        db.session.commit()
    except TenantFileError as error:
        db.session.rollback()
        _fail(str(error))
    for kind in ("created", "updated", "unchanged"):
        for label in getattr(report, kind):
            click.echo(f"{kind:9} {label}")


@tenants.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@with_appcontext
def tenants_list(as_json: bool) -> None:
    """Every street and community with slug, names, street and status."""
    from yishi.modules.communities.services import tenants_overview

    rows = tenants_overview()
    if as_json:
        streets = [
            {
                **{k: r[k] for k in ("slug", "name_zh", "name_en")},
                "communities": [
                    {k: c[k] for k in ("slug", "name_zh", "name_en", "street", "status")}
                    for c in rows
                    if c["type"] == "community" and c["street"] == r["slug"]
                ],
            }
            for r in rows
            if r["type"] == "street"
        ]
        communities = [
            {k: c[k] for k in ("slug", "name_zh", "name_en", "street", "status")}
            for c in rows
            if c["type"] == "community"
        ]
        click.echo(json.dumps({"streets": streets, "communities": communities}, ensure_ascii=False, indent=2))
        return
    for row in rows:
        if row["type"] == "street":
            click.echo(f"street     {row['slug']:<20} {row['name_zh']} / {row['name_en']}")
        else:
            click.echo(
                f"community  {row['slug']:<20} {row['name_zh']} / {row['name_en']}  "
                f"street={row['street']} status={row['status']}"
            )


# --- users and tokens ------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """People with accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--community", "community_slug", help="Give a role in this community.")
@click.option("--role", type=click.Choice(["admin", "moderator", "staff", "resident"]), help="The role there.")
@click.option("--street", "street_slug", help="Make the user an admin of this street office.")
@click.option("--platform-admin", is_flag=True, help="Make the user a platform admin.")
@click.option("--phone")
@with_appcontext
def users_create(email, name, community_slug, role, street_slug, platform_admin, phone) -> None:
    """Create a user; the password is read from standard input."""
    from yishi.core.db import db
    from yishi.core.errors import DomainError
    from yishi.modules.accounts import services
    from yishi.modules.accounts.models import CommunityRole
    from yishi.modules.communities.services import get_community, get_street

    if bool(community_slug) != bool(role):
        _fail("--community and --role go together.")
    community = get_community(community_slug) if community_slug else None
    if community_slug and community is None:
        _fail(f"No community with slug {community_slug!r}.")
    street = get_street(street_slug) if street_slug else None
    if street_slug and street is None:
        _fail(f"No street with slug {street_slug!r}.")
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = services.create_user(
            email=email, name=name, password=password, phone=phone, is_platform_admin=platform_admin
        )
        if community is not None:
            services.add_member(community, user, CommunityRole(role))
        if street is not None:
            services.add_street_admin(street, user)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in (error.errors or {}).items()) or str(error)
        _fail(detail)
    click.echo(f"created user {user.email} (id {user.id})")


@main.group()
def tokens() -> None:
    """API tokens for machines."""


@tokens.command("create")
@click.option("--community", "community_slug")
@click.option("--street", "street_slug")
@click.option("--name", required=True)
@click.option("--scopes", required=True, help="Comma-separated; 'all' grants every scope.")
@with_appcontext
def tokens_create(community_slug, street_slug, name, scopes) -> None:
    """Create a token and print it once, on its own line, last."""
    from yishi.core.db import db
    from yishi.core.errors import DomainError
    from yishi.modules.accounts import services
    from yishi.modules.communities.services import get_community, get_street

    if bool(community_slug) == bool(street_slug):
        _fail("Give exactly one of --community and --street.")
    community = get_community(community_slug) if community_slug else None
    street = get_street(street_slug) if street_slug else None
    if community_slug and community is None:
        _fail(f"No community with slug {community_slug!r}.")
    if street_slug and street is None:
        _fail(f"No street with slug {street_slug!r}.")
    try:
        token, secret = services.create_token(name=name, scopes=scopes, community=community, street=street)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        _fail("; ".join(f"{k}: {' '.join(v)}" for k, v in (error.errors or {}).items()) or str(error))
    click.echo(f"token {token.prefix}… ({token.name}) scopes: {token.scopes}")
    click.echo(secret)


# --- jobs ------------------------------------------------------------------------------------------------


@main.command()
@click.option("--burst", is_flag=True, help="Work off the queues, then exit.")
@click.option(
    "--queues",
    default="",
    help="Comma-separated queues this process works (default: all of them, each in its own thread).",
)
@click.option("--threads", type=click.IntRange(1, 32), help="Worker threads per queue (default 1).")
@with_appcontext
def worker(burst: bool, queues: str, threads: int | None) -> None:
    """RQ workers (one thread per queue) with the scheduler, on REDIS_URL, until SIGTERM."""
    import logging

    from yishi.core import jobs

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not current_app.config.get("REDIS_URL"):
        _fail("REDIS_URL is not set: without it, jobs run inside the web process (yishi demo).")
    names = [name.strip() for name in queues.split(",") if name.strip()] or list(jobs.QUEUES)
    unknown = sorted(set(names) - set(jobs.QUEUES))
    if unknown:
        _fail(f"Unknown queue(s) {', '.join(unknown)}; the queues are {', '.join(jobs.QUEUES)}.")
    jobs.run_worker(current_app._get_current_object(), burst=burst, queues=names, threads=threads)


# --- translations -------------------------------------------------------------------------------------


@main.group()
def translations() -> None:
    """Message catalogues in translations/."""


@translations.command("compile")
@with_appcontext
def translations_compile() -> None:
    """Compile every .po to .mo (also done automatically at start when a .mo is stale)."""
    from yishi.core.i18n import compile_catalogues

    for path in compile_catalogues(Path(current_app.config["TRANSLATIONS_PATH"])):
        click.echo(f"compiled {path}")


@translations.command("update")
@with_appcontext
def translations_update() -> None:
    """Extract marked strings from the code and templates and merge them into every .po."""
    from yishi.core.i18n_tools import update_catalogues

    for line in update_catalogues(Path(current_app.config["TRANSLATIONS_PATH"])):
        click.echo(line)


# --- demo --------------------------------------------------------------------------------------------------


@main.command(context_settings={"ignore_unknown_options": False})
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--reset", is_flag=True, help="Start from an empty database.")
@click.option("--no-serve", is_flag=True, help="Prepare the data, print the logins, and exit.")
def demo(host: str, port: int, reset: bool, no_serve: bool) -> None:
    """Migrate, load tenants/ and demo people, and serve with an embedded job runner."""
    from yishi.demo import demo_api_token, prepare_demo, serve_demo

    # Always a demo, wherever its database is: a DATABASE_URL alone would mean production, which
    # refuses to start without a SECRET_KEY (CONTRACT.md, YISHI_ENV).
    app = create_app({"YISHI_ENV": "demo"})
    logins = prepare_demo(app, reset=reset)
    click.echo("")
    click.echo(f"Yishi demo: http://{host}:{port}/")
    click.echo("Sign in with any of these (passwords are kept in the instance folder):")
    for login in logins:
        click.echo(f"  {login['role']:<34} {login['email']:<34} {login['password']}")
    click.echo(f"API token for shilipu (try it at http://{host}:{port}/api/v1/docs): {demo_api_token(app)}")
    if no_serve:
        return
    serve_demo(app, host=host, port=port)
