"""Batch erasure end to end: 50 subjects from one file, one request each, store work coalesced.

The real CLI (``request submit-batch``) against the Temporal dev server and a PostgreSQL schema
of the test's own: every subject's rows are gone and everybody else's kept, each request
completes with its own counts and verification in its own evidence bundle (verified offline),
a subject with no rows ends ``not_found`` (recorded, not silently), the store work ran as one
set-based chunk (one operation digest for all), and no identifier appears in clear in the
batch's Temporal history or in the command's output.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from temporalio.api.common.v1 import Payload

from dsrflow.devserver import DevServer
from dsrflow.domain import DsrResult, RequestStatus, StoreStatus
from dsrflow.requests_client import RequestClient
from dsrflow.verify import Expect, TrustState, verify_bundle
from tests.fixtures.databases import PG_ADMIN
from tests.fixtures.stack import make_runtime, run_cli
from tests.unit.api_kit import auth, client, token

pytestmark = pytest.mark.timeout(300)

SUBJECTS = 50
OTHERS = 5


def email(i: int) -> str:
    return f"subject{i:03d}@example.org"


def expected_rows(i: int) -> tuple[int, int]:
    """(contacts, notes) of subject i; subject 0 has none at all."""
    return (0, 0) if i == 0 else (1 + i % 2, i % 4)


def seed(schema: str) -> Any:
    engine = create_engine(PG_ADMIN)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE TABLE "{schema}".contacts (id SERIAL PRIMARY KEY, email TEXT)'))
        conn.execute(text(f'CREATE TABLE "{schema}".notes (id SERIAL PRIMARY KEY, author TEXT)'))
        for i in range(SUBJECTS + OTHERS):
            contacts, notes = expected_rows(i) if i < SUBJECTS else (2, 3)
            # Stored in another case than submitted: matched by the email kind's casefold.
            stored = email(i).upper() if i % 5 == 0 else email(i)
            for _ in range(contacts):
                conn.execute(
                    text(f'INSERT INTO "{schema}".contacts (email) VALUES (:e)'), {"e": stored}
                )
            for _ in range(notes):
                conn.execute(
                    text(f'INSERT INTO "{schema}".notes (author) VALUES (:e)'), {"e": stored}
                )
    return engine


def payloads_of(message: Any) -> list[Payload]:
    """Every payload inside a history event (inputs, results, signals, markers, headers)."""
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Payload):
                found.append(item)
            elif hasattr(item, "ListFields"):
                found += payloads_of(item)
    return found


async def submit_file(rt: Any, subjects: Path, *, quiet_s: int) -> str:
    """``request submit-batch --file SUBJECTS``; what it printed (it must succeed)."""
    code, out = await run_cli(
        rt, "request", "submit-batch", "--file", str(subjects), "--quiet-s", str(quiet_s)
    )
    assert code == 0, out
    return out


def batch_ids(out: str) -> list[str]:
    return re.findall(r"^batch (batch-\S+)$", out, re.M)


def request_ids(out: str) -> list[str]:
    return re.findall(r"^(dsr-\S+)$", out, re.M)


def verifying(server: DevServer, schema: str, tmp_path: Path, subjects: int) -> tuple[Any, Path]:
    """A runtime whose erasures wait for identity verification; a file of subjects 1..n."""
    path = catalog(tmp_path, schema)
    path.write_text(
        path.read_text().replace("identity_verification: false", "identity_verification: true")
    )
    rt = make_runtime(server, tmp_path / "state", path)
    listed = tmp_path / "subjects.csv"
    listed.write_text("email\n" + "".join(f"{email(i)}\n" for i in range(1, subjects + 1)))
    return rt, listed


def contacts_and_notes(schema: str, subjects: int, *, audit: bool = False) -> Any:
    """Tables ``contacts`` and ``notes`` (and ``audit``, a foreign key the catalog does not
    cover); one contact row for each of subjects 1..``subjects``. The engine."""
    engine = create_engine(PG_ADMIN)
    q = f'"{schema}"'
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {q}.contacts (id SERIAL PRIMARY KEY, email TEXT)"))
        conn.execute(text(f"CREATE TABLE {q}.notes (id SERIAL PRIMARY KEY, author TEXT)"))
        if audit:
            conn.execute(
                text(f"CREATE TABLE {q}.audit (id INT, contact_id INT REFERENCES {q}.contacts(id))")
            )
        for i in range(1, subjects + 1):
            conn.execute(text(f"INSERT INTO {q}.contacts (email) VALUES (:e)"), {"e": email(i)})
    return engine


def catalog(tmp_path: Path, schema: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(
        f"""version: 1
