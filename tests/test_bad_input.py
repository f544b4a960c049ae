"""Input that can never be valid is refused at the door with a 400 (problem+json on the API, the error
page elsewhere), never a 500, before anything touches the database; and every list and number the API
accepts is bounded, in the schemas and in the OpenAPI document.

Found by a campaign of bad requests: JSON 100,000 levels deep (RecursionError on every JSON route), lone
surrogates (UnicodeEncodeError), 100,000 ids in one list (past PostgreSQL's 65,535 parameters) and a
criterion weight of 1e308.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from tests.conftest import bearer
from yishi.core import tenancy
from yishi.core.db import db
from yishi.core.security import MAX_FORM_VALUES
from yishi.modules.communities.models import ResidentGroup
from yishi.modules.selection.models import SelectionCriterion

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").get_json()


@pytest.fixture
def tokens(community, street, token_for):
    return {"community": token_for(community=community), "street": token_for(street=street)}


def _json_operations(spec, community, street):
    """(method, url, schema) of every operation that reads a JSON body, with its path filled in."""
    values = {"community_slug": community.slug, "street_slug": street.slug, "day": "2026-05-01", "fmt": "json"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}) if method != "parameters" else {}
            if "application/json" in content:
                url = re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "1"), path)
                yield method, url, _resolve(spec, content["application/json"]["schema"])


def _resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _token(tokens, url):
    return tokens["street"] if url.startswith("/api/v1/streets/") else tokens["community"]


def _assert_refused(response, words):
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/problem+json"
    detail = response.get_json()["detail"]
    assert any(word in detail for word in words), detail


def test_json_nested_100000_deep_is_refused_on_every_json_route(client, spec, community, street, tokens):
    operations = list(_json_operations(spec, community, street))
    assert len(operations) >= 29
    for method, url, _schema in operations:
        response = client.open(
            url, method=method.upper(), data=DEEP, content_type="application/json", headers=bearer(_token(tokens, url))
        )
        _assert_refused(response, ("nested", "嵌套"))


def test_json_nested_as_deep_as_our_documents_is_read(client, community, token_for):
    """The guard counts brackets, not characters of strings: a name full of brackets is plain text."""
    response = client.post(
        f"/api/v1/communities/{community.slug}/resident-groups",
        headers=bearer(token_for(community=community)),
        json={"code": "brackets", "name_zh": "[[[[{{{{" * 10, "name_en": "]]]]}}}}" * 10},
    )
    assert response.status_code == 201, response.get_json()


def test_lone_surrogates_are_refused_on_every_json_route(client, spec, community, street, tokens):
    for method, url, schema in _json_operations(spec, community, street):
        properties = schema.get("properties", {})
        # Every text field (and one unknown key) holds a lone surrogate, escaped as JSON allows.
        body = {name: "\ud800" for name, field in properties.items() if field.get("type") == "string"}
        body["x\udfff"] = 1
        response = client.open(
            url,
            method=method.upper(),
            data=json.dumps(body),
            content_type="application/json",
            headers=bearer(_token(tokens, url)),
        )
        _assert_refused(response, ("Unicode",))


def test_a_raw_surrogate_in_json_bytes_is_refused_and_nothing_is_written(client, community, token_for):
    """The bytes ED A0 80 (a surrogate encoded as if it were a character) get through ``json.loads``."""
    body = '{"code": "raw", "name_zh": "X", "name_en": "Raw"}'.replace("X", "\udcff").encode("utf-8", "surrogatepass")
    response = client.post(
        f"/api/v1/communities/{community.slug}/resident-groups",
        headers=bearer(token_for(community=community)),
        data=body,
        content_type="application/json",
    )
    _assert_refused(response, ("Unicode",))
    with tenancy.community_scope(community.id):
        assert db.session.execute(select(func.count()).where(ResidentGroup.code == "raw")).scalar_one() == 0


def test_bad_input_on_a_web_page_gets_the_error_page(client, community):
    deep = client.post("/login", data=DEEP, content_type="application/json")
    assert deep.status_code == 400 and deep.mimetype == "text/html"
    # A form cannot carry a lone surrogate: werkzeug decodes bad UTF-8 as replacement characters.
    form = client.post(
        "/login",
        data=b"email=a%ED%A0%80@b.example&password=\xed\xa0\x80",
        content_type="application/x-www-form-urlencoded",
    )
    assert form.status_code < 500


def test_forms_and_query_strings_of_more_values_than_any_form_are_refused(client, community, token_for):
    many = "&".join(["status=submitted"] * (MAX_FORM_VALUES + 1))
    response = client.get(
        f"/api/v1/communities/{community.slug}/matters?{many}", headers=bearer(token_for(community=community))
    )
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    form = client.post(
        "/login",
        data="&".join(["email=a@b.example"] * (MAX_FORM_VALUES + 1)),
        content_type="application/x-www-form-urlencoded",
    )
    assert form.status_code == 400 and form.mimetype == "text/html"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("points", "resident_group_ids"),
        ("selection/rounds", "evaluator_ids"),
        ("selection/rounds/1/evaluators", "user_ids"),
        ("meetings", "invited_user_ids"),
    ],
)
def test_a_list_of_100000_ids_is_refused_before_the_database(client, community, token_for, path, field):
    secret = token_for(community=community)
    base = f"/api/v1/communities/{community.slug}"
    method = "POST"
    if path.endswith("evaluators"):
        criterion = {"code": "ability", "name_zh": "能力", "name_en": "Ability"}
        assert client.post(f"{base}/selection/criteria", headers=bearer(secret), json=criterion).status_code == 201
        created = client.post(f"{base}/selection/rounds", headers=bearer(secret), json={"title": "2026"})
        assert created.status_code == 201, created.get_json()
        path, method = path.replace("/1/", f"/{created.get_json()['id']}/"), "PUT"
    response = client.open(
        f"{base}/{path}", method=method, headers=bearer(secret), json={field: list(range(1, 100_001))}
    )
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert field in response.get_json()["errors"]


def _walk(spec, schema, seen=()):
    """Every (name, schema) under ``schema``, following $refs once."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return
        seen = (*seen, name)
        schema = spec["components"]["schemas"][name]
    for name, field in schema.get("properties", {}).items():
        if field.get("readOnly"):
            continue
        yield name, _resolve(spec, field) if "$ref" in field else field
        yield from _walk(spec, field, seen)
    if "items" in schema:
        yield from _walk(spec, schema["items"], seen)


