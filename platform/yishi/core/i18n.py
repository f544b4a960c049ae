"""Languages: zh_CN first, en complete. Locale = the user's choice, then the community's default,
then the browser's Accept-Language (on the API an explicit Accept-Language comes before the
community's default). Catalogues are compiled from translations/*.po on start."""

from __future__ import annotations

import logging
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import Babel
from flask_login import current_user

log = logging.getLogger(__name__)
babel = Babel()

SUPPORTED = ("zh_CN", "en")


def normalise_locale(value: str | None) -> str | None:
    if not value:
        return None
    value = value.replace("-", "_")
    if value in SUPPORTED:
        return value
    if value.lower().startswith("zh"):
        return "zh_CN"
    if value.lower().startswith("en"):
        return "en"
    return None


def select_locale() -> str:
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = normalise_locale(session.get("locale"))
    if chosen:
        return chosen
    if getattr(current_user, "is_authenticated", False):
        chosen = normalise_locale(current_user.locale)
        if chosen:
            return chosen
    best = normalise_locale(request.accept_languages.best_match(["zh_CN", "zh", "en"]))
    if best and request.path.startswith("/api/"):
        return best  # machines ask for a language explicitly; browsers always send one, so pages don't
    community = g.get("community")
    if community is not None and normalise_locale(community.default_locale):
        return normalise_locale(community.default_locale)
    return best or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    community = g.get("community") if has_request_context() else None
    return community.time_zone if community is not None else current_app.config["BABEL_DEFAULT_TIMEZONE"]


def compile_catalogues(translations: Path) -> list[Path]:
    """Compile each messages.po whose .mo is missing or older: no manual step after a checkout.

    Sources live in the familiar ``zh_CN/`` folder; the .mo goes to the folder named the way Babel
    names the locale (``zh_Hans_CN``), which is where Flask-Babel looks for it.
    """
    compiled = []
    for po_path in sorted(translations.glob("*/LC_MESSAGES/*.po")):
        canonical = str(Locale.parse(po_path.parent.parent.name))
        mo_path = translations / canonical / "LC_MESSAGES" / po_path.with_suffix(".mo").name
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        try:
            mo_path.parent.mkdir(parents=True, exist_ok=True)
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalog)
        except OSError:
            log.warning("cannot write %s; run `yishi translations compile` where it is writable", mo_path)
            continue
        compiled.append(mo_path)
    return compiled


def init_app(app: Flask) -> None:
    translations = Path(app.config["TRANSLATIONS_PATH"])
    compile_catalogues(translations)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(translations)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)

    @app.context_processor
    def _languages():
        from flask_babel import get_locale

        # Babel spells Chinese "zh_Hans_CN"; templates compare with our own codes ("zh_CN", "en").
        current = normalise_locale(str(get_locale())) or app.config["BABEL_DEFAULT_LOCALE"]
        return {"languages": app.config["LANGUAGES"], "current_locale": current}


def current_language() -> str:
    """The request's language as our own code: "zh_CN" or "en"."""
    from flask_babel import get_locale

    return normalise_locale(str(get_locale())) or "zh_CN"
