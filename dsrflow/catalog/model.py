"""The catalog: every data store the controller runs, as config-as-code.

The generic part of a store entry (adapter, ordering, retry policy) is validated here; the rest
of the entry is validated by the adapter's own ``config_model``, so a new adapter brings its own
schema without touching the core.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import rfc8785
from pydantic import BaseModel, ConfigDict, Field

from dsrflow.catalog.policies import PoliciesConfig
from dsrflow.domain import Exemption, RetrySpec, StorePlan

STORE_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
GENERIC_KEYS = frozenset(
    {"adapter", "description", "identity_source", "after", "retry", "enabled", "exemption"}
)


class RetryConfig(BaseModel):
    """A store's retry policy; durations in seconds.

    The defaults ride out an outage of about half an hour: waits of 1, 2, 4 ... 32 s, then one
    attempt a minute, 40 attempts in all (~34 minutes plus the attempts' own time) before the
    store waits for a person. Permanent errors (bad config, a missing table) are not retried.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(40, ge=1, le=100)
    initial_interval: float = Field(1.0, gt=0)
    backoff: float = Field(2.0, ge=1.0)
    max_interval: float = Field(60.0, gt=0)
    timeout: float = Field(600.0, gt=0, description="Start-to-close timeout of one attempt.")
    heartbeat: float = Field(60.0, gt=0)

    def spec(self) -> RetrySpec:
        """The policy as the workflow receives it."""
        return RetrySpec(
            max_attempts=self.max_attempts,
            initial_interval_s=self.initial_interval,
            backoff=self.backoff,
            max_interval_s=self.max_interval,
            timeout_s=self.timeout,
            heartbeat_s=self.heartbeat,
        )


class ExemptionConfig(BaseModel):
    """A standing erasure exemption for a whole store (the data is restricted, not erased)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ground: str = Field(pattern=r"^Art\. 17\(3\)\([a-e]\)", description="e.g. 'Art. 17(3)(b)'")
    note: str = ""
    until: date | None = None

    def exemption(self) -> Exemption:
        """The exemption as the workflow receives it."""
        return Exemption(self.ground, self.note, self.until.isoformat() if self.until else None)


class StoreCommon(BaseModel):
    """Fields every store entry has, whatever its adapter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    adapter: str = Field(min_length=1)
    description: str = ""
    identity_source: bool = False
    after: list[str] = Field(default_factory=list)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    enabled: bool = True
    exemption: ExemptionConfig | None = None


@dataclass(frozen=True)
class StoreEntry:
    """One validated store: its common fields plus the adapter's validated config."""

    name: str
    common: StoreCommon
    config: BaseModel
    capabilities: frozenset[str]
    adapter_version: str
    human_task: bool = False
    instructions: str = ""
    kind: str | None = None

    def plan(self) -> StorePlan:
        """The store as the workflow sees it."""
        return StorePlan(
            name=self.name,
            adapter=self.common.adapter,
            capabilities=sorted(self.capabilities),
            retry=self.common.retry.spec(),
            identity_source=self.common.identity_source,
            after=list(self.common.after),
            human_task=self.human_task,
            instructions=self.instructions,
            exemption=self.common.exemption.exemption() if self.common.exemption else None,
            kind=self.kind,
        )


@dataclass(frozen=True)
class Catalog:
    """A validated catalog file."""

    path: Path
    stores: dict[str, StoreEntry]
    raw: dict[str, Any] = field(repr=False)
    policies: PoliciesConfig = field(default_factory=PoliciesConfig)

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in store config resolve against."""
        return self.path.parent

    @property
    def digest(self) -> str:
        """SHA-256 of the catalog's canonical JSON form: identifies the config a request ran on."""
        return "sha256:" + hashlib.sha256(rfc8785.dumps(self.raw)).hexdigest()

    def enabled_stores(self) -> list[StoreEntry]:
        """Stores in scope, in declaration order."""
        return [s for s in self.stores.values() if s.common.enabled]