policies:
  erasure: {{identity_verification: false, approval: false}}
stores:
  crm:
    adapter: sql
    connection: {{url: "postgresql://postgres@127.0.0.1:5432/test", schema: "{schema}"}}
    collections:
      contacts: {{identities: {{email: email}}, erase: delete}}
      notes: {{identities: {{author: email}}, erase: delete}}
"""
    )
    return path


async def test_fifty_subjects_in_one_batch(
    temporal_server: DevServer, pg_schema: str, tmp_path: Path
) -> None:
    engine = seed(pg_schema)
    rt = make_runtime(temporal_server, tmp_path / "state", catalog(tmp_path, pg_schema))
    subjects = tmp_path / "subjects.csv"
    subjects.write_text("email\n" + "".join(f"{email(i)}\n" for i in range(SUBJECTS)))
    bad = tmp_path / "bad.csv"
    bad.write_text(f"email\n{email(1)}\nnot-an-address\n")
    client = await rt.client()
    async with rt.worker(client):
        code, out = await run_cli(rt, "request", "submit-batch", "--file", str(bad))
        # One line naming file and line, no value echoed, nothing started (checked before).
        assert code != 0 and out.strip().count("\n") == 0, out
        assert "bad.csv:3: --email: not an e-mail address" in out and "@" not in out, out
        out = await submit_file(rt, subjects, quiet_s=2)
        assert "@" not in out  # request and batch ids only
        [batch_id] = batch_ids(out)
        rids = request_ids(out)
        assert len(rids) == SUBJECTS
        results: list[DsrResult] = await asyncio.wait_for(
            asyncio.gather(
                *(client.get_workflow_handle(r, result_type=DsrResult).result() for r in rids)
            ),
            timeout=240,
        )
        batch_view = await asyncio.wait_for(client.get_workflow_handle(batch_id).result(), 60)
        history = await client.get_workflow_handle(batch_id).fetch_history()
        codec = client.data_converter.payload_codec
        assert codec is not None
        member = await client.get_workflow_handle(rids[1]).fetch_history()
        keyring = rt.keys.keyring_path.read_bytes()
        root = rt.keys.keyring().root_key_id

    # Everybody else's rows are kept; every subject's rows are gone.
    with engine.connect() as conn:
        left = (
            conn.execute(text(f'SELECT lower(email) FROM "{pg_schema}".contacts')).scalars().all()
        )
        notes = conn.execute(text(f'SELECT lower(author) FROM "{pg_schema}".notes')).scalars().all()
    others = {email(i) for i in range(SUBJECTS, SUBJECTS + OTHERS)}
    assert set(left) == others and len(left) == 2 * OTHERS
    assert set(notes) == others and len(notes) == 3 * OTHERS
    engine.dispose()

    assert batch_view["members"] == SUBJECTS and batch_view["erased"] == SUBJECTS
    digests = set()
    for i, (rid, result) in enumerate(zip(rids, results, strict=True)):
        assert result.status == RequestStatus.COMPLETED, (rid, result.reason)
        [crm] = result.stores
        contacts, notes_n = expected_rows(i)
        counts = {c.collection: (c.matched, c.affected) for c in crm.receipt.collections}
        assert counts == {"contacts": (contacts, contacts), "notes": (notes_n, notes_n)}, i
        assert crm.verification is None or crm.verification.residual == 0
        if i == 0:
            assert crm.status == StoreStatus.NOT_FOUND  # recorded as such, not silently
        else:
            assert crm.status == StoreStatus.DONE and crm.verification is not None
            digests.add(crm.receipt.operation_digest)
        report = verify_bundle(
            Path(result.artifact.path),
            Expect(keyring, TrustState(tmp_path / f"trust-{i}.json"), root, request_id=rid),
        )
        assert report.ok and report.verdict == "VERIFIED", (rid, report.failure)
    assert len(digests) == 1  # one chunk, one set of statements for every subject
    # The batch erased and verified: the member only sweeps, in one check_store (no verb).
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in member.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled.count("check_store") == 1, scheduled
    assert not {"erase_store", "verify_store", "sweep_store"} & set(scheduled), scheduled

    # Decrypted with the batch's own key: the history holds request ids, counts and sealed
    # blobs, no address (the raw bytes, encrypted, would prove nothing).
    payloads = [p for e in history.events for p in payloads_of(e)]
    assert payloads
    plain = await codec.decode(payloads)
    assert any(b"dsr-" in p.data for p in plain)  # decrypted: the member ids are readable
    assert not any(b"example.org" in p.data.lower() for p in plain)


async def test_a_store_the_batch_cannot_take_is_erased_per_subject(
    temporal_server: DevServer, pg_schema: str, tmp_path: Path
) -> None:
    """A foreign key the catalog does not cover: the batch answers ``fallback`` and each
    request erases the store alone (recorded in its history), with the same end result."""
    engine = contacts_and_notes(pg_schema, 3, audit=True)
    q = f'"{pg_schema}"'
    rt = make_runtime(temporal_server, tmp_path / "state", catalog(tmp_path, pg_schema))
    subjects = tmp_path / "subjects.jsonl"
    subjects.write_text("".join(f'{{"email": "{email(i)}"}}\n' for i in range(1, 4)))
    client = await rt.client()
    async with rt.worker(client):
        out = await submit_file(rt, subjects, quiet_s=1)
        [batch_id] = batch_ids(out)
        rids = request_ids(out)
        results = await asyncio.wait_for(
            asyncio.gather(
                *(client.get_workflow_handle(r, result_type=DsrResult).result() for r in rids)
            ),
            timeout=180,
        )
        view = await asyncio.wait_for(client.get_workflow_handle(batch_id).result(), 60)
        shown = [await client.get_workflow_handle(r).query("status") for r in rids]
    assert view["fallbacks"] == 3 and view["erased"] == 0
    for result, status in zip(results, shown, strict=True):
        assert result.status == RequestStatus.COMPLETED
        [crm] = result.stores
        assert crm.status == StoreStatus.DONE and crm.receipt.affected == 1
        assert "batch_fallback" in [a["action"] for a in status["actions"]]
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {q}.contacts")).scalar_one() == 0
    engine.dispose()


async def test_a_member_at_a_gate_does_not_hold_up_the_others(
    temporal_server: DevServer, pg_schema: str, tmp_path: Path
) -> None:
    """Identity verification on: two verified members are erased after the quiet period while
    the third still waits at its gate; once verified it is erased in a later round."""
    engine = contacts_and_notes(pg_schema, 3)
    q = f'"{pg_schema}"'
    rt, subjects = verifying(temporal_server, pg_schema, tmp_path, 3)

    def left() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {q}.contacts")).scalar_one())

    client = await rt.client()
    async with rt.worker(client):
        out = await submit_file(rt, subjects, quiet_s=1)
        [batch_id] = batch_ids(out)
        rids = request_ids(out)
        for rid in rids[:2]:
            code, said = await run_cli(
                rt, "request", "verify-identity", rid, "--method", "email_link"
            )
            assert code == 0, said
        first = await asyncio.wait_for(
            asyncio.gather(
                *(client.get_workflow_handle(r, result_type=DsrResult).result() for r in rids[:2])
            ),
            timeout=120,
        )
        assert [r.status for r in first] == [RequestStatus.COMPLETED] * 2
        assert left() == 1  # the unverified member's row is untouched
        batch = client.get_workflow_handle(batch_id)
        assert (await batch.query("status"))["done"] == 2
        code, said = await run_cli(
            rt, "request", "verify-identity", rids[2], "--method", "email_link"
        )
        assert code == 0, said
        last = await asyncio.wait_for(
            client.get_workflow_handle(rids[2], result_type=DsrResult).result(), 120
        )
        view = await asyncio.wait_for(batch.result(), 60)
    assert last.status == RequestStatus.COMPLETED and last.stores[0].receipt.affected == 1
    assert view["erased"] == 3 and view["done"] == 3
    assert left() == 0
    engine.dispose()


async def test_a_member_ended_outside_dsrflow_is_released_by_the_reconciler(
    temporal_server: DevServer, pg_schema: str, tmp_path: Path
) -> None:
    """A member terminated in Temporal never tells its batch. With a long quiet period the
    batch waits for it and answers nobody; ``ledger reconcile`` finds the end, signals the batch
    ``member_finished`` (audited), and the batch erases the other members and ends."""
    engine = contacts_and_notes(pg_schema, 3)
    q = f'"{pg_schema}"'
    rt, subjects = verifying(temporal_server, pg_schema, tmp_path, 3)

    def left() -> list[str]:
        with engine.connect() as conn:
            return list(conn.execute(text(f"SELECT email FROM {q}.contacts")).scalars())

    client = await rt.client()
    async with rt.worker(client):
        out = await submit_file(rt, subjects, quiet_s=600)
        [batch_id] = batch_ids(out)
        *kept, gone = request_ids(out)
        for rid in kept:
            code, said = await run_cli(
                rt, "request", "verify-identity", rid, "--method", "email_link"
            )
            assert code == 0, said
        rc = RequestClient(client, rt.settings.task_queue)
        for rid in kept:  # handed crm to the batch and waiting for its answer
            for _ in range(400):
                view = await rc.status(rid)
                if view.stores and view.stores[0].status == StoreStatus.RUNNING:
                    break
                await asyncio.sleep(0.25)
            else:
                raise AssertionError(f"{rid} never handed crm to the batch: {view}")
        await client.get_workflow_handle(gone).terminate("from the UI")
        batch = client.get_workflow_handle(batch_id)
        # Waiting for the member that will never report (quiet period: 600 s).
        assert (await batch.query("status"))["done"] == 0 and len(left()) == 3

        code, said = await run_cli(rt, "ledger", "reconcile")
        assert code == 0, said
        assert f"{gone}: ended_outside (terminated; batch {batch_id} no longer waits" in said
        results = await asyncio.wait_for(
            asyncio.gather(
                *(client.get_workflow_handle(r, result_type=DsrResult).result() for r in kept)
            ),
            timeout=120,
        )
        view = await asyncio.wait_for(batch.result(), 60)
        code, again = await run_cli(rt, "ledger", "reconcile", gone)  # nothing left to do
        assert code == 0 and "0 reconciled" in again, again
    assert view["members"] == 3 and view["done"] == 3 and view["erased"] == 2
    for result in results:
        assert result.status == RequestStatus.COMPLETED
        assert result.stores[0].status == StoreStatus.DONE
        assert result.stores[0].receipt.affected == 1
    assert left() == [email(3)]  # the terminated member's row: nobody erased it
    row = rt.ledger.get_request(gone)
    assert row is not None and row.status == "ended_outside"
    released = [e for e in rt.ledger.audit_entries(gone) if e.action == "batch_member_released"]
    assert len(released) == 1 and batch_id in str(released[0].detail)
    assert [e.actor for e in released] == ["dsrflow:reconciler"]
    engine.dispose()
    rt.ledger.close()


async def test_a_batch_through_the_http_api(
    temporal_server: DevServer, pg_schema: str, tmp_path: Path
) -> None:
    """``POST /api/v1/batches`` (the API in process, a real worker and Temporal): the same use
    case as the CLI (every member its own request, erased together, audited under the token's
    actor), then ``GET /api/v1/batches/{id}`` shows the counts."""
    engine = contacts_and_notes(pg_schema, 4)
    q = f'"{pg_schema}"'
    rt = make_runtime(temporal_server, tmp_path / "state", catalog(tmp_path, pg_schema))
    api, intake, analyst = client(rt), auth(token(rt, "intake")), auth(token(rt, "analyst"))
    body = {"members": [{"email": email(i)} for i in range(1, 4)], "quiet_s": 1}
    worker_client = await rt.client()
    async with rt.worker(worker_client):
        # The test client blocks: run it in a thread so this loop's worker goes on.
        r = await asyncio.to_thread(api.post, "/api/v1/batches", headers=intake, json=body)
        assert r.status_code == 201, r.text
        assert "@" not in r.text  # ids only
        out = r.json()
        [batch_id] = out["batch_ids"]
        rids = out["request_ids"]
        assert len(rids) == 3 and out["created"] == 3
        results = await asyncio.wait_for(
            asyncio.gather(
                *(
                    worker_client.get_workflow_handle(r, result_type=DsrResult).result()
                    for r in rids
                )
            ),
            timeout=120,
        )
        await asyncio.wait_for(worker_client.get_workflow_handle(batch_id).result(), 60)
        shown = await asyncio.to_thread(api.get, f"/api/v1/batches/{batch_id}", headers=analyst)
        not_a_batch = await asyncio.to_thread(
            api.get, f"/api/v1/batches/{rids[0]}", headers=analyst
        )
    assert shown.status_code == 200, shown.text
    assert shown.json() == {"batch_id": batch_id, "state": "completed", "members": 3, "done": 3,
                            "erased": 3, "fallbacks": 0, "failed": 0}  # fmt: skip
    assert not_a_batch.status_code == 404
    assert not_a_batch.json() == {"error": f"batch {rids[0]}: no such batch"}
    for result in results:
        assert result.status == RequestStatus.COMPLETED
        assert result.stores[0].status == StoreStatus.DONE
        assert result.stores[0].receipt.affected == 1
    with engine.connect() as conn:
        left = conn.execute(text(f"SELECT email FROM {q}.contacts")).scalars().all()
    assert left == [email(4)]  # not a member: kept
    engine.dispose()
    entries = [(e.actor, e.action, e.request_id) for e in rt.ledger.audit_entries()]
    assert ("staff:intake", "submit_batch", None) in entries
    assert {r for a, act, r in entries if (a, act) == ("staff:intake", "submit")} == set(rids)
    rt.ledger.close()
