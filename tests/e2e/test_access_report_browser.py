"""Must show (issue 12): the access report renders in headless Chromium, a screenshot is saved,
and the browser requests nothing outside the unzipped package (its request log), with
JavaScript off."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.artifacts import ArtifactStore
from dsrflow.catalog import load_catalog
from dsrflow.crypto.keystore import KeyStore
from dsrflow.ledger import Ledger
from tests.fixtures.browser import require_chromium
from tests.fixtures.packages import open_package
from tests.unit.test_access_package import build
from tests.unit.test_catalog_processing import CATALOG


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    (tmp_path / "dsrflow.yaml").write_text(CATALOG)
    cat = load_catalog(tmp_path / "dsrflow.yaml", AdapterRegistry.from_entry_points())
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    try:
        artifacts = ArtifactStore(tmp_path / "artifacts", KeyStore(ledger, b"k" * 32))
        sheet = cat.stores["shop"].common.processing.sheet()
        zf: zipfile.ZipFile = open_package(artifacts, build(artifacts, "r-b", sheet, "access",
                                                            n_orders=700))  # fmt: skip
        out = tmp_path / "unzipped"
        zf.extractall(out)
    finally:
        ledger.close()
    return out


def test_report_renders_offline_in_chromium(report_dir: Path, tmp_path: Path) -> None:
    chromium = require_chromium()  # skips on a laptop without it, fails under CI=true
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    shot = tmp_path / "access-report.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.on("request", lambda r: requested.append(r.url))
            page.goto((report_dir / "report" / "index.html").as_uri())
            assert page.locator("h1").inner_text() == "Your personal data"
            assert "Irish Data Protection Commission" in page.inner_text("body")
            page.screenshot(path=str(shot), full_page=True)
            page.click("text=View the records >> nth=1")  # orders: 700 records, 2 pages
            assert "Page 1 of 2" in page.inner_text("body")
            assert page.locator("tr").count() == 501  # header + 500 records
            page.click("text=Next page")
            assert "Page 2 of 2" in page.inner_text("body")
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000  # a rendered page, not an empty image
    assert requested, "the request log recorded nothing"
    root = report_dir.as_uri()
    outside = [u for u in requested if not u.startswith(root)]
    assert not outside, f"the report loaded resources outside the package: {outside}"
    keep = os.environ.get("DSRFLOW_TEST_SCREENSHOTS")
    if keep:  # CI keeps the screenshot as an artifact
        shutil.copy(shot, Path(keep) / shot.name)
