"""Types of the independent residual sweep: its budget, and its report (no personal data).

The sweep looks for a subject's strong identifiers (e-mail, phone, and every kind the catalog
marks ``strong: true``) by a different path than the one that erased or accessed: every table and
text-like column of a SQL store's schema (catalog-mapped or not), every Redis key and value,
every file name and content under a files root. It reports *where* and *how many*, never the
value. See ``docs/catalog.md`` ("Residual sweep") and ``docs/evidence-format.md``.

``SweepReport`` and its parts cross the Temporal boundary (the ``sweep_store`` activity's
result) and are recorded in evidence: their fields are part of the recorded histories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SweepBudget:
    """Bounds of one residual sweep (the catalog can raise them per store).

    Attributes:
        statement_timeout_s: Per-statement timeout; a column that times out is named in
            ``not_swept``, never silently skipped.
        max_rows: Tables with more rows than this are not swept (named in ``not_swept``).
        max_bytes: Files larger than this are not read (named in ``not_swept``).
        max_keys: Redis keys scanned at most.
        free_text_min_length: Text columns at least this long (declared length) are searched by
            substring, not only equality.
        free_text: More ``table.column`` free-text columns (searched by substring whatever
            their declared type), from the store's ``sweep.free_text``.
    """

    statement_timeout_s: float = 30.0
    max_rows: int = 10_000_000
    max_bytes: int = 50_000_000
    max_keys: int = 10_000_000
    free_text_min_length: int = 256
    free_text: tuple[str, ...] = ()


@dataclass(frozen=True)
class SweepHit:
    """Rows/keys/files that still hold one of the subject's strong identifiers.

    Attributes:
        location: Where, never what: ``table.column`` (SQL), ``keys`` or ``value:<type>``
            (Redis, with the key pattern's fixed prefix), ``names`` or ``contents`` (files).
        count: How many rows/keys/files hold it.
        kind: The identity kind found (``email``, ``phone``...).
        mode: ``equality`` or ``substring`` (free-text columns).
    """

    location: str
    count: int
    kind: str
    mode: str = "equality"


@dataclass(frozen=True)
class SweepExclusion:
    """Hits the catalog says are not the subject's data (recorded, never silently dropped).

    Attributes:
        location: ``table.column`` the exclusion applies to.
        count: Rows excluded from the hit count.
        reason: ``kept:<basis>`` (a kept-by-policy collection), ``pointer`` (other people's rows
            pointing at the subject, nulled by a pointer rule), or ``exempt:<ground>``.
    """

    location: str
    count: int
    reason: str


@dataclass(frozen=True)
class SweepReport:
    """What one independent sweep of a store searched, found, excluded and could not cover.

    Attributes:
        store: The store's name.
        method: ``sql-sweep``, ``redis-scan`` or ``files-scan``.
        searched: Every location searched (``table.column``...), sorted.
        hits: Locations still holding the subject's identifiers, after exclusions.
        excluded: Hits not counted, and why.
        not_swept: Locations that could not be searched, each ``location: reason`` (statement
            timeout, over the row/size budget, unsupported type, no privilege).
        rules: The match rules used, e.g. ``email: lower(trim(column)) = value``.
        kinds: The strong identity kinds searched for.
        checked_at: When the sweep finished.
        catalog_digest: The catalog the exclusions came from.
    """

    store: str
    method: str
    searched: list[str] = field(default_factory=list)
    hits: list[SweepHit] = field(default_factory=list)
    excluded: list[SweepExclusion] = field(default_factory=list)
    not_swept: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    checked_at: datetime | None = None
    catalog_digest: str | None = None

    @property
    def hit_count(self) -> int:
        """Rows/keys/files still holding the subject's identifiers (after exclusions)."""
        return sum(h.count for h in self.hits)

    @property
    def complete(self) -> bool:
        """Whether everything in the store could be searched."""
        return not self.not_swept

    def reason(self) -> str:
        """One line naming where the subject was still found, counts only (never the value)."""
        parts = [f"{h.location} ({h.count} {'row' if h.count == 1 else 'rows'})" for h in self.hits]
        return "subject still found in " + ", ".join(parts) + ": the catalog's mapping misses them"
