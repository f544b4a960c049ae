"""The API conventions of CONTRACT.md, in one place: problem+json errors, pagination, Idempotency-Key.

Every module's REST views get them by using :data:`api`, :class:`PageArgsSchema`, :func:`page_schema`
and :func:`paginate`; idempotent POSTs need nothing at all (a request hook handles them). Views only
flush: one request hook commits each API request once (:func:`_commit_once`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from datetime import timedelta
from http import HTTPStatus
from urllib.parse import urlencode

import marshmallow as ma
from apispec import BasePlugin
from flask import Flask, Response, current_app, g, request
from flask_babel import gettext as _
from flask_smorest import Api
from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint, delete, event, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.exceptions import HTTPException

from yishi.core.db import AwareDateTime, TimestampMixin, db, utcnow
from yishi.core.errors import (
    PROBLEM_JSON,
    DomainError,
    abandon_transaction,
    domain_problem,
    http_error_response,
    problem,
)

log = logging.getLogger(__name__)


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as :func:`yishi.core.errors.problem` writes them (documentation only).
    Extension members are allowed, as the RFC allows them."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(required=True, metadata={"example": "about:blank"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True, validate=ma.validate.Range(min=400, max=599))
    detail = ma.fields.String()
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Field → messages, on validation failures (422)."},
    )


# The errors any operation can answer, whatever its view does: a refused body or path (400), a missing or
# unknown token (401), a scope or role that does not allow it (403), another tenant's or an unknown
# resource (404), a rate limit (429). POSTs add an Idempotency-Key in progress (409) or reused with
# another body (422).
_COMMON_ERRORS = (400, 401, 403, 404, 429)
_POST_ERRORS = (409, 422)


class YishiApi(Api):
    """flask-smorest's Api with our error answers (problem+json, and ``Allow`` on 405), and an OpenAPI
    document that says so: every error response of every operation is declared as ``ProblemSchema`` under
    ``application/problem+json``, in this one place rather than on each view."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException):
        return http_error_response(error)

    def _register_responses(self):
        """flask-smorest's named error responses (``DEFAULT_ERROR``, ``UNPROCESSABLE_ENTITY``…), with the
        content type the server really sends; it would document them as ``application/json``."""
        content_type = self.DEFAULT_RESPONSE_CONTENT_TYPE
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = content_type

    def _init_spec(self, **kwargs):
        super()._init_spec(**kwargs)
        plugin = _CommonErrorResponses()
        plugin.init_spec(self.spec)
        self.spec.plugins.append(plugin)


class _CommonErrorResponses(BasePlugin):
    """Adds the errors of ``_COMMON_ERRORS`` (and ``_POST_ERRORS`` on POST) to every operation, as
    references to flask-smorest's named responses (``BAD_REQUEST``, ``UNAUTHORIZED``…). And a JSON
    body none of whose fields is required is documented as optional: the server reads a missing body as
    ``{}`` (a PATCH that changes nothing, a POST with every default), where flask-smorest would
    document every body as required."""

    def init_spec(self, spec):
        self.spec = spec

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            for status in _COMMON_ERRORS + (_POST_ERRORS if method == "post" else ()):
                if status not in responses and str(status) not in responses:
                    responses[str(status)] = HTTPStatus(status).name
            body = operation.get("requestBody") or {}
            json_body = body.get("content", {}).get("application/json")
            if json_body is not None and not self._schema(json_body.get("schema")).get("required"):
                body["required"] = False

    def _schema(self, schema) -> dict:
        """The component behind a ``$ref`` (or a component's name), else the schema itself."""
        if isinstance(schema, dict) and "$ref" in schema:
            schema = schema["$ref"].rsplit("/", 1)[-1]
        if isinstance(schema, str):
            return self.spec.components.schemas.get(schema, {})
        return schema if isinstance(schema, dict) else {"required": True}  # unknown: leave it required


api = YishiApi()


# --- pagination --------------------------------------------------------------------------------


class PageArgsSchema(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))


