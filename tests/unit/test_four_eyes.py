"""Four eyes on the machine: an erasure's approver is not who verified the subject's identity."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dsrflow.catalog.policies import PoliciesConfig
from dsrflow.domain import RequestStatus, RequestType
from dsrflow.lifecycle import Decision, IdentityVerification
from dsrflow.workflows.machine import RequestMachine
from tests.unit.test_request_machine import T0, machine, refused

R = RequestStatus
DSR = Path(__file__).parents[2] / "workflows" / "dsr.py"


def verified_by(verifier: str, rtype: RequestType = RequestType.ERASURE, *,
                four_eyes: bool = True, dry_run: bool = False) -> RequestMachine:  # fmt: skip
    m = machine(rtype, approval=True, four_eyes=four_eyes, dry_run=dry_run)
    m.four_eyes = m.wants_four_eyes()  # what the driver does once its patch says so
    m.status = R.AWAITING_VERIFICATION
    m.accept("verify_identity", IdentityVerification("email_link", verifier))
    m.status = R.AWAITING_APPROVAL
    return m


@pytest.mark.parametrize("approver", ["staff:ann", "staff:Ann", " staff:ann"])
def test_the_verifier_may_not_approve_the_erasure(approver: str) -> None:
    m = verified_by("staff:ann")
    reason = refused(m, "approve", Decision(approver, "ok"))
    assert reason == (
        f"four eyes: {approver} verified the identity; another person must approve the erasure"
    )
    assert "\n" not in reason
    assert not m.gate_approved()  # the refusal changed nothing


def test_another_person_may_approve() -> None:
    m = verified_by("staff:ann")
    m.check("approve", Decision("staff:bob", "ok"), T0)
    m.accept("approve", Decision("staff:bob", "ok"))
    assert m.gate_approved()


def test_off_by_policy_for_other_types_and_for_dry_runs() -> None:
    off = verified_by("staff:ann", four_eyes=False)
    rectification = verified_by("staff:ann", RequestType.RECTIFICATION)
    dry = verified_by("staff:ann", dry_run=True)
    for m in (off, rectification, dry):
        assert not m.four_eyes
        m.check("approve", Decision("staff:ann", "ok"), T0)


def test_without_the_drivers_patch_the_rule_does_not_apply() -> None:
    """A request started before the rule existed (its history has no 'four-eyes' marker)."""
    m = machine(approval=True)
    assert m.wants_four_eyes() and not m.four_eyes
    m.status = R.AWAITING_VERIFICATION
    m.accept("verify_identity", IdentityVerification("email_link", "staff:ann"))
    m.status = R.AWAITING_APPROVAL
    m.check("approve", Decision("staff:ann", "ok"), T0)


def test_the_catalog_setting_reaches_the_policy_and_defaults_on() -> None:
    assert PoliciesConfig().for_type(RequestType.ERASURE).four_eyes is True
    config = PoliciesConfig.model_validate({"erasure": {"four_eyes": False}})
    assert config.for_type(RequestType.ERASURE).four_eyes is False


def test_the_driver_turns_it_on_behind_the_four_eyes_patch() -> None:
    """The workflow sets ``four_eyes`` only where ``pub.patched(PATCH_FOUR_EYES)`` says so (the
    patch, or a marker that stands for it, ``lean-history`` or ``check-store``; never global
    config): find that assignment in ``workflows/dsr.py``."""
    tree = ast.parse(DSR.read_text())
    consts = {
        t.id: n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    assert consts["PATCH_FOUR_EYES"] == "four-eyes"
    guarded = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.If)
        and "pub.patched(PATCH_FOUR_EYES)" in ast.unparse(n.test)
        and "m.wants_four_eyes()" in ast.unparse(n.test)
        and any("m.four_eyes = True" in ast.unparse(b) for b in n.body)
    ]
    assert len(guarded) == 1
