"""Migrations run once, on purpose: `dsrflow ledger upgrade` migrates, every other command checks
the revision and refuses in one line; no command prints a migration or framework log line.

In-process; ``tests/e2e/test_cli_process.py`` checks the same of fresh processes.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from dsrflow.errors import ConfigError
from dsrflow.ledger import Ledger
from dsrflow.ledger.migrate import LedgerBehindError, config, head, revisions
from dsrflow.logging import configure
from tests.fixtures.cli import CliRun, invoke

# A log line of structlog's console renderer, stdlib logging or Alembic's own messages.
LOG_LINE = re.compile(r"\[(debug|info|warning)\s*\]|\bINFO\b|alembic|Running upgrade|Context impl")


def cli(state: Path, *args: str) -> CliRun:
    env = {"DSRFLOW_STATE_DIR": str(state), "DSRFLOW_LOG_LEVEL": "info",
           "DSRFLOW_ENV_FILE": os.devnull, "DSRFLOW_ACTOR": "staff:test"}  # fmt: skip
    return invoke(*args, env=env)


def refused(r: CliRun, says: str) -> None:
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ledger "), r.stderr
    assert says in r.stderr and "run `dsrflow ledger upgrade`" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_command_refuses_a_ledger_that_is_behind_and_upgrade_fixes_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    refused(cli(state, "request", "list"), "does not exist")
    assert not (state / "ledger.db").exists()  # the check created nothing

    state.mkdir()
    url = f"sqlite:///{state / 'ledger.db'}"
    with create_engine(url).begin() as conn:  # a ledger left at the first revision
        command.upgrade(config(conn), revisions()[0])
    refused(cli(state, "request", "list"), f"is at revision {revisions()[0]}, this dsrflow needs")
    refused(cli(state, "request", "tasks"), "is at revision")
    refused(cli(state, "codec-server"), "is at revision")  # a server refuses to start as well

    up = cli(state, "ledger", "upgrade")
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip().endswith(f"upgraded from {revisions()[0]} to {head()}")
    again = cli(state, "ledger", "upgrade")
    assert again.stdout.strip().endswith(f"already at revision {head()}")
    listed = cli(state, "request", "list")
    assert listed.returncode == 0 and "request" in listed.stdout, listed.stderr
    for r in (up, again, listed):
        assert not LOG_LINE.search(r.stdout + r.stderr), r.stdout + r.stderr


def test_no_command_prints_migration_or_framework_log_lines(tmp_path: Path) -> None:
    state = tmp_path / "state"
    runs = [cli(state, "ledger", "upgrade")]
    for args in (
        ("request", "list"), ("request", "tasks"), ("request", "show", "dsr-missing"),
        ("purge", "--help"), ("ledger", "upgrade"), ("keys", "list"),
    ):  # fmt: skip
        runs.append(cli(state, *args))
    for r in runs:
        assert not LOG_LINE.search(r.stdout + r.stderr), r.args
    assert [r.returncode for r in runs][:3] == [0, 0, 0]


def test_opening_with_migrate_logs_nothing_even_at_debug(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    configure("console", "debug")  # what `dsrflow dev` does before it migrates its ledger
    try:
        ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
        assert ledger.upgraded is not None and ledger.upgraded.after == head()
    finally:
        logging.getLogger().handlers.clear()
    out, err = capfd.readouterr()
    assert not LOG_LINE.search(out + err), out + err


def test_a_ledger_from_a_newer_dsrflow_is_refused_not_downgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger(url, migrate=True).close()
    with create_engine(url).begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    for migrate in (False, True):
        with pytest.raises(LedgerBehindError, match="newer than this dsrflow knows"):
            Ledger(url, migrate=migrate)


def test_revisions_read_from_the_files_match_alembic() -> None:
    script = ScriptDirectory.from_config(config())
    assert script.get_heads() == [head()]
    chain = [s.revision for s in script.walk_revisions()][::-1]
    assert list(revisions()) == chain


def test_behind_is_a_config_error_so_the_cli_prints_one_line() -> None:
    assert issubclass(LedgerBehindError, ConfigError)
