"""The audit log is a hash chain anchored in the transparency log: tampering is found.

Each attack is done the way an insider with database access would do it: drop the append-only
triggers, then edit, delete, reorder or cut rows directly in SQL. ``dsrflow audit verify`` must
name the first broken entry and exit 1.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from dsrflow.cli.main import app
from dsrflow.errors import UserError
from dsrflow.ledger import audit_chain
from dsrflow.ledger.models import AuditRow
from dsrflow.runtime import Runtime
from dsrflow.service.auditlog import AnchorAudit, VerifyAudit
from dsrflow.service.principal import NotAllowed
from tests.unit.service_kit import ADMIN, AUDITOR, ENGINEER, env_of, runtime


def _filled(tmp: Path, n: int = 6) -> Runtime:
    rt = runtime(tmp)
    for i in range(n):
        rt.ledger.audit(f"staff:u{i}", "approve" if i % 2 else "view", f"dsr-{i % 3}", n=i)
    return rt


def _cli(tmp: Path, *args: str, roles: str = "auditor") -> tuple[int, str]:
    """Exit code and output as ``main()`` gives them (a user error is one line, its code)."""
    result = CliRunner().invoke(app, ["audit", *args], env={**env_of(tmp), "DSRFLOW_ROLES": roles})
    if isinstance(result.exception, UserError):
        message = str(result.exception)
        assert "\n" not in message, message
        return result.exception.exit_code, message
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _sql(rt: Runtime, *statements: str) -> None:
    """Run raw SQL as an insider would: triggers dropped first."""
    with rt.ledger.engine.begin() as conn:
        for verb in ("update", "delete"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS audit_log_no_{verb}"))
            conn.execute(text(f"DROP TRIGGER IF EXISTS audit_anchors_no_{verb}"))
        for sql in statements:
            conn.execute(text(sql))


def test_an_untouched_log_verifies(tmp_path: Path) -> None:
    rt = _filled(tmp_path)
    AnchorAudit(rt).run(ADMIN)
    code, output = _cli(tmp_path, "verify")
    assert code == 0, output
    assert "audit log OK: 6 entries chained; 1 anchor(s)" in output
    assert "up to entry 6" in output


def test_the_database_refuses_updates_and_deletes(tmp_path: Path) -> None:
    rt = _filled(tmp_path, 2)
    for sql in ("UPDATE audit_log SET actor = 'staff:x'", "DELETE FROM audit_log"):
        with pytest.raises(DatabaseError, match="append-only"), rt.ledger.engine.begin() as conn:
            conn.execute(text(sql))


def _swap(rt: Runtime) -> None:
    _sql(rt, "UPDATE audit_log SET seq = -1 WHERE seq = 2",
         "UPDATE audit_log SET seq = 2 WHERE seq = 3",
         "UPDATE audit_log SET seq = 3 WHERE seq = -1")  # fmt: skip


def _relink(rt: Runtime) -> None:
    """Edit entry 3 and recompute its own hash (but not its successors')."""
    _sql(rt, "UPDATE audit_log SET actor = 'staff:mallory' WHERE seq = 3")
    with rt.ledger.session() as s:
        row = s.scalars(select(AuditRow).where(AuditRow.seq == 3)).one()
        digest = audit_chain.row_hash(row, bytes(row.prev_hash))
    with rt.ledger.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET entry_hash = :h WHERE seq = 3"), {"h": digest})


TAMPERING: dict[str, tuple[Callable[[Runtime], None], str]] = {
    "edited": (
        lambda rt: _sql(rt, "UPDATE audit_log SET actor = 'staff:mallory' WHERE seq = 3"),
        "audit entry 3: content does not match its hash (edited)",
    ),
    "detail edited": (
        lambda rt: _sql(rt, """UPDATE audit_log SET detail = '{"n": 99}' WHERE seq = 4"""),
        "audit entry 4: content does not match its hash (edited)",
    ),
    "deleted": (
        lambda rt: _sql(rt, "DELETE FROM audit_log WHERE seq = 3"),
        "audit entry 3: missing (the next entry is 4)",
    ),
    "reordered": (_swap, "audit entry 2: does not link to entry 1"),
    "edited and rehashed": (_relink, "audit entry 4: does not link to entry 3"),
    "tail deleted, head left": (
        lambda rt: _sql(rt, "DELETE FROM audit_log WHERE seq > 4"),
        "the head says entry 6 but the chain ends at entry 4",
    ),
}


@pytest.mark.parametrize("attack", sorted(TAMPERING))
def test_tampering_is_found(tmp_path: Path, attack: str) -> None:
    rt = _filled(tmp_path)
    tamper, message = TAMPERING[attack]
    tamper(rt)
    code, output = _cli(tmp_path, "verify")
    assert code == 1, output
    assert "audit log BROKEN" in output and message in " ".join(output.split()), output


def test_a_cleanly_cut_tail_is_found_by_its_anchor(tmp_path: Path) -> None:
    """Cut entries and rewind the head consistently: only the anchor in the log shows it."""
    rt = _filled(tmp_path)
    AnchorAudit(rt).run(ADMIN)
    rt.ledger.audit("staff:late", "view", "dsr-9")
    with rt.ledger.session() as s:
        four = s.scalars(select(AuditRow).where(AuditRow.seq == 4)).one()
        head4 = bytes(four.entry_hash)
    _sql(rt, "DELETE FROM audit_log WHERE seq > 4")
    with rt.ledger.engine.begin() as conn:
        conn.execute(text("UPDATE audit_head SET seq = 4, hash = :h"), {"h": head4})
    assert VerifyAudit(rt).run(AUDITOR).problem == (
        "audit anchor at log index 0 (entry 6): the chain ends at entry 4; "
        "entries were cut off the end"
    )


def test_a_rewritten_chain_is_found_by_its_anchor(tmp_path: Path) -> None:
    """Edit an entry and recompute every hash after it: the anchored head no longer exists."""
    rt = _filled(tmp_path)
    AnchorAudit(rt).run(ADMIN)
    _sql(rt, "UPDATE audit_log SET actor = 'staff:mallory' WHERE seq = 2")
    with rt.ledger.session() as s:
        rows = list(s.scalars(select(AuditRow).order_by("seq")))
        prev, fixes = audit_chain.GENESIS, []
        for row in rows:
            digest = audit_chain.row_hash(row, prev)
            fixes.append({"s": row.seq, "p": prev, "h": digest})
            prev = digest
    with rt.ledger.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET prev_hash = :p, entry_hash = :h WHERE seq = :s"),
                     fixes)  # fmt: skip
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    with rt.ledger.session() as s:
        assert audit_chain.walk(s).problem is None  # the chain holds...
    verdict = VerifyAudit(rt).run(AUDITOR)
    assert verdict.problem == (  # ...but the log remembers the old head
        "audit anchor at log index 0 (entry 6): the chain no longer has that entry"
    )


