"""A moderator convenes a meeting and shows its check-in QR code; residents scan it on their phones."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.browser.test_web_ui import assert_no_horizontal_overflow, submit_login


def _local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


def test_qr_check_in_on_a_phone(live_server, contexts, artifacts_dir):
    slug = live_server.community_slug
    admin = contexts.new().new_page()
    admin.goto("/login")
    submit_login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    admin.goto(f"/c/{slug}/meetings/new")
    form = admin.get_by_test_id("meeting-form")
    form.locator('input[name="title"]').fill("东门议事会（签到测试）")
    now = datetime.now(ZoneInfo("UTC"))
    form.locator('input[name="starts_at"]').fill(_local(now - timedelta(minutes=5)))
    form.locator('input[name="ends_at"]').fill(_local(now + timedelta(hours=1)))
    form.locator('[type="submit"]').click()
    expect(admin.get_by_test_id("meeting-title")).to_have_text("东门议事会（签到测试）")
    expect(admin.locator("img.checkin-qr")).to_be_visible()
    # the QR image loads: visible is not loaded, so wait (with Playwright's deadline) for it to be decoded
    admin.wait_for_function(
        "() => { const img = document.querySelector('img.checkin-qr'); return img && img.complete; }"
    )
    assert admin.locator("img.checkin-qr").evaluate("img => img.naturalWidth") > 0
    checkin_url = admin.get_by_role("link", name=re.compile("签到页面|Check-in page")).get_attribute("href")
    assert "/checkin?t=" in checkin_url

    # A resident without an account scans the code with a phone.
    phone = contexts.phone().new_page()
    phone.goto(checkin_url)
    assert_no_horizontal_overflow(phone)
    checkin = phone.get_by_test_id("checkin-form")
    checkin.locator('input[name="name"]').fill("刘大爷")
    checkin.locator('input[name="phone"]').fill("13855556666")
    checkin.locator('select[name="resident_group_id"]').select_option(index=1)
    checkin.locator('[type="submit"]').click()
    expect(phone.get_by_test_id("checked-in")).to_be_visible()
    phone.screenshot(path=str(artifacts_dir / "meeting-checkin-phone.png"), full_page=True)

    # Scanning again (the same person) is counted once.
    phone.goto(checkin_url)
    again = phone.get_by_test_id("checkin-form")
    again.locator('input[name="name"]').fill("刘大爷")
    again.locator('input[name="phone"]').fill("138 5555 6666")
    again.locator('select[name="resident_group_id"]').select_option(index=1)
    again.locator('[type="submit"]').click()
    expect(phone.get_by_test_id("checked-in")).to_be_visible()
    admin.reload()
    expect(admin.get_by_test_id("attendance-count")).to_have_text("1")
    expect(admin.get_by_test_id("attendance")).to_contain_text("刘大爷")

    # A forged code is refused.
    forged = contexts.phone().new_page()
    forged.goto(re.sub(r"t=[^&]+", "t=forged.token", checkin_url))
    expect(forged.get_by_test_id("checkin-refused")).to_be_visible()
    assert forged.get_by_test_id("checkin-form").count() == 0
