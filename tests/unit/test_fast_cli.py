"""The fast start of ``request list`` / ``request show``: same output, same audit, same errors.

Each case runs twice through the real entry point (``main``), once taking the fast path
(``cli.fast``: plain SQL, lean settings) and once forced down the Typer path, on two copies of
the same ledger, and compares what a person sees: stdout, stderr and the exit code.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from dsrflow.cli import fast
from dsrflow.domain import RequestStatus
from dsrflow.ledger import migrate, sqlread
from dsrflow.read_runtime import open_read_runtime
from dsrflow.service.auditlog import VerifyAudit
from tests.fixtures.cli import CliRun, invoke
from tests.unit.service_kit import AUDITOR, env_of, project, runtime

_SECONDS = re.compile(r"\d\d:\d\d:\d\d")  # a view written now: its second may differ


@pytest.fixture
def ledgers(tmp_path: Path) -> tuple[Path, Path]:
    """Two state folders holding the same ledger (three requests, a view and a decision)."""
    rt = runtime(tmp_path / "a")
    project(rt, "dsr-a", reason="[/oops] halted", detail="[/bold] [red]x")
    project(rt, "dsr-b", RequestStatus.NEEDS_ATTENTION, store="crm")
    project(rt, "dsr-c", RequestStatus.COMPLETED)
    rt.ledger.audit("staff:old", "view", "dsr-a")
    rt.ledger.audit("staff:bob", "approve", "dsr-a", n=1)
    rt.ledger.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    return tmp_path / "a", tmp_path / "b"


def _both(
    monkeypatch: pytest.MonkeyPatch, dirs: tuple[Path, Path], *args: str, **env: str
) -> tuple[CliRun, CliRun]:
    taken: list[int | None] = []
    real = fast.run

    def recording(argv: list[str]) -> int | None:
        taken.append(None)  # reached the fast path; an error raised below is its answer
        code = real(argv)
        taken[-1] = code if code is not None else -1
        return code

    monkeypatch.setattr(fast, "run", recording)
    quick = invoke(*args, env={**env_of(dirs[0]), **env}, cwd=dirs[0])
    assert taken and taken[0] != -1, "the fast path declined"
    monkeypatch.setattr(fast, "run", lambda argv: None)
    slow = invoke(*args, env={**env_of(dirs[1]), **env}, cwd=dirs[1])
    return quick, slow


def _same(quick: CliRun, slow: CliRun) -> None:
    assert quick.returncode == slow.returncode, (quick.output, slow.output)
    assert _SECONDS.sub("T", quick.stdout) == _SECONDS.sub("T", slow.stdout)
    assert quick.stderr == slow.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("request", "list"),
        ("request", "list", "--status", "running"),
        ("request", "list", "--status=needs_attention", "--limit", "5"),
        ("request", "list", "--limit=1"),
        ("request", "list", "--status", "overdue"),
        ("request", "show", "dsr-a"),
        ("request", "show", "dsr-b"),
    ],
)
def test_both_paths_print_the_same(
    monkeypatch: pytest.MonkeyPatch, ledgers: tuple[Path, Path], args: tuple[str, ...]
) -> None:
    quick, slow = _both(monkeypatch, ledgers, *args)
    assert quick.returncode == 0, quick.output
    assert ("dsr-" in quick.stdout) == ("overdue" not in args), quick.output  # none is late
    _same(quick, slow)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("request", "show", "dsr-nope"), {}, "not in the ledger"),
        (("request", "show", "[/bold]"), {}, "request id"),
        (("request", "list", "--status", "bogus"), {}, "--status"),
        (("request", "list", "--limit", "0"), {}, "--limit"),
        (("request", "list"), {"DSRFLOW_ROLES": "engineer"}, "may not list"),
        (("request", "show", "dsr-a"), {"DSRFLOW_ACTOR": "nobody"}, "actor: expected"),
        (("request", "list"), {"DSRFLOW_LOG_LEVEL": "loud"}, "DSRFLOW_LOG_LEVEL"),
        (("request", "list"), {"DSRFLOW_LOG_FORMAT": "xml"}, "DSRFLOW_LOG_FORMAT"),
    ],
)
def test_both_paths_refuse_alike(
    monkeypatch: pytest.MonkeyPatch,
    ledgers: tuple[Path, Path],
    args: tuple[str, ...],
    env: dict[str, str],
    message: str,
) -> None:
    quick, slow = _both(monkeypatch, ledgers, *args, **env)
    assert quick.returncode != 0 and message in quick.stderr, quick.output
    assert quick.stderr.count("\n") == 1 and "Traceback" not in quick.output
    _same(quick, slow)


def _last_entry(state: Path) -> dict[str, object]:
    with sqlite3.connect(state / "state" / "ledger.db") as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute(
            "SELECT *, typeof(at) AS at_t, typeof(detail) AS detail_t, typeof(prev_hash) AS "
            "prev_t, typeof(entry_hash) AS hash_t FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return dict(row)


def test_the_fast_view_entry_is_chained_like_the_normal_one(
    monkeypatch: pytest.MonkeyPatch, ledgers: tuple[Path, Path]
) -> None:
    quick, slow = _both(monkeypatch, ledgers, "request", "show", "dsr-a")
    assert quick.returncode == slow.returncode == 0
    fast_row, slow_row = _last_entry(ledgers[0]), _last_entry(ledgers[1])
    differs = {"id", "at", "entry_hash"}  # written at different instants
    assert {k: v for k, v in fast_row.items() if k not in differs} == {
        k: v for k, v in slow_row.items() if k not in differs
    }
    assert fast_row["action"] == "view" and fast_row["category"] == "view"
    assert fast_row["actor"] == "staff:cli" and fast_row["seq"] == 3
    stored = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
    assert stored.fullmatch(str(fast_row["at"])) and stored.fullmatch(str(slow_row["at"]))
    for state in ledgers:  # `dsrflow audit verify` holds on both
        rt = runtime(state)
        verdict = VerifyAudit(rt).run(AUDITOR)
        rt.ledger.close()
        assert verdict.ok and verdict.entries == 3, verdict.problem
    # ...and it would not if the fast path had hashed anything else.
    with sqlite3.connect(ledgers[0] / "state" / "ledger.db") as conn:
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.execute("UPDATE audit_log SET detail = '{\"x\": 1}' WHERE seq = 3")
    rt = runtime(ledgers[0])
    assert "entry 3" in str(VerifyAudit(rt).run(AUDITOR).problem)
    rt.ledger.close()


def test_the_reader_is_written_for_the_newest_migration() -> None:
    assert migrate.head() == sqlread.HEAD


def test_the_fast_path_declines_what_it_does_not_handle(ledgers: tuple[Path, Path]) -> None:
    for argv in (
        ["request", "list", "--subject", "email=a@example.org"],
        ["request", "list", "--limit", "x"],
        ["request", "list", "--status"],
        ["request", "list", "--help"],
        ["request", "show", "dsr-a", "--all"],
        ["request", "show", "--help"],
        ["--actor", "staff:x", "request", "list"],
        ["request", "tasks"],
    ):
        assert fast.parse(argv) is None, argv
    env = env_of(ledgers[0])
    assert open_read_runtime({**env, "DSRFLOW_LEDGER_URL": "postgresql://h/db"}) is None
    assert open_read_runtime({**env, "DSRFLOW_STATE_DIR": str(ledgers[0] / "none")}) is None
    with sqlite3.connect(ledgers[0] / "state" / "ledger.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    assert open_read_runtime(env) is None  # the Typer path names the revisions


def test_both_readers_take_the_same_filters() -> None:
    # ListRequests calls whichever reader the runtime has: a filter added to one reader and
    # not the other fails at run time on one path only (case references did, once).
    import inspect

    from dsrflow.ledger.db import Ledger

    def params(f: object) -> dict[str, object]:
        return {
            n: (p.kind, p.default)
            for n, p in inspect.signature(f).parameters.items()  # type: ignore[arg-type]
            if n != "self"
        }

    assert params(sqlread.SqliteReader.list_requests) == params(Ledger.list_requests)
