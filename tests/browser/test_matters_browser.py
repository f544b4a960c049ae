"""A resident raises a matter from a point's QR page on a phone and follows it to closed, while the
community admin takes it up, works it and resolves it on the desktop."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.browser.test_web_ui import assert_no_horizontal_overflow, submit_login


def _photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (30, 40, 90)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_qr_page_to_closed_matter_on_a_phone(live_server, contexts, artifacts_dir):
    slug = live_server.community_slug
    resident = contexts.phone().new_page()

    # The QR code of the east gate point opens its page; from there the resident raises a matter.
    resident.goto(f"/c/{slug}/p/dongmen/")
    resident.get_by_test_id("raise-here").click()
    expect(resident).to_have_url(re.compile(rf"/c/{slug}/p/dongmen/matters/new$"))
    assert_no_horizontal_overflow(resident)
    form = resident.get_by_test_id("matter-form")
    form.locator('input[name="title"]').fill("桥头两盏路灯不亮")
    form.locator('select[name="category_id"]').select_option(label="路灯维修亮化")
    form.locator('textarea[name="description"]').fill("晚上桥头一片漆黑，老人过桥不安全。")
    form.locator('input[name="reporter_name"]').fill("王秀英")
    form.locator('input[name="reporter_phone"]').fill("13912345678")
    form.locator('input[name="photos"]').set_input_files(
        [{"name": "bridge.jpg", "mimeType": "image/jpeg", "buffer": _photo()}]
    )
    form.locator('[type="submit"]').click()

    code = resident.get_by_test_id("tracking-code").inner_text().strip()
    assert re.fullmatch(r"[2-9A-Z]{5}-[2-9A-Z]{5}", code), code
    matter_url = resident.url
    assert re.search(rf"/c/{slug}/matters/\d+$", matter_url)
    expect(resident.locator('[data-status="submitted"]').first).to_be_visible()
    expect(resident.get_by_test_id("photos").locator("img")).to_have_count(1)
    assert_no_horizontal_overflow(resident)
    resident.screenshot(path=str(artifacts_dir / "matter-submitted-phone.png"), full_page=True)

    # The community admin finds it in the work queue and works it through.
    admin = contexts.new().new_page()
    admin.goto("/login")
    submit_login(admin, ADMIN_EMAIL, ADMIN_PASSWORD)
    admin.goto(f"/c/{slug}/queue")
    admin.get_by_test_id("matter-list").get_by_text("桥头两盏路灯不亮").click()
    expect(admin.get_by_test_id("reporter")).to_contain_text("13912345678")  # the handler needs the phone
    admin.get_by_test_id("do-accept").click()
    expect(admin.locator('[data-status="accepted"]').first).to_be_visible()
    admin.get_by_test_id("do-start").click()
    expect(admin.locator('[data-status="in_progress"]').first).to_be_visible()
    admin.locator('form[data-action="resolve"] textarea[name="note"]').fill("已联系供电所更换灯泡，今晚恢复照明。")
    admin.get_by_test_id("do-resolve").click()
    expect(admin.locator('[data-status="resolved"]').first).to_be_visible()

    # Back on the phone: the resident sees the resolution, confirms and rates.
    resident.goto(matter_url)
    expect(resident.get_by_test_id("resolution")).to_contain_text("更换灯泡")
    resident.get_by_test_id("do-close").click()
    expect(resident.locator('[data-status="closed"]').first).to_be_visible()
    rating = resident.get_by_test_id("rating-form")
    rating.locator('input[name="score"][value="5"]').check()
    rating.locator('textarea[name="comment"]').fill("处理及时，谢谢议事长。")
    rating.locator('[type="submit"]').click()
    expect(resident.get_by_test_id("satisfaction")).to_contain_text("5/5")
    timeline = resident.get_by_test_id("timeline").locator("li")
    expect(timeline).to_have_count(6)  # submitted, taken up, started, resolved, closed, rated
    assert_no_horizontal_overflow(resident)
    resident.screenshot(path=str(artifacts_dir / "matter-closed-phone.png"), full_page=True)

    # Another phone, without the session: the tracking code alone opens the matter.
    stranger = contexts.phone().new_page()
    stranger.goto(matter_url)
    assert stranger.locator('[data-testid="matter-title"]').count() == 0  # 404 without the code
    stranger.goto(f"/c/{slug}/track")
    stranger.get_by_test_id("track-form").locator('input[name="code"]').fill(code.lower())
    stranger.get_by_test_id("track-form").locator('[type="submit"]').click()
    expect(stranger.get_by_test_id("matter-title")).to_have_text("桥头两盏路灯不亮")

    # The public board shows the matter without the resident's name or phone.
    board = contexts.phone().new_page()
    board.goto(f"/c/{slug}/board")
    text = board.get_by_test_id("board").inner_text()
    assert "桥头两盏路灯不亮" in text
    assert "王秀英" not in text and "5678" not in text
    assert_no_horizontal_overflow(board)
