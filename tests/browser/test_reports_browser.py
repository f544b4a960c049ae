"""A street admin starts a comparison report, watches its job finish, and downloads the XLSX."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.browser.conftest import STREET_ADMIN_EMAIL, STREET_ADMIN_PASSWORD
from tests.browser.test_web_ui import submit_login
from yishi.core.jobs import run_pending


def test_run_a_report_and_download_its_xlsx(live_server, contexts, artifacts_dir):
    page = contexts.new().new_page()
    page.goto("/login")
    submit_login(page, STREET_ADMIN_EMAIL, STREET_ADMIN_PASSWORD)
    page.goto("/s/chengdong/")
    page.get_by_test_id("reports-link").click()
    form = page.get_by_test_id("report-form")
    form.locator('input[name="period"][value="year"]').check()
    form.locator('[type="submit"]').click()
    expect(page.get_by_test_id("report-progress")).to_be_visible()  # the job has not run yet

    with live_server.app.app_context():
        assert run_pending(live_server.app) >= 1  # the report's job, as a worker would run it

    # The page polls the job and shows the snapshot once it is finished.
    expect(page.get_by_test_id("report-figures")).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("report-figures")).to_contain_text("十里铺社区")
    page.screenshot(path=str(artifacts_dir / "street-report.png"), full_page=True)

    with page.expect_download() as download_info:
        page.get_by_test_id("export-xlsx").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    assert len(workbook.sheetnames) >= 3
    cells = [cell.value for sheet in workbook for row in sheet.iter_rows() for cell in row]
    assert "十里铺社区" in cells
    assert any(isinstance(value, int | float) and not isinstance(value, bool) for value in cells)
