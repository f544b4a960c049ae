"""Every request a client can send gets its documented answer: schemathesis, with all its checks, over
the whole OpenAPI document, in process.

The run is the one ``st run --checks all`` makes against a server (its engine: examples, coverage,
fuzzing and stateful phases), driven from Python against the WSGI app, so it needs no server, runs on
the suite's database (SQLite, or PostgreSQL with ``YISHI_TEST_DATABASE_URL``) and inside the test's
rolled-back transaction. It does not use schemathesis' pytest plugin (``from_fixture``), which reaches
into pytest's private ``Function._nodeid`` and broke with pytest 9.2.

The seed is fixed and generation deterministic, so CI sees the same requests every run. The suite runs
``YISHI_FUZZ_EXAMPLES`` examples per operation (default 5); the full run is::

    YISHI_FUZZ_EXAMPLES=25 pytest -p no:cacheprovider tests/test_api_fuzz.py
"""

from __future__ import annotations

import contextvars
import os

import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema

from tests.conftest import bearer
from yishi.core.db import db

EXAMPLES = int(os.environ.get("YISHI_FUZZ_EXAMPLES", "5"))
SEED = 20261201

# Rules of the product that OpenAPI 3.0 cannot state, so a request the document allows may still be
# refused with 422 (and nothing else: any other answer to these is still a failure). Each is enforced,
# with a translated message, by the service that owns it. Anything not listed here fails the test.
BUSINESS_RULES = {
    "GET /api/v1/communities/{community_slug}/figures": "the end of the period comes after its start",
    "PATCH /api/v1/communities/{community_slug}/calendar/settings": "working hours open before they close",
    "POST /api/v1/communities/{community_slug}/calendar/overrides": "a day from 2000 to 2100",
    "POST /api/v1/communities/{community_slug}/categories/apply-template": "a template of tenants/templates/",
    "PATCH /api/v1/communities/{community_slug}/categories/{category_id}": "a category in use keeps its code",
    "POST /api/v1/communities/{community_slug}/matters": "category, group and point of this community",
    "POST /api/v1/communities/{community_slug}/matters/{matter_id}/photos": "JPEG, PNG or WebP images",
    "POST /api/v1/communities/{community_slug}/meetings": "ends after it starts; invitees of this community",
    "POST /api/v1/communities/{community_slug}/points": "resident groups of this community; a free code",
    "PATCH /api/v1/communities/{community_slug}/points/{point_id}": "resident groups of this community",
    "POST /api/v1/communities/{community_slug}/selection/appointments": "a member, point and round of it",
    "POST /api/v1/communities/{community_slug}/selection/rounds": "highest score above the lowest; members",
    "POST /api/v1/streets/{street_slug}/applications": "a free slug and a community not yet registered",
    "POST /api/v1/streets/{street_slug}/reports": "exactly one period: month, quarter, year or range",
}


@pytest.fixture
def tokens(community, street, token_for):
    db.session.commit()
    return {"community": token_for(community=community), "street": token_for(street=street)}


def isolated(app):
    """Each request in a fresh context, as in production: it pushes its own app context (own ``g``,
    own session, no tenant) instead of borrowing the test's."""

    def wsgi(environ, start_response):
        return contextvars.Context().run(app, environ, start_response)

    return wsgi


def fuzz_config(*, community, street, tokens) -> schemathesis.Config:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # No NUL characters: the server refuses them at the door on purpose (PostgreSQL text cannot
            # hold them; tests/test_api_conventions.py proves the 400), which OpenAPI cannot state.
            "generation": {
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
                "allow-x00": False,
            },
            "workers": 1,
            "operations": [
                {
                    "include-path-regex": "^/api/v1/streets/",
                    "headers": bearer(tokens["street"]),
                    "parameters": {"street_slug": street.slug},
                },
                {
                    "include-path-regex": "^/api/v1/communities/",
                    "headers": bearer(tokens["community"]),
                    "parameters": {"community_slug": community.slug},
                },
            ],
        }
    )
    config.projects.override.checks.update(included_check_names=["all"])  # `st run --checks all`
    return config


def run_schemathesis(app, config: schemathesis.Config) -> list[str]:
    """Run schemathesis' engine over the whole document; one line per distinct failure."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", isolated(app), config=config)
    failures: dict[tuple, str] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        if _is_business_rule(event, case_id, check):
                            continue
                        key = (failure.operation or event.recorder.label, check.name, failure.title)
                        failures.setdefault(key, _describe(event, case_id, check))
        elif isinstance(event, events.NonFatalError):
            failures.setdefault(("error", event.label), f"error {event.label}: {event.info.format()[:500]}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return sorted(failures.values())


def _is_business_rule(event: events.ScenarioFinished, case_id: str, check) -> bool:
    interaction = event.recorder.interactions.get(case_id)
    return (
        check.name == "positive_data_acceptance"
        and check.failure_info.failure.operation in BUSINESS_RULES
        and interaction is not None
        and interaction.response is not None
        and interaction.response.status_code == 422
    )


def _describe(event: events.ScenarioFinished, case_id: str, check) -> str:
    interaction = event.recorder.interactions.get(case_id)
    answer = ""
    if interaction is not None and interaction.response is not None:
        response = interaction.response
        answer = f"\n    -> {response.status_code} {response.content[:300]!r}"
    return (
        f"{event.phase.value} {event.recorder.label}: {check.name}: {check.failure_info.failure.title}"
        f"\n    {check.failure_info.code_sample[:600]}{answer}"
    )


def test_every_operation_answers_as_documented(app, tokens, community, street):
    failures = run_schemathesis(app, fuzz_config(community=community, street=street, tokens=tokens))
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)
