"""Four eyes on the real workflow: the workflow's approve validator refuses the person who
verified the subject's identity, unless the catalog's policy turns the rule off."""

from __future__ import annotations

import json

import pytest

from dsrflow.errors import UserError
from dsrflow.lifecycle import Decision, IdentityVerification

GATES = {"erasure": {"identity_verification": True, "approval": True}}
GATES_NO_FOUR_EYES = {"erasure": {**GATES["erasure"], "four_eyes": False}}


async def verified(h, verifier: str):
    handle = await h.submit(email="bob@example.com")
    await h.until(handle, lambda v: v.status == "awaiting_verification", "verification gate")
    await h.act(handle, "verify_identity", IdentityVerification("document_check", verifier))
    await h.until(handle, lambda v: v.status == "awaiting_approval", "approval gate")
    return handle


async def test_the_verifier_cannot_approve_and_another_person_can(harness) -> None:
    async with harness(policies=GATES) as h:
        handle = await verified(h, "staff:ann")
        with pytest.raises(UserError, match="four eyes: staff:ann verified the identity; "
                           "another person must approve the erasure"):  # fmt: skip
            await h.act(handle, "approve", Decision("staff:ann", "looks fine"))
        view = await h.status(handle)
        assert view.status == "awaiting_approval"  # the refusal changed nothing
        await h.act(handle, "approve", Decision("staff:bob", "fine"))
        result = await handle.result()
    assert result.status == "completed"
    assert [(a.actor, a.action) for a in h.rt.ledger.actions(handle.id)] == [
        ("staff:ann", "identity_verified"),
        ("staff:bob", "approved"),
    ]
    # The rule is behind a patch (older histories replay without it); a new request records
    # one marker, ``check-store``, that stands for it and every other older patch (through
    # ``lean-history``, which it stands for too).
    assert await patch_markers(handle) == ["check-store"]


async def patch_markers(handle) -> list[str]:
    """The patch ids the request's history recorded, in order."""
    history = await handle.fetch_history()
    return [
        json.loads(payload.data)["id"]
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    ]


async def test_the_policy_can_turn_it_off(harness) -> None:
    async with harness(policies=GATES_NO_FOUR_EYES) as h:
        handle = await verified(h, "staff:ann")
        await h.act(handle, "approve", Decision("staff:ann", "sole operator"))
        result = await handle.result()
    assert result.status == "completed"
    assert "four-eyes" not in await patch_markers(handle)  # off by policy: no patch asked for
