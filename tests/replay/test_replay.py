"""Recorded histories of real requests must replay on the current workflow code."""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from dsrflow.batches import BATCH_WORKFLOW
from dsrflow.workflows.batch import ErasureBatchWorkflow
from dsrflow.workflows.common import sandbox_runner
from dsrflow.workflows.dsr import DataSubjectRequestWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").rglob("*.json"))


def generation(folder: str) -> dict[str, Path]:
    """The histories of one generation (``v6`` matches ``v6-lean-history``), by name."""
    return {
        p.stem: p
        for p in HISTORIES
        if p.parent.name == folder or p.parent.name.startswith(f"{folder}-")
    }


WORKFLOWS = {"DataSubjectRequest": DataSubjectRequestWorkflow, BATCH_WORKFLOW: ErasureBatchWorkflow}


def workflow_type(path: Path) -> str:
    """The workflow type a recorded history holds (its start event says)."""
    start = json.loads(path.read_text())["events"][0]
    return str(start["workflowExecutionStartedEventAttributes"]["workflowType"]["name"])


def test_histories_cover_the_lifecycle() -> None:
    names = {name.rsplit("-", 1)[0] for name in generation("v2")}
    for scenario in (
        "test_every_store_outcome",
        "test_retry_store_after_a_fix_does_not_rerun_done_stores",
        "test_reminders_then_overdue",
        "test_legal_hold_pauses_erasure_until_released",
        "test_cancel_after_execution_started_records_what_was_done",
        "test_unverified_request_expires",
        "test_rectification_sets_fields_where_stores_hold_them",
        "test_hold_during_execution_keeps_later_manual_tasks_closed",
        "test_denial_during_a_hold_is_honoured",
    ):
        assert scenario in names


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_history_replays(path: Path) -> None:
    # Any generation, any workflow type: a request's and a batch's histories are replayed on
    # the workflow their start event names, with both registered (as the worker has them).
    assert workflow_type(path) in WORKFLOWS, path.name
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await Replayer(
        workflows=list(WORKFLOWS.values()), workflow_runner=sandbox_runner()
    ).replay_workflow(history)


def test_latest_generation_covers_sweeps_resumes_and_dry_runs() -> None:
    names = {name.rsplit("-", 1)[0] for name in generation("v3")}
    for scenario in (
        "test_every_store_outcome",
        "test_retry_store_after_a_fix_does_not_rerun_done_stores",
        "test_sweep_hits_after_erasure_park_the_store_until_fixed",
        "test_retry_resumes_at_the_step_that_failed-verify_store",
        "test_retry_resumes_at_the_step_that_failed-sweep_store",
        "test_a_commit_whose_completion_was_lost_is_done_with_its_counts",
        "test_access_with_sweep_hits_is_incomplete",
        "test_dry_run_erasure_changes_nothing_and_signs_nothing",
        "test_retry_after_a_catalog_fix_runs_the_current_catalog",
    ):
        assert scenario in names


def _decoded(payload: dict[str, str]) -> object:
    return json.loads(base64.b64decode(payload["data"]))


def _published(path: Path) -> tuple[set[str], list[str]]:
    """The patches a history recorded, and every ``DsrStatus`` value it upserted, in order."""
    patches: set[str] = set()
    statuses: list[str] = []
    for event in json.loads(path.read_text())["events"]:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                patches.add(_decoded(payload)["id"])  # type: ignore[index]
        upsert = event.get("upsertWorkflowSearchAttributesEventAttributes")
        if upsert:
            fields = upsert["searchAttributes"]["indexedFields"]
            if "DsrStatus" in fields:
                statuses.append(str(_decoded(fields["DsrStatus"])))
    return patches, statuses


def test_newest_generation_publishes_the_status_only_when_it_changed() -> None:
    v5 = list(generation("v5").values())
    assert len(v5) >= 30
    for path in v5:
        patches, statuses = _published(path)
        assert "publish-only-changes" in patches, path.name
        repeated = [a for a, b in itertools.pairwise(statuses) if a == b]
        assert not repeated, f"{path.name} upserted {repeated} twice in a row"
    # The generation before re-published unchanged values (what the patch removes).
    _, older = _published(next(iter(generation("v4").values())))
    assert any(a == b for a, b in itertools.pairwise(older))


