"""Security defaults: CSRF on every form, rate limits, security headers, proxy awareness."""

from __future__ import annotations

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


def _refuse_nul_characters(_endpoint=None, _values=None) -> None:
    """NUL characters cannot be stored in PostgreSQL text and never belong in our input: refuse them at
    the door (path, query, JSON and form bodies) with a 400, before anything queries the database.
    Installed as the app's first URL value preprocessor, so it runs before the tenant is looked up."""
    suspicious = "\x00" in request.path or "%00" in request.query_string.decode("latin-1")
    if not suspicious and request.mimetype in ("application/json", "application/problem+json"):
        body = request.get_data(cache=True, as_text=True)
        suspicious = "\x00" in body or "\\u0000" in body.lower()
    elif not suspicious and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        suspicious = any("\x00" in value for value in request.form.values())
    if suspicious:
        from flask_babel import gettext as _

        raise BadRequest(_("The request contains a NUL character, which is not allowed."))


def init_app(app: Flask) -> None:
    hops = app.config.get("TRUST_PROXY_HOPS", 0)
    if hops:
        # Behind gunicorn's proxy: without this every client shares one rate-limit key.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.url_value_preprocessor(_refuse_nul_characters)
    csrf.init_app(app)
    limiter.init_app(app)
    app.after_request(_security_headers)
