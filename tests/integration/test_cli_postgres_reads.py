"""``request list`` / ``request show`` on a PostgreSQL ledger: the fast start declines it (it
reads only the default SQLite ledger) and the Typer path answers, audited as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dsrflow.domain import ProjectionEvent, RequestStatus, RequestType, StoreOutcome, StoreStatus
from dsrflow.ledger import Ledger
from tests.fixtures.cli import invoke

pytestmark = pytest.mark.postgres


def test_list_and_show_read_a_postgres_ledger(pg_database: str, tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:5432/{pg_database}"
    ledger = Ledger(url, migrate=True)
    now = datetime.now(UTC)
    ledger.apply(
        ProjectionEvent(
            request_id="dsr-pg-cli", request_type=RequestType.ACCESS,
            status=RequestStatus.RUNNING, received_at=now - timedelta(days=1),
            stores=[StoreOutcome("crm", "sql", StoreStatus.PENDING)], seq=1,
            due_at=now + timedelta(days=29),
        )
    )  # fmt: skip
    env = {
        "DSRFLOW_STATE_DIR": str(tmp_path / "state"),
        "DSRFLOW_LEDGER_URL": url,
        "DSRFLOW_ACTOR": "staff:pg",
        "DSRFLOW_ENV_FILE": "/dev/null",
    }
    listed = invoke("request", "list", "--status", "running", env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "dsr-pg-cli" in listed.stdout, listed.output
    shown = invoke("request", "show", "dsr-pg-cli", env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.output
    assert "dsr-pg-cli access running" in shown.stdout and "crm" in shown.stdout
    missing = invoke("request", "show", "dsr-nope", env=env, cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr == "error: request dsr-nope: not in the ledger\n"
    entries = [(e.actor, e.action, e.category) for e in ledger.audit_entries("dsr-pg-cli")]
    ledger.close()
    assert entries == [("staff:pg", "view", "view")]
