"""``yishi demo``: a working platform on one machine, with realistic people in every role.

Data is kept between runs (passwords too, in the instance folder); ``--reset`` starts clean. As
features land, this module gains their data, so that no page is an empty shell.
"""

from __future__ import annotations

import json
import random
import re
import secrets
from datetime import date
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from werkzeug.serving import run_simple

from yishi.core import tenancy
from yishi.core.db import db, is_sqlite_file
from yishi.core.jobs import enqueue, run_pending
from yishi.modules.accounts import services as accounts
from yishi.modules.accounts.models import CommunityRole
from yishi.modules.communities import services as communities
from yishi.modules.matters.demo import ensure_demo_matters
from yishi.modules.meetings.demo import ensure_demo_meetings
from yishi.modules.reports.demo import ensure_demo_reports

# (community, role, name, party member, representative, resident group code)
SHILIPU_PEOPLE = [
    ("admin", "孙丽华", True, False, None),  # 社区党总支书记
    ("moderator", "王建国", True, False, "g01"),
    ("moderator", "李秀英", True, False, "g02"),
    ("moderator", "张志强", True, False, "g03"),
    ("moderator", "刘桂兰", True, False, "g04"),
    ("moderator", "陈德明", True, False, "g05"),
    ("moderator", "杨淑芬", True, False, "g06"),
    ("moderator", "赵国庆", True, False, "g07"),
    ("moderator", "黄玉梅", True, False, "g08"),
    ("moderator", "周文华", True, False, "g09"),
    ("moderator", "吴海涛", True, False, "g10"),
    ("staff", "郑红梅", True, True, "g03"),
    ("staff", "钱永福", False, True, "g07"),
    ("resident", "冯小燕", False, False, "g02"),
    ("resident", "蒋大伟", False, False, "g05"),
]
OTHER_ADMINS = {"donghu": "何静", "xiyuan": "马卫东"}
STREET_ADMINS = {"chengdong": "林志远", "chengxi": "宋晓梅"}


def _beside_database(app: Flask, name: str) -> Path:
    """Where the demo keeps a secret of its database (logins, API token): beside that database.

    The default database's are in the instance folder, as README says. Another SQLite file's sit
    next to it; a server database's are in the instance folder under that database's name. So a
    demo pointed at another database never prints the passwords of the first one.
    """
    instance = Path(app.instance_path)
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if is_sqlite_file(url):
        database = Path(url.database).resolve()
        if database == (instance / "yishi.sqlite3").resolve():
            return instance / name
        return database.with_name(f"{database.name}.{name}")
    label = re.sub(r"[^A-Za-z0-9_.]+", "-", f"{url.host or 'localhost'}-{url.port or ''}-{url.database or ''}")
    return instance / f"{label}.{name}"


def _accounts_file(app: Flask) -> Path:
    return _beside_database(app, "demo-accounts.json")


def _token_file(app: Flask) -> Path:
    return _beside_database(app, "demo-api-token.txt")


def _reset(app: Flask) -> None:
    db.drop_all()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    _accounts_file(app).unlink(missing_ok=True)
    _token_file(app).unlink(missing_ok=True)


def _known_logins(app: Flask) -> list[dict]:
    """The kept logins whose people this database still has. A database deleted or replaced
    beside its logins file has lost them: they are created again (with new passwords)."""
    path = _accounts_file(app)
    logins = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    return [login for login in logins if accounts.find_user_by_email(login["email"]) is not None]


def _phone(index: int) -> str:
    return f"139{52370000 + index * 137:08d}"


def demo_api_token(app: Flask) -> str | None:
    path = _token_file(app)
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def _ensure_demo_token(app: Flask) -> None:
    """One API token for Shilipu, so the API docs can be tried at once (again, if the kept one is
    not in this database)."""
    path = _token_file(app)
    if path.exists() and accounts.authenticate_token(path.read_text(encoding="utf-8").strip()) is not None:
        return
    _token, secret = accounts.create_token(
        name="演示令牌 demo", scopes="all", community=communities.get_community("shilipu")
    )
    path.write_text(secret + "\n", encoding="utf-8")
    path.chmod(0o600)


def prepare_demo(app: Flask, *, reset: bool = False) -> list[dict]:
    """Migrate, load tenants/, create the demo people once; return their logins."""
    with app.app_context():
        if reset and inspect(db.engine).has_table("alembic_version"):
            _reset(app)
        upgrade(directory=app.config["MIGRATIONS_PATH"])
        communities.apply_tenants(Path(app.config["TENANTS_PATH"]))
        db.session.commit()
        path = _accounts_file(app)
        logins = _known_logins(app)
        known = {login["email"] for login in logins}
        for login in _create_people(known):
            logins.append(login)
        _ensure_demo_token(app)
        _ensure_shilipu_selection()
        ensure_demo_matters()
        ensure_demo_meetings()
        for login in _ensure_pending_application(known):
            logins.append(login)
        ensure_demo_reports()
        enqueue("yishi.modules.metrics.tasks.refresh_dashboards", job_id="demo-refresh-dashboards")
        db.session.commit()
        run_pending(app)  # notifications of the demo's matters, and its reports, done before the first page
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(logins, ensure_ascii=False, indent=2), encoding="utf-8")
        path.chmod(0o600)
        return logins


def _new_user(known: set[str], email: str, name: str, role_label: str, index: int, **kwargs):
    if email in known or accounts.find_user_by_email(email) is not None:
        return None, None
    password = secrets.token_urlsafe(9)
    user = accounts.create_user(email=email, name=name, password=password, phone=_phone(index), **kwargs)
    return user, {"role": role_label, "email": email, "password": password, "name": name}


