"""The web UI in a real browser: a phone-sized walk through sign-in, the community page, the language
switcher and sign-out; the login form's refusals; and no request leaving the server's own host."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

PHONE_WIDTH = 360

# Elements sticking out to the right of the viewport, for a readable failure message.
_OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const node of document.querySelectorAll("body *")) {
    const box = node.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5) {
      const id = node.id ? "#" + node.id : "";
      const names = typeof node.className === "string" ? node.className.trim() : "";
      const cls = names ? "." + names.split(/\\s+/).join(".") : "";
      out.push(node.tagName.toLowerCase() + id + cls + " right=" + Math.round(box.right));
    }
  }
  return out.slice(0, 15);
}"""


def assert_no_horizontal_overflow(page: Page, width: int = PHONE_WIDTH) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, (
        f"{page.url}: the page is {scroll_width}px wide on a {width}px screen; "
        f"sticking out: {page.evaluate(_OVERFLOWING)}"
    )


def open_menu(page: Page) -> None:
    """On a narrow screen the navbar is collapsed behind the toggler: open it (once)."""
    toggler = page.locator(".navbar-toggler")
    if toggler.is_visible():
        if toggler.get_attribute("aria-expanded") != "true":
            toggler.click()
        expect(page.locator("#nav")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))


def switch_language(page: Page, locale: str) -> None:
    open_menu(page)
    button = page.locator(f'.lang-switch button[data-locale="{locale}"]')
    expect(button).to_be_visible()
    button.click()
    page.wait_for_load_state()


def submit_login(page: Page, email: str, password: str) -> None:
    form = page.locator("main form")
    form.locator('input[name="email"]').fill(email)
    form.locator('input[name="password"]').fill(password)
    form.locator('[type="submit"]').click()


def test_phone_sign_in_community_language_and_sign_out(live_server, contexts, artifacts_dir):
    page = contexts.phone().new_page()
    responses = []
    page.on("response", lambda response: responses.append(response))

    # The platform's front page lists the community.
    page.goto("/")
    card = page.get_by_test_id("community-card").filter(has_text="十里铺社区")
    expect(card).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert_no_horizontal_overflow(page)

    # Sign in through the form.
    page.goto("/login")
    assert_no_horizontal_overflow(page)
    submit_login(page, live_server.admin_email, live_server.admin_password)
    expect(page).to_have_url(re.compile(r"/me$"))
    expect(page.locator("main")).to_contain_text(live_server.admin_name)
    my_community = page.locator("main .list-group a").filter(has_text="十里铺社区")
    expect(my_community).to_be_visible()
    assert_no_horizontal_overflow(page)

    # The community's page.
    my_community.click()
    expect(page).to_have_url(re.compile(r"/c/shilipu/$"))
    expect(page.get_by_test_id("community-name")).to_have_text("十里铺社区")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert_no_horizontal_overflow(page)
    page.screenshot(path=str(artifacts_dir / "phone-360-community-zh.png"), full_page=True)

    # The menu, opened, still fits the screen.
    open_menu(page)
    expect(page.get_by_test_id("logout")).to_be_visible()
    assert_no_horizontal_overflow(page)
    page.screenshot(path=str(artifacts_dir / "phone-360-menu-open-zh.png"), full_page=True)

    # English, then back to Chinese, on the same page.
    switch_language(page, "en")
    expect(page).to_have_url(re.compile(r"/c/shilipu/$"))
    expect(page.get_by_test_id("community-name")).to_have_text("Shilipu Community")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator('.lang-switch button[data-locale="en"]')).to_have_attribute("aria-current", "true")
    assert_no_horizontal_overflow(page)
    page.screenshot(path=str(artifacts_dir / "phone-360-community-en.png"), full_page=True)

    switch_language(page, "zh_CN")
    expect(page.get_by_test_id("community-name")).to_have_text("十里铺社区")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator('.lang-switch button[data-locale="zh_CN"]')).to_have_text("中文")

    # Sign out: the sign-in link is back and /me is closed again.
    open_menu(page)
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_test_id("logout")).to_have_count(0)
    open_menu(page)
    expect(page.get_by_test_id("login-link")).to_be_visible()
    assert_no_horizontal_overflow(page)
    page.goto("/me")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fme$"))

    server_errors = [f"{r.status} {r.url}" for r in responses if r.status >= 500]
    assert not server_errors, server_errors