@functools.cache
def page_schema(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """``{"items": [...], "page", "per_page", "total"}`` for one item schema."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return type(
        name,
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "page": ma.fields.Integer(),
            "per_page": ma.fields.Integer(),
            "total": ma.fields.Integer(),
        },
    )


def paginate(statement, args: dict) -> tuple[dict, dict[str, str]]:
    """Run one page of ``statement`` plus a count: two queries whatever the page size.

    Returns the body and the ``Link`` header (RFC 8288: first, prev, next, last).
    """
    page, per_page = args["page"], args["per_page"]
    total = db.session.execute(
        statement.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    ).scalar_one()
    items = db.session.execute(statement.limit(per_page).offset((page - 1) * per_page)).scalars().all()
    last = max(1, -(-total // per_page))
    links = []
    extra = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}

    def url(p: int) -> str:
        return f"{request.base_url}?{urlencode({**extra, 'page': p, 'per_page': per_page})}"

    links.append(f'<{url(1)}>; rel="first"')
    if page > 1:
        links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
    links.append(f'<{url(last)}>; rel="last"')
    body = {"items": items, "page": page, "per_page": per_page, "total": total}
    return body, {"Link": ", ".join(links)}


def paginate_page(statement, per_page: int = 20) -> dict:
    """One page of a list on a web page: ``?page=`` (a bad value reads as the first page), the same
    two queries as :func:`paginate`, plus ``pages`` for the pager."""
    number = request.args.get("page", "1")
    page = int(number) if number.isdigit() and 0 < int(number) <= 1_000_000 else 1
    body, _links = paginate(statement, {"page": page, "per_page": per_page})
    body["pages"] = max(1, -(-body["total"] // per_page))
    return body


# --- Idempotency-Key ------------------------------------------------------------------------------


class IdempotencyRecord(TimestampMixin, db.Model):
    """The first answer to a POST with an Idempotency-Key, per API token, kept 24 hours."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("token_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[int | None] = mapped_column(Integer)  # set in the transaction of the work: never committed None
    content_type: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at = mapped_column(AwareDateTime(), nullable=False, index=True)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b" ")
    digest.update(request.path.encode())
    digest.update(b"\n")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _stored_answer(token_id: int, key: str) -> IdempotencyRecord | None:
    return db.session.execute(
        select(IdempotencyRecord).where(IdempotencyRecord.token_id == token_id, IdempotencyRecord.key == key)
    ).scalar_one_or_none()


def _in_progress() -> Response:
    return problem(
        409,
        type_="urn:yishi:problem:idempotency-in-progress",
        detail=_("A request with this Idempotency-Key is still being processed."),
    )


def _replay(record: IdempotencyRecord | None, fingerprint: str) -> Response:
    if record is None:
        return _in_progress()
    if record.fingerprint != fingerprint:
        return problem(
            422,
            type_="urn:yishi:problem:idempotency-key-reused",
            detail=_("This Idempotency-Key was already used with a different request."),
        )
    if record.status is None:  # a claim left by an earlier version, which committed claims apart
        return _in_progress()
    response = Response(record.body, status=record.status, content_type=record.content_type)
    if record.location:
        response.headers["Location"] = record.location
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _idempotency_before_request():
    """Replay the stored answer to a repeated key, or claim the key inside the request's transaction.

    The claim is only flushed: it is committed with the work and its answer, or not at all (see
    :func:`_commit_once`). A concurrent request with the same key cannot claim it meanwhile: on
    PostgreSQL its insert waits on the unique index until this transaction ends, then fails if it
    committed, and that request replays the answer committed with the work."""
    key = request.headers.get("Idempotency-Key")
    token_id = getattr(g, "api_token_id", None)
    if request.method != "POST" or not key or token_id is None:
        return None
    if len(key) > 255:
        return problem(400, detail=_("The Idempotency-Key header is longer than 255 characters."))
    fingerprint = _fingerprint()
    now = utcnow()
    record = _stored_answer(token_id, key)
    if record is not None and record.expires_at <= now:
        db.session.delete(record)
        db.session.flush()  # gone before the new claim: a flush inserts before it deletes
        record = None
    if record is not None:
        return _replay(record, fingerprint)
    hours = current_app.config["IDEMPOTENCY_TTL_HOURS"]
    claim = IdempotencyRecord(
        token_id=token_id, key=key, fingerprint=fingerprint, expires_at=now + timedelta(hours=hours)
    )
    try:
        with db.session.begin_nested():
            db.session.add(claim)
    except IntegrityError:
        # The duplicate that held the key has ended meanwhile; read what it committed.
        return _replay(_stored_answer(token_id, key), fingerprint)
    g.idempotency_claim = claim
    return None


