"""The embedded default holds under use (issue 10): the threaded server of ``yishi demo``, on a
SQLite file with its embedded job runner, answers four concurrent clients mixing writes and reads
without a single 500, and every matter it answered 201 for exists.

The server runs in a subprocess (as ``yishi demo`` does, with its own job thread), so the test's
in-memory database and fixtures play no part; clients talk to it over loopback only. The run is
bounded by a request count and a deadline, never by sleeps.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

import pytest
import requests

CLIENTS = 4
REQUESTS_PER_CLIENT = 60
RUN_SECONDS = 5.0

# A small community instead of the full demo data (which takes ~9 s): the same server, runner and
# database configuration as `yishi demo`, with one API token written where the test can read it.
SERVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from yishi import create_app
    from yishi.core.db import db
    from yishi.demo import serve_demo
    from yishi.modules.accounts import services as accounts
    from yishi.modules.accounts.models import CommunityRole
    from yishi.modules.communities import services as communities

    port, token_file = int(sys.argv[1]), Path(sys.argv[2])
    app = create_app({"YISHI_ENV": "demo", "PASSWORD_HASH_METHOD": "scrypt:1024:8:1"})
    with app.app_context():
        db.create_all()  # quicker than the migrations here; the schema is the same (test_migrations)
        communities.apply_tenants(Path(app.config["TENANTS_PATH"]) / "chengdong.toml")
        communities.apply_tenants(Path(app.config["TENANTS_PATH"]) / "shilipu.toml")
        shilipu = communities.get_community("shilipu")
        admin = accounts.create_user(email="admin@example.test", name="孙丽华", password="correct horse battery")
        accounts.add_member(shilipu, admin, CommunityRole.ADMIN)
        _token, secret = accounts.create_token(name="load", scopes="all", community=shilipu)
        db.session.commit()
    token_file.write_text(secret, encoding="utf-8")
    serve_demo(app, host="127.0.0.1", port=port)
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until(condition, *, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def demo_server(tmp_path):
    port, token_file = _free_port(), tmp_path / "token.txt"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("YISHI_", "REDIS_", "DATABASE_"))}
    env.update(
        YISHI_INSTANCE_PATH=str(tmp_path / "instance"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'yishi.sqlite3'}",
        SECRET_KEY="concurrency-test",
        PYTHONUNBUFFERED="1",
    )
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port), str(token_file)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"

        def up():
            if server.poll() is not None:
                raise AssertionError(f"the demo server exited:\n{log_path.read_text(errors='replace')}")
            try:
                return token_file.exists() and requests.get(f"{base}/healthz", timeout=1).ok
            except requests.ConnectionError:
                return False

        try:
            _wait_until(up, seconds=60, what="the demo server")
            yield base, token_file.read_text(encoding="utf-8").strip(), log_path
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def test_four_clients_get_no_500_from_the_embedded_default(demo_server):
    base, secret, log_path = demo_server
    api = f"{base}/api/v1/communities/shilipu"
    headers = {"Authorization": f"Bearer {secret}", "Accept-Language": "en"}
    categories = requests.get(f"{api}/categories", headers=headers, timeout=10).json()["items"]
    category_id = next(c["id"] for c in categories if c["kind"] != "dispute")  # a dispute needs its parties

    statuses: Counter[int] = Counter()
    failures: list[str] = []
    created: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + RUN_SECONDS

    def note(response: requests.Response, what: str) -> requests.Response:
        with lock:
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{what} → {response.status_code}: {response.text[:300]}")
        return response

    def api_writer(number: int, session: requests.Session) -> None:
        response = note(
            session.post(
                f"{api}/matters",
                headers=headers,
                json={"title": f"路灯不亮 {number}", "category_id": category_id, "reporter_name": "冯小燕"},
                timeout=30,
            ),
            "POST matters",
        )
        if response.status_code == 201:
            matter_id = response.json()["id"]
            with lock:
                created.append(matter_id)
            for action in ("accept", "start"):
                note(
                    session.post(
                        f"{api}/matters/{matter_id}/transitions", headers=headers, json={"action": action}, timeout=30
                    ),
                    f"transition {action}",
                )

    def api_reader(number: int, session: requests.Session) -> None:
        note(session.get(f"{api}/matters", headers=headers, params={"per_page": 50}, timeout=30), "GET matters")
        with lock:
            known = created[-1] if created else None
        if known is not None:
            note(session.get(f"{api}/matters/{known}/timeline", headers=headers, timeout=30), "GET timeline")

    def web_visitor(number: int, session: requests.Session) -> None:
        note(session.get(f"{base}/c/shilipu/", timeout=30), "GET home")
        form = note(session.get(f"{base}/c/shilipu/matters/new", timeout=30), "GET intake form")
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.text) or re.search(
            r'name="csrf_token" value="([^"]+)"', form.text
        )
        if match and number % 3 == 0:  # the intake form is rate-limited per IP: post now and then
            note(
                session.post(
                    f"{base}/c/shilipu/matters/new",
                    data={
                        "csrf_token": match.group(1),
                        "title": f"河道有垃圾 {number}",
                        "category_id": str(category_id),
                        "reporter_name": "蒋大伟",
                        "reporter_phone": f"1395237{number:04d}",
                    },
                    timeout=30,
                ),
                "POST intake form",
            )

    def client(roles) -> None:
        with requests.Session() as session:
            for number in range(REQUESTS_PER_CLIENT):
                if time.monotonic() > deadline:
                    return
                try:
                    roles[number % len(roles)](number, session)
                except requests.RequestException as error:  # a dropped connection counts as a failure too
                    with lock:
                        failures.append(f"{roles[number % len(roles)].__name__}: {error!r}")

    plans = [(api_writer,), (api_writer, api_reader), (api_reader, web_visitor), (web_visitor, api_writer)]
    threads = [threading.Thread(target=client, args=(plan,)) for plan in plans[:CLIENTS]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=RUN_SECONDS + 60)

    assert not failures, f"{len(failures)} failures among {dict(statuses)}:\n" + "\n".join(failures[:10])
    assert len(created) >= CLIENTS, dict(statuses)  # the clients did write, concurrently
    for matter_id in created:
        assert requests.get(f"{api}/matters/{matter_id}", headers=headers, timeout=10).status_code == 200

    database = log_path.parent / "yishi.sqlite3"

    def told() -> bool:
        # The embedded runner's notice of each new matter: worked off, none lost to a locked database.
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
        try:
            links = {row[0].rsplit("/", 1)[-1] for row in connection.execute("SELECT link FROM notifications")}
        finally:
            connection.close()
        return all(str(matter_id) in links for matter_id in created)

    _wait_until(told, seconds=30, what="the embedded runner's notices of the new matters")
    server_log = log_path.read_text(errors="replace")
    assert "database is locked" not in server_log, server_log[-3000:]
    assert "Traceback" not in server_log, server_log[-3000:]
