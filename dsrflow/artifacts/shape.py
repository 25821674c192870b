"""What a package may hold of a record: projections and redactions from the catalog's sheet.

The sheet is the plain-JSON form of a store's processing information
(``StoreProcessing.sheet()`` in the catalog); this module only reads it, so the artifact store
stays independent of the catalog. Shaping happens before a record is first written, even to
the encrypted staging area: a redacted value never reaches disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EMPTY_SHEET: dict[str, Any] = {
    "default": {
        "purposes": [],
        "legal_basis": None,
        "data_categories": [],
        "field_categories": {},
        "recipients": [],
        "retention": None,
        "source": None,
        "provided_fields": None,
    },
    "collections": {},
}


@dataclass(frozen=True)
class CollectionSheet:
    """One collection's processing information and rules."""

    processing: dict[str, Any]
    excluded: list[dict[str, str]] = field(default_factory=list)
    redacted: list[dict[str, str]] = field(default_factory=list)

    @property
    def provided(self) -> list[str] | None:
        """Fields the subject provided (Art. 20); None when the catalog does not say."""
        value = self.processing.get("provided_fields")
        return None if value is None else list(value)

    def dropped(self) -> frozenset[str]:
        """Fields no package holds (projection and redaction)."""
        return frozenset(r["field"] for r in (*self.excluded, *self.redacted))


class Sheet:
    """A store's sheet, looked up per collection."""

    def __init__(self, raw: dict[str, Any] | None) -> None:
        self.raw = raw or EMPTY_SHEET
        self._cache: dict[str, CollectionSheet] = {}

    def collection(self, name: str) -> CollectionSheet:
        """The collection's sheet (the store's defaults when it has no entry)."""
        found = self._cache.get(name)
        if found is None:
            entry = self.raw.get("collections", {}).get(name)
            if entry is None:
                found = CollectionSheet(dict(self.raw.get("default") or EMPTY_SHEET["default"]))
            else:
                found = CollectionSheet(
                    entry["processing"], list(entry["excluded"]), list(entry["redacted"])
                )
            self._cache[name] = found
        return found

    def shape(self, collection: str, data: dict[str, Any]) -> dict[str, Any]:
        """The record without its excluded and redacted fields."""
        dropped = self.collection(collection).dropped()
        if not dropped:
            return data
        return {k: v for k, v in data.items() if k not in dropped}