def _create_people(known: set[str]) -> list[dict]:
    created: list[dict] = []

    def keep(result):
        user, login = result
        if login:
            created.append(login)
        return user

    keep(_new_user(known, "platform@yishi.example", "平台管理员", "platform admin", 0, is_platform_admin=True))
    for index, (slug, name) in enumerate(STREET_ADMINS.items(), start=1):
        user = keep(_new_user(known, f"{slug}@yishi.example", name, f"street admin · {slug}", index))
        if user:
            accounts.add_street_admin(communities.get_street(slug), user)
    shilipu = communities.get_community("shilipu")
    with tenancy.community_scope(shilipu.id):
        groups = {g.code: g.id for g in communities.list_resident_groups()}
    counters: dict[str, int] = {}
    for index, (role, name, party_member, representative, group_code) in enumerate(SHILIPU_PEOPLE, start=10):
        counters[role] = counters.get(role, 0) + 1
        email = f"shilipu-{role}{counters[role] if role != 'admin' else ''}@yishi.example"
        user = keep(_new_user(known, email, name, f"{role} · shilipu", index))
        if user:
            accounts.add_member(
                shilipu,
                user,
                CommunityRole(role),
                party_member=party_member,
                representative=representative,
                resident_group_id=groups.get(group_code),
            )
    for index, (slug, name) in enumerate(OTHER_ADMINS.items(), start=40):
        user = keep(_new_user(known, f"{slug}-admin@yishi.example", name, f"admin · {slug}", index))
        if user:
            accounts.add_member(communities.get_community(slug), user, CommunityRole.ADMIN)
    return created


def _ensure_shilipu_selection() -> None:
    """Shilipu's moderators came from a finished selection round by 「有威望、有能力、有热情」:
    four evaluators scored ten candidates, and the ten were appointed across the six points."""
    from yishi.modules.accounts.permissions import Actor
    from yishi.modules.selection import services as selection

    shilipu = communities.get_community("shilipu")
    with tenancy.community_scope(shilipu.id):
        if selection.list_rounds():
            return
        people = {user.name: user for user, _membership in selection.members()}
        admin = Actor(user=people["孙丽华"])
        evaluators = [people[name] for name in ("郑红梅", "钱永福", "冯小燕", "蒋大伟")]
        candidates = [people[name] for _role, name, *_rest in SHILIPU_PEOPLE if _role == "moderator"]
        selection_round = selection.open_round(
            shilipu,
            {
                "title": "2026年度议事长遴选",
                "point_id": None,
                "scale_min": 1,
                "scale_max": 5,
                "evaluator_ids": [e.id for e in evaluators],
            },
            actor=admin,
        )
        reasons = [
            "在组里威望高，邻里有事都找他",
            "退休村干部，熟悉政策，调解经验丰富",
            "热心公益，常年义务巡河",
            "处事公道，群众信得过",
            "懂农田水利，能协调用水矛盾",
            "腿勤嘴勤，走访最积极",
        ]
        for index, candidate in enumerate(candidates):
            nominator = Actor(user=evaluators[index % 2])
            selection.nominate(
                shilipu, selection_round, user_id=candidate.id, reason=reasons[index % len(reasons)], actor=nominator
            )
        criteria = [criterion.id for _link, criterion in selection.round_criteria(selection_round)]
        rows = {entry.user.id: entry.candidate for entry in selection.candidates_of(selection_round)}
        generator = random.Random(1200)  # the same demo every time
        for evaluator in evaluators:
            for candidate in candidates:
                if candidate.id == evaluator.id:
                    continue
                scores = {criterion_id: generator.choice((3, 4, 4, 5, 5)) for criterion_id in criteria}
                selection.score_candidate(
                    shilipu, selection_round, rows[candidate.id], scores, actor=Actor(user=evaluator)
                )
        selection.close_round(shilipu, selection_round, actor=admin)
        points = {p.code: p.id for p in selection.list_points()}
        plan = [
            "dongmen",
            "dongmen",
            "xiqiao",
            "xiqiao",
            "nanwan",
            "beitian",
            "beitian",
            "zhongxin",
            "hetang",
            "hetang",
        ]
        for candidate, point_code in zip(candidates, plan, strict=True):
            selection.appoint(
                shilipu,
                user_id=candidate.id,
                point_id=points[point_code],
                term_start=date(2026, 1, 1),
                term_end=date(2028, 12, 31),
                selection_round=selection_round,
                actor=admin,
            )


def _ensure_pending_application(known: set[str]) -> list[dict]:
    """春风社区 has applied to Chengdong and waits for the street office's decision."""
    from yishi.modules.onboarding.services import register_community

    if communities.get_community("chunfeng") is not None:
        return []
    password = secrets.token_urlsafe(9)
    register_community(
        {
            "slug": "chunfeng",
            "name_zh": "春风社区",
            "name_en": "Chunfeng Community",
            "street": "chengdong",
            "kind": "agriculture",
            "resident_count": 980,
            "template": "agriculture",
            "description_zh": "毗邻十里铺的涉农社区，希望借鉴十里铺的议事点做法。",
            "admin_name": "赵春华",
            "admin_email": "chunfeng-admin@yishi.example",
            "admin_password": password,
            "admin_phone": _phone(60),
        }
    )
    return [
        {
            "role": "admin · chunfeng (pending)",
            "email": "chunfeng-admin@yishi.example",
            "password": password,
            "name": "赵春华",
        }
    ]


def serve_demo(app: Flask, *, host: str, port: int) -> None:
    from yishi.core.jobs import EmbeddedRunner

    runner = EmbeddedRunner(app)
    runner.start()
    try:
        # app.run() refuses to start inside a Flask CLI command; the same server, called directly.
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        runner.stop()
