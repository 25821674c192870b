"""Two erasure requests for the same subject at once: linked, and the later one says who erased.

Both run against the same PostgreSQL store. One erases; the other finds nothing. The one that
found nothing is ``not_found`` (correctly: nothing of hers was left), its receipt names the
request that erased first, and the ledger links the two through the keyed blind index (never
the identifier). A request about a different person is linked to neither.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dsrflow.devserver import DevServer
from dsrflow.domain import RequestStatus, StoreStatus
from dsrflow.ledger.models import JournalSubjectRow
from dsrflow.requests_client import RequestClient
from tests.faults.faultkit import (
    ERASED_ROWS,
    OTHER,
    SUBJECT,
    crm,
    runtime,
    seed_store,
    submit_erasure,
    until,
    write_catalog,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


async def test_concurrent_requests_for_one_subject_are_linked(
    temporal_server: DevServer, pg_schema: str, tmp_path: Path
) -> None:
    seed_store(pg_schema)
    rt = runtime(temporal_server, tmp_path, write_catalog(tmp_path, pg_schema))
    client = await rt.client()
    rc = RequestClient(client, rt.settings.task_queue)
    try:
        async with rt.worker(client):
            ids = await asyncio.gather(submit_erasure(rc, SUBJECT), submit_erasure(rc, SUBJECT))
            other = await submit_erasure(rc, OTHER)
            views = [
                await until(rc, rid, lambda v: v.status == RequestStatus.COMPLETED, rid)
                for rid in [*ids, other]
            ]
        outcomes = {rid: crm(v) for rid, v in zip([*ids, other], views, strict=True)}
        done = [rid for rid in ids if outcomes[rid].status == StoreStatus.DONE]
        assert len(done) == 1, outcomes
        first = done[0]
        later = next(rid for rid in ids if rid != first)
        assert outcomes[first].receipt.affected == ERASED_ROWS
        assert outcomes[later].status == StoreStatus.NOT_FOUND
        assert outcomes[later].receipt.note == f"erased first by request {first}"
        assert outcomes[other].status == StoreStatus.DONE
        assert outcomes[other].receipt.note is None
        assert rt.journal.linked(later) == [first]
        assert rt.journal.linked(first) == [later]
        assert rt.journal.linked(other) == []
        with rt.ledger.session() as s:
            tokens = [r.token for r in s.query(JournalSubjectRow)]
        assert tokens and all(SUBJECT not in t and len(t) == 64 for t in tokens)
    finally:
        rt.ledger.close()
