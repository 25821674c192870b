"""The CLI's contract with people: one-line errors, non-zero exits, never a stack trace.

In-process (``tests.fixtures.cli``); that a fresh ``dsrflow verify`` process imports no
orchestrator stack is checked in ``tests/e2e/test_cli_process.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dsrflow.cli.main import _COMMANDS
from tests.fixtures.cli import CliRun, invoke


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliRun:
    return invoke(*args, cwd=cwd, env={"DSRFLOW_STATE_DIR": str(cwd or "."), **(env or {})})


def test_verify_missing_bundle(tmp_path: Path) -> None:
    r = run("verify", str(tmp_path / "nope.zip"), "--keyring", "k.json", cwd=tmp_path)
    assert r.returncode == 2
    assert "no such bundle file" in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_verify_garbage_bundle(tmp_path: Path) -> None:
    (tmp_path / "b.zip").write_bytes(b"not a zip")
    from dsrflow.evidence.example import ROOT, example_keyring

    (tmp_path / "k.json").write_bytes(example_keyring().signed(ROOT))
    r = run("verify", "b.zip", "--keyring", "k.json", "--state", "s.json", cwd=tmp_path)
    assert r.returncode == 1 and "container: not a readable zip" in r.stdout
    assert "NOT VERIFIED" in r.stdout and "Traceback" not in r.stdout + r.stderr


def test_bad_catalog_lists_every_problem(tmp_path: Path) -> None:
    (tmp_path / "dsrflow.yaml").write_text(
        "version: 1\nstores:\n  a:\n    adapter: nope\n  b:\n    adapter: sql\n    connection: {}\n"
    )
    r = run("catalog", "validate", cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert any("dsrflow.yaml:4: stores.a.adapter: unknown adapter 'nope'" in x for x in lines), (
        lines
    )
    assert any("dsrflow.yaml:7: stores.b.connection" in x for x in lines), lines
    assert "Traceback" not in r.stderr


def test_submit_rejects_bad_input_before_contacting_anything(tmp_path: Path) -> None:
    r = run("request", "submit", "--type", "shred", "--email", "a@b.c", cwd=tmp_path)
    assert r.returncode == 2 and "--type: 'shred'" in r.stderr
    r = run("request", "submit", "--type", "access", cwd=tmp_path)
    assert r.returncode == 2 and "give the subject's identifier" in r.stderr
    r = run(
        "request",
        "submit",
        "--type",
        "access",
        "--email",
        "x",
        "--request-id",
        "../etc",
        cwd=tmp_path,
    )
    assert r.returncode == 2 and "request id" in r.stderr


def test_submit_without_temporal_is_a_one_line_error(tmp_path: Path) -> None:
    assert run("ledger", "upgrade", cwd=tmp_path).returncode == 0
    r = run("request", "submit", "--type", "access", "--email", "a@b.io", cwd=tmp_path,
            env={"DSRFLOW_TEMPORAL_ADDRESS": "127.0.0.1:1"})  # fmt: skip
    assert r.returncode == 2
    assert "cannot reach Temporal at 127.0.0.1:1" in r.stderr and "Traceback" not in r.stderr
    assert "a@b.io" not in r.stderr


@pytest.mark.parametrize("args", [["--help"], ["request", "--help"], ["stores", "--help"]])
def test_help_works(args: list[str], tmp_path: Path) -> None:
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 0 and "Usage: dsrflow" in r.stdout, r.output


@pytest.mark.parametrize("command", sorted(_COMMANDS))
def test_every_lazily_registered_command_builds(command: str, tmp_path: Path) -> None:
    """Each ``_COMMANDS`` entry imports and builds when asked for (its help lists it)."""
    r = run(command, "--help", cwd=tmp_path)
    assert r.returncode == 0 and f"Usage: dsrflow {command}" in r.stdout, r.output
