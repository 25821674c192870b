"""Retention: the daily purge deletes packages past their delivery window, audited, and leaves
nothing readable on disk; ``dsrflow package list|purge`` for operators."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dsrflow.service.packages import ListPackages
from dsrflow.service.results import Purge
from tests.fixtures.cli import invoke
from tests.unit.delivery_kit import CANARY_NAME, delivered
from tests.unit.privacy_kit import CANARY
from tests.unit.service_kit import ADMIN

if TYPE_CHECKING:
    from tests.fixtures.mailbox import Mailbox


def _everything_under(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in root.rglob("*") if p.is_file()]


def test_the_daily_purge_deletes_packages_past_their_window(
    tmp_path: Path, mailbox: Mailbox
) -> None:
    d = delivered(tmp_path, mailbox, DSRFLOW_RETENTION_DAYS="365")
    plain = d.rt.artifacts.export_one(d.request_id, "package", tmp_path / "staff")
    assert plain is not None
    plaintext = plain.read_bytes()
    root = d.rt.artifacts.root
    assert (root / d.request_id / "access-package.zip.enc").exists()

    Purge(d.rt).run(ADMIN)  # within the window: the package stays
    assert (root / d.request_id / "access-package.zip.enc").exists()

    d.ended(31)
    done = Purge(d.rt).run(ADMIN)
    assert [p.request_id for p in done] == [d.request_id]
    assert not (root / d.request_id / "access-package.zip.enc").exists()
    assert not (root / d.request_id / "staging").exists()
    for data in _everything_under(root):
        assert CANARY.encode() not in data and CANARY_NAME.encode() not in data
        assert plaintext not in data and plaintext[-512:] not in data
    (entry,) = [e for e in d.rt.ledger.audit_entries(d.request_id)
                if e.action == "package_purged"]  # fmt: skip
    assert entry.detail["reason"] == "delivery window ended"
    assert "access-package.zip.enc" in entry.detail["files"]
    assert d.rt.ledger.get_request(d.request_id).purged_at is None  # type: ignore[union-attr]

    (line,) = ListPackages(d.rt).run(ADMIN)
    assert line.request_id == d.request_id and line.purged_at is not None and line.size == 0
    got = d.enter("ABCDE-FGHJK")
    assert got.status_code == 410 and "Your data has been deleted" in got.text


def test_operators_list_and_purge_packages_from_the_cli(tmp_path: Path, mailbox: Mailbox) -> None:
    d = delivered(tmp_path, mailbox)
    d.ask_code()
    assert d.enter(d.ask_code()).status_code == 200
    d.rt.ledger.close()
    env = {"DSRFLOW_STATE_DIR": str(tmp_path / "state"), "DSRFLOW_ACTOR": "staff:ops",
           "DSRFLOW_CATALOG": str(tmp_path / "none.yaml")}  # fmt: skip

    listed = invoke("package", "list", env=env)
    assert listed.returncode == 0, listed.output
    assert d.request_id in listed.stdout and "yes (1)" in listed.stdout

    nothing = invoke("package", "purge", env=env)
    assert nothing.returncode == 0 and "no access package past" in nothing.stdout

    narrowed = invoke("package", "purge", "--request", d.request_id,
                      env={**env, "DSRFLOW_ROLES": "analyst"})  # fmt: skip
    assert narrowed.returncode == 5, narrowed.output

    one = invoke("package", "purge", "--request", d.request_id, env=env)
    assert one.returncode == 0 and f"deleted the access package of {d.request_id}" in one.stdout
    assert not (d.rt.artifacts.root / d.request_id / "access-package.zip.enc").exists()
    missing = invoke("package", "purge", "--request", d.request_id, env=env)
    assert missing.returncode != 0 and "no access package" in missing.output
    assert "Traceback" not in missing.output
