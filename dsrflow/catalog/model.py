"""The catalog: every data store the controller runs, as config-as-code.

The generic part of a store entry (adapter, ordering, retry policy) is validated here; the rest
of the entry is validated by the adapter's own ``config_model``, so a new adapter brings its own
schema without touching the core.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import rfc8785
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dsrflow.adapters.sdk import SweepBudget
from dsrflow.catalog.policies import PoliciesConfig
from dsrflow.catalog.processing import StoreProcessing
from dsrflow.catalog.yamlpos import Path_, line_for
from dsrflow.domain import Exemption, RetrySpec, StorePlan
from dsrflow.identity import DEFAULT_KINDS, IdentityKinds

STORE_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
GENERIC_KEYS = frozenset(
    {
        "adapter",
        "description",
        "identity_source",
        "after",
        "retry",
        "enabled",
        "exemption",
        "sweep",
        "processing",
        "scan",
    }
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


class SweepConfig(BaseModel):
    """Bounds of a store's residual sweep (``docs/catalog.md``, "Residual sweep").

    What the budget does not cover is named in the sweep's ``not_swept``, never skipped
    silently; raise a bound here when a store is bigger than the defaults.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    statement_timeout: float = Field(
        SweepBudget.statement_timeout_s, gt=0, description="Seconds per SQL statement."
    )
    max_rows: int = Field(SweepBudget.max_rows, ge=1, description="Larger tables: not swept.")
    max_bytes: int = Field(SweepBudget.max_bytes, ge=1, description="Larger files: not read.")
    max_keys: int = Field(SweepBudget.max_keys, ge=1, description="Redis keys scanned at most.")
    free_text_min_length: int = Field(
        SweepBudget.free_text_min_length,
        ge=1,
        description="Text columns declared at least this long are also searched by substring.",
    )
    free_text: list[str] = Field(
        default_factory=list, description="More free-text columns, as 'table.column'."
    )

    @field_validator("free_text")
    @classmethod
    def _columns(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.match(r"^[^.\s]+\.[^.\s]+$", item):
                raise ValueError(f"free_text: {item!r} must be 'table.column'")
        return value

    def budget(self) -> SweepBudget:
        """The budget the adapter's ``sweep`` receives."""
        return SweepBudget(
            statement_timeout_s=self.statement_timeout,
            max_rows=self.max_rows,
            max_bytes=self.max_bytes,
            max_keys=self.max_keys,
            free_text_min_length=self.free_text_min_length,
            free_text=tuple(self.free_text),
        )


# table, schema.table, schema.table.column, schema.*; or a Redis key shape (session:*:*).
_IGNORE_KEY = re.compile(r"^[^.\s*]+(\.[^.\s*]+){0,2}$|^[^.\s*]+\.\*$|^[^\s.]*:[^\s.]*$")


class ScanConfig(BaseModel):
    """What ``dsrflow scan`` leaves out of a store's coverage report, each with its reason.

    Keys are ``table``, ``schema.table``, ``schema.table.column`` or ``schema.*``; values say
    why (a person's decision, shown in the report as ``ignored``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    ignore: dict[str, str] = Field(
        default_factory=dict, description="Table/column/schema -> the reason it is not mapped."
    )

    @field_validator("ignore")
    @classmethod
    def _reasons(cls, value: dict[str, str]) -> dict[str, str]:
        for key, reason in value.items():
            if not _IGNORE_KEY.match(key):
                raise ValueError(
                    f"ignore: {key!r} must be 'table', 'schema.table', 'schema.table.column', "
                    "'schema.*' or a Redis key shape ('session:*')"
                )
            if not reason.strip():
                raise ValueError(f"ignore: {key!r} needs a reason")
        return value


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
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    processing: StoreProcessing = Field(default_factory=StoreProcessing)
    """What the access package tells the subject (``docs/access-package.md``)."""
    scan: ScanConfig = Field(default_factory=ScanConfig)


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
    batch_erase: bool = False

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
            batch_erase=self.batch_erase,
        )


@dataclass(frozen=True)
class Catalog:
    """A validated catalog file."""

    path: Path
    stores: dict[str, StoreEntry]
    raw: dict[str, Any] = field(repr=False)
    policies: PoliciesConfig = field(default_factory=PoliciesConfig)
    identity_kinds: IdentityKinds = DEFAULT_KINDS
    """Known identity kinds: ``strong_kinds()``, ``mode(kind)``, ``normalize(kind, value)``,
    ``default_country_code`` (see ``dsrflow.identity``)."""
    positions: dict[Path_, int] = field(default_factory=dict, repr=False, compare=False)
    """Line of every field of the file, for errors found once a store is used."""

    def locate(self, store: str, path: Path_) -> str | None:
        """``FILE:LINE`` of a field of a store's entry (nearest enclosing field with a line)."""
        line = line_for(self.positions, ("stores", store, *path))
        return f"{self.path}:{line}" if line else None

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in store config resolve against."""
        return self.path.parent

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the catalog's canonical JSON form: identifies the config a request ran on.

        Computed once per catalog (``raw`` is never changed after loading): an erasure batch
        stamps it on a receipt per member, and canonicalising the whole file each time was a
        quarter of a batch's store work.
        """
        return "sha256:" + hashlib.sha256(rfc8785.dumps(self.raw)).hexdigest()

    def enabled_stores(self) -> list[StoreEntry]:
        """Stores in scope, in declaration order."""
        return [s for s in self.stores.values() if s.common.enabled]