def _keep_answer(record: IdempotencyRecord, response: Response) -> None:
    record.status = response.status_code
    record.content_type = response.content_type
    record.location = response.headers.get("Location")
    record.body = response.get_data()


def _keep_refusal(claim: IdempotencyRecord, response: Response) -> None:
    """Store a refusal (4xx) for replay, after the work was rolled back: the request's outcome is
    the refusal alone. Failing to store it changes nothing the client could see (the key stays free,
    and a retry is refused again), so it never turns the refusal into a 500."""
    values = {
        "token_id": claim.token_id,
        "key": claim.key,
        "fingerprint": claim.fingerprint,
        "expires_at": claim.expires_at,
    }
    abandon_transaction()
    try:
        db.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.token_id == values["token_id"],
                IdempotencyRecord.key == values["key"],
                IdempotencyRecord.expires_at <= utcnow(),
            )
        )
        record = IdempotencyRecord(**values)
        _keep_answer(record, response)
        db.session.add(record)
        db.session.commit()
    except SQLAlchemyError:
        log.warning("the refusal of Idempotency-Key %r could not be stored", values["key"], exc_info=True)
        abandon_transaction()


_DURABLE = "yishi_commit_durable"


@event.listens_for(Session, "after_commit", insert=True)
def _note_durable_commit(session: Session) -> None:
    """Mark the database commit as done before any other ``after_commit`` listener runs, so that a
    listener failing afterwards is not mistaken for a failed commit (see :func:`_commit_once`)."""
    if not session.in_nested_transaction():
        session.info[_DURABLE] = True


def _commit_once(response: Response) -> Response:
    """One outcome per API request (Indico's pattern, STYLE.md): views and services only flush;
    this hook commits the work and the Idempotency-Key's answer in one transaction for a successful
    answer, and rolls everything back for an error.

    If the commit fails, the exception propagates: Flask answers 500 (problem+json) through the
    error handler, runs this hook again for that answer, which rolls back, so nothing is left, not
    even the key, and the client's retry does the work once. If the database did commit and only
    something after it failed (an ``after_commit`` listener), the work and its answer are durable:
    the client gets that answer, not a 500 that would contradict what was saved."""
    if not request.path.startswith("/api/"):
        return response  # web pages commit their forms themselves (core/forms.py)
    claim = g.pop("idempotency_claim", None)
    if response.status_code >= 400:
        abandon_transaction()
        if claim is not None and response.status_code < 500 and response.status_code != 429:
            _keep_refusal(claim, response)
        return response
    if claim is not None:
        _keep_answer(claim, response)
    session = db.session()
    session.info.pop(_DURABLE, None)
    try:
        session.commit()
    except Exception:
        if not session.info.pop(_DURABLE, False):
            raise
        log.exception("committed, but what runs after the commit failed")
        abandon_transaction()
    return response


def purge_expired_idempotency_records() -> int:
    result = db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow()))
    return result.rowcount or 0


def init_app(app: Flask) -> None:
    api.init_app(app)

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        if request.path.startswith("/api/"):
            return domain_problem(error)
        from yishi.core.errors import render_error_page

        return render_error_page(error.status, error.detail)

    app.before_request(_idempotency_before_request)
    app.after_request(_commit_once)
    init_docs(app)


def init_docs(app: Flask) -> None:
    """Human API docs at /api/v1/docs: Swagger UI from the swagger-ui-bundle package, no CDN."""
    from flask import Blueprint, render_template, send_from_directory
    from swagger_ui_bundle import swagger_ui_path

    docs = Blueprint("api_docs", __name__)

    @docs.route("/api/v1/docs")
    def index():
        return render_template("api/docs.html")

    @docs.route("/api/v1/docs/assets/<path:filename>")
    def assets(filename: str):
        return send_from_directory(swagger_ui_path, filename, max_age=86400)

    app.register_blueprint(docs)
