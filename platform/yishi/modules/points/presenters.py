"""How a point is shown (API and pages): with its groups, moderators and links, in few queries."""

from __future__ import annotations

from flask import url_for

from yishi.modules.points import services
from yishi.modules.points.models import Point


def moderators_by_point(point_ids: list[int]) -> dict[int, list]:
    from yishi.modules.selection.services import active_moderators

    result: dict[int, list] = {point_id: [] for point_id in point_ids}
    for appointment, user in active_moderators():
        if appointment.point_id in result:
            result[appointment.point_id].append(user)
    return result


def describe(points: list[Point], *, external: bool = False) -> list[dict]:
    ids = [p.id for p in points]
    groups = services.group_ids_by_point(ids)
    moderators = moderators_by_point(ids)
    rows = []
    for point in points:
        links = {
            "page_url": url_for("points.show", point_code=point.code, _external=external),
            "poster_url": url_for("points.poster", point_code=point.code, _external=external),
            "qr_svg_url": url_for("points.qr_svg", point_code=point.code, _external=external),
            "qr_png_url": url_for("points.qr_png", point_code=point.code, _external=external),
        }
        rows.append(
            {
                "id": point.id,
                "code": point.code,
                "name_zh": point.name_zh,
                "name_en": point.name_en,
                "address": point.address,
                "latitude": point.latitude,
                "longitude": point.longitude,
                "opening_hours": point.opening_hours,
                "active": point.active,
                "position": point.position,
                "resident_group_ids": sorted(groups.get(point.id, [])),
                "moderators": [user.name for user in moderators.get(point.id, [])],
                **links,
            }
        )
    return rows
