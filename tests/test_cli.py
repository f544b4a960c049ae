"""The ``yishi`` command of CONTRACT.md."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from yishi.cli import main
from yishi.core import tenancy
from yishi.core.db import db
from yishi.core.paths import project_root
from yishi.modules.accounts import services as accounts
from yishi.modules.accounts.models import CommunityMembership, CommunityRole, StreetMembership
from yishi.modules.communities.models import Community, ResidentGroup, Street

TENANTS = project_root() / "tenants"


def invoke(app, *args, input=None):
    return app.test_cli_runner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_tenants_apply_is_idempotent(app):
    first = invoke(app, "tenants", "apply", str(TENANTS))
    assert first.exit_code == 0, first.output
    assert "created   community shilipu" in first.output
    second = invoke(app, "tenants", "apply", str(TENANTS))
    assert "created" not in second.output and "unchanged community shilipu" in second.output
    shilipu = db.session.execute(select(Community).where(Community.slug == "shilipu")).scalar_one()
    assert (shilipu.resident_count, shilipu.kind.value, shilipu.street.slug) == (1200, "agriculture", "chengdong")
    with tenancy.community_scope(shilipu.id):
        assert db.session.execute(select(func.count(ResidentGroup.id))).scalar_one() == 10
    assert db.session.execute(select(func.count(Street.id))).scalar_one() == 2
    assert db.session.execute(select(func.count(Community.id))).scalar_one() >= 3


def test_tenants_apply_updates_from_the_file(app, tmp_path):
    invoke(app, "tenants", "apply", str(TENANTS))
    edited = tmp_path / "shilipu.toml"
    edited.write_text((TENANTS / "shilipu.toml").read_text(encoding="utf-8").replace("1200", "1260"), encoding="utf-8")
    result = invoke(app, "tenants", "apply", str(edited))
    assert "updated   community shilipu" in result.output
    assert db.session.execute(select(Community.resident_count).where(Community.slug == "shilipu")).scalar_one() == 1260


def test_a_bad_file_writes_nothing(app, tmp_path):
    (tmp_path / "a-street.toml").write_text(
        '[street]\nslug = "good-street"\nname_zh = "好"\nname_en = "Good"\n', encoding="utf-8"
    )
    (tmp_path / "b-bad.toml").write_text(
        '[community]\nslug = "Bad Slug"\nname_zh = ""\nname_en = "x"\nstreet = "good-street"\nkind = "castle"\n',
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(main, ["tenants", "apply", str(tmp_path)])
    assert result.exit_code != 0
    assert "b-bad.toml" in result.output and "slug" in result.output and "kind" in result.output
    assert db.session.execute(select(Street).where(Street.slug == "good-street")).first() is None
    broken = tmp_path / "c.toml"
    broken.write_text("[community\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(main, ["tenants", "apply", str(broken)])
    assert result.exit_code != 0 and "c.toml" in result.output


def test_unknown_street_is_refused(app, tmp_path):
    path = tmp_path / "orphan.toml"
    path.write_text(
        '[community]\nslug = "orphan"\nname_zh = "孤"\nname_en = "Orphan"\nstreet = "nowhere"\n', encoding="utf-8"
    )
    result = app.test_cli_runner().invoke(main, ["tenants", "apply", str(path)])
    assert result.exit_code != 0 and "nowhere" in result.output


def test_tenants_list_text_and_json(app):
    invoke(app, "tenants", "apply", str(TENANTS))
    text = invoke(app, "tenants", "list").output
    assert "shilipu" in text and "十里铺社区" in text and "status=active" in text
    document = json.loads(invoke(app, "tenants", "list", "--json").output)
    streets = {s["slug"]: s for s in document["streets"]}
    assert {"chengdong", "chengxi"} <= set(streets)
    assert "shilipu" in [c["slug"] for c in streets["chengdong"]["communities"]]
    shilipu = next(c for c in document["communities"] if c["slug"] == "shilipu")
    assert shilipu == {
        "slug": "shilipu",
        "name_zh": "十里铺社区",
        "name_en": "Shilipu Community",
        "street": "chengdong",
        "status": "active",
    }


def test_users_create_reads_the_password_from_stdin(app, community, street):
    result = invoke(
        app,
        "users",
        "create",
        "--email",
        "Mod@Test.example",
        "--name",
        "王建国",
        "--community",
        community.slug,
        "--role",
        "moderator",
        "--street",
        street.slug,
        input="a long password\n",
    )
    assert result.exit_code == 0, result.output
    user = accounts.check_credentials("mod@test.example", "a long password")
    assert user is not None and user.name == "王建国"
    with tenancy.community_scope(community.id):
        role = db.session.execute(select(CommunityMembership.role).where(CommunityMembership.user_id == user.id))
        assert role.scalar_one() == CommunityRole.MODERATOR
    assert db.session.execute(select(StreetMembership).where(StreetMembership.user_id == user.id)).scalar_one()


def test_users_create_errors(app, community):
    runner = app.test_cli_runner()
    short = runner.invoke(main, ["users", "create", "--email", "x@test.example", "--name", "X"], input="short\n")
    assert short.exit_code != 0 and "password" in short.output
    unknown = runner.invoke(
        main,
        ["users", "create", "--email", "y@test.example", "--name", "Y", "--community", "nope", "--role", "admin"],
        input="long enough pw\n",
    )
    assert unknown.exit_code != 0 and "nope" in unknown.output
    assert accounts.find_user_by_email("y@test.example") is None


def test_tokens_create_prints_the_token_last(app, client, community, street):
    result = invoke(
        app,
        "tokens",
        "create",
        "--community",
        community.slug,
        "--name",
        "网格系统",
        "--scopes",
        "community:read,tasks:read",
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("ys_")
    response = client.get(f"/api/v1/communities/{community.slug}", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    everything = invoke(app, "tokens", "create", "--street", street.slug, "--name", "街道", "--scopes", "all")
    street_secret = everything.output.strip().splitlines()[-1]
    assert (
        client.get(f"/api/v1/streets/{street.slug}", headers={"Authorization": f"Bearer {street_secret}"}).status_code
        == 200
    )
    bad = app.test_cli_runner().invoke(
        main, ["tokens", "create", "--community", community.slug, "--name", "x", "--scopes", "matters:everything"]
    )
    assert bad.exit_code != 0 and "matters:everything" in bad.output
    both = app.test_cli_runner().invoke(
        main,
        ["tokens", "create", "--community", community.slug, "--street", street.slug, "--name", "x", "--scopes", "all"],
    )
    assert both.exit_code != 0


def test_worker_needs_redis_url(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    result = app.test_cli_runner().invoke(main, ["worker", "--burst"])
    assert result.exit_code != 0 and "REDIS_URL" in result.output


def test_worker_refuses_an_unknown_queue(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    result = app.test_cli_runner().invoke(main, ["worker", "--burst", "--queues", "notifications,nope"])
    assert result.exit_code != 0 and "nope" in result.output and "escalation" in result.output


def test_demo_prepares_data_and_keeps_it(tmp_path, monkeypatch):
    """`yishi demo --no-serve` on a fresh instance folder: migrate, tenants, people; a second run keeps them."""
    from click.testing import CliRunner

    monkeypatch.setenv("YISHI_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("YISHI_ENV", "demo")
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "--no-serve"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "http://127.0.0.1:5000/" in first.output
    logins = [line.split() for line in first.output.splitlines() if "@yishi.example" in line]
    assert len(logins) >= 15
    second = runner.invoke(main, ["demo", "--no-serve"], catch_exceptions=False)
    assert [line for line in second.output.splitlines() if "@yishi.example" in line] == [
        line for line in first.output.splitlines() if "@yishi.example" in line
    ]
    assert (tmp_path / "yishi.sqlite3").exists()
    token_line = next(line for line in first.output.splitlines() if line.startswith("API token for shilipu"))
    assert token_line.split()[-1].startswith("ys_")
    reset = runner.invoke(main, ["demo", "--no-serve", "--reset"], catch_exceptions=False)
    assert reset.exit_code == 0
    assert [line for line in reset.output.splitlines() if "@yishi.example" in line] != [
        line for line in first.output.splitlines() if "@yishi.example" in line
    ]  # new passwords: a clean start
