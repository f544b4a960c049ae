"""Deliberation points: where they are, which resident groups they serve, their QR codes."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import qrcode
import qrcode.image.svg
from flask_babel import gettext as _
from sqlalchemy import delete, select

from yishi.core import audit, tenancy
from yishi.core.db import db
from yishi.core.errors import ConflictError, NotFoundError, ValidationFailed
from yishi.modules.accounts.permissions import SYSTEM, Actor, require
from yishi.modules.communities.models import ResidentGroup
from yishi.modules.points.models import Point, PointResidentGroup


def points_statement(*, active_only: bool = False):
    statement = select(Point).order_by(Point.position, Point.code)
    return statement.where(Point.active.is_(True)) if active_only else statement


def list_points(*, active_only: bool = False) -> list[Point]:
    return list(db.session.execute(points_statement(active_only=active_only)).scalars())


def get_point(point_id: int) -> Point:
    point = tenancy.get_owned(Point, point_id)
    if point is None:
        raise NotFoundError()
    return point


def get_point_by_code(code: str, *, active_only: bool = False) -> Point:
    statement = select(Point).where(Point.code == code)
    if active_only:
        statement = statement.where(Point.active.is_(True))
    point = db.session.execute(statement).scalar_one_or_none()
    if point is None:
        raise NotFoundError()
    return point


def group_ids_by_point(point_ids: list[int] | None = None) -> dict[int, list[int]]:
    """point id → ids of the resident groups it serves, in one query."""
    statement = select(PointResidentGroup.point_id, PointResidentGroup.resident_group_id)
    if point_ids is not None:
        statement = statement.where(PointResidentGroup.point_id.in_(point_ids))
    served: dict[int, list[int]] = {}
    for point_id, group_id in db.session.execute(statement):
        served.setdefault(point_id, []).append(group_id)
    return served


def groups_of(point: Point) -> list[ResidentGroup]:
    return list(
        db.session.execute(
            select(ResidentGroup)
            .join(PointResidentGroup, PointResidentGroup.resident_group_id == ResidentGroup.id)
            .where(PointResidentGroup.point_id == point.id)
            .order_by(ResidentGroup.position, ResidentGroup.code)
        ).scalars()
    )


@dataclass
class Coverage:
    """Which points serve each resident group; the groups no point serves."""

    rows: list[tuple[ResidentGroup, list[Point]]] = field(default_factory=list)

    @property
    def uncovered(self) -> list[ResidentGroup]:
        return [group for group, points in self.rows if not points]


def coverage() -> Coverage:
    """Coverage of the community in scope, counting active points only."""
    groups = list(
        db.session.execute(select(ResidentGroup).order_by(ResidentGroup.position, ResidentGroup.code)).scalars()
    )
    points = {p.id: p for p in list_points(active_only=True)}
    serving: dict[int, list[Point]] = {group.id: [] for group in groups}
    for point_id, group_ids in group_ids_by_point(list(points)).items():
        for group_id in group_ids:
            serving.setdefault(group_id, []).append(points[point_id])
    return Coverage([(group, serving.get(group.id, [])) for group in groups])


def _check_groups(group_ids: list[int]) -> list[int]:
    unique = sorted(set(group_ids))
    if not unique:
        return []
    found = set(db.session.execute(select(ResidentGroup.id).where(ResidentGroup.id.in_(unique))).scalars())
    unknown = [group_id for group_id in unique if group_id not in found]
    if unknown:
        # Another community's group ids are unknown here, exactly like ids that do not exist.
        raise ValidationFailed(
            errors={"resident_group_ids": [_("Unknown resident groups: %(ids)s", ids=", ".join(map(str, unknown)))]}
        )
    return unique


def _set_groups(point: Point, group_ids: list[int]) -> None:
    db.session.execute(
        delete(PointResidentGroup).where(PointResidentGroup.point_id == point.id),
        execution_options={"synchronize_session": False},
    )
    for group_id in group_ids:
        db.session.add(
            PointResidentGroup(community_id=point.community_id, point_id=point.id, resident_group_id=group_id)
        )
    db.session.flush()


def _taken() -> ConflictError:
    message = _("A deliberation point with this code already exists.")
    return ConflictError(message, errors={"code": [message]})


def create_point(community, data: dict, *, actor: Actor = SYSTEM) -> Point:
    """Add a point serving the given resident groups."""
    if actor is not SYSTEM:
        require(actor, "community:write", community=community)
    data = dict(data)
    group_ids = _check_groups(data.pop("resident_group_ids", []))
    if tenancy.code_taken(Point, data["code"]):
        raise _taken()
    point = Point(community_id=community.id, **data)
    db.session.add(point)
    db.session.flush()
    _set_groups(point, group_ids)
    audit.record("point.created", actor=actor, obj=point, details={"code": point.code, "groups": group_ids})
    return point


def update_point(community, point: Point, data: dict, *, actor: Actor = SYSTEM) -> Point:
    if actor is not SYSTEM:
        require(actor, "community:write", community=community)
    data = dict(data)
    group_ids = _check_groups(data.pop("resident_group_ids")) if "resident_group_ids" in data else None
    if "code" in data and tenancy.code_taken(Point, data["code"], except_id=point.id):
        raise _taken()
    changed = sorted(key for key, value in data.items() if getattr(point, key) != value)
    for key in changed:
        setattr(point, key, data[key])
    if group_ids is not None and group_ids != sorted(group_ids_by_point([point.id]).get(point.id, [])):
        _set_groups(point, group_ids)
        changed.append("resident_groups")
    db.session.flush()
    if changed:
        audit.record("point.updated", actor=actor, obj=point, details={"fields": changed})
    return point


def apply_file_points(community, items: list[dict]) -> None:
    """Points of a tenant file (groups given by code): created or updated by code."""
    with tenancy.community_scope(community.id):
        groups = {g.code: g.id for g in db.session.execute(select(ResidentGroup)).scalars()}
        for position, values in enumerate(items):
            values = dict(values)
            codes = values.pop("groups", [])
            unknown = [code for code in codes if code not in groups]
            if unknown:
                raise ValueError(f"point {values['code']}: unknown resident groups {unknown}")
            values["resident_group_ids"] = [groups[code] for code in codes]
            values.setdefault("position", position)
            existing = db.session.execute(select(Point).where(Point.code == values["code"])).scalar_one_or_none()
            if existing is None:
                create_point(community, values)
            else:
                update_point(community, existing, values)


# --- QR codes -------------------------------------------------------------------------------------


def _qr(url: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=2)
    code.add_data(url)
    code.make(fit=True)
    return code


def qr_svg(url: str) -> bytes:
    """An SVG QR code (paths only: crisp at any print size)."""
    image = _qr(url).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    _qr(url).make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()
