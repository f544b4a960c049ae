"""Community setup in a real browser: a community registers on a phone, its street office approves it,
the admin sees the approval and the setup checklist; a point's A4 poster renders with its QR code."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, STREET_ADMIN_EMAIL, STREET_ADMIN_PASSWORD
from tests.browser.test_web_ui import assert_no_horizontal_overflow, submit_login


def test_register_approve_and_follow_the_checklist(live_server, contexts):
    applicant = contexts.phone().new_page()
    applicant.goto("/")
    applicant.get_by_test_id("register-link").click()
    form = applicant.locator("main form")
    for name, value in {
        "name_zh": "春风社区",
        "name_en": "Chunfeng Community",
        "slug": "chunfeng-browser",
        "resident_count": "980",
        "admin_name": "赵春华",
        "admin_email": "chunfeng@browser.example",
        "admin_password": "spring wind community",
        "admin_phone": "13900001111",
    }.items():
        form.locator(f'[name="{name}"]').fill(value)
    form.locator('select[name="street"]').select_option("chengdong")
    form.locator('select[name="kind"]').select_option("agriculture")
    form.locator('select[name="template"]').select_option("agriculture")
    assert_no_horizontal_overflow(applicant)
    form.locator('[type="submit"]').click()
    expect(applicant.locator("h1")).to_have_text("初始设置清单")
    expect(applicant.get_by_test_id("checklist-categories")).to_have_attribute("data-done", "yes")
    expect(applicant.get_by_test_id("checklist-points")).to_have_attribute("data-done", "no")
    expect(applicant.locator(".alert-info")).to_be_visible()  # waiting for the street office
    assert_no_horizontal_overflow(applicant)
    applicant.screenshot(path=str(ARTIFACTS / "phone-360-setup-checklist-pending.png"), full_page=True)

    street = contexts.new().new_page()
    street.goto("/login")
    submit_login(street, STREET_ADMIN_EMAIL, STREET_ADMIN_PASSWORD)
    street.goto("/s/chengdong/admin/applications")
    card = street.get_by_test_id("application").filter(has_text="春风社区")
    expect(card).to_be_visible()
    card.get_by_test_id("approve").click()
    expect(street.get_by_test_id("application").filter(has_text="春风社区")).to_have_count(0)

    applicant.reload()
    expect(applicant.locator(".alert-info")).to_have_count(0)
    applicant.goto("/inbox")
    expect(applicant.get_by_test_id("notification").first).to_contain_text("春风社区")
    applicant.get_by_test_id("notification").first.locator("a").click()
    expect(applicant.locator("h1")).to_have_text("初始设置清单")


def test_point_poster_renders_with_its_qr_code(live_server, contexts):
    page = contexts.new().new_page()
    page.goto("/c/shilipu/p/dongmen/poster")
    poster = page.get_by_test_id("poster")
    expect(poster).to_contain_text("东门议事点")
    expect(poster).to_contain_text("一刻就解决")
    qr = page.locator("img.qr")
    expect(qr).to_be_visible()
    assert page.evaluate("() => document.querySelector('img.qr').naturalWidth") > 0  # the SVG loaded
    page.screenshot(path=str(ARTIFACTS / "poster-dongmen.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1  # the poster prints on one A4 page
    phone = contexts.phone().new_page()
    phone.goto("/c/shilipu/p/dongmen/")
    expect(phone.get_by_test_id("point-name")).to_have_text("东门议事点")
    assert_no_horizontal_overflow(phone)