def test_a_deleted_anchor_record_is_found(tmp_path: Path) -> None:
    rt = _filled(tmp_path)
    AnchorAudit(rt).run(ADMIN)
    _sql(rt, "DELETE FROM audit_anchors")
    assert VerifyAudit(rt).run(AUDITOR).problem == "log leaf 0: an audit anchor with no record"


def test_anchoring_twice_without_new_entries_writes_one_anchor(tmp_path: Path) -> None:
    rt = _filled(tmp_path, 3)
    assert AnchorAudit(rt).run(ADMIN) == (3, 0)
    assert AnchorAudit(rt).run(ADMIN) == (3, None)
    rt.ledger.audit("staff:x", "view", "dsr-1")
    assert AnchorAudit(rt).run(ADMIN) == (4, 1)
    verdict = VerifyAudit(rt).run(AUDITOR)
    assert (verdict.ok, verdict.anchors, verdict.anchored_seq) == (True, 2, 4)


def test_an_outside_checkpoint_is_checked(tmp_path: Path) -> None:
    rt = _filled(tmp_path, 3)
    AnchorAudit(rt).run(ADMIN)
    note = rt.tlog.checkpoint(rt.keys.signer("log"), rt.keys.keyring().log_origin)
    cp = tmp_path / "cp.txt"
    cp.write_text(note)
    code, output = _cli(tmp_path, "verify", "--checkpoint", str(cp))
    assert code == 0 and "matches the checkpoint at size 1" in output, output
    cp.write_text(note.replace(note.split("\n")[2], "AAAA" + note.split("\n")[2][4:]))
    code, output = _cli(tmp_path, "verify", "--checkpoint", str(cp))
    assert code != 0 and "checkpoint:" in output, output


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    rt = runtime(tmp_path)

    def write(worker: int) -> None:
        for i in range(20):
            rt.ledger.audit(f"staff:w{worker}", "view", f"dsr-{worker}", i=i)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(write, range(6)))
    verdict = VerifyAudit(rt).run(AUDITOR)
    assert (verdict.ok, verdict.entries, verdict.head_seq) == (True, 120, 120), verdict.problem


