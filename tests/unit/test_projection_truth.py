"""The ledger shows what the workflow did: a lost workflow task's action is replaced."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dsrflow.domain import HumanAction, ProjectionEvent, RequestStatus, RequestType
from dsrflow.ledger import Ledger

AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def _event(seq: int, status: RequestStatus, *actions: tuple[str, str]) -> ProjectionEvent:
    return ProjectionEvent(
        request_id="r-1",
        request_type=RequestType.ERASURE,
        status=status,
        received_at=AT,
        stores=[],
        seq=seq,
        actions=[HumanAction(n, AT, actor, action) for n, (actor, action) in enumerate(actions, 1)],
    )


def test_a_rerun_snapshot_replaces_the_phantom_action(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    verified = ("staff:ann", "identity_verified")
    # The workflow task that accepted the verification was lost after projecting it ...
    assert ledger.apply(_event(2, RequestStatus.AWAITING_APPROVAL, verified))
    # ... its re-run (same seq) never had the update; then the verification came again.
    assert ledger.apply(_event(2, RequestStatus.AWAITING_VERIFICATION))
    assert ledger.get_request("r-1").status == "awaiting_verification"
    assert ledger.actions("r-1") == []
    assert ledger.apply(
        _event(3, RequestStatus.AWAITING_APPROVAL, ("staff:bo", "identity_verified"))
    )
    assert [(a.actor, a.action) for a in ledger.actions("r-1")] == [
        ("staff:bo", "identity_verified")
    ]
    assert not ledger.apply(_event(2, RequestStatus.AWAITING_VERIFICATION))  # older: ignored


def test_refusals_and_outside_ends_are_audited_once(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    refused = ("temporal:unverified", "caller_refused")
    ledger.apply(_event(1, RequestStatus.AWAITING_VERIFICATION, refused))
    ledger.apply(_event(2, RequestStatus.AWAITING_VERIFICATION, refused))
    entries = ledger.audit_entries("r-1")
    assert [(e.actor, e.action, e.category) for e in entries] == [
        ("temporal:unverified", "caller_refused", "system")
    ]
