"""The conformance checks every adapter must pass, written once.

Usage in an adapter's test module::

    from dsrflow.adapters.testing import AdapterConformance, Harness, Seeded

    class MyHarness(Harness):
        ...  # seeds subjects in a real store, one prefix/schema per test

    class TestMyAdapter(AdapterConformance):
        @pytest.fixture
        def harness(self, tmp_path):
            h = MyHarness(tmp_path)
            yield h
            h.close()

A check for a verb the adapter does not declare in ``capabilities`` is skipped with that reason;
an adapter whose class says ``human_task = True`` (a person does the work) skips every check
that needs data. Nothing here mocks a store: a harness talks to the real service.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from dsrflow.adapters.sdk import (
    Adapter,
    Capability,
    CheckReport,
    Identity,
    OperationReceipt,
    Progress,
    Record,
    Subject,
    require,
    spec_of,
)


@dataclass(frozen=True)
class Seeded:
    """A subject the harness put into the store.

    Attributes:
        subject: The subject's identities.
        records: How many records ``access`` must return for it.
        kept: How many records ``access`` still returns after erasure (collections the policy
            keeps or anonymises but still finds); 0 when everything is deleted.
        marker: A value that only this subject's data holds; used to check that rectification
            changed something and that receipts never carry data.

    """

    subject: Subject
    records: int
    kept: int = 0
    marker: str = field(default_factory=lambda: f"m{uuid.uuid4().hex[:10]}")


class Harness:
    """What a test module provides: the adapter under test and a way to seed a real store.

    Subclasses set ``adapter`` and implement ``seed``; the optional parts return ``None`` (or
    keep the defaults) to have the matching checks skipped with a reason.
    """

    adapter: Adapter
    #: Rows/keys/files per batch the adapter is configured with; ``seed_large`` seeds more.
    batch_size: int = 0
    #: Logical field -> new value for the rectification check (None: skip it).
    rectify_changes: Mapping[str, str] | None = None

    def seed(self, tag: str) -> Seeded:
        """Put one subject's data (tagged ``tag`` so values differ per subject) in the store."""
        raise NotImplementedError

    def seed_large(self, n: int) -> Seeded | None:
        """Seed a subject with ``n`` records in one collection (None: not applicable)."""
        return None

    def raw_state(self, seeded: Seeded) -> Any:
        """The store's own view of a subject's data, read without the adapter (None: skip).

        Lets "other subjects untouched" compare more than what ``access`` shows.
        """
        return None

    def unknown(self) -> Subject:
        """A subject the store has never seen."""
        return Subject.of([Identity("email", f"nobody-{uuid.uuid4().hex[:8]}@example.invalid")])

    def close(self) -> None:
        """Release the adapter and drop what the harness created."""
        self.adapter.close()


def _data(records: list[Record]) -> list[str]:
    return sorted(json.dumps([r.collection, r.data], sort_keys=True, default=str) for r in records)


def _identity_values(subject: Subject) -> list[str]:
    # Short values (customer id 7) would be found among the counts by chance.
    return [v for values in subject.identities.values() for v in values if len(v) >= 6]


