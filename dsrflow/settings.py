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
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    field_validator,
    model_validator,
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

_ADAPTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

# The value sources of the ``load`` call in progress (pydantic-settings builds sources per class).
_SOURCES: contextvars.ContextVar[list[Mapping[str, str]]] = contextvars.ContextVar("_SOURCES")


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TemporalSettings(_Group):
    """Where the Temporal frontend is and how to authenticate to it (``DSRFLOW_TEMPORAL_*``)."""

    address: str = Field("127.0.0.1:7233", description="Frontend HOST:PORT.")
    namespace: str = "default"
    tls: bool = Field(False, description="TLS without client certificate (implied by the rest).")
    api_key: SecretStr | None = Field(None, description="Temporal Cloud API key (implies TLS).")
    api_key_env: str | None = Field(
        None, description="Name of another env var holding the API key (older form)."
    )
    tls_client_cert: FilePath | None = Field(None, description="mTLS client certificate (PEM).")
    tls_client_key: FilePath | None = Field(None, description="mTLS client private key (PEM).")
    tls_ca: FilePath | None = Field(None, description="CA that signed the server's certificate.")
    tls_server_name: str | None = Field(None, description="Server name to expect (SNI).")

    @field_validator("address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT")
        return value

    @model_validator(mode="after")
    def _pair(self) -> TemporalSettings:
        if (self.tls_client_cert is None) != (self.tls_client_key is None):
            raise ValueError(f"{PREFIX}TEMPORAL_TLS_CLIENT_CERT and _KEY go together (mTLS)")
        return self

    @property
    def uses_tls(self) -> bool:
        """Whether the connection is TLS (asked for, or implied by a key or certificate)."""
        mtls = (self.tls_client_cert, self.tls_ca, self.tls_server_name)
        return self.tls or self.api_key is not None or any(v is not None for v in mtls)


class LedgerSettings(_Group):
    """The ledger database (``DSRFLOW_LEDGER_*``)."""

    url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite under state_dir.")


class LogSettings(_Group):
    """Process logs (``DSRFLOW_LOG_*``)."""

    format: Literal["console", "json"] = "console"
    level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class UiSettings(_Group):
    """The Temporal UI that ``dsrflow dev`` serves (``DSRFLOW_UI_*``)."""

    port: int = Field(8233, gt=0, lt=65536)


class CodecSettings(_Group):
    """The codec server the Temporal UI decodes payloads through (``DSRFLOW_CODEC_*``)."""

    port: int = Field(8234, gt=0, lt=65536)
    tokens: SecretStr | None = Field(
        None, description="``name=TOKEN,...``: who may decode; unset: loopback only."
    )


class ApiSettings(_Group):
    """The HTTP API that ``dsrflow serve`` and ``dsrflow dev`` run (``DSRFLOW_API_*``)."""

    host: str = Field("127.0.0.1", min_length=1, description="Address to listen on.")
    port: int = Field(8235, gt=0, lt=65536)
    tls_cert: FilePath | None = Field(None, description="Serve HTTPS with this certificate.")
    tls_key: FilePath | None = Field(None, description="The certificate's private key (PEM).")
    forwarded_allow_ips: str = Field(
        "",
        description="Proxies trusted for X-Forwarded-For/-Proto (comma-separated); "
        "unset: forwarded headers are ignored.",
    )
    max_body_bytes: int = Field(65536, ge=1024, description="Largest request body accepted.")
    auth_failures: int = Field(
        10, ge=1, description="Failed sign-ins per client address (or token) per window."
    )
    auth_failure_window_s: int = Field(60, ge=1, description="The window of that limit.")
    opendsr_domain: str = Field(
        "localhost",
        min_length=1,
        max_length=100,
        description="OpenDSR inbound: the processor domain its responses are signed for.",
    )
    opendsr_prefix: str = Field(
        "/opendsr",
        pattern=r"^(/[A-Za-z0-9._-]+)*$",
        description="OpenDSR inbound: where its routes are mounted ('' for the root).",
    )

    @model_validator(mode="after")
    def _pair(self) -> ApiSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError(f"{PREFIX}API_TLS_CERT and _KEY go together")
        return self


class SigningSettings(_Group):
    """Signing keys at rest (``DSRFLOW_SIGNING_*``)."""

    passphrase: SecretStr | None = Field(
        None, description="Encrypts the evidence and log signing keys at rest."
    )
    passphrase_env: str = Field(
        "DSRFLOW_SIGNING_PASSPHRASE",
        description="Name of the variable holding that passphrase (when not this one).",
    )


