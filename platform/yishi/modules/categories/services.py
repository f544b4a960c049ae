"""Categories of matters: templates copied at onboarding, then the community's own to edit."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import marshmallow as ma
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from yishi.core import audit, tenancy
from yishi.core.db import db
from yishi.core.errors import ConflictError, NotFoundError, ValidationFailed, flatten_validation_messages
from yishi.modules.accounts.permissions import SYSTEM, Actor, require
from yishi.modules.categories.models import Category
from yishi.modules.categories.schemas import TemplateSchema

# Modules whose rows point at categories (matters) register a check here: "is this category used?"
CATEGORY_USAGE_CHECKS: list[Callable[[Category], bool]] = []


@dataclass(frozen=True)
class Template:
    name: str
    name_zh: str
    name_en: str
    categories: list[dict]

    def label(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh


def templates_folder() -> Path:
    return Path(current_app.config["TENANTS_PATH"]) / "templates"


def load_templates(folder: Path | None = None) -> dict[str, Template]:
    """Every tenants/templates/<name>.toml, validated."""
    folder = folder or templates_folder()
    templates = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            data = TemplateSchema().load(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, ma.ValidationError) as error:
            raise ValueError(f"{path}: {error}") from error
        templates[path.stem] = Template(path.stem, data["name_zh"], data["name_en"], data["categories"])
    return templates


def categories_statement(*, active_only: bool = False):
    statement = select(Category).order_by(Category.position, Category.code)
    return statement.where(Category.active.is_(True)) if active_only else statement


def list_categories(*, active_only: bool = False) -> list[Category]:
    return list(db.session.execute(categories_statement(active_only=active_only)).scalars())


def get_category(category_id: int) -> Category:
    category = tenancy.get_owned(Category, category_id)
    if category is None:
        raise NotFoundError()
    return category


def apply_template(community, name: str, *, actor: Actor = SYSTEM) -> list[Category]:
    """Copy a template's categories into the community. Categories it already has (by code) are
    left as the community edited them; returns the ones added."""
    if actor is not SYSTEM:
        require(actor, "community:write", community=community)
    templates = load_templates()
    if name not in templates:
        raise ValidationFailed(errors={"template": [_("Unknown category template “%(name)s”.", name=name)]})
    with tenancy.community_scope(community.id):
        existing = {c.code for c in db.session.execute(select(Category)).scalars()}
        added = []
        for position, values in enumerate(templates[name].categories):
            if values["code"] in existing:
                continue
            category = Category(community_id=community.id, template=name, position=position, **values)
            db.session.add(category)
            added.append(category)
        db.session.flush()
        if community.category_template is None:
            community.category_template = name
        audit.record(
            "categories.template_applied",
            actor=actor,
            obj=community,
            details={"template": name, "added": [c.code for c in added]},
        )
    return added


def _taken_error() -> ConflictError:
    message = _("A category with this code already exists.")
    return ConflictError(message, errors={"code": [message]})


def create_category(community, data: dict, *, actor: Actor) -> Category:
    require(actor, "community:write", community=community)
    if tenancy.code_taken(Category, data["code"]):
        raise _taken_error()
    category = Category(community_id=community.id, **data)
    db.session.add(category)
    db.session.flush()
    audit.record("category.created", actor=actor, obj=category, details={"code": category.code})
    return category


def update_category(community, category: Category, data: dict, *, actor: Actor) -> Category:
    """Rename, retarget, (de)activate. The code may change only while no matter uses the category."""
    require(actor, "community:write", community=community)
    if "code" in data and data["code"] != category.code:
        if tenancy.code_taken(Category, data["code"], except_id=category.id):
            raise _taken_error()
        if is_used(category):
            raise ValidationFailed(errors={"code": [_("The code of a category in use cannot change.")]})
    changed = sorted(key for key, value in data.items() if getattr(category, key) != value)
    for key in changed:
        setattr(category, key, data[key])
    db.session.flush()
    if changed:
        audit.record("category.updated", actor=actor, obj=category, details={"fields": changed})
    return category


def is_used(category: Category) -> bool:
    return any(check(category) for check in CATEGORY_USAGE_CHECKS)


def delete_category(community, category: Category, *, actor: Actor) -> None:
    """Delete an unused category; one that matters use can only be deactivated."""
    require(actor, "community:write", community=community)
    if is_used(category):
        raise ConflictError(_("Matters use this category: deactivate it instead of deleting it."))
    audit.record("category.deleted", actor=actor, obj=category, details={"code": category.code})
    db.session.delete(category)
    db.session.flush()


def apply_file_categories(community, items: list[dict]) -> None:
    """Categories listed in a tenant file: created when missing, updated from the file otherwise."""
    with tenancy.community_scope(community.id):
        existing = {c.code: c for c in db.session.execute(select(Category)).scalars()}
        for position, values in enumerate(items):
            category = existing.get(values["code"])
            if category is None:
                db.session.add(Category(community_id=community.id, position=position, **values))
            else:
                for key, value in values.items():
                    setattr(category, key, value)
        db.session.flush()


def validation_error(error: ma.ValidationError) -> ValidationFailed:
    return ValidationFailed(errors=flatten_validation_messages(error.messages))