def test_wrong_password_and_csrf_less_post_are_refused(live_server, page):
    page.goto("/login")
    submit_login(page, live_server.admin_email, "not the password")
    expect(page).to_have_url(re.compile(r"/login$"))
    error = page.locator(".invalid-feedback")
    expect(error).to_be_visible()
    expect(error).to_contain_text(re.compile(r"password is not right|密码"))
    expect(page.locator('input[name="password"]')).to_have_class(re.compile(r"is-invalid"))
    expect(page.locator('input[name="email"]')).to_have_value(live_server.admin_email)
    expect(page.get_by_test_id("logout")).to_have_count(0)

    # A form posted from elsewhere carries no CSRF token: refused, even with the right password.
    response = page.request.post(
        live_server.url("/login"),
        form={"email": live_server.admin_email, "password": live_server.admin_password},
        max_redirects=0,
    )
    assert response.status == 400, (response.status, response.text()[:300])
    page.goto("/me")
    expect(page).to_have_url(re.compile(r"/login\?next="))

    # The same for the other state-changing forms.
    for path, form in (("/language", {"locale": "en", "next": "/"}), ("/logout", {})):
        response = page.request.post(live_server.url(path), form=form, max_redirects=0)
        assert response.status == 400, (path, response.status)


def test_every_request_stays_on_the_server(live_server, contexts):
    context = contexts.new()
    requests: list[str] = []
    failed: list[str] = []
    console_errors: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    context.on("requestfailed", lambda request: failed.append(f"{request.url}: {request.failure}"))
    page = context.new_page()
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: console_errors.append(str(error)))

    page.goto("/")
    page.goto("/login")
    submit_login(page, live_server.admin_email, live_server.admin_password)
    expect(page).to_have_url(re.compile(r"/me$"))
    page.goto("/c/shilipu/")
    expect(page.get_by_test_id("community-name")).to_be_visible()
    switch_language(page, "en")
    expect(page.get_by_test_id("community-name")).to_have_text("Shilipu Community")
    page.goto("/s/chengdong/")
    page.goto("/api/v1/docs")
    # Swagger UI fetches the OpenAPI document after load: wait for it to render before leaving.
    expect(page.locator("#swagger-ui .info .title")).to_contain_text("Yishi API")
    page.goto("/c/shilipu/")
    switch_language(page, "zh_CN")
    open_menu(page)
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-link")).to_be_attached()
    page.wait_for_load_state("networkidle")

    network = [url for url in requests if urlsplit(url).scheme in ("http", "https", "ws", "wss")]
    elsewhere = [url for url in network if urlsplit(url).netloc != live_server.host]
    assert not elsewhere, f"requests left the server: {elsewhere}"
    # Bootstrap and the app's own assets are served locally.
    paths = {urlsplit(url).path for url in network}
    assert any("bootstrap" in path and path.endswith(".css") for path in paths), sorted(paths)
    assert any("bootstrap" in path and path.endswith(".js") for path in paths), sorted(paths)
    assert "/static/css/yishi.css" in paths and "/static/js/yishi.js" in paths, sorted(paths)
    assert not failed, failed
    assert not console_errors, console_errors  # includes Content-Security-Policy violations


def test_current_language_button_is_marked_in_chinese(live_server, page):
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator('.lang-switch button[data-locale="zh_CN"]')).to_have_attribute(
        "aria-current", "true", timeout=2_000
    )
