"""The composition root of ledger reads that need no SQLAlchemy (``request list`` / ``show``).

``Runtime`` builds everything from ``Settings``; this builds only what ``ListRequests`` and
``ShowRequest`` touch (``rt.settings``, ``rt.ledger``) from ``ReadSettings``, with the plain-SQL
reader over the default SQLite ledger. It declines (returns None) whenever the full runtime would
behave differently: a ledger URL set explicitly (PostgreSQL, or another file), a ledger that is
missing or not at this dsrflow's revision (``Ledger`` words those errors), settings only the full
loader reads. The caller then goes the normal way, so the answer is the same either way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from dsrflow.lean_settings import ReadSettings, load_read_settings
from dsrflow.ledger.sqlread import HEAD, SqliteReader


@dataclass(frozen=True)
class ReadRuntime:
    """What the read use cases use of ``Runtime``: its settings and its ledger."""

    settings: ReadSettings
    ledger: SqliteReader

    def close(self) -> None:
        """Close the ledger connection."""
        self.ledger.close()


def open_read_runtime(env: Mapping[str, str]) -> ReadRuntime | None:
    """A read runtime over the default SQLite ledger, or None to use ``Runtime`` instead.

    Raises:
        ConfigError: A setting the read uses is invalid (worded as ``Settings.load`` words it).
    """
    settings = load_read_settings(env)
    if settings is None or settings.ledger_url is not None:
        return None
    path = (settings.state_dir / "ledger.db").resolve()
    if not path.is_file():
        return None
    try:
        reader = SqliteReader(path)
        current = reader.revision()
    except sqlite3.Error:
        return None
    if current != HEAD:
        reader.close()
        return None
    return ReadRuntime(settings, reader)
