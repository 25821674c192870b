"""The cuts of issue 14 item 5 that need no Temporal server: the converter, the sandbox.

The workflow's side (coalesced snapshots, one patch marker, no start upsert) is exercised by the
lifecycle tests and replayed from ``tests/replay/histories``.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from temporalio.converter import DataConverter, _payload_converter

from dsrflow.crypto.codec import PayloadConverter, cached_type_hints, install_type_hint_cache
from dsrflow.domain import EvidenceInput, Identity, ProjectionEvent, RequestStatus, RequestType
from dsrflow.evidence.example import example_input
from dsrflow.requests_client import DSR_DUE, DSR_TYPE
from dsrflow.workflows import common


@dataclass(frozen=True)
class Later:
    """Annotations are strings here (``from __future__ import annotations``)."""

    when: datetime
    who: list[Identity]


def test_cached_type_hints_answer_like_typing_and_evaluate_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert cached_type_hints(Later) == typing.get_type_hints(Later)
    calls: list[object] = []
    real = typing.get_type_hints

    def counting(obj: object, *args: object, **kwargs: object) -> dict[str, object]:
        calls.append(obj)
        return real(obj, *args, **kwargs)  # type: ignore[arg-type]

    @dataclass
    class Fresh:
        n: int

    monkeypatch.setattr(typing, "get_type_hints", counting)
    for _ in range(5):
        hints = cached_type_hints(Fresh)
        hints["n"] = str  # a caller's change must not reach the next caller
    assert cached_type_hints(Fresh) == {"n": int}
    assert calls == [Fresh]
    # Any other form of the call is not cached.
    cached_type_hints(Fresh, include_extras=True)
    assert calls == [Fresh, Fresh]


def test_the_sdk_converter_uses_the_cache_and_decodes_the_same() -> None:
    install_type_hint_cache()
    assert _payload_converter.get_type_hints is cached_type_hints  # type: ignore[attr-defined]
    conv = DataConverter.default.payload_converter
    event = ProjectionEvent(
        request_id="r-1",
        request_type=RequestType.ERASURE,
        status=RequestStatus.RUNNING,
        received_at=datetime(2026, 1, 2, tzinfo=UTC),
        stores=[],
        artifact=None,
        regulation="gdpr",
        seq=3,
    )
    [payload] = conv.to_payloads([event])
    for _ in range(3):
        assert conv.from_payloads([payload], [ProjectionEvent]) == [event]


def test_only_the_pure_machine_of_the_workflows_is_passed_through() -> None:
    passed = common.sandbox_runner().restrictions.passthrough_modules
    assert common.MACHINE in passed
    assert not any(m.startswith("dsrflow.workflows") and m != common.MACHINE for m in passed)
    assert "dsrflow.domain" in passed


def test_the_client_sets_the_workflows_own_search_attributes() -> None:
    # The workflow skips its start upsert only when the start set these very keys.
    assert (DSR_TYPE, DSR_DUE) == (common.DSR_TYPE, common.DSR_DUE)


def test_the_shallow_encoder_writes_the_sdks_json_byte_for_byte() -> None:
    # A whole evidence input: nested dataclasses, lists, datetimes, enums, optional values.
    value = example_input(extra_stores=3)
    sdk = DataConverter.default.payload_converter.to_payloads([value])
    ours = PayloadConverter().to_payloads([value])
    assert [p.SerializeToString() for p in ours] == [p.SerializeToString() for p in sdk]
    assert PayloadConverter().from_payloads(ours, [EvidenceInput]) == [value]