def test_export_jsonl_and_csv_carry_the_hashes_and_are_audited(tmp_path: Path) -> None:
    _filled(tmp_path, 3)
    code, output = _cli(tmp_path, "export")
    assert code == 0, output
    rows = [json.loads(line) for line in output.splitlines()]
    # the export is recorded before it is read, so it lists itself last
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert rows[3]["action"] == "audit.export" and rows[3]["category"] == "download"
    assert rows[1]["prev_hash"] == rows[0]["entry_hash"]
    out_file = tmp_path / "audit.csv"
    code, output = _cli(tmp_path, "export", "--format", "csv", "--out", str(out_file))
    assert code == 0, output
    table = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert [r["seq"] for r in table] == ["1", "2", "3", "4", "5"]
    assert json.loads(table[4]["detail"]) == {"format": "csv", "since": None}


def test_export_since_a_day_and_bad_input(tmp_path: Path) -> None:
    _filled(tmp_path, 2)
    code, output = _cli(tmp_path, "export", "--since", "2999-01-01")
    assert code == 0 and output == "", output  # (the export itself is dated today)
    code, output = _cli(tmp_path, "export", "--since", "2026-13-01")
    assert code == 2 and "--since: 2026-13-01 is not a calendar date" in output
    code, output = _cli(tmp_path, "export", "--format", "xml")
    assert code == 2 and "--format: 'xml' is not one of jsonl, csv" in output


def test_roles(tmp_path: Path) -> None:
    rt = _filled(tmp_path, 1)
    for use_case in (VerifyAudit(rt).run, AnchorAudit(rt).run):
        with pytest.raises(NotAllowed):
            use_case(ENGINEER)
    code, output = _cli(tmp_path, "export", roles="analyst")
    assert code == 5 and "may not audit.export" in output, output


def test_an_anchor_and_its_record_commit_together(tmp_path: Path) -> None:
    """A crash while recording the anchor leaves neither the leaf nor the record behind."""
    rt = _filled(tmp_path, 2)

    def crash(s: object, index: int) -> None:
        raise RuntimeError("killed between the leaf and its record")

    keys = rt.keys
    keys.ensure(rt.settings.controller)
    with pytest.raises(RuntimeError):
        rt.tlog.append(bytes(32), "audit-chain", keys.signer("log"), keys.keyring().log_origin,
                       with_entry=crash)  # fmt: skip
    assert rt.tlog.size() == 0
    assert VerifyAudit(rt).run(AUDITOR).ok
    assert AnchorAudit(rt).run(ADMIN) == (2, 0)
