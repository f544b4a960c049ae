"""Small helpers shared by the modules' web forms."""

from __future__ import annotations

from flask import flash

from yishi.core.errors import DomainError


def show_domain_error(form, error: DomainError) -> None:
    """Put a service's field errors on the form's fields; anything else becomes a flash message."""
    unplaced = []
    for field, messages in (error.errors or {}).items():
        target = getattr(form, field, None) if form is not None else None
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors) + list(messages)
        else:
            unplaced.extend(messages)
    if unplaced or not error.errors:
        flash(" ".join(unplaced) or error.detail or str(error.title), "danger")
