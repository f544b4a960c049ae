"""Use-cases for streets, communities and resident groups, and applying the tenant files."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import marshmallow as ma
from flask_babel import gettext as _
from sqlalchemy import select

from yishi.core import audit, tenancy
from yishi.core.db import db
from yishi.core.errors import ConflictError, NotFoundError, ValidationFailed, flatten_validation_messages
from yishi.modules.accounts.permissions import SYSTEM, Actor, require
from yishi.modules.communities.models import Community, CommunityStatus, ResidentGroup, Street
from yishi.modules.communities.schemas import TenantFileSchema


class TenantFileError(ValueError):
    """A file in tenants/ is not valid; the message names the file and the fields."""


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def note(self, kind: str, label: str) -> None:
        getattr(self, kind).append(label)


# --- reading ------------------------------------------------------------------------------------------


def get_street(slug: str) -> Street | None:
    return db.session.execute(select(Street).where(Street.slug == slug)).scalar_one_or_none()


def get_community(slug: str) -> Community | None:
    return db.session.execute(select(Community).where(Community.slug == slug)).scalar_one_or_none()


def list_streets() -> list[Street]:
    return list(db.session.execute(select(Street).order_by(Street.slug)).scalars())


def communities_statement(street: Street | None = None, *, active_only: bool = False):
    statement = select(Community).order_by(Community.slug)
    if street is not None:
        statement = statement.where(Community.street_id == street.id)
    if active_only:
        statement = statement.where(Community.status == CommunityStatus.ACTIVE)
    return statement


def list_communities(*, street: Street | None = None, active_only: bool = False) -> list[Community]:
    return list(db.session.execute(communities_statement(street, active_only=active_only)).scalars())


def resident_groups_statement():
    """Resident groups of the community in scope, in their display order."""
    return select(ResidentGroup).order_by(ResidentGroup.position, ResidentGroup.code)


def list_resident_groups() -> list[ResidentGroup]:
    return list(db.session.execute(resident_groups_statement()).scalars())


def get_resident_group(group_id: int) -> ResidentGroup:
    group = tenancy.get_owned(ResidentGroup, group_id)
    if group is None:
        raise NotFoundError()
    return group


# --- changing ---------------------------------------------------------------------------------------


def create_resident_group(community: Community, data: dict, *, actor: Actor) -> ResidentGroup:
    """Add a resident group to the community in scope."""
    require(actor, "community:write", community=community)
    if tenancy.code_taken(ResidentGroup, data["code"]):
        raise ConflictError(
            _("A resident group with this code already exists."),
            errors={"code": [_("A resident group with this code already exists.")]},
        )
    group = ResidentGroup(community_id=community.id, **data)
    db.session.add(group)
    db.session.flush()
    audit.record("resident_group.created", actor=actor, obj=group, details={"code": group.code})
    return group


def update_resident_group(community: Community, group: ResidentGroup, data: dict, *, actor: Actor) -> ResidentGroup:
    require(actor, "community:write", community=community)
    if "code" in data and tenancy.code_taken(ResidentGroup, data["code"], except_id=group.id):
        raise ConflictError(
            _("A resident group with this code already exists."),
            errors={"code": [_("A resident group with this code already exists.")]},
        )
    changed = {key: value for key, value in data.items() if getattr(group, key) != value}
    for key, value in changed.items():
        setattr(group, key, value)
    db.session.flush()
    if changed:
        audit.record("resident_group.updated", actor=actor, obj=group, details={"fields": sorted(changed)})
    return group


def set_community_status(community: Community, status: CommunityStatus, *, actor: Actor = SYSTEM) -> None:
    if community.status == status:
        return
    before = community.status
    community.status = status
    db.session.flush()
    with tenancy.community_scope(community.id):
        audit.record(
            "community.status_changed", actor=actor, obj=community, details={"from": before.value, "to": status.value}
        )


# --- tenant files ------------------------------------------------------------------------------------


def read_tenant_file(path: Path) -> dict:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise TenantFileError(f"{path}: {error}") from error
    try:
        document = TenantFileSchema().load(raw)
        if document.get("categories"):
            from yishi.modules.categories.schemas import CategorySchema

            document["categories"] = CategorySchema(many=True, exclude=("active", "position")).load(
                document["categories"]
            )
        return document
    except ma.ValidationError as error:
        fields = flatten_validation_messages(error.messages)
        detail = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in fields.items())
        raise TenantFileError(f"{path}: {detail}") from error


def tenant_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.glob("*.toml") if p.is_file())  # templates/ and calendars/ are not tenants
    raise TenantFileError(f"{path}: no such file or folder")


def _assign(obj, values: dict) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def apply_tenants(path: Path) -> ApplyReport:
    """Create or update streets and communities from TOML files. Idempotent; all or nothing:
    every file is validated before anything is written, and the caller commits once."""
    documents = [(p, read_tenant_file(p)) for p in tenant_files(path)]
    # Streets first, so a community can name a street defined in the same folder.
    documents.sort(key=lambda item: 0 if "street" in item[1] else 1)
    report = ApplyReport()
    for file_path, document in documents:
        if "street" in document:
            _apply_street(document["street"], report)
        else:
            _apply_community(file_path, document, report)
    db.session.flush()
    return report


def _apply_street(values: dict, report: ApplyReport) -> None:
    street = get_street(values["slug"])
    label = f"street {values['slug']}"
    if street is None:
        db.session.add(Street(**values))
        db.session.flush()
        report.note("created", label)
    else:
        report.note("updated" if _assign(street, values) else "unchanged", label)


def _apply_community(file_path: Path, document: dict, report: ApplyReport) -> None:
    values = dict(document["community"])
    street = get_street(values.pop("street"))
    if street is None:
        raise TenantFileError(f"{file_path}: street {document['community']['street']!r} is not defined")
    status = values.pop("status", None)
    label = f"community {values['slug']}"
    community = get_community(values["slug"])
    changed = False
    if community is None:
        community = Community(street_id=street.id, status=status or CommunityStatus.PENDING, **values)
        db.session.add(community)
        db.session.flush()
        kind = "created"
    else:
        changed = _assign(community, {**values, "street_id": street.id})
        if status is not None and community.status != status:
            community.status = status
            changed = True
        kind = "updated" if changed else "unchanged"
    with tenancy.community_scope(community.id):
        existing = {g.code: g for g in db.session.execute(select(ResidentGroup)).scalars()}
        for position, group_values in enumerate(document["resident_groups"]):
            group_values = {**group_values, "position": group_values.get("position") or position}
            group = existing.get(group_values["code"])
            if group is None:
                db.session.add(ResidentGroup(community_id=community.id, **group_values))
                changed = True
            elif _assign(group, group_values):
                changed = True
        db.session.flush()
    changed = _apply_setup(file_path, community, document) or changed
    if kind == "unchanged" and changed:
        kind = "updated"
    report.note(kind, label)


def _apply_setup(file_path: Path, community: Community, document: dict) -> bool:
    """Template, categories, points and criteria of a community file. Returns whether anything was added."""
    from yishi.modules.categories import services as categories
    from yishi.modules.points import services as points
    from yishi.modules.selection import services as selection

    changed = False
    if document.get("template"):
        try:
            changed = bool(categories.apply_template(community, document["template"])) or changed
        except ValidationFailed as error:
            raise TenantFileError(f"{file_path}: template: {error.errors}") from error
    if document.get("categories"):
        categories.apply_file_categories(community, document["categories"])
    if document.get("points"):
        try:
            points.apply_file_points(community, document["points"])
        except (ValueError, ValidationFailed) as error:
            raise TenantFileError(f"{file_path}: points: {error}") from error
    with tenancy.community_scope(community.id):
        if document.get("criteria"):
            selection.apply_criteria(community, document["criteria"])
        else:
            selection.ensure_default_criteria(community)
    return changed


def tenants_overview() -> list[dict]:
    """Every street and community, for ``yishi tenants list``."""
    rows = []
    for street in list_streets():
        rows.append(
            {
                "type": "street",
                "slug": street.slug,
                "name_zh": street.name_zh,
                "name_en": street.name_en,
                "street": None,
                "status": None,
            }
        )
        for community in list_communities(street=street):
            rows.append(
                {
                    "type": "community",
                    "slug": community.slug,
                    "name_zh": community.name_zh,
                    "name_en": community.name_en,
                    "street": street.slug,
                    "status": community.status.value,
                }
            )
    return rows


def validation_error_for(error: ma.ValidationError) -> ValidationFailed:
    return ValidationFailed(errors=flatten_validation_messages(error.messages))
