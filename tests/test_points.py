"""Deliberation points: groups served, coverage, QR codes, the public page and the A4 poster."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.conftest import bearer
from yishi.core import tenancy
from yishi.core.db import db
from yishi.core.errors import ConflictError, ValidationFailed
from yishi.modules.accounts.permissions import Actor
from yishi.modules.communities import services as communities
from yishi.modules.points import services


def _groups(community):
    with tenancy.community_scope(community.id):
        return [g.id for g in communities.list_resident_groups()]


@pytest.fixture
def point(community):
    groups = _groups(community)
    with tenancy.community_scope(community.id):
        point = services.create_point(
            community,
            {
                "code": "dongmen",
                "name_zh": "东门议事点",
                "name_en": "East Gate",
                "address": "东门主干道旁",
                "opening_hours": "每天 8:00–20:00",
                "resident_group_ids": groups[:2],
            },
        )
        db.session.commit()
    return point


def test_coverage_shows_groups_no_point_serves(community, point):
    with tenancy.community_scope(community.id):
        coverage = services.coverage()
        assert [g.code for g in coverage.uncovered] == ["g03"]
        served = {g.code: [p.code for p in points] for g, points in coverage.rows}
        assert served == {"g01": ["dongmen"], "g02": ["dongmen"], "g03": []}
        services.update_point(community, point, {"active": False})
        assert len(services.coverage().uncovered) == 3  # inactive points serve nobody


def test_point_rules(community, other_community, point, create_user):
    admin = Actor(user=create_user(community=community, role="admin"))
    foreign_group = _groups(other_community)[0]
    with tenancy.community_scope(community.id):
        with pytest.raises(ConflictError):
            services.create_point(community, {"code": "dongmen", "name_zh": "重", "name_en": "Dup"}, actor=admin)
        with pytest.raises(ValidationFailed) as error:
            services.create_point(
                community,
                {"code": "x", "name_zh": "外", "name_en": "X", "resident_group_ids": [foreign_group]},
                actor=admin,
            )
        assert "resident_group_ids" in error.value.errors
        assert [p.code for p in services.list_points()] == ["dongmen"]


def test_qr_codes_are_real_images_of_the_public_url(client, community, point):
    svg = client.get(f"/c/{community.slug}/p/dongmen/qr.svg")
    assert svg.mimetype == "image/svg+xml" and svg.data.lstrip().startswith(b"<?xml") and b"<path" in svg.data
    png = client.get(f"/c/{community.slug}/p/dongmen/qr.png")
    assert png.mimetype == "image/png"
    image = Image.open(io.BytesIO(png.data))
    assert image.size[0] == image.size[1] >= 200
    decoded = _decode_qr(image)
    if decoded is not None:  # pyzbar is optional; the URL check below always runs
        assert decoded.endswith(f"/c/{community.slug}/p/dongmen/")
    assert services.qr_png("http://localhost/c/shilipu/p/dongmen/") == services.qr_png(
        "http://localhost/c/shilipu/p/dongmen/"
    )


def _decode_qr(image):
    try:
        from pyzbar.pyzbar import decode
    except ImportError:
        return None
    return decode(image)[0].data.decode()


def test_public_point_page_and_poster(client, community, point):
    page = client.get(f"/c/{community.slug}/p/dongmen/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "东门议事点" in html and "第1居民小组" in html and "每天 8:00–20:00" in html
    poster = client.get(f"/c/{community.slug}/p/dongmen/poster").get_data(as_text=True)
    for text in ("东门议事点", community.name_zh, "一刻就解决", "公平、公正、公开", "东门主干道旁", "qr.svg"):
        assert text in poster
    assert client.get(f"/c/{community.slug}/p/nowhere/").status_code == 404


def test_points_api(client, community, token_for):
    secret = token_for(community=community)
    groups = _groups(community)
    base = f"/api/v1/communities/{community.slug}/points"
    created = client.post(
        base,
        headers=bearer(secret),
        json={"code": "xiqiao", "name_zh": "西桥议事点", "name_en": "West Bridge", "resident_group_ids": groups},
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["resident_group_ids"] == sorted(groups) and body["qr_png_url"].endswith("/p/xiqiao/qr.png")
    patched = client.patch(f"{base}/{body['id']}", headers=bearer(secret), json={"resident_group_ids": groups[:1]})
    assert patched.get_json()["resident_group_ids"] == groups[:1]
    coverage = client.get(f"/api/v1/communities/{community.slug}/coverage", headers=bearer(secret)).get_json()
    assert coverage["uncovered_count"] == 2
    bad = client.post(base, headers=bearer(secret), json={"code": "Bad!", "name_zh": "", "latitude": 300})
    assert bad.status_code == 422 and {"code", "name_zh", "name_en", "latitude"} <= set(bad.get_json()["errors"])


def test_points_admin_page(client, community, create_user, login_as):
    login_as(create_user(community=community, role="admin"))
    groups = _groups(community)
    url = f"/c/{community.slug}/admin/points"
    response = client.post(
        url,
        data={
            "code": "nanwan",
            "name_zh": "南湾议事点",
            "name_en": "South Bend",
            "resident_group_ids": [str(g) for g in groups],
            "active": "y",
        },
    )
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "南湾议事点" in page and 'data-testid="uncovered"' not in page
    duplicate = client.post(url, data={"code": "nanwan", "name_zh": "重复", "name_en": "Dup"})
    assert duplicate.status_code == 200 and "is-invalid" in duplicate.get_data(as_text=True)
