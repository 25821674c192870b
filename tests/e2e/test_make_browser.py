"""`make browser` (which `make test` depends on): installs Debian's chromium only when it is
missing, non-interactively, runs `apt-get update` only when the install fails, and says in one
line what to do when it cannot install (not root, no apt). Real `make`, stand-in `apt-get` and
`id` on PATH: the test must not install anything on the machine it runs on."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
APT_LOG = "apt.log"


def stand_ins(folder: Path, *, uid: int, apt: bool = True, lists_stale: bool = False) -> Path:
    """A bin folder with ``id`` (answers ``uid``) and, if ``apt``, an ``apt-get`` that logs its
    arguments and DEBIAN_FRONTEND; with ``lists_stale`` an install fails until an update ran."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    if apt:
        stale = "true" if lists_stale else "false"
        (bin_dir / "apt-get").write_text(
            "#!/bin/sh\n"
            f'echo "$DEBIAN_FRONTEND $*" >> "{folder / APT_LOG}"\n'
            f'if [ "$1" = update ]; then touch "{folder}/updated"; exit 0; fi\n'
            f'if {stale} && [ ! -e "{folder}/updated" ]; then exit 100; fi\n'
            "exit 0\n"
        )
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return bin_dir


def make_browser(
    bin_dir: Path, chromium: str, *, keep_path: bool = True
) -> subprocess.CompletedProcess[str]:
    make = shutil.which("make")
    if make is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no make on this machine (CI=true: the test environment is incomplete)")
        pytest.skip("no make on this machine")
    path = f"{bin_dir}:/usr/bin:/bin" if keep_path else str(bin_dir)
    return subprocess.run(
        [make, "-s", "-C", str(ROOT), "browser", f"CHROMIUM={chromium}"],
        env={"PATH": path, "HOME": str(bin_dir)}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def apt_calls(folder: Path) -> list[str]:
    log = folder / APT_LOG
    return log.read_text().splitlines() if log.exists() else []


def test_an_installed_browser_is_left_alone(tmp_path: Path) -> None:
    present = tmp_path / "chromium"
    present.write_text("#!/bin/sh\n")
    present.chmod(0o755)
    done = make_browser(stand_ins(tmp_path, uid=0), str(present))
    assert done.returncode == 0, done.stderr
    assert apt_calls(tmp_path) == []


def test_a_missing_browser_is_installed_without_questions(tmp_path: Path) -> None:
    done = make_browser(stand_ins(tmp_path, uid=0), str(tmp_path / "absent"))
    assert done.returncode == 0, done.stderr
    assert apt_calls(tmp_path) == [
        "noninteractive install -y -q --no-install-recommends chromium"
    ]  # no update: the package lists were fresh enough


def test_stale_package_lists_are_updated_once_and_the_install_retried(tmp_path: Path) -> None:
    done = make_browser(stand_ins(tmp_path, uid=0, lists_stale=True), str(tmp_path / "absent"))
    assert done.returncode == 0, done.stderr
    assert apt_calls(tmp_path) == [
        "noninteractive install -y -q --no-install-recommends chromium",
        "noninteractive update -q",
        "noninteractive install -y -q --no-install-recommends chromium",
    ]


def test_not_root_says_how_to_install_it(tmp_path: Path) -> None:
    done = make_browser(stand_ins(tmp_path, uid=1000), str(tmp_path / "absent"))
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[0] == (
        f"make browser: no Chromium at {tmp_path / 'absent'}; installing it needs root: "
        "sudo apt-get install -y chromium"
    )
    assert apt_calls(tmp_path) == []


def test_no_apt_says_where_to_point_the_tests(tmp_path: Path) -> None:
    done = make_browser(stand_ins(tmp_path, uid=0, apt=False), str(tmp_path / "absent"),
                        keep_path=False)  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[0] == (
        f"make browser: no Chromium at {tmp_path / 'absent'} and no apt-get here: install "
        "Chromium and set DSRFLOW_TEST_CHROMIUM to its path"
    )
