"""Small helpers shared by the modules' web forms."""

from __future__ import annotations

from flask import flash

from yishi.core.errors import DomainError


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
