"""Dry runs: the real verbs and the sweep, no gates, nothing changed, nothing signed."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsrflow.cli import progress
from dsrflow.cli.main import app
from dsrflow.domain import DsrInput, Identity, RequestType
from dsrflow.errors import UserError
from dsrflow.sweeps import SweepHit
from dsrflow.workflows.dsr import DRY_RUN_REASON
from tests.fixtures.lifecycle import DEMO_SHOP, DEMO_SUPPORT
from tests.lifecycle.stand_ins import sweeping

ARCHIVE = {
    "adapter": "sql",
    "connection": {"url": "sqlite:///stores/shop.db"},
    "exemption": {"ground": "Art. 17(3)(b)", "note": "tax archive"},
    "collections": {"customers": {"identities": {"email": "email"}}},
}
PAPER = {"adapter": "manual", "instructions": "Shred the paper file in cabinet 3"}
SUBJECT = "dave@example.com"


def scheduled(history) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "stores").glob("*.db"))}


async def test_dry_run_erasure_changes_nothing_and_signs_nothing(
    checks_harness, demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stores = {
        "shop": sweeping(DEMO_SHOP), "support": sweeping(DEMO_SUPPORT),
        "archive": ARCHIVE, "paper": PAPER,
    }  # fmt: skip
    before = snapshot(demo_dir)
    # Default policies: erasure has identity verification and approval; a dry run passes none.
    async with checks_harness(stores) as (h, fakes):
        fakes.hits = {"shop": [SweepHit("signin_log.user_email", 1, "email")]}
        inp = DsrInput(
            request_id=f"dry-{uuid.uuid4().hex[:8]}",
            request_type=RequestType.ERASURE,
            identities=[Identity("email", SUBJECT)],
            received_at=await h.env.get_current_time(),
            dry_run=True,
        )
        await h.rc.submit(inp)
        h.started.append(inp.request_id)
        handle = h.rc.handle(inp.request_id)
        result = await handle.result()
        view = await h.status(handle)
        history = await handle.fetch_history()
        capsys.readouterr()
        would_need_person = progress.dry_run_report(view)
        report = capsys.readouterr().out

    assert snapshot(demo_dir) == before  # every table byte-identical
    assert result.status == "completed" and result.reason == DRY_RUN_REASON
    assert result.artifact is None
    kinds = scheduled(history)
    assert "build_evidence_bundle" not in kinds and "restrict_store" not in kinds
    # Nothing was erased, there is nothing to verify: the checks only sweep.
    assert "verify_store" not in kinds and "sweep_store" not in kinds
    assert fakes.checks and not any(c.verify for c in fakes.checks)
    assert fakes.steps[("verify", "shop")] == 0
    assert h.rt.tlog.size() == 0
    assert all(t.dry_run for t in fakes.tasks) and fakes.tasks
    assert {s.after for s in fakes.sweeps} == {"access"}  # what the erase would leave behind

    final = {o.store: o for o in result.stores}
    shop = final["shop"]
    assert shop.status == "failed_needs_attention" and shop.error_type == "ResidualData"
    assert shop.receipt.dry_run and shop.receipt.matched > 0
    assert final["support"].status == "not_found"
    assert final["archive"].status == "exempt" and "(dry run)" in final["archive"].exemption.note
    assert final["paper"].status == "skipped"
    assert final["paper"].note.startswith("dry run: a person's task would open")
    assert [a.action for a in view.actions] == ["dry_run"]

    row = h.rt.ledger.get_request(inp.request_id)
    assert row.status == "completed" and row.reason == DRY_RUN_REASON
    assert [a.action for a in h.rt.ledger.actions(inp.request_id)] == ["dry_run"]
    shown = CliRunner().invoke(app, ["request", "show", inp.request_id], env=dict(h.rt.env))
    assert shown.exit_code == 0, shown.output
    assert f"{inp.request_id} erasure DRY RUN completed" in shown.output

    assert would_need_person
    assert "sweep hit: signin_log.user_email (1, email, equality)" in report
    assert f"shop         failed_needs_attention matched={shop.receipt.matched}" in report
    assert "a real run would need a person" in report
    assert SUBJECT not in report  # counts and names only, never a value


async def test_dry_run_access_builds_no_package(checks_harness) -> None:
    async with checks_harness({"shop": sweeping(DEMO_SHOP)}) as (h, _):
        inp = DsrInput(
            request_id=f"dry-{uuid.uuid4().hex[:8]}",
            request_type=RequestType.ACCESS,
            identities=[Identity("email", SUBJECT)],
            received_at=await h.env.get_current_time(),
            dry_run=True,
        )
        await h.rc.submit(inp)
        h.started.append(inp.request_id)
        handle = h.rc.handle(inp.request_id)
        result = await handle.result()
        kinds = scheduled(await handle.fetch_history())
        view = await h.status(handle)
    assert result.status == "completed" and result.artifact is None
    assert "assemble_access_package" not in kinds
    shop = result.stores[0]
    assert shop.status == "done" and shop.receipt.matched > 0
    assert progress.dry_run_report(view) is False


def test_only_access_export_and_erasure_run_dry() -> None:
    args = ["request", "submit", "--type", "rectification", "--email", SUBJECT]
    result = CliRunner().invoke(app, [*args, "--set", "phone=1", "--dry-run"])
    assert isinstance(result.exception, UserError)
    assert str(result.exception) == (
        "--dry-run: rectification cannot run as a dry run (access, export, erasure can)"
    )
