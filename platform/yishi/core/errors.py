"""Errors: domain errors raised by services, answered as problem+json on the API and as pages on the web.

Services raise :class:`DomainError` subclasses and never build responses. One handler (installed by
:mod:`yishi.core.api`) turns every HTTP error into RFC 9457 problem+json under ``/api/`` and into a
friendly, translated page elsewhere.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from flask import Response, json, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger(__name__)


class DomainError(Exception):
    """An expected failure of a use-case, with the HTTP status it maps to."""

    status = 400
    code = "bad-request"
    title = _l("The request cannot be carried out")

    def __init__(self, detail: str | None = None, *, errors: Mapping[str, list[str]] | None = None):
        super().__init__(detail or str(self.title))
        self.detail = detail
        self.errors = dict(errors) if errors else None


class NotFoundError(DomainError):
    status = 404
    code = "not-found"
    title = _l("Not found")


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"
    title = _l("You are not allowed to do this")


class ConflictError(DomainError):
    status = 409
    code = "conflict"
    title = _l("Conflict with the current state")


class ValidationFailed(DomainError):
    status = 422
    code = "validation-error"
    title = _l("The data sent is not valid")


# What a web form shows its user next to the fields. Not found and not allowed are not form errors:
# they propagate to the 404/403 pages, so a stranger to a community learns nothing from a form.
FORM_ERRORS = (ValidationFailed, ConflictError)


def _status_titles() -> dict[int, str]:
    return {
        400: _("Bad request"),
        401: _("Authentication required"),
        403: _("You are not allowed to do this"),
        404: _("Not found"),
        405: _("Method not allowed"),
        409: _("Conflict with the current state"),
        413: _("The request is too large"),
        415: _("Unsupported media type"),
        422: _("The data sent is not valid"),
        429: _("Too many requests"),
        500: _("Internal server error"),
        503: _("Service unavailable"),
    }


def status_title(status: int) -> str:
    return _status_titles().get(status, _("Error"))


def problem(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type_: str = "about:blank",
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem document."""
    body: dict = {"type": type_, "title": title or status_title(status), "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = {key: [str(m) for m in messages] for key, messages in errors.items()}
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def domain_problem(error: DomainError) -> Response:
    return problem(
        error.status,
        title=str(error.title),
        detail=error.detail,
        type_=f"urn:yishi:problem:{error.code}",
        errors=error.errors,
    )


# --- validation messages in the reader's language ------------------------------------------------
# marshmallow and webargs speak English; their messages are mapped once here, so every schema's
# field errors come out in zh_CN or en without each schema repeating them.
_FIXED_MESSAGES = {
    "Missing data for required field.": _l("This field is required."),
    "Field may not be null.": _l("This field may not be empty."),
    "Unknown field.": _l("Unknown field."),
    "Not a valid string.": _l("Not a valid text."),
    "Not a valid integer.": _l("Not a valid whole number."),
    "Not a valid number.": _l("Not a valid number."),
    "Not a valid boolean.": _l("Not a valid yes/no value."),
    "Not a valid email address.": _l("Not a valid email address."),
    "Not a valid datetime.": _l("Not a valid date and time."),
    "Not a valid date.": _l("Not a valid date."),
    "Not a valid list.": _l("Not a valid list."),
    "Invalid input type.": _l("Invalid input type."),
    "Invalid value.": _l("Invalid value."),
    "String does not match expected pattern.": _l("The format is not valid."),
}
_PATTERN_MESSAGES = [
    (
        re.compile(r"^Length must be between (?P<min>\d+) and (?P<max>\d+)\.$"),
        _l("Length must be between %(min)s and %(max)s."),
    ),
    (re.compile(r"^Shorter than minimum length (?P<min>\d+)\.$"), _l("Shorter than the minimum length %(min)s.")),
    (re.compile(r"^Longer than maximum length (?P<max>\d+)\.$"), _l("Longer than the maximum length %(max)s.")),
    (
        re.compile(r"^Must be greater than or equal to (?P<min>[-\d.]+) and less than or equal to (?P<max>[-\d.]+)\.$"),
        _l("Must be between %(min)s and %(max)s."),
    ),
    (re.compile(r"^Must be greater than or equal to (?P<min>[-\d.]+)\.$"), _l("Must be at least %(min)s.")),
    (re.compile(r"^Must be less than or equal to (?P<max>[-\d.]+)\.$"), _l("Must be at most %(max)s.")),
    (re.compile(r"^Must be one of: (?P<choices>.+)\.$"), _l("Must be one of: %(choices)s.")),
]


def translate_message(message: str) -> str:
    message = str(message)
    if message in _FIXED_MESSAGES:
        return str(_FIXED_MESSAGES[message])
    for pattern, template in _PATTERN_MESSAGES:
        match = pattern.match(message)
        if match:
            return str(template) % match.groupdict()
    return message


def flatten_validation_messages(messages: Mapping | list, prefix: str = "") -> dict[str, list[str]]:
    """webargs' ``{"json": {"field": [...]}}`` (possibly nested) → ``{"field": [...]}`` translated."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, list):
        flat[prefix or "_schema"] = [translate_message(m) for m in messages if isinstance(m, str)]
        return flat
    for key, value in messages.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten_validation_messages(value, name))
        else:
            flat.setdefault(name, []).extend(translate_message(m) for m in value)
    return flat


def wants_problem_json() -> bool:
    return request.path.startswith("/api/")


def render_error_page(status: int, detail: str | None = None) -> tuple[str, int]:
    return (
        render_template("errors/error.html", status=status, title=status_title(status), detail=detail),
        status,
    )


def abandon_transaction() -> None:
    """Forget whatever the request's session holds, whatever state it is in.

    A plain ``rollback()`` is not enough on the failure paths: when something fails after the
    database committed (an ``after_commit`` listener), the session stays in its "committed" state
    and refuses both SQL and ``rollback()``. Closing it still works and returns its connection;
    the next use of ``db.session`` begins afresh."""
    from yishi.core.db import db

    try:
        db.session.rollback()
        return
    except Exception:  # noqa: BLE001 - any state at all: fall through to closing
        log.warning("the session could not roll back; closing it", exc_info=True)
    try:
        db.session.remove()
    except Exception:  # noqa: BLE001
        log.exception("the session could not be closed; dropping it")
        db.session.registry.clear()


def _plain_error_response(status: int) -> Response:
    """The answer when even the error handler failed (the database gone, a template or the
    translations broken): built from constants, so it cannot fail in turn."""
    title = HTTP_STATUS_CODES.get(status, "Error")
    if wants_problem_json():
        body = json.dumps({"type": "about:blank", "title": title, "status": status})
        return Response(body, status=status, mimetype=PROBLEM_JSON)
    page = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{status} {title}</title></head><body>"
        f"<h1>{status} {title}</h1><p>出错了，请稍后再试。Something went wrong; please try again.</p>"
        '<p><a href="/">首页 Home</a></p></body></html>'
    )
    return Response(page, status=status, mimetype="text/html")


def http_error_response(error: HTTPException) -> Response:
    """Every HTTP error's answer: problem+json on the API, the error page elsewhere.

    It never fails: on a server error the session is abandoned first (its transaction may be
    broken, committed or on a dropped connection), and if building the usual answer fails anyway
    the client still gets a plain one of the right kind."""
    status = error.code or 500
    if status >= 500:
        abandon_transaction()  # the failed transaction must not break the error page's own queries
    try:
        return _error_response(error, status)
    except Exception:  # noqa: BLE001 - the error handler's own failure must not become a bare 500
        log.exception("building the %s answer failed; answering a plain one", status)
        if status >= 500:
            abandon_transaction()
        return _plain_error_response(status)


def _error_response(error: HTTPException, status: int) -> Response:
    # Keep what the exception says about itself (Allow on 405, WWW-Authenticate on 401, Retry-After on 429).
    headers = {key: value for key, value in error.get_headers() if key.lower() != "content-type"}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    if wants_problem_json():
        data = getattr(error, "data", None) or {}
        if status == 422 and "messages" in data:
            # webargs puts messages under their location ("json", "query"); the contract wants field → messages
            messages = data["messages"]
            merged: dict = {}
            for location_messages in messages.values():
                merged.update(
                    location_messages if isinstance(location_messages, Mapping) else {"_schema": location_messages}
                )
            return problem(422, errors=flatten_validation_messages(merged), headers=headers)
        detail = error.description if status < 500 and error.description != type(error).description else None
        response = problem(status, detail=detail, headers=headers)
        return response
    body, code = render_error_page(status, error.description if status < 500 and status != 404 else None)
    response = Response(body, status=code, mimetype="text/html")
    for key, value in headers.items():
        response.headers[key] = value
    return response
