"""The example adapter from docs/writing-an-adapter.md: one JSON file of records per e-mail.

It is what an outside package would ship (registered by entry point, tested with the kit); the
tests load it through a real ``EntryPoint`` and run the conformance kit against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Self

from pydantic import BaseModel, ConfigDict

from dsrflow.adapters import (
    AdapterContext,
    Capability,
    Check,
    CheckReport,
    OperationReceipt,
    PermanentAdapterError,
    Record,
    Subject,
)
from dsrflow.adapters.base import Progress, operation_digest
from dsrflow.domain import CollectionCount


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
        self.store = ctx.store
        self.path = ctx.base_dir / config.path

    @classmethod
    def create(cls, config: JsonFileConfig, ctx: AdapterContext) -> Self:
        """No I/O here: the file is opened by the verbs."""
        return cls(config, ctx)

    def _load(self) -> dict[str, list[dict]]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            raise PermanentAdapterError(
                f"store {self.store!r}: {self.path.name} not found"
            ) from None

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
