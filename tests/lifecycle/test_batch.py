"""An erasure batch on the real workflows: store work coalesced, fallback, a failed chunk.

Real time-skipping Temporal, a real worker running both workflows, real SQLite stores; the batch
is submitted through the application layer (``SubmitBatch``), as ``request submit-batch`` does.
With ``DSRFLOW_RECORD_HISTORIES=1`` these tests record a batch replay generation
(``tests/replay/README.md``): the batch workflow's history and every member's.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dsrflow.batches import BatchView
from dsrflow.domain import DsrResult
from dsrflow.lifecycle import Decision, Denial, StoreDecision
from dsrflow.service.batch import SubmitBatch
from dsrflow.service.principal import Principal
from tests.fixtures.lifecycle import Harness, broken_store

INTAKE = Principal.of("staff:in", ["intake"])
NO_GATES = {"erasure": {"identity_verification": False, "approval": False}}
APPROVAL = {"erasure": {"identity_verification": False, "approval": True}}
# Synthetic subjects only: these land in clear in the recorded histories.
SUBJECTS = ["ann.batch@example.com", "ben.batch@example.com", "cy.batch@example.com"]
EMAIL = {"identities": {"email": "email"}, "erase": "delete"}
CRM = {  # erasable in batches: every collection matched by its own identity column
    "adapter": "sql",
    "connection": {"url": "sqlite:///batch/crm.db"},
    "collections": {"contacts": EMAIL, "notes": {"identities": {"author": "email"},
                                                 "erase": "delete"}},
}  # fmt: skip
EVENTS = {  # a foreign key the catalog does not cover: the batch answers fallback
    "adapter": "sql",
    "connection": {"url": "sqlite:///batch/events.db"},
    "collections": {"people": EMAIL},
}


@pytest.fixture(scope="module")
def ts_env(ts_env_own_clock: Any) -> Any:
    """A time-skipping server of this module's own: a request terminated mid-flight here (the
    reconciler's case) left the shared server unable to skip time for every later module's
    tests (``env.sleep`` ended in "Timeout expired")."""
    return ts_env_own_clock


def seed(demo_dir: Path, subjects: list[str]) -> None:
    """Each subject: two contacts and a note in crm, one person (and her audit row) in events;
    a bystander in each who must stay. The last subject has no crm rows at all."""
    (demo_dir / "batch").mkdir(exist_ok=True)
    with sqlite3.connect(demo_dir / "batch" / "crm.db") as db:
        db.executescript(
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT);"
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, author TEXT);"
        )
        for email in [*subjects[:-1], "keep@example.com"]:
            db.executemany("INSERT INTO contacts (email) VALUES (?)", [(email,), (email,)])
            db.execute("INSERT INTO notes (author) VALUES (?)", (email,))
    db.close()
    with sqlite3.connect(demo_dir / "batch" / "events.db") as db:
        db.executescript(
            "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT);"
            "CREATE TABLE audit (id INTEGER PRIMARY KEY, person_id INT REFERENCES people(id));"
        )
        for email in [*subjects, "keep@example.com"]:
            db.execute("INSERT INTO people (email) VALUES (?)", (email,))
    db.close()


def rows(demo_dir: Path, store: str, table: str, column: str) -> list[str]:
    with sqlite3.connect(demo_dir / "batch" / f"{store}.db") as db:
        found = [r[0] for r in db.execute(f"SELECT {column} FROM {table}")]
    db.close()
    return found


async def submit(h: Harness, subjects: list[str]) -> tuple[str, list[str]]:
    """Submit a batch of ``subjects`` through the use case; its id and the members' ids."""
    path = h.demo_dir / "subjects.csv"
    path.write_text("email\n" + "".join(f"{s}\n" for s in subjects))
    use = SubmitBatch(h.rt)
    now = await h.env.get_current_time()  # the server's clock runs ahead of the wall clock
    members = [replace(m, received_at=now) for m in use.check(INTAKE, path)]
    h.started += [m.request_id for m in members]
    done = await use.run(INTAKE, members, h.rc, quiet_s=1)
    h.batches += done.batch_ids
    [batch_id] = done.batch_ids
    assert done.request_ids == [m.request_id for m in members] and done.created == len(subjects)
    return batch_id, done.request_ids


def actions(view: Any, store: str) -> list[str]:
    return [a.action for a in view.actions if a.store == store]


