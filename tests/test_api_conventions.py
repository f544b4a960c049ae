"""CONTRACT.md's HTTP conventions, shared by every module: problem+json, pagination, Idempotency-Key,
the OpenAPI document and its local docs."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from tests.conftest import bearer
from yishi.core import tenancy
from yishi.core.db import db
from yishi.modules.communities.models import ResidentGroup


def _groups_url(community):
    return f"/api/v1/communities/{community.slug}/resident-groups"


def test_missing_or_bad_token_is_401_problem(client, community):
    for headers in ({}, {"Authorization": "Bearer ys_not-a-token"}, {"Authorization": "Basic abc"}):
        response = client.get(f"/api/v1/communities/{community.slug}", headers=headers)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        body = response.get_json()
        assert body["status"] == 401 and body["type"] and body["title"]


def test_revoked_token_stops_working(client, community, token_for):
    from yishi.core.db import utcnow
    from yishi.modules.accounts.models import ApiToken

    secret = token_for(community=community)
    assert client.get(f"/api/v1/communities/{community.slug}", headers=bearer(secret)).status_code == 200
    for token in db.session.execute(select(ApiToken)).scalars():
        token.revoked_at = utcnow()
    db.session.commit()
    assert client.get(f"/api/v1/communities/{community.slug}", headers=bearer(secret)).status_code == 401


def test_only_a_hash_of_the_token_is_stored(community, token_for):
    from yishi.modules.accounts.models import ApiToken

    secret = token_for(community=community)
    stored = db.session.execute(select(ApiToken)).scalar_one()
    assert secret not in (stored.token_hash, stored.prefix, stored.scopes)
    assert len(stored.token_hash) == 64 and secret.startswith(stored.prefix)


def test_scopes_are_enforced(client, community, token_for):
    secret = token_for(community=community, scopes="community:read")
    assert client.get(_groups_url(community), headers=bearer(secret)).status_code == 200
    response = client.post(
        _groups_url(community), headers=bearer(secret), json={"code": "z", "name_zh": "新", "name_en": "New"}
    )
    assert response.status_code == 403
    assert response.get_json()["type"] == "urn:yishi:problem:forbidden"


def test_validation_errors_are_422_with_field_messages_in_both_languages(client, community, token_for):
    secret = token_for(community=community)
    bad = {"code": "bad code!", "name_en": "x" * 200, "household_count": -1, "surprise": 1}
    english = client.post(_groups_url(community), headers={**bearer(secret), "Accept-Language": "en"}, json=bad)
    assert english.status_code == 422 and english.mimetype == "application/problem+json"
    errors = english.get_json()["errors"]
    assert set(errors) == {"code", "name_zh", "name_en", "household_count", "surprise"}
    assert errors["name_zh"] == ["This field is required."]
    assert errors["household_count"] == ["Must be between 0 and 100000."]
    chinese = client.post(_groups_url(community), headers={**bearer(secret), "Accept-Language": "zh-CN"}, json=bad)
    zh_errors = chinese.get_json()["errors"]
    assert zh_errors["name_zh"] == ["此项为必填项。"]
    assert all(re.search(r"[\u4e00-\u9fff]", message) for messages in zh_errors.values() for message in messages)
    with tenancy.community_scope(community.id):
        assert db.session.execute(select(func.count(ResidentGroup.id))).scalar_one() == 3  # nothing half-written


def test_malformed_json_is_a_problem_not_a_500(client, community, token_for):
    secret = token_for(community=community)
    response = client.post(
        _groups_url(community), headers={**bearer(secret), "Content-Type": "application/json"}, data="{not json"
    )
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


def test_conflict_is_409(client, community, token_for):
    secret = token_for(community=community)
    response = client.post(
        _groups_url(community), headers=bearer(secret), json={"code": "g01", "name_zh": "重复", "name_en": "Duplicate"}
    )
    assert response.status_code == 409
    assert "code" in response.get_json()["errors"]


def test_405_has_an_allow_header(client, community, token_for):
    secret = token_for(community=community)
    response = client.delete(_groups_url(community), headers=bearer(secret))
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_unknown_api_path_is_a_problem(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_pagination_body_and_link_header(client, community, other_community, token_for):
    secret = token_for(community=community)
    with tenancy.community_scope(community.id):
        for number in range(4, 26):
            db.session.add(
                ResidentGroup(code=f"p{number:02d}", name_zh=f"组{number}", name_en=f"G{number}", position=number)
            )
        db.session.commit()
    response = client.get(_groups_url(community) + "?page=2&per_page=10", headers=bearer(secret))
    body = response.get_json()
    assert (body["page"], body["per_page"], body["total"], len(body["items"])) == (2, 10, 25, 10)
    links = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"]))
    assert set(links) == {"first", "prev", "next", "last"}
    assert "page=3" in links["next"] and "page=1" in links["prev"] and "page=3" in links["last"]
    last = client.get(_groups_url(community) + "?page=3&per_page=10", headers=bearer(secret)).get_json()
    assert len(last["items"]) == 5
    too_many = client.get(_groups_url(community) + "?per_page=101", headers=bearer(secret))
    assert too_many.status_code == 422 and "per_page" in too_many.get_json()["errors"]


def test_list_queries_do_not_grow_with_the_page(app, client, community, token_for):
    from sqlalchemy import event

    secret = token_for(community=community)
    counts = []
    for per_page in (1, 3):
        statements = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        engine = db.engines[None].engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            client.get(_groups_url(community) + f"?per_page={per_page}", headers=bearer(secret))
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts.append(len([s for s in statements if "resident_groups" in s]))
    assert counts[0] == counts[1] == 2  # one page, one count


def test_idempotency_key_replays_the_first_answer(client, community, token_for):
    secret = token_for(community=community)
    headers = {**bearer(secret), "Idempotency-Key": "abc-123"}
    payload = {"code": "idem", "name_zh": "幂等", "name_en": "Idempotent"}
    first = client.post(_groups_url(community), headers=headers, json=payload)
    second = client.post(_groups_url(community), headers=headers, json=payload)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    with tenancy.community_scope(community.id):
        assert db.session.execute(select(func.count()).where(ResidentGroup.code == "idem")).scalar_one() == 1
    other_body = client.post(_groups_url(community), headers=headers, json={**payload, "code": "idem2"})
    assert other_body.status_code == 422
    assert other_body.get_json()["type"] == "urn:yishi:problem:idempotency-key-reused"
    # Keys belong to one token: another token may use the same key for its own request.
    other_secret = token_for(community=community)
    fresh = client.post(
        _groups_url(community),
        headers={**bearer(other_secret), "Idempotency-Key": "abc-123"},
        json={**payload, "code": "idem3"},
    )
    assert fresh.status_code == 201


def test_idempotency_key_expires_after_24_hours(client, community, token_for):
    from datetime import UTC, datetime, timedelta

    import time_machine

    secret = token_for(community=community)
    headers = {**bearer(secret), "Idempotency-Key": "later"}
    payload = {"code": "exp", "name_zh": "过期", "name_en": "Expiring"}
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        assert client.post(_groups_url(community), headers=headers, json=payload).status_code == 201
    with time_machine.travel(start + timedelta(hours=25), tick=False):
        again = client.post(_groups_url(community), headers=headers, json=payload)
    assert again.status_code == 409  # a real second attempt: the code now exists
    assert "Idempotent-Replayed" not in again.headers


def test_failed_request_does_not_burn_the_key(client, community, token_for):
    secret = token_for(community=community)
    headers = {**bearer(secret), "Idempotency-Key": "retry-me"}
    assert client.post(_groups_url(community), headers=headers, json={"code": "only"}).status_code == 422
    replay = client.post(_groups_url(community), headers=headers, json={"code": "only"})
    assert replay.status_code == 422 and replay.headers["Idempotent-Replayed"] == "true"


def test_openapi_document_and_local_docs(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/communities/{community_slug}/resident-groups" in spec["paths"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        with client.get(source) as asset:
            assert asset.status_code == 200, source


def test_api_times_are_iso_8601_with_offset(client, community, token_for):
    from yishi.core.jobs import Task

    secret = token_for(community=community)
    task = Task(job_name="x", title="x", community_id=community.id)
    db.session.add(task)
    db.session.commit()
    body = client.get(f"/api/v1/communities/{community.slug}/tasks/{task.id}", headers=bearer(secret)).get_json()
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$", body["created_at"]), body
    json.dumps(body)


def test_out_of_range_numbers_are_refused_not_a_database_error(client, community, token_for):
    """Found by fuzzing the OpenAPI document: ids and pages past the database's integers used to 500."""
    secret = token_for(community=community)
    huge = 2**80
    group = client.get(f"/api/v1/communities/{community.slug}/resident-groups/{huge}", headers=bearer(secret))
    assert group.status_code == 404 and group.mimetype == "application/problem+json"
    page = client.get(f"/api/v1/communities/{community.slug}/resident-groups?page={huge}", headers=bearer(secret))
    assert page.status_code == 422 and "page" in page.get_json()["errors"]
    point = client.post(
        f"/api/v1/communities/{community.slug}/points",
        headers=bearer(secret),
        json={"code": "big", "name_zh": "大", "name_en": "Big", "resident_group_ids": [huge, -1]},
    )
    assert point.status_code == 422 and "resident_group_ids.0" in point.get_json()["errors"]


def test_nul_characters_are_refused_at_the_door(client, community, token_for):
    """Found by fuzzing on PostgreSQL, whose text cannot hold NUL: these were 500s."""
    secret = token_for(community=community)
    body = client.post(
        f"/api/v1/communities/{community.slug}/resident-groups",
        headers=bearer(secret),
        json={"code": "nul", "name_zh": "零\x00字符", "name_en": "Nul"},
    )
    assert body.status_code == 400 and body.mimetype == "application/problem+json"
    assert "NUL" in body.get_json()["detail"] or "空字符" in body.get_json()["detail"]
    path = client.get("/api/v1/communities/a%00b", headers=bearer(secret))
    assert path.status_code == 400
    page = client.get("/c/%00/")
    assert page.status_code == 400 and page.mimetype == "text/html"
    form = client.post("/login", data={"email": "a\x00@b.example", "password": "x"})
    assert form.status_code == 400
    with tenancy.community_scope(community.id):
        assert db.session.execute(select(func.count()).where(ResidentGroup.code == "nul")).scalar_one() == 0
