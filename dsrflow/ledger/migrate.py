"""The ledger's schema revision: checked by every process, changed only on purpose.

``dsrflow ledger upgrade`` (and ``dsrflow dev``, which owns its embedded ledger) apply the
migrations; every other process only compares the database's revision with the newest one this
dsrflow ships and refuses to start, in one line, when they differ. The check is one SELECT and
reads the revision ids from the migration files' text: Alembic is imported only to migrate.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from dsrflow.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
UPGRADE_HINT = "run `dsrflow ledger upgrade`"
_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?([\w.-]+|None)['\"]?", re.M)


class LedgerBehindError(ConfigError):
    """The ledger's schema is not the one this dsrflow needs."""


@dataclass(frozen=True)
class Upgrade:
    """What ``upgrade`` did: the revision before (None: a new ledger) and after."""

    before: str | None
    after: str


@cache
def revisions() -> tuple[str, ...]:
    """Every packaged revision id, oldest first (parsed from the files, no Alembic import).

    Raises:
        ConfigError: The migration files do not form one chain (a packaging mistake).

    """
    parent: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_REVISION.findall(path.read_text()))
        if "revision" in found:
            down = found.get("down_revision")
            parent[found["revision"]] = None if down in (None, "None") else down
    chain: list[str] = []
    child = {down: rev for rev, down in parent.items()}
    rev = child.get(None)
    while rev is not None:
        chain.append(rev)
        rev = child.get(rev)
    if len(chain) != len(parent):
        raise ConfigError(f"{MIGRATIONS / 'versions'}: the migrations do not form one chain")
    return tuple(chain)


def head() -> str:
    """The revision this dsrflow's models expect."""
    return revisions()[-1]


def current(engine: Engine) -> str | None:
    """The database's revision; None when it has none (a new or empty database)."""
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError):  # no such table
            return None


def require_current(engine: Engine) -> None:
    """Refuse to go on unless the database is at this dsrflow's revision.

    Raises:
        LedgerBehindError: Behind (or new), or ahead (written by a newer dsrflow); one line.

    """
    rev, want = current(engine), head()
    if rev == want:
        return
    where = f"ledger {_display(engine)}"
    if rev is None:
        raise LedgerBehindError(f"{where} has no schema yet; {UPGRADE_HINT}")
    if rev in revisions():
        raise LedgerBehindError(
            f"{where} is at revision {rev}, this dsrflow needs {want}; {UPGRADE_HINT}"
        )
    raise LedgerBehindError(
        f"{where} is at revision {rev}, newer than this dsrflow knows ({want}); upgrade dsrflow"
    )


def config(connection: Connection | None = None) -> Config:
    """An Alembic config for the packaged migrations, bound to ``connection``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine) -> Upgrade:
    """Apply every pending migration (a new database gets the whole schema), quietly.

    Returns:
        The revision before and after.

    Raises:
        ConfigError: The database has ledger tables but no migration history (made by a
            pre-release dsrflow), or is newer than this dsrflow: it cannot be upgraded safely.

    """
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    if tables and "alembic_version" not in tables and "requests" in tables:
        raise ConfigError(
            f"ledger {_display(engine)} was created by a pre-release dsrflow without "
            "migrations; move it aside and start a new ledger"
        )
    before = current(engine)
    if before is not None and before not in revisions():
        require_current(engine)  # names the newer revision
    if before != head():
        # Alembic logs each step at INFO; the caller reports the result in one line.
        alembic_log = logging.getLogger("alembic")
        level = alembic_log.level
        alembic_log.setLevel(logging.WARNING)
        try:
            from alembic import command

            with engine.begin() as conn:
                command.upgrade(config(conn), "head")
        finally:
            alembic_log.setLevel(level)
    return Upgrade(before, head())


def _display(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