class Verbs:
    """The adapter under test through its declared verbs, each typed by its protocol."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self.spec = spec_of(adapter)  # the registry's checks: raises ContractError if unfit
        self.name = self.spec.name

    def has(self, capability: Capability) -> bool:
        """Whether the adapter declares ``capability``."""
        return self.spec.supports(capability)

    def access(self, subject: Subject) -> list[Record]:
        """Every record ``access`` streams."""
        return list(require(self.adapter, Capability.ACCESS, store=self.name).access(subject))

    def erase(self, subject: Subject, progress: Progress | None = None) -> OperationReceipt:
        """``erase``."""
        return require(self.adapter, Capability.ERASE, store=self.name).erase(subject, progress)

    def verify(self, subject: Subject) -> OperationReceipt:
        """``verify``."""
        return require(self.adapter, Capability.VERIFY, store=self.name).verify(subject)

    def rectify(self, subject: Subject, changes: Mapping[str, str]) -> OperationReceipt:
        """``rectify``."""
        verb = require(self.adapter, Capability.RECTIFY, store=self.name)
        return verb.rectify(subject, changes)

    def restrict(self, subject: Subject) -> OperationReceipt:
        """``restrict``."""
        return require(self.adapter, Capability.RESTRICT, store=self.name).restrict(subject)

    def resolve_identities(self, subject: Subject) -> list[Identity]:
        """``resolve_identities``."""
        verb = require(self.adapter, Capability.RESOLVE_IDENTITIES, store=self.name)
        return verb.resolve_identities(subject)


class AdapterConformance:
    """Checks every adapter passes. Subclass it and provide a ``harness`` fixture."""

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def need(harness: Harness, *caps: Capability) -> Verbs:
        """The adapter's verbs, or skip when it is a human task or does not declare ``caps``."""
        verbs = Verbs(harness.adapter)
        if verbs.spec.human_task:
            pytest.skip(f"adapter {verbs.name!r} is a human task: a person performs the verbs")
        for cap in caps:
            if not verbs.has(cap):
                pytest.skip(f"adapter {verbs.name!r} does not declare {cap.value}")
        return verbs

    @staticmethod
    def assert_no_personal_data(receipt: OperationReceipt, seeded: Seeded) -> None:
        """A receipt holds counts and digests, never the subject's identifiers or values."""
        text = repr(receipt)
        for value in [*_identity_values(seeded.subject), seeded.marker]:
            assert value not in text, "a receipt carries personal data"
        assert receipt.operation_digest.startswith("sha256:")

    # -- contract ------------------------------------------------------------------------

    def test_declares_the_contract(self, harness: Harness) -> None:
        """The registry's checks pass: every declared verb exists, every verb is declared.

        ``spec_of`` raises ``ContractError`` with one line naming what does not fit (the same
        line the registry prints when the adapter registers).
        """
        spec = spec_of(harness.adapter)
        assert spec.name and spec.version
        assert spec.capabilities or spec.human_task, "an adapter must declare some verb"

    def test_check_connection_passes(self, harness: Harness) -> None:
        """``check_connection`` reports its checks and all pass against the harness store."""
        report = harness.adapter.check_connection()
        assert isinstance(report, CheckReport)
        assert report.checks, "check_connection must report at least one check"
        assert report.ok, [c for c in report.checks if not c.ok]

    # -- access ----------------------------------------------------------------------------

    def test_access_round_trip(self, harness: Harness) -> None:
        """``access`` returns exactly the seeded records, marker included."""
        adapter = self.need(harness, Capability.ACCESS)
        seeded = harness.seed("a")
        records = adapter.access(seeded.subject)
        assert len(records) == seeded.records
        assert all(isinstance(r, Record) and r.collection for r in records)
        assert any(seeded.marker in json.dumps(r.data, default=str) for r in records)
        if adapter.spec.has_access_digest:  # optional: the access receipt's operation digest
            digest = adapter.spec.access_digest(adapter.adapter, seeded.subject)
            assert digest.startswith("sha256:")

    def test_unknown_subject_is_not_found(self, harness: Harness) -> None:
        """A subject the store never saw: no records, nothing erased, no residual."""
        adapter = self.need(harness)
        harness.seed("someone-else")
        nobody = harness.unknown()
        if adapter.has(Capability.ACCESS):
            assert adapter.access(nobody) == []
        if adapter.has(Capability.ERASE):
            receipt = adapter.erase(nobody)
            assert receipt.matched == 0 and receipt.affected == 0
        if adapter.has(Capability.VERIFY):
            assert adapter.verify(nobody).matched == 0

    # -- erase / verify --------------------------------------------------------------------

    def test_erase_then_verify_is_zero(self, harness: Harness) -> None:
        """Erasure changes the subject's data and ``verify`` then finds 0 residual."""
        adapter = self.need(harness, Capability.ERASE, Capability.VERIFY)
        seeded = harness.seed("a")
        before = adapter.verify(seeded.subject)
        assert before.matched > 0, "verify must see the subject's data before erasure"
        receipt = adapter.erase(seeded.subject)
        assert receipt.action == "erase"
        assert receipt.matched > 0 and receipt.affected > 0
        after = adapter.verify(seeded.subject)
        assert after.matched == 0
        self.assert_no_personal_data(receipt, seeded)
        self.assert_no_personal_data(after, seeded)
        if adapter.has(Capability.ACCESS):
            left = adapter.access(seeded.subject)
            assert len(left) == seeded.kept
            assert not any(seeded.marker in json.dumps(r.data, default=str) for r in left)

    def test_erase_is_idempotent(self, harness: Harness) -> None:
        """A second erasure finds nothing left to change."""
        adapter = self.need(harness, Capability.ERASE)
        seeded = harness.seed("a")
        first = adapter.erase(seeded.subject)
        second = adapter.erase(seeded.subject)
        assert first.affected > 0
        assert second.affected == 0
        if adapter.has(Capability.VERIFY):
            assert adapter.verify(seeded.subject).matched == 0

    def test_other_subjects_untouched(self, harness: Harness) -> None:
        """Erasing one subject leaves another's records identical."""
        adapter = self.need(harness, Capability.ERASE, Capability.ACCESS)
        target, other = harness.seed("a"), harness.seed("b")
        raw_before = harness.raw_state(other)
        before = _data(adapter.access(other.subject))
        assert len(before) == other.records
        adapter.erase(target.subject)
        assert _data(adapter.access(other.subject)) == before
        assert harness.raw_state(other) == raw_before
        if adapter.has(Capability.VERIFY):
            assert adapter.verify(other.subject).matched > 0

    def test_large_subject_is_batched(self, harness: Harness) -> None:
        """A subject larger than a batch is erased in batches, heartbeating each."""
        adapter = self.need(harness, Capability.ERASE)
        if harness.batch_size <= 0:
            pytest.skip("the harness declares no batch size")
        n = harness.batch_size * 3 + 1
        seeded = harness.seed_large(n)
        if seeded is None:
            pytest.skip(f"adapter {adapter.name!r}: no large-subject seeding in this harness")
        beats: list[int] = []
        receipt = adapter.erase(seeded.subject, progress=beats.append)
        assert receipt.affected >= n
        assert len(beats) >= 4, f"expected one heartbeat per batch, got {len(beats)}"
        assert beats == sorted(beats), "progress must be a running count"
        if adapter.has(Capability.VERIFY):
            assert adapter.verify(seeded.subject).matched == 0

    # -- optional verbs --------------------------------------------------------------------

    def test_rectify_sets_the_new_value(self, harness: Harness) -> None:
        """Rectification changes the mapped fields to the new values."""
        adapter = self.need(harness, Capability.RECTIFY)
        if not harness.rectify_changes:
            pytest.skip("the harness declares no rectification")
        seeded = harness.seed("a")
        receipt = adapter.rectify(seeded.subject, harness.rectify_changes)
        assert receipt.affected > 0
        self.assert_no_personal_data(receipt, seeded)
        if adapter.has(Capability.ACCESS):
            text = json.dumps([r.data for r in adapter.access(seeded.subject)], default=str)
            assert all(v in text for v in harness.rectify_changes.values())

    def test_restrict_is_idempotent(self, harness: Harness) -> None:
        """Restriction marks the subject's data once; a second call changes nothing."""
        adapter = self.need(harness, Capability.RESTRICT)
        seeded = harness.seed("a")
        first = adapter.restrict(seeded.subject)
        if first.matched == 0:
            pytest.skip("the harness configures no restriction marker")
        assert first.affected > 0
        assert adapter.restrict(seeded.subject).affected == 0
        self.assert_no_personal_data(first, seeded)

    def test_resolve_identities_returns_identities(self, harness: Harness) -> None:
        """Resolution returns identities, and none for an unknown subject."""
        adapter = self.need(harness, Capability.RESOLVE_IDENTITIES)
        seeded = harness.seed("a")
        found = adapter.resolve_identities(seeded.subject)
        assert isinstance(found, list)
        assert all(isinstance(i, Identity) for i in found)
        assert adapter.resolve_identities(harness.unknown()) == []


def receipt_counts(receipt: OperationReceipt) -> dict[str, Any]:
    """``collection -> (matched, affected, residual)``: handy in adapter-specific tests."""
    return {c.collection: (c.matched, c.affected, c.residual) for c in receipt.collections}
