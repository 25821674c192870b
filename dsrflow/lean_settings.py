"""The settings a ledger read needs, loaded without pydantic; and the value sources of all settings.

``Settings.load`` (``dsrflow.settings``) validates every field through pydantic-settings, which
costs ~20 ms of imports and more to build; ``request list`` and ``request show`` read five fields.
``load_read_settings`` reads those from the same sources (``sources``: the environment, then
a ``.env`` file, then a secrets directory, then the defaults), with the same names, the same
empty-means-unset rule and the same one-line errors. When a value could only be understood by
the full loader (a whole group given as one JSON variable) it returns None and the caller uses
``Settings``; so does everything that needs any other field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dsrflow.errors import ConfigError

PREFIX = "DSRFLOW_"
ENV_FILE_VAR = "DSRFLOW_ENV_FILE"
SECRETS_DIR_VAR = "DSRFLOW_SECRETS_DIR"
LOG_FORMATS = ("console", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


def sources(env: Mapping[str, str]) -> list[Mapping[str, str]]:
    """The mappings settings are read from, highest first: ``env``, ``.env``, the secrets dir.

    Raises:
        ConfigError: ``DSRFLOW_ENV_FILE`` names a missing file, or the secrets dir is no folder.
    """
    named = env.get(ENV_FILE_VAR)
    if named and not Path(named).exists():  # a file named on purpose must be there
        raise ConfigError(f"settings: {ENV_FILE_VAR}: {named} does not exist")
    dotenv = read_dotenv(Path(named or ".env"))
    secrets_dir = env.get(SECRETS_DIR_VAR) or dotenv.get(SECRETS_DIR_VAR)
    secrets = read_secrets(Path(secrets_dir)) if secrets_dir else {}
    return [env, dotenv, secrets]


def read_dotenv(path: Path) -> dict[str, str]:
    """The variables of a dotenv file ({} when there is none)."""
    if not path.exists():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def read_secrets(folder: Path) -> dict[str, str]:
    """One variable per file of ``folder``, named like the file (upper-cased), value stripped."""
    if not folder.is_dir():
        raise ConfigError(f"settings: {SECRETS_DIR_VAR}: {folder} is not a directory")
    return {
        p.name.upper(): p.read_text().strip()
        for p in folder.iterdir()
        if p.is_file() and p.name.upper().startswith(PREFIX)
    }


def default_ledger_url(state_dir: Path) -> str:
    """The ledger URL when none is set: SQLite in the state folder."""
    return f"sqlite:///{(state_dir / 'ledger.db').resolve()}"


@dataclass(frozen=True)
class ReadSettings:
    """The fields of ``Settings`` a ledger read uses (same names, same defaults)."""

    state_dir: Path = Path(".dsrflow")
    ledger_url: str | None = None
    actor: str | None = None
    roles: str = "admin"
    log_format: str = "console"
    log_level: str = "info"

    @property
    def ledger_database_url(self) -> str:
        """As ``Settings.ledger_database_url``."""
        return self.ledger_url or default_ledger_url(self.state_dir)


_FIELDS = {
    "dsrflow_state_dir": "state_dir",
    "dsrflow_ledger_url": "ledger_url",
    "dsrflow_actor": "actor",
    "dsrflow_roles": "roles",
    "dsrflow_log_format": "log_format",
    "dsrflow_log_level": "log_level",
}
# Variables holding a whole group as JSON: only pydantic-settings reads those.
_GROUPS = frozenset({"dsrflow_ledger", "dsrflow_log"})


def load_read_settings(env: Mapping[str, str]) -> ReadSettings | None:
    """The read's settings from ``env`` and the other sources, as ``Settings.load`` finds them.

    Returns:
        The settings, or None when only the full loader can read them.

    Raises:
        ConfigError: One line naming the variable, worded as ``Settings.load`` words it.
    """
    found: dict[str, str] = {}
    for source in sources(env):
        for key, value in source.items():
            name = key.lower()  # settings names are case-insensitive
            if value == "":  # empty means unset, in every source
                continue
            if name in _GROUPS:
                return None
            field = _FIELDS.get(name)
            if field is not None and field not in found:
                found[field] = value
    log_format = found.get("log_format", "console")
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"settings: {PREFIX}LOG_FORMAT: Input should be 'console' or 'json'")
    log_level = found.get("log_level", "info").lower()
    if log_level not in LOG_LEVELS:
        raise ConfigError(
            f"settings: {PREFIX}LOG_LEVEL: Input should be 'debug', 'info', 'warning' or 'error'"
        )
    return ReadSettings(
        state_dir=Path(found.get("state_dir", ".dsrflow")),
        ledger_url=found.get("ledger_url"),
        actor=found.get("actor"),
        roles=found.get("roles", "admin"),
        log_format=log_format,
        log_level=log_level,
    )
