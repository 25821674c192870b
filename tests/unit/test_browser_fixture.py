"""The browser fixture's choice of browser, and its skip-or-fail rule (no browser started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.browser import SYSTEM_CHROMIUM, chromium_path, require_chromium


def test_the_system_browser_unless_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DSRFLOW_TEST_CHROMIUM", raising=False)
    assert chromium_path() == SYSTEM_CHROMIUM == "/usr/bin/chromium"
    monkeypatch.setenv("DSRFLOW_TEST_CHROMIUM", "/opt/chromium/chrome")
    assert chromium_path() == "/opt/chromium/chrome"


def test_a_missing_browser_skips_on_a_laptop_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "no-chromium"
    monkeypatch.setenv("DSRFLOW_TEST_CHROMIUM", str(missing))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="run `make browser`"):
        require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: a missing browser fails the run"):
        require_chromium()


def test_a_file_that_is_not_executable_is_not_a_browser(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("not a program")
    monkeypatch.setenv("DSRFLOW_TEST_CHROMIUM", str(fake))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_chromium()
    fake.chmod(0o755)
    assert require_chromium() == str(fake)