class SmtpSettings(_Group):
    """The SMTP server messages to data subjects and staff go through (``DSRFLOW_SMTP_*``)."""

    host: str | None = Field(None, description="SMTP server; unset: no e-mail is sent.")
    port: int = Field(587, gt=0, lt=65536)
    security: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="STARTTLS on a plain port, SSL from the start (465), or none."
    )
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = Field("privacy@example.com", description="The messages' From address.")
    ca_file: FilePath | None = Field(None, description="CA to trust instead of the system's.")
    timeout_s: float = Field(30.0, gt=0)


class MessagesSettings(_Group):
    """What the outbox sends, to whom, and how it retries (``DSRFLOW_MESSAGES_*``)."""

    templates_dir: Path | None = Field(
        None, description="Folder of templates overriding the shipped ones, file by file."
    )
    staff_email: str = Field("", description="Comma-separated staff addresses (no webhook set).")
    webhook_url: SecretStr | None = Field(None, description="Staff webhook (Slack-compatible).")
    webhook_secret: SecretStr | None = Field(None, description="Signs the webhook's requests.")
    status_url: str = Field(
        "", description="Where a subject follows the request; ``{request_id}`` is filled in."
    )
    authority: str = Field(
        "the data protection supervisory authority where you live or work",
        description="The supervisory authority a denial names (Art. 12(4)).",
    )
    send_interval_s: int = Field(
        30, ge=0, description="Seconds between the worker's sender rounds (0: off)."
    )
    max_attempts: int = Field(8, ge=1, le=100)
    retry_initial_s: float = Field(60.0, ge=0)
    retry_max_s: float = Field(3600.0, ge=0)

    @model_validator(mode="after")
    def _signed(self) -> MessagesSettings:
        if self.webhook_url is not None and self.webhook_secret is None:
            raise ValueError(f"{PREFIX}MESSAGES_WEBHOOK_URL needs {PREFIX}MESSAGES_WEBHOOK_SECRET")
        return self


class ConsoleSettings(_Group):
    """The staff console: sessions, sign-in limits, OIDC (``DSRFLOW_CONSOLE_*``)."""

    session_ttl_s: int = Field(8 * 3600, ge=60, description="A session's longest life.")
    session_idle_s: int = Field(30 * 60, ge=60, description="A session ends after this idle.")
    lockout_failures: int = Field(
        5, ge=1, description="Failed password sign-ins in a row before an account locks."
    )
    lockout_s: int = Field(15 * 60, ge=1, description="How long a locked account stays locked.")
    signin_failures_per_address: int = Field(
        20, ge=1, description="Failed sign-ins per client address per window (then 429)."
    )
    signin_failure_window_s: int = Field(300, ge=1, description="The window of that limit.")
    secure_cookies: bool = Field(
        False,
        description="Mark cookies Secure even on plain HTTP (TLS ends at a proxy that does "
        "not forward the scheme); they are always Secure on HTTPS.",
    )
    password_min_length: int = Field(12, ge=8, le=256, description="Shortest password accepted.")
    password_time_cost: int = Field(3, ge=1, description="argon2id iterations.")
    password_memory_kib: int = Field(65536, ge=64, description="argon2id memory, in KiB.")
    password_parallelism: int = Field(4, ge=1, le=64, description="argon2id lanes.")
    oidc_issuer: str | None = Field(
        None, description="Single sign-on: the OpenID Connect issuer URL (unset: passwords only)."
    )
    oidc_name: str = Field(
        "single sign-on", min_length=1, max_length=60, description="The issuer's name on the page."
    )
    oidc_client_id: str | None = Field(None, description="This console's client id there.")
    oidc_client_secret: SecretStr | None = Field(
        None, description="Its client secret (unset: a public client, PKCE only)."
    )
    oidc_scopes: str = Field("openid profile email", description="Scopes asked for.")
    oidc_username_claim: str = Field(
        "preferred_username", min_length=1, description="The ID token claim naming the person."
    )
    oidc_roles_claim: str = Field(
        "roles", min_length=1, description="The ID token claim holding their roles or groups."
    )
    oidc_role_map: str = Field(
        "",
        description="``value=role,...``: which claim values give which console role; unset: "
        "values that are role names count as those roles, the rest are ignored.",
    )
    oidc_redirect_url: str | None = Field(
        None,
        description="The callback URL registered at the issuer (this server's "
        "/console/oidc/callback as browsers reach it); required with an issuer: never taken "
        "from a request's Host header.",
    )

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.rstrip("/")
        loopback = re.match(r"http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)", value)
        if not (value.startswith("https://") or loopback):
            raise ValueError("expected an https:// URL (http:// only on this machine)")
        return value

    @field_validator("oidc_role_map")
    @classmethod
    def _role_map(cls, value: str) -> str:
        for pair in filter(None, (p.strip() for p in value.split(","))):
            if "=" not in pair or not all(x.strip() for x in pair.split("=", 1)):
                raise ValueError("expected VALUE=ROLE pairs separated by commas")
        return value

    @model_validator(mode="after")
    def _oidc_client(self) -> ConsoleSettings:
        if self.oidc_issuer is not None and not self.oidc_client_id:
            raise ValueError(f"{PREFIX}CONSOLE_OIDC_ISSUER needs {PREFIX}CONSOLE_OIDC_CLIENT_ID")
        if self.oidc_issuer is not None and not self.oidc_redirect_url:
            # Built from the Host header instead, an attacker's Host would name their own
            # server as where the identity provider sends the code (with loose matching there).
            raise ValueError(
                f"{PREFIX}CONSOLE_OIDC_ISSUER needs {PREFIX}CONSOLE_OIDC_REDIRECT_URL (the "
                "callback URL registered at the issuer, such as "
                "https://dsr.example.com/console/oidc/callback)"
            )
        return self

    @property
    def role_map(self) -> dict[str, str]:
        """``oidc_role_map`` as a mapping (claim value -> role)."""
        pairs = (p.split("=", 1) for p in self.oidc_role_map.split(",") if "=" in p)
        return {k.strip(): v.strip() for k, v in pairs}