async def test_batch_erases_members_set_based_and_falls_back_per_subject(harness) -> None:
    """crm is erased for every member in one chunk (one operation digest); events has a
    foreign key the catalog does not cover, so each member erases it alone (recorded)."""
    async with harness(stores={"crm": CRM, "events": EVENTS}, policies=NO_GATES) as h:
        seed(h.demo_dir, SUBJECTS)
        batch_id, rids = await submit(h, SUBJECTS)
        results: list[DsrResult] = [await h.rc.handle(r).result() for r in rids]
        view = BatchView(**await h.rc.client.get_workflow_handle(batch_id).result())
        shown = [await h.rc.status(r) for r in rids]
    assert view == BatchView(batch_id, 3, 3, erased=3, fallbacks=3, failed=0)
    digests = set()
    for i, (result, status) in enumerate(zip(results, shown, strict=True)):
        assert result.status == "completed", result.reason
        stores = {o.store: o for o in result.stores}
        crm, events = stores["crm"], stores["events"]
        if i == len(SUBJECTS) - 1:
            assert str(crm.status) == "not_found" and crm.receipt.affected == 0
        else:
            assert str(crm.status) == "done" and crm.receipt.affected == 3
            assert crm.verification is not None and crm.verification.residual == 0
            digests.add(crm.receipt.operation_digest)
        assert str(events.status) == "done" and events.receipt.affected == 1
        assert "batch_fallback" in actions(status, "events")
        assert "batch_fallback" not in actions(status, "crm")
    assert len(digests) == 1  # one chunk: the same statements for every member
    assert rows(h.demo_dir, "crm", "contacts", "email") == ["keep@example.com"] * 2
    assert rows(h.demo_dir, "crm", "notes", "author") == ["keep@example.com"]
    assert rows(h.demo_dir, "events", "people", "email") == ["keep@example.com"]


async def test_a_failed_chunk_waits_for_a_person_and_a_denied_member_is_let_go(harness) -> None:
    """The batch's store cannot be reached: each member's store waits for a person, whose
    retry (after the fix) erases it per subject. A member denied at its approval gate tells the
    batch not to wait for it (``member_finished``), and the batch ends."""
    stores = {"crm": broken_store("batch/broken.db")}
    async with harness(stores=stores, policies=APPROVAL) as h:
        batch_id, (denied, approved) = await submit(h, SUBJECTS[:2])
        await h.until(h.rc.handle(denied), lambda v: v.status == "awaiting_approval", "gate")
        await h.act(h.rc.handle(denied), "deny", Denial("staff:dpo", "Art. 12(5)(b)"))
        await h.act(h.rc.handle(approved), "approve", Decision("staff:bob", "ok"))
        handle = h.rc.handle(approved)
        view = await h.until(handle, lambda v: v.status == "needs_attention", "crm to fail")
        crm = h.store(view, "crm")
        assert str(crm.status) == "failed_needs_attention" and crm.receipt is None
        batch = BatchView(**await h.rc.client.get_workflow_handle(batch_id).result())
        assert batch == BatchView(batch_id, 2, 2, erased=0, fallbacks=0, failed=1)
        (h.demo_dir / "batch").mkdir()
        with sqlite3.connect(h.demo_dir / "batch" / "broken.db") as db:  # the fix
            db.executescript("CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT)")
            db.execute("INSERT INTO contacts (email) VALUES (?)", (SUBJECTS[1],))
        db.close()
        await h.act(handle, "retry_store", StoreDecision("crm", "staff:ann", "retry", "fixed"))
        result = await handle.result()
        refused = await h.rc.handle(denied).result()
    assert str(refused.status) == "denied"
    assert result.status == "completed"
    [crm] = result.stores
    assert str(crm.status) == "done" and crm.receipt.affected == 1 and crm.attempts > 1


async def test_the_reconciler_leaves_an_ended_batch_alone(harness) -> None:
    """A member terminated after its batch has ended (it still waited for a person on a manual
    store): the reconciler projects the end as usual; the batch's signal finds no batch, so
    nothing says the batch was released."""
    from dsrflow.reconciler import Reconciler

    stores = {"crm": CRM, "paper": {"adapter": "manual", "instructions": "Shred file 3"}}
    async with harness(stores=stores, policies=NO_GATES) as h:
        seed(h.demo_dir, [*SUBJECTS[:1], "nobody.batch@example.com"])  # the last: no crm rows
        batch_id, [rid] = await submit(h, SUBJECTS[:1])
        batch = BatchView(**await h.rc.client.get_workflow_handle(batch_id).result())
        assert batch == BatchView(batch_id, 1, 1, erased=1, fallbacks=0, failed=0)
        await h.until(
            h.rc.handle(rid),
            lambda v: str(h.store(v, "paper").status) == "waiting_for_human",
            "the paper task",
        )
        await h.rc.handle(rid).terminate("from the UI")
        reconciler = Reconciler(h.rt.ledger, h.rc)
        assert await reconciler._batch_of(rid) == batch_id  # found; the batch is gone
        [found] = await reconciler.run([rid])
    assert (found.kind, found.detail) == ("ended_outside", "terminated")
    actions = [e.action for e in h.rt.ledger.audit_entries(rid)]
    assert "ended_outside_dsrflow" in actions and "batch_member_released" not in actions
