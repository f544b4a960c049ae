"""Every page the new features add fits a 360 px phone: no sideways scrolling, as staff and street
admins use them on their phones at the points."""

from __future__ import annotations

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, STREET_ADMIN_EMAIL, STREET_ADMIN_PASSWORD
from tests.browser.test_web_ui import assert_no_horizontal_overflow, submit_login

COMMUNITY_PAGES = [
    "/c/shilipu/board",
    "/c/shilipu/track",
    "/c/shilipu/matters/new",
    "/c/shilipu/p/dongmen/matters/new",
    "/c/shilipu/queue",
    "/c/shilipu/matters/record",
    "/c/shilipu/matters/visit",
    "/c/shilipu/meetings/",
    "/c/shilipu/meetings/new",
    "/c/shilipu/participation",
    "/c/shilipu/dashboard?period=12m",
]


def test_new_pages_fit_a_phone(live_server, contexts):
    admin = contexts.phone().new_page()
    admin.goto("/login")
    submit_login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    for path in COMMUNITY_PAGES:
        response = admin.goto(path)
        assert response.status == 200, path
        assert_no_horizontal_overflow(admin)

    street = contexts.phone().new_page()
    street.goto("/login")
    submit_login(street, STREET_ADMIN_EMAIL, STREET_ADMIN_PASSWORD)
    response = street.goto("/s/chengdong/reports")
    assert response.status == 200
    assert_no_horizontal_overflow(street)