class IntakeSettings(_Group):
    """The public privacy center's intake (``DSRFLOW_INTAKE_*``)."""

    enabled: bool = Field(True, description="Serve the privacy center's intake pages.")
    public_url: str = Field(
        "http://127.0.0.1:8235",
        min_length=1,
        description="Where subjects reach this server (scheme://host[:port]); the verification "
        "e-mail's link starts with it.",
    )
    link_ttl_hours: float = Field(
        72, gt=0, le=24 * 60, description="How long a verification link confirms a request."
    )
    rate_window_s: int = Field(3600, ge=1, description="The intake rate limit's window.")
    rate_per_client: int = Field(
        10, ge=1, description="Requests one client address may file per window."
    )
    rate_per_email: int = Field(
        3, ge=1, description="Requests one e-mail address may file per window (by blind index)."
    )
    email_max_chars: int = Field(254, ge=6, le=1000, description="Longest e-mail address.")
    name_max_chars: int = Field(200, ge=1, le=1000, description="Longest name.")
    details_max_chars: int = Field(
        2000, ge=1, le=20000, description="Longest free-text details (sealed, never logged)."
    )

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~/-]*)?", value):
            raise ValueError("expected scheme://host[:port][/path] (http or https)")
        return value.rstrip("/")


class DeliverySettings(_Group):
    """Delivering access packages to subjects, and keeping them (``DSRFLOW_DELIVERY_*``)."""

    window_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days a completed request's package can be downloaded; "
        "the daily purge deletes it after that.",
    )
    code_ttl_minutes: int = Field(
        60, ge=1, le=7 * 24 * 60, description="How long an e-mailed download code works."
    )
    code_attempts: int = Field(
        5, ge=1, le=20, description="Wrong codes before the download locks (a new code unlocks)."
    )
    codes_per_request: int = Field(
        10, ge=1, le=100, description="Download codes a subject may ask for, per request."
    )


class AdaptersSettings(_Group):
    """Which installed adapters may load (``DSRFLOW_ADAPTERS_*``)."""

    blocked: str = Field(
        "",
        description="Comma-separated adapter names that must not load: their entry points are "
        "never imported, and a catalog naming one fails validation.",
    )

    @field_validator("blocked")
    @classmethod
    def _names(cls, value: str) -> str:
        for name in filter(None, (n.strip() for n in value.split(","))):
            if not _ADAPTER_NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not an adapter name (letters, digits, '_', '-', '.')"
                )
        return value

    @property
    def blocked_names(self) -> frozenset[str]:
        """The blocked names, without blanks."""
        return frozenset(filter(None, (n.strip() for n in self.blocked.split(","))))


class ScanSettings(_Group):
    """Budget of ``dsrflow scan``, the discovery of unmapped personal data (``DSRFLOW_SCAN_*``)."""

    sample_rows: int = Field(
        1000, ge=1, le=1_000_000, description="Rows sampled per table (values per column)."
    )
    max_rows: int = Field(
        200_000, ge=1, description="Rows read at most per store; tables past it are not sampled."
    )
    max_seconds: float = Field(
        120.0, gt=0, description="Wall-clock budget per store; tables past it are not sampled."
    )
    statement_timeout_s: float = Field(10.0, gt=0, description="Timeout of one scan statement.")
    min_confidence: float = Field(
        0.5, gt=0, le=1, description="Findings at or above it make a column personal data."
    )


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