def _inputs(spec):
    """(where, name, schema) of every value a client sends: query and path parameters, JSON bodies."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            for parameter in operation if method == "parameters" else operation.get("parameters", []):
                yield where, parameter["name"], parameter["schema"]
                if "items" in parameter["schema"]:
                    yield where, parameter["name"] + "[]", parameter["schema"]["items"]
            body = operation.get("requestBody", {}) if method != "parameters" else {}
            for content in body.get("content", {}).values():
                for name, field in _walk(spec, content["schema"]):
                    yield where, name, field
                    if "items" in field:
                        yield where, name + "[]", _resolve(spec, field["items"])


def test_every_list_and_number_a_client_sends_is_bounded_in_the_openapi_document(spec):
    unbounded = []
    for where, name, schema in _inputs(spec):
        if schema.get("type") == "array" and "maxItems" not in schema:
            unbounded.append(f"{where} {name}: no maxItems")
        if schema.get("type") in ("integer", "number") and ("minimum" not in schema or "maximum" not in schema):
            unbounded.append(f"{where} {name}: no minimum or maximum")
    assert not unbounded, "\n".join(unbounded)


def test_a_criterion_weight_of_1e308_is_refused(client, community, token_for):
    secret = token_for(community=community)
    response = client.post(
        f"/api/v1/communities/{community.slug}/selection/criteria",
        headers=bearer(secret),
        data='{"code": "huge", "name_zh": "巨", "name_en": "Huge", "weight": 1e308}',
        content_type="application/json",
    )
    assert response.status_code == 422 and "weight" in response.get_json()["errors"]
    with tenancy.community_scope(community.id):
        assert db.session.execute(select(func.count()).where(SelectionCriterion.code == "huge")).scalar_one() == 0