OLDER_PATCHES = {
    "publish-only-changes", "project-accepted-actions", "four-eyes", "dry-run-requests",
    "release-keeps-status", "sweep-resume-recovered-receipts", "hold-stops-manual-tasks",
    "outside-cancel-handled",
}  # fmt: skip
"""Patches that ``lean-history`` stands for (``caller-assertion`` is still asked by the guard
of a refused update)."""


def _shape(path: Path) -> tuple[int, int]:
    """How many ``project`` local activities and ``DsrType`` upserts a history recorded."""
    projects = types = 0
    for event in json.loads(path.read_text())["events"]:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") == "core_local_activity":
            data = _decoded(marker["details"]["data"]["payloads"][0])
            projects += data.get("activity_type") == "project"  # type: ignore[union-attr]
        upsert = event.get("upsertWorkflowSearchAttributesEventAttributes")
        if upsert and "DsrType" in upsert["searchAttributes"]["indexedFields"]:
            types += 1
    return projects, types


def test_lean_generation_records_one_patch_and_projects_less() -> None:
    v6 = generation("v6")
    v5 = generation("v5")
    assert len(v6) >= 30
    for path in v6.values():
        patches, statuses = _published(path)
        assert "lean-history" in patches, path.name
        assert not patches & OLDER_PATCHES, f"{path.name} asked {patches & OLDER_PATCHES}"
        assert not [a for a, b in itertools.pairwise(statuses) if a == b], path.name
        # Started through dsrflow's client, which sets type and due date: no upsert of them.
        assert _shape(path)[1] == 0, path.name
    both = sorted(v6.keys() & v5.keys())
    assert len(both) >= 30
    lean = sum(_shape(v6[name])[0] for name in both)
    before = sum(_shape(v5[name])[0] for name in both)
    assert lean < before * 0.85, (lean, before)  # snapshots coalesced per workflow task
    assert all(_shape(v5[n])[1] == 1 for n in both if _published(v5[n])[1])  # v5 upserted them


def _events(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text())["events"])


def _signals(path: Path) -> list[str]:
    """The signals a history received, in order."""
    return [
        e["workflowExecutionSignaledEventAttributes"]["signalName"]
        for e in _events(path)
        if "workflowExecutionSignaledEventAttributes" in e
    ]


def _kinds(path: Path) -> set[str]:
    return {e["eventType"] for e in _events(path)}


def _emails(path: Path) -> set[str]:
    """Every e-mail address in the history's decoded payloads (the test server's are clear)."""
    found: set[str] = set()
    for data in re.findall(r'"data": "([A-Za-z0-9+/=]+)"', path.read_text()):
        text = base64.b64decode(data).decode("utf-8", "replace")
        found |= set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text))
    return found


def test_batch_generation_holds_a_batch_and_its_members() -> None:
    """``batch-v1/`` (``tests/lifecycle/test_batch.py``): the batch workflow erasing a chunk, a
    chunk answered ``fallback``, a failed chunk and a member that finished without the batch;
    the members' side of each. Synthetic subjects only, and none in a batch's history."""
    gen = list(generation("batch-v1").values())
    batches = [p for p in gen if workflow_type(p) == BATCH_WORKFLOW]
    members = [p for p in gen if workflow_type(p) == "DataSubjectRequest"]
    assert len(batches) >= 2 and len(members) >= 4
    # A batch that answered members, a batch whose chunk failed and that a member let go.
    assert any(_signals(p).count("member_ready") >= 3 for p in batches)
    failed = [p for p in batches if "EVENT_TYPE_ACTIVITY_TASK_FAILED" in _kinds(p)]
    assert failed and "member_finished" in _signals(failed[0])
    for path in members:
        start = _events(path)[0]["workflowExecutionStartedEventAttributes"]
        assert _decoded(start["input"]["payloads"][0])["batch_id"], path.name  # type: ignore[index]
        # Every member spoke to its batch (member_ready, or member_finished when denied).
        assert "EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED" in _kinds(path)
    assert sum("batch_result" in _signals(p) for p in members) >= 3
    for path in gen:
        emails = _emails(path)
        assert all(e.endswith(".batch@example.com") for e in emails), (path.name, emails)
        assert not emails or path in members, path.name  # a batch holds sealed blobs only


