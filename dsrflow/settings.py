"""Process settings, loaded once at the composition root.

Nothing in dsrflow reads the environment on its own: ``Settings.load`` is called by the CLI (or a
test) and the result is passed down explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dsrflow.errors import ConfigError

_PREFIX = "DSRFLOW_"


class Settings(BaseModel):
    """Settings for one dsrflow process.

    Every field can be set from an environment variable named ``DSRFLOW_<FIELD>`` (upper case).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    state_dir: Path = Field(
        Path(".dsrflow"), description="Embedded-stack state: Temporal DB, ledger, keys, artifacts."
    )
    catalog: Path = Field(Path("dsrflow.yaml"), description="The store catalog (config-as-code).")
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_api_key_env: str | None = Field(
        None, description="Name of the env var holding a Temporal Cloud API key."
    )
    task_queue: str = "dsrflow"
    ui_port: int = 8233
    codec_port: int = 8234
    ledger_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite under state_dir."
    )
    controller: str = "Example Controller Ltd"
    retention_days: int = Field(
        30,
        ge=0,
        description="Days after a request ends before `dsrflow purge` destroys its data key "
        "(crypto-shredding Temporal's copy and its encrypted artifacts).",
    )
    signing_passphrase_env: str = "DSRFLOW_SIGNING_PASSPHRASE"  # noqa: S105 - a variable name
    caller_assertion_max_age_s: int = Field(
        300,
        ge=0,
        description="How old a start's or update's caller assertion may be when the workflow "
        "sees it (0: not checked; only for test servers whose clock skips ahead).",
    )
    reconcile_interval_s: int = Field(
        300, ge=0, description="Seconds between the worker's reconciler rounds (0: off)."
    )
    codec_allowed_origins: str = Field(
        "",
        description="Comma-separated origins (the Temporal UI's) allowed to call the codec "
        "server; default: the embedded UI on ui_port.",
    )
    log_format: Literal["console", "json"] = "console"
    log_level: str = "info"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from an environment mapping.

        Args:
            env: The environment to read; ``os.environ`` when ``None``.

        Returns:
            Validated settings.

        Raises:
            ConfigError: A variable holds a value of the wrong type.

        """
        env = os.environ if env is None else env
        values = {}
        for name in cls.model_fields:
            key = _PREFIX + name.upper()
            if key in env and env[key] != "":
                values[name] = env[key]
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else "?"
            raise ConfigError(f"environment: {_PREFIX}{field.upper()}: {err['msg']}") from None

    @property
    def ledger_database_url(self) -> str:
        """The ledger's SQLAlchemy URL (SQLite in the state folder unless set)."""
        return self.ledger_url or f"sqlite:///{(self.state_dir / 'ledger.db').resolve()}"

    @property
    def artifacts_dir(self) -> Path:
        """Where encrypted access packages and evidence bundles are kept."""
        return self.state_dir / "artifacts"

    @property
    def keys_dir(self) -> Path:
        """Where the controller's signing key and the key-encryption key live."""
        return self.state_dir / "keys"
