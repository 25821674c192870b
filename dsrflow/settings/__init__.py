"""Process settings, loaded once at the composition root.

Nothing in dsrflow reads the environment on its own: ``Settings.load`` is called by the CLI (or a
test) and the result is passed down explicitly. Every variable is ``DSRFLOW_<FIELD>``; a field of
a group is ``DSRFLOW_<GROUP>_<FIELD>`` (``DSRFLOW_TEMPORAL_ADDRESS`` is ``temporal.address``).
Values come from, highest first: the environment, a ``.env`` file, a secrets directory (one file
per variable, named like it, as Docker and Kubernetes mount secrets), the defaults.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import (
    Field,
    SecretStr,
    field_validator,
)
from pydantic import ValidationError as _ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from dsrflow.errors import ConfigError
from dsrflow.lean_settings import ENV_FILE_VAR as ENV_FILE_VAR
from dsrflow.lean_settings import PREFIX as PREFIX
from dsrflow.lean_settings import SECRETS_DIR_VAR as SECRETS_DIR_VAR
from dsrflow.lean_settings import default_ledger_url, sources
from dsrflow.settings.groups import (  # re-exported: import them from here
    AdaptersSettings,
    CodecSettings,
    LedgerSettings,
    LogSettings,
    MessagesSettings,
    MetricsSettings,
    OtelSettings,
    ScanSettings,
    SigningSettings,
    SmtpSettings,
    TemporalSettings,
    UiSettings,
)
from dsrflow.settings.web import (
    ApiSettings,
    ConsoleSettings,
    DeliverySettings,
    IntakeSettings,
)

# The value sources of the ``load`` call in progress (pydantic-settings builds sources per class).
_SOURCES: contextvars.ContextVar[list[Mapping[str, str]]] = contextvars.ContextVar("_SOURCES")


class Settings(BaseSettings):
    """Settings for one dsrflow process (see ``docs/operations.md``, section Settings)."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,  # DSRFLOW_TEMPORAL_API_KEY is temporal.api_key, not api.key
        env_ignore_empty=True,
        case_sensitive=False,
    )

    state_dir: Path = Field(
        Path(".dsrflow"), description="Embedded-stack state: Temporal DB, ledger, keys, artifacts."
    )
    catalog: Path = Field(Path("dsrflow.yaml"), description="The store catalog (config-as-code).")
    task_queue: str = Field("dsrflow", min_length=1)
    controller: str = "Example Controller Ltd"
    retention_days: int = Field(
        30,
        ge=0,
        description="Days after a request ends before `dsrflow purge` destroys its data key "
        "(crypto-shredding Temporal's copy and its encrypted artifacts).",
    )
    actor: str | None = Field(None, description="Who is acting, for the audit log.")
    roles: str = Field(
        "admin",
        description="Comma-separated roles of the CLI's principal (the local operator's tool).",
    )
    kek: SecretStr | None = Field(None, description="Base64 32-byte key-encryption key.")
    root_passphrase: SecretStr | None = Field(None, description="Encrypts the offline root key.")
    verifier_state: Path | None = Field(None, description="The offline verifier's state file.")
    debug: bool = Field(False, description="Internal errors print a stack trace.")
    caller_assertion_max_age_s: int = Field(
        300,
        ge=0,
        description="How old a start's or update's caller assertion may be when the workflow "
        "sees it (0: not checked; only for test servers whose clock skips ahead).",
    )
    reconcile_interval_s: int = Field(
        300, ge=0, description="Seconds between the worker's reconciler rounds (0: off)."
    )
    worker_workflow_tasks: int = Field(
        8,
        ge=2,
        description="Workflow tasks one worker runs at once. Beyond what its CPU finishes within "
        "Temporal's 10 s workflow-task timeout, tasks time out in the worker and the server "
        "refuses updates until they are retried; waiting on the server costs nothing.",
    )
    audit_anchor_interval_s: int = Field(
        600,
        ge=0,
        description="Seconds between the worker's anchors of the audit chain's head "
        "in the transparency log (0: off; `dsrflow audit anchor` anchors on demand).",
    )
    codec_allowed_origins: str = Field(
        "",
        description="Comma-separated origins (the Temporal UI's) allowed to call the codec "
        "server; default: the embedded UI on the UI port.",
    )
    env_file: Path = Field(Path(".env"), description="A dotenv file read at start-up.")
    secrets_dir: Path | None = Field(None, description="One file per variable, named like it.")
    temporal: TemporalSettings = TemporalSettings()
    ledger: LedgerSettings = LedgerSettings()
    log: LogSettings = LogSettings()
    ui: UiSettings = UiSettings()
    codec: CodecSettings = CodecSettings()
    api: ApiSettings = ApiSettings()
    signing: SigningSettings = SigningSettings()
    smtp: SmtpSettings = SmtpSettings()
    messages: MessagesSettings = MessagesSettings()
    console: ConsoleSettings = ConsoleSettings()
    intake: IntakeSettings = IntakeSettings()
    scan: ScanSettings = ScanSettings()
    delivery: DeliverySettings = DeliverySettings()
    metrics: MetricsSettings = MetricsSettings()
    otel: OtelSettings = OtelSettings()

    adapters: AdaptersSettings = AdaptersSettings()

    @field_validator("kek")
    @classmethod
    def _kek(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                raw = base64.b64decode(value.get_secret_value(), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("not valid base64") from None
            if len(raw) != 32:
                raise ValueError("must decode to 32 bytes")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values, then the mappings ``load`` gathered (environment first)."""
        sources = _SOURCES.get([])
        return (init_settings, *(_MappingSource(settings_cls, m) for m in sources))

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment, a ``.env`` file and a secrets directory.

        Args:
            env: The environment to read; ``os.environ`` when ``None``. ``DSRFLOW_ENV_FILE``
                (default ``.env``, skipped when missing unless named) and
                ``DSRFLOW_SECRETS_DIR`` name the other two sources.

        Returns:
            Validated settings.

        Raises:
            ConfigError: One line naming the variable whose value is wrong.

        """
        env = dict(os.environ if env is None else env)
        token = _SOURCES.set(sources(env))
        try:
            return cls()
        except _ValidationError as exc:
            raise ConfigError(_one_line(exc)) from None
        except SettingsError as exc:  # a group given as one variable, not valid JSON
            group = str(exc).split('"')[1] if '"' in str(exc) else "?"
            raise ConfigError(
                f"settings: {PREFIX}{group.upper()}: set the group's fields one by one "
                f"({PREFIX}{group.upper()}_<FIELD>)"
            ) from None
        finally:
            _SOURCES.reset(token)

    # Shorthands for the fields most code reads.
    @property
    def temporal_address(self) -> str:
        """``temporal.address``."""
        return self.temporal.address

    @property
    def ui_port(self) -> int:
        """``ui.port``."""
        return self.ui.port

    @property
    def codec_port(self) -> int:
        """``codec.port``."""
        return self.codec.port

    @property
    def ledger_database_url(self) -> str:
        """The ledger's SQLAlchemy URL (SQLite in the state folder unless set)."""
        return self.ledger.url or default_ledger_url(self.state_dir)

    @property
    def artifacts_dir(self) -> Path:
        """Where encrypted access packages and evidence bundles are kept."""
        return self.state_dir / "artifacts"

    @property
    def keys_dir(self) -> Path:
        """Where the controller's signing key and the key-encryption key live."""
        return self.state_dir / "keys"

    def secret_env(self) -> dict[str, str]:
        """The secrets as the variables the key code looks up (wherever they were set)."""
        found = {
            "DSRFLOW_KEK": self.kek,
            "DSRFLOW_ROOT_PASSPHRASE": self.root_passphrase,
            self.signing.passphrase_env: self.signing.passphrase,
        }
        return {k: v.get_secret_value() for k, v in found.items() if v is not None}


class _MappingSource(EnvSettingsSource):
    """The environment source of pydantic-settings, reading a given mapping."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, str]) -> None:
        self._values = values
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            k.lower(): v
            for k, v in self._values.items()
            if k.upper().startswith(PREFIX) and v != ""
        }


def _one_line(exc: _ValidationError) -> str:
    err = exc.errors()[0]
    name = PREFIX + "_".join(str(part) for part in err["loc"]).upper()
    return f"settings: {name}: {err['msg'].removeprefix('Value error, ')}"


__all__ = [
    "ENV_FILE_VAR",
    "PREFIX",
    "SECRETS_DIR_VAR",
    "AdaptersSettings",
    "ApiSettings",
    "CodecSettings",
    "ConsoleSettings",
    "DeliverySettings",
    "IntakeSettings",
    "LedgerSettings",
    "LogSettings",
    "MessagesSettings",
    "MetricsSettings",
    "OtelSettings",
    "ScanSettings",
    "Settings",
    "SigningSettings",
    "SmtpSettings",
    "TemporalSettings",
    "UiSettings",
]