def test_kept_answers_generation_carries_no_receipt_through_the_batch() -> None:
    """``batch-v2-kept-answers/``: ``erase_batch`` keeps each member's answer in the ledger.

    The batch's history holds ``kept`` and no receipt (its workflow task decodes nothing per
    member); each member answered ``kept`` read its own receipt with ``check_batch_result``.
    """
    gen = list(generation("batch-v2-kept-answers").values())
    batches = [p for p in gen if workflow_type(p) == BATCH_WORKFLOW]
    assert batches
    results = [
        _decoded(e["activityTaskCompletedEventAttributes"]["result"]["payloads"][0])
        for p in batches
        for e in _events(p)
        if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED"
    ]
    kept = [r for r in results if isinstance(r, dict) and r.get("kept")]
    assert kept and all(not r["results"] for r in kept)
    read = 0
    for path in gen:
        for e in _events(path):
            details = e.get("markerRecordedEventAttributes", {}).get("details", {})
            if "result" not in details:
                continue
            meta = _decoded(details["data"]["payloads"][0])
            if isinstance(meta, dict) and meta.get("activity_type") == "check_batch_result":
                checked = _decoded(details["result"]["payloads"][0])
                read += bool(isinstance(checked, dict) and checked["valid"] and checked["receipt"])
    assert read >= 2, "no member read its kept receipt"
    members = [p for p in gen if p not in batches]
    assert any('"check_store"' in p.read_text() for p in members)  # patch check-store
    assert not any('"sweep_store"' in p.read_text() for p in members)
    for path in gen:  # synthetic subjects only, none in a batch's history
        emails = _emails(path)
        assert all(e.endswith(".batch@example.com") for e in emails), (path.name, emails)
        assert not emails or path not in batches, path.name


def _scheduled(path: Path) -> Counter[str]:
    """How many times a history scheduled each activity (by type)."""
    return Counter(
        event["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for event in _events(path)
        if "activityTaskScheduledEventAttributes" in event
    )


def test_check_store_generation_checks_each_store_with_one_activity() -> None:
    v7 = generation("v7")
    v6 = generation("v6")
    assert len(v7) >= 30
    for path in v7.values():
        patches, _ = _published(path)
        assert "check-store" in patches, path.name
        # It stands for lean-history and every older patch: none of them is asked.
        assert not patches & (OLDER_PATCHES | {"lean-history"}), path.name
        scheduled = _scheduled(path)
        assert not scheduled["verify_store"] and not scheduled["sweep_store"], path.name
    assert _scheduled(v7["test_every_store_outcome-0"])["check_store"] > 0
    # A check that failed is retried alone: the erase ran once, check_store twice.
    for step in ("verify", "sweep"):
        resumed = _scheduled(v7[f"test_retry_resumes_at_the_step_that_failed-{step}-0"])
        assert (resumed["erase_store"], resumed["check_store"]) == (1, 2), step
    # The same scenarios schedule fewer activities than the generation before, never more.
    renamed = {k.replace("-verify_store-", "-verify-").replace("-sweep_store-", "-sweep-"): p
               for k, p in v6.items()}  # fmt: skip
    both = sorted(v7.keys() & renamed.keys())
    assert len(both) == len(v7)
    before = {n: sum(_scheduled(renamed[n]).values()) for n in both}
    after = {n: sum(_scheduled(v7[n]).values()) for n in both}
    assert all(after[n] <= before[n] for n in both), {n: (before[n], after[n]) for n in both}
    assert sum(after.values()) < sum(before.values())
