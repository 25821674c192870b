"""The groups of process settings (``DSRFLOW_<GROUP>_<FIELD>``).

Temporal, the ledger, logs, the UI and codec, signing, SMTP and messages, adapters, the scan.

``dsrflow.settings.Settings`` composes them; the HTTP-facing groups are in ``settings.web``.
"""

from __future__ import annotations

import re
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

from dsrflow.lean_settings import ENV_FILE_VAR as ENV_FILE_VAR
from dsrflow.lean_settings import PREFIX as PREFIX
from dsrflow.lean_settings import SECRETS_DIR_VAR as SECRETS_DIR_VAR

_ADAPTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


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


class MetricsSettings(_Group):
    """Prometheus metrics and health endpoints (``DSRFLOW_METRICS_*``; docs/operations.md)."""

    worker_port: int | None = Field(
        None,
        gt=0,
        lt=65536,
        description="Port of the worker's /metrics, /healthz and /readyz; unset: no endpoint "
        "(and no SDK metrics).",
    )
    worker_host: str = Field(
        "127.0.0.1", min_length=1, description="Address the worker's endpoint listens on."
    )
    sdk_port: int | None = Field(
        None,
        gt=0,
        lt=65536,
        description="Loopback port of the Temporal SDK's own Prometheus listener, which the "
        "worker's /metrics includes; unset: a free one.",
    )
    api: bool = Field(True, description="Serve /metrics on the HTTP API.")
    token: SecretStr | None = Field(
        None, description="When set, /metrics answers only with `Authorization: Bearer TOKEN`."
    )


class OtelSettings(_Group):
    """OpenTelemetry tracing through the Temporal SDK's interceptor (``DSRFLOW_OTEL_*``)."""

    enabled: bool = Field(False, description="Trace client calls, workflows and activities.")
    endpoint: str | None = Field(
        None,
        description="OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces; unset: "
        "the exporter's own default (OTEL_EXPORTER_OTLP_* variables, else localhost:4318).",
    )
    service_name: str = Field(
        "dsrflow", min_length=1, description="The ``service.name`` resource attribute."
    )
