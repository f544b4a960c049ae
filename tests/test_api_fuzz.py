"""Every request a client can send gets its documented answer: schemathesis, with all its checks, over
the whole OpenAPI document, in process.

The run is the one ``st run --checks all`` makes against a server (its engine: examples, coverage,
fuzzing and stateful phases), but driven from Python against the WSGI app, so it needs no server, runs on
the suite's database (SQLite, or PostgreSQL with ``YISHI_TEST_DATABASE_URL``) and inside the test's
rolled-back transaction. It does not use schemathesis' pytest plugin (``from_fixture``), which reaches
into pytest's private ``Function._nodeid`` and broke with pytest 9.2.

The seed is fixed and generation deterministic, so CI sees the same requests every run. The suite runs
``YISHI_FUZZ_EXAMPLES`` examples per operation (default 5); the full run of the issue is::

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
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
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
                        key = (event.recorder.label, check.name, failure.title)
                        failures.setdefault(key, _describe(event, case_id, check))
        elif isinstance(event, events.NonFatalError):
            failures.setdefault(("error", event.label), f"error {event.label}: {event.info.format()[:500]}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return sorted(failures.values())


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
