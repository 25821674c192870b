"""Catalog schema of the OpenDSR processor adapter.

Example::

    analytics-vendor:
      adapter: opendsr
      url: https://opendsr.vendor.example/v2       # POST {url}/requests, GET {url}/requests/{id}
      api_key_env: VENDOR_OPENDSR_TOKEN            # sent as a bearer token
      certificate_file: certs/vendor-opendsr.pem   # pinned signing certificate, or:
      # ca_file: certs/trusted-cas.pem             # trust anchors; the certificate is then
      # processor_domain: opendsr.vendor.example   # fetched from /discovery and must name it
      identities: {email: email, customer_id: controller_customer_id}
      identity_format: sha256                      # send hashes instead of raw identifiers
      status_callback_urls: [https://dsr.example.com/opendsr/callbacks]
      poll_interval: 30
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

IDENTITY_TYPES = (
    "controller_customer_id",
    "android_advertising_id",
    "android_id",
    "email",
    "fire_advertising_id",
    "ios_advertising_id",
    "ios_vendor_id",
    "microsoft_advertising_id",
    "microsoft_publisher_id",
    "roku_publisher_id",
    "roku_advertising_id",
)


class OpenDsrConfig(BaseModel):
    """The OpenDSR adapter's part of a store entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://", description="Processor's OpenDSR base URL.")
    api_key_env: str | None = Field(None, description="Env var holding a bearer token.")
    certificate_file: str | None = Field(None, description="Pinned processor certificate (PEM).")
    ca_file: str | None = Field(None, description="Trust anchors for the processor certificate.")
    processor_domain: str | None = Field(
        None, description="Domain the processor signs as (X-OpenDSR-Processor-Domain)."
    )
    identities: dict[str, Literal[IDENTITY_TYPES]] = Field(  # type: ignore[valid-type]
        min_length=1, description="Subject identity kind -> OpenDSR identity_type."
    )
    identity_format: Literal["raw", "sha256"] = "raw"
    regulation: Literal["gdpr", "ccpa"] = "gdpr"
    export_type: Literal["access", "portability"] = Field(
        "access", description="OpenDSR type sent for dsrflow access/export requests."
    )
    status_callback_urls: list[str] = Field(default_factory=list)
    poll_interval: float = Field(30.0, gt=0, description="Seconds between status polls.")
    poll_timeout: float = Field(
        540.0, gt=0, description="Give up polling in one attempt (retried: polling resumes)."
    )
    timeout: float = Field(10.0, gt=0, description="HTTP timeout per call.")

    @model_validator(mode="after")
    def _trust(self) -> OpenDsrConfig:
        if (self.certificate_file is None) == (self.ca_file is None):
            raise ValueError(
                "give exactly one of 'certificate_file' (pinned) or 'ca_file' (with "
                "'processor_domain'): processor signatures are always checked"
            )
        if self.ca_file is not None and not self.processor_domain:
            raise ValueError("'ca_file' needs 'processor_domain'")
        return self
