"""Small helpers shared by the modules' web forms."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash

from yishi.core.db import db
from yishi.core.errors import FORM_ERRORS, DomainError


def show_domain_error(form, error: DomainError, rename: dict[str, str] | None = None) -> None:
    """Put a service's field errors on the form's fields (``rename`` maps a service's field name to
    the form's); anything else becomes a flash message."""
    unplaced = []
    for key, messages in (error.errors or {}).items():
        field = (rename or {}).get(key, key)
        target = form._fields.get(field) if form is not None and field not in ("csrf_token", "submit") else None
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors) + list(messages)
        else:
            unplaced.extend(messages)
    if unplaced or not error.errors:
        flash(" ".join(unplaced) or error.detail or str(error.title), "danger")


def save_form(
    form, action: Callable[[], object], *, success: str | None = None, rename: dict[str, str] | None = None
) -> tuple[bool, object]:
    """A form's use-case: run ``action``, commit and flash ``success``; or, when the service refuses,
    roll back and put why on the form's fields (or flash it). Returns (done, what the action returned).
    Not-found and not-allowed propagate to their pages."""
    try:
        result = action()
        db.session.commit()
    except FORM_ERRORS as error:
        db.session.rollback()
        show_domain_error(form, error, rename)
        return False, None
    if success:
        flash(success, "success")
    return True, result


def perform(action: Callable[[], object], *, success: str, category: str = "success") -> bool:
    """A button's use-case: commit and flash ``success``; or, when the service refuses, roll back and
    flash why. Not-found and not-allowed propagate to their pages."""
    done, _result = save_form(None, action)
    if done:
        flash(success, category)
    return done
