"""docs/examples is exactly what the code produces, and verifies by the documented procedure."""

from __future__ import annotations

from pathlib import Path

from dsrflow.evidence.example import FILES, write_example
from tests.fixtures.cli import invoke

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_examples_are_regenerated_byte_for_byte(tmp_path: Path) -> None:
    write_example(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), (
            f"docs/examples/{name} is stale: run python -m dsrflow.evidence.example"
        )


def test_documented_command_verifies_the_example(tmp_path: Path) -> None:
    root = next(
        line.split()[-1]
        for line in (EXAMPLES / "expected-digests.txt").read_text().splitlines()
        if line.startswith("root key id")
    )
    r = invoke(
        "verify", EXAMPLES / "evidence-bundle.zip",
        "--keyring", EXAMPLES / "keyring.json", "--root-keyid", root,
        "--request-id", "dsr-20260302-example",
        "--subject-opening", EXAMPLES / "subject-opening.json",
        "--state", tmp_path / "state.json",
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VERIFIED docs/examples/evidence-bundle.zip" in r.stdout.replace(
        str(EXAMPLES.parent.parent) + "/", ""
    )
