"""Security defaults: CSRF on every form, rate limits, security headers, proxy awareness."""

from __future__ import annotations

import json
import re

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
    return response


# JSON deeper than this is no document of ours (the deepest we read is three levels) and Python's json
# module would hit its recursion limit on 100,000 levels; a form or query string with more values than
# this is no form of ours either, and would become an SQL ``IN`` past PostgreSQL's 65,535 parameters.
MAX_JSON_DEPTH = 32
MAX_FORM_VALUES = 1000

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def _json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text``, brackets inside strings not counted.
    A scan, not a parse: it must not itself recurse on the input it guards against."""
    depth = deepest = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _has_lone_surrogate(value) -> bool:
    """Whether a parsed JSON value holds a string (or key) that is not valid Unicode: a lone UTF-16
    surrogate such as ``"\\ud800"``, which JSON allows but UTF-8, PostgreSQL and every page refuse."""
    if isinstance(value, str):
        return not value.isascii() and _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(key) or _has_lone_surrogate(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_bad_input(_endpoint=None, _values=None) -> None:
    """Input that can never be valid is refused at the door with a 400, before anything queries the
    database: NUL characters (PostgreSQL text cannot hold them), lone surrogates (not Unicode: encoding
    them to UTF-8 fails), JSON nested deeper than :data:`MAX_JSON_DEPTH` (the parser would exhaust the
    stack) and forms or query strings of more than :data:`MAX_FORM_VALUES` values. Installed as the
    app's first URL value preprocessor, so it runs before the tenant is looked up; on ``/api/`` the 400
    is problem+json, elsewhere the error page or the form's message."""
    from flask_babel import gettext as _

    # Messages are translated only when refusing: the first gettext of a request fixes its locale, and
    # the community (whose default language comes before Accept-Language) is not known yet.
    def not_unicode() -> str:
        return _("The request contains text that is not valid Unicode (a lone surrogate).")

    if "\x00" in request.path or "%00" in request.query_string.decode("latin-1"):
        raise BadRequest(_("The request contains a NUL character, which is not allowed."))
    values = sum(len(items) for _key, items in request.args.lists())
    if request.mimetype in ("application/json", "application/problem+json"):
        body = request.get_data(cache=True, as_text=True)
        if "\x00" in body or "\\u0000" in body.lower():
            raise BadRequest(_("The request contains a NUL character, which is not allowed."))
        if _json_depth(body) > MAX_JSON_DEPTH:
            raise BadRequest(_("The JSON document is nested more than %(depth)s levels deep.", depth=MAX_JSON_DEPTH))
        # Escaped (\ud800) or raw (bytes ED A0 80, which json.loads lets through): only a parse tells.
        if "\\u" in body.lower() or not body.isascii():
            try:
                document = json.loads(request.get_data(cache=True))
            except ValueError:
                document = None  # malformed JSON is the view's to refuse, as before
            if _has_lone_surrogate(document):
                raise BadRequest(not_unicode())
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields = [value for _key, items in request.form.lists() for value in items]
        if any("\x00" in value for value in fields):
            raise BadRequest(_("The request contains a NUL character, which is not allowed."))
        if any(_SURROGATE.search(value) for value in fields):
            raise BadRequest(not_unicode())
        values += len(fields)
    if values > MAX_FORM_VALUES:
        raise BadRequest(_("The request has more than %(count)s values.", count=MAX_FORM_VALUES))


def init_app(app: Flask) -> None:
    hops = app.config.get("TRUST_PROXY_HOPS", 0)
    if hops:
        # Behind gunicorn's proxy: without this every client shares one rate-limit key.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.url_value_preprocessor(_refuse_bad_input)
    csrf.init_app(app)
    limiter.init_app(app)
    app.after_request(_security_headers)
