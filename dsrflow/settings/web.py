"""The settings groups of what faces HTTP.

The API, the console, the privacy center's intake and the delivery of packages to subjects
(``DSRFLOW_API_*``, ``_CONSOLE_*``, ``_INTAKE_*``, ``_DELIVERY_*``).
"""

from __future__ import annotations

import re

from pydantic import (
    Field,
    FilePath,
    SecretStr,
    field_validator,
    model_validator,
)

from dsrflow.lean_settings import ENV_FILE_VAR as ENV_FILE_VAR
from dsrflow.lean_settings import PREFIX as PREFIX
from dsrflow.lean_settings import SECRETS_DIR_VAR as SECRETS_DIR_VAR
from dsrflow.settings.groups import _Group


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
