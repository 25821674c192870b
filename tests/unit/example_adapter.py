"""The example adapter from docs/writing-an-adapter.md: one JSON file of records per e-mail.

It is what an outside package would ship (registered by entry point, tested with the kit); the
tests load it through a real ``EntryPoint`` and run the conformance kit against it, and
``tests/e2e/test_packaging.py`` builds it as a distribution of its own. It imports the adapter SDK
only (``dsrflow.adapters.sdk``), never the orchestrator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from dsrflow.adapters.sdk import (
    AdapterContext,
    Capability,
    Check,
    CheckReport,
    CollectionCount,
    OperationReceipt,
    PermanentAdapterError,
    Progress,
    Record,
    Subject,
    operation_digest,
)


class JsonFileConfig(BaseModel):
    """The store's catalog entry: where the file is."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str


class JsonFileAdapter:
    """Records per e-mail address in one JSON file: ``{"a@b.c": [{...}, ...]}``."""

    name = "jsonfile"
    version = "1.0.0"
    capabilities = frozenset({Capability.ACCESS, Capability.ERASE, Capability.VERIFY})
    config_model = JsonFileConfig

    def __init__(self, config: JsonFileConfig, ctx: AdapterContext) -> None:
        # No create() classmethod: the registry builds the adapter as cls(config, ctx). No I/O
        # here: the file is opened by the verbs.
        self.store = ctx.store
        self.path = ctx.base_dir / config.path

    def _load(self) -> dict[str, list[dict[str, Any]]]:
        try:
            data: dict[str, list[dict[str, Any]]] = json.loads(self.path.read_text())
        except FileNotFoundError:
            raise PermanentAdapterError(
                f"store {self.store!r}: {self.path.name} not found"
            ) from None
        return data

    def check_connection(self) -> CheckReport:
        """The file exists and is JSON."""
        try:
            self._load()
            return CheckReport(self.store, [Check("file", True, str(self.path))])
        except PermanentAdapterError as exc:
            return CheckReport(self.store, [Check("file", False, str(exc))])

    def access(self, subject: Subject) -> Iterator[Record]:
        """Every record of the subject's e-mail addresses."""
        data = self._load()
        for email in subject.values("email"):
            for rec in data.get(email, []):
                yield Record("records", rec)

    def erase(self, subject: Subject, progress: Progress | None = None) -> OperationReceipt:
        """Drop the subject's records and rewrite the file (atomically)."""
        data = self._load()
        gone = sum(len(data.pop(email, [])) for email in subject.values("email"))
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)
        left = self.verify(subject).matched
        counts = [CollectionCount("records", "delete", gone, gone, residual=left)]
        return OperationReceipt(
            "erase", gone, gone, operation_digest(["pop email; rewrite"]), counts
        )

    def verify(self, subject: Subject) -> OperationReceipt:
        """Records still there for the subject."""
        left = sum(1 for _ in self.access(subject))
        counts = [CollectionCount("records", "verify", left, 0)]
        return OperationReceipt("verify", left, 0, operation_digest(["count email"]), counts)

    def close(self) -> None:
        """Nothing to release."""
