"""The coverage report of ``dsrflow scan``: per store, table and column (counts only).

Statuses: ``mapped`` (the catalog covers it), ``unmapped`` (personal data found that the
catalog does not cover), ``ignored`` (the catalog's ``scan.ignore`` says why) and ``clean``.
Nothing here holds a sampled value: findings are classes, confidences and counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from dsrflow.discovery.classify import Finding, classify_column

if TYPE_CHECKING:
    from dsrflow.catalog.model import StoreEntry

Status = Literal["mapped", "unmapped", "ignored", "clean"]

WORD = re.compile(r"[A-Za-z][A-Za-z_-]{0,30}")
"""A plain word: a key segment, field or folder name shown in a report (anything else may be a
value, and is shown as ``*`` or ``(field)``)."""


@dataclass(frozen=True)
class ColumnReport:
    """One column: its status, the reason if ignored, and what the classifiers found."""

    name: str
    status: Status
    findings: tuple[Finding, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class TableReport:
    """One table of a store (``schema`` as the engine names it; SQLite: ``main``)."""

    schema: str
    table: str
    status: Status
    columns: tuple[ColumnReport, ...]
    sampled_rows: int = 0
    foreign_keys: tuple[tuple[str, str, str], ...] = ()
    """``(column, referred table, referred column)``: for ``--suggest``'s references."""
    reason: str | None = None
    not_sampled: str | None = None
    """Why no values were read (budget spent, statement timeout, no privilege)."""

    @property
    def qualified(self) -> str:
        """``schema.table``."""
        return f"{self.schema}.{self.table}"

    def unmapped_classes(self) -> list[str]:
        """Classes found in unmapped columns, sorted."""
        return sorted({f.cls for c in self.columns if c.status == "unmapped" for f in c.findings})


@dataclass(frozen=True)
class Budget:
    """What a store's scan was allowed and what it used."""

    max_rows: int
    max_seconds: float
    sample_rows: int
    statement_timeout_s: float
    rows_read: int = 0
    seconds: float = 0.0
    statements: int = 0


@dataclass(frozen=True)
class StoreScan:
    """One store's coverage report."""

    store: str
    dialect: str
    tables: tuple[TableReport, ...] = ()
    budget: Budget | None = None
    error: str | None = None
    skipped: str | None = None
    """Why the store was not scanned (not a SQL store)."""

    def unmapped(self) -> list[TableReport]:
        """Tables with unmapped personal data."""
        return [t for t in self.tables if t.status == "unmapped"]


@dataclass(frozen=True)
class ScanResult:
    """Every scanned store's report."""

    stores: tuple[StoreScan, ...] = field(default_factory=tuple)
    min_confidence: float = 0.5

    @property
    def unmapped_count(self) -> int:
        """Unmapped tables over all stores."""
        return sum(len(s.unmapped()) for s in self.stores)

    @property
    def failed(self) -> bool:
        """A store could not be scanned: a gate must not pass on it."""
        return any(s.error for s in self.stores)


def group_report(
    entry: StoreEntry,
    schema: str,
    group: str,
    columns: dict[str, list[str]],
    is_mapped: bool,
    sampled: int,
    min_conf: float,
) -> TableReport:
    """A group of keys or files as a table: each sampled field a column (never a value).

    Args:
        entry: The store.
        schema: What groups are (``keys``, ``files``).
        group: The group's shape (plain words kept, every other segment ``*``).
        columns: Field -> sampled values.
        is_mapped: Whether the catalog covers the group.
        sampled: How many keys or files were read.
        min_conf: The confidence a finding needs to count.
    """
    reason = entry.common.scan.ignore.get(group)
    out = []
    for name, values in columns.items():
        # A hash field's name is the application's, but may itself be a value: shown only when
        # it is a plain word, like a key's first segment.
        shown = name if name.startswith("(") or WORD.fullmatch(name) else "(field)"
        findings = tuple(sorted(classify_column(shown, values), key=lambda f: -f.confidence))
        status: Status = (
            "mapped" if is_mapped
            else "ignored" if reason
            else "unmapped" if any(f.confidence >= min_conf for f in findings)
            else "clean"
        )  # fmt: skip
        out.append(ColumnReport(shown, status, findings, reason))
    statuses = {c.status for c in out}
    tstatus: Status = (
        "mapped" if is_mapped
        else "ignored" if reason
        else "unmapped" if "unmapped" in statuses
        else "clean"
    )  # fmt: skip
    return TableReport(schema, group, tstatus, tuple(out), sampled, (), reason)
