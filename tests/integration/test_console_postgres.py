"""Console sign-in on PostgreSQL (the production ledger): sessions, lockout and expiry compare
aware times there, and the lockout's row lock is real."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.console_kit import (
    Clock,
    account,
    browser,
    console_app,
    console_runtime,
    session_csrf,
    sign_in,
)

pytestmark = pytest.mark.postgres


def test_sign_in_lockout_expiry_and_sign_out_on_postgres(pg_database: str, tmp_path: Path) -> None:
    rt = console_runtime(
        tmp_path, DSRFLOW_LEDGER_URL=f"postgresql://postgres@127.0.0.1:5432/{pg_database}"
    )
    try:
        clock = Clock()
        app = console_app(rt, clock)
        account(rt, "ann", "analyst")
        c = browser(app)
        for _ in range(rt.settings.console.lockout_failures):
            assert sign_in(c, "ann", "not the password").status_code == 401
        assert sign_in(c, "ann").status_code == 401  # locked
        clock.advance(seconds=rt.settings.console.lockout_s + 1)
        assert sign_in(c, "ann").status_code == 303
        assert c.get("/console/password").status_code == 200
        clock.advance(seconds=rt.settings.console.session_idle_s + 1)
        assert c.get("/console/password").status_code == 303  # idle
        assert sign_in(c, "ann").status_code == 303
        out = c.post("/console/logout", data={"csrf": session_csrf(rt, c)})
        assert out.status_code == 303 and c.get("/console/password").status_code == 303
    finally:
        rt.ledger.close()
