"""Who a verb is about (``Identity``, ``Subject``) and what ``access`` yields (``Record``).

All three hold personal data: their ``repr`` never shows values. ``Identity`` also crosses the
Temporal boundary in the orchestrator's payloads (encrypted by its codec), so its fields are part
of the recorded histories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Identity:
    """One identifier of the data subject (personal data).

    Attributes:
        kind: Identifier type as the catalog names it, e.g. ``email`` or ``customer_id``.
        value: The identifier itself, normalised (see ``dsrflow.adapters.sdk.identity``).

    """

    kind: str
    value: str


@dataclass(frozen=True)
class Subject:
    """The identifiers of one data subject, grouped by kind (personal data).

    Attributes:
        identities: identity kind -> normalised values, e.g. ``{"email": ("a@b.c",)}``.
        request_id: The request this call serves, when the caller knows it. Adapters that
            forward requests to someone else (OpenDSR) derive their idempotent request id from
            it; without it they fall back to one derived from the identities.

    """

    identities: Mapping[str, tuple[str, ...]]
    request_id: str | None = None

    @classmethod
    def of(cls, identities: Iterable[Identity], request_id: str | None = None) -> Subject:
        """Group a flat identity list by kind, de-duplicated and sorted for determinism."""
        grouped: dict[str, set[str]] = {}
        for ident in identities:
            grouped.setdefault(ident.kind, set()).add(ident.value)
        return cls({k: tuple(sorted(v)) for k, v in sorted(grouped.items())}, request_id)

    def values(self, kind: str) -> tuple[str, ...]:
        """The values of one kind (empty when the subject has none)."""
        return self.identities.get(kind, ())

    def __repr__(self) -> str:  # never print identifiers by accident
        return f"Subject(kinds={sorted(self.identities)})"


@dataclass(frozen=True)
class Record:
    """One record of the subject's data, as returned by ``access`` (personal data)."""

    collection: str
    data: dict[str, Any]

    def __repr__(self) -> str:
        return f"Record(collection={self.collection!r}, fields={sorted(self.data)})"
