"""A batch of erasure requests across four real stores, for the fault tests that kill processes.

Stores: ``crm`` (a PostgreSQL schema: customers and their orders), ``billing`` (a MariaDB
database), ``cache`` (Redis keys under the test's prefix, and a shared newsletter set) and
``events`` (a SQLite file). Every subject is a canary e-mail of its own, and each has a
bystander who differs by a plus-tag and whose data must survive.

Mid-fan-out is made certain, not waited for with a sleep: the test holds a SHARE lock on
``crm.customers``, so every request's ``crm`` erasure blocks inside PostgreSQL while the
other stores finish. The fault is injected once the status views show that and PostgreSQL shows
the erasures waiting on the lock.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from dsrflow.catalog import yamlpos
from dsrflow.domain import DsrInput, Identity, RequestStatus, RequestType, StatusView, StoreStatus
from dsrflow.requests_client import RequestClient
from dsrflow.runtime import Runtime
from dsrflow.tlog.anchors import ANCHOR_KEY
from dsrflow.tlog.models import TlogLeafRow
from dsrflow.verify import Expect, TrustState, verify_bundle
from tests.fixtures.databases import MARIADB_ADMIN, PG_ADMIN
from tests.fixtures.redis_store import REDIS_URL

STORES = ("billing", "cache", "crm", "events")
# What one subject has in each store (and so what each erasure must report as affected).
ERASED = {"crm": 3, "billing": 2, "cache": 3, "events": 2}
# What one bystander has in each store (all of it must remain).
KEPT = {"crm": 2, "billing": 1, "cache": 2, "events": 1}

# Fast retries, and a heartbeat timeout longer than the test holds its lock (a blocked erasure
# does not heartbeat; it must not be timed out and retried while it waits), short enough that
# a killed worker's activities are retried soon.
RETRY = {"max_attempts": 20, "initial_interval": 0.2, "backoff": 1.5, "max_interval": 1,
         "heartbeat": 20, "timeout": 60}  # fmt: skip


@dataclass(frozen=True)
class Batch:
    """The stores of one test and the people in them."""

    folder: Path
    pg_schema: str
    mariadb: str
    redis_prefix: str
    subjects: list[str] = field(default_factory=list)

    @property
    def bystanders(self) -> list[str]:
        """Each subject's plus-tagged neighbour (a different person: tags are never stripped)."""
        return [s.replace("@", "+other@") for s in self.subjects]

    @property
    def sqlite(self) -> Path:
        return self.folder / "events.db"


def new_batch(folder: Path, pg_schema: str, mariadb: str, redis_prefix: str, n: int) -> Batch:
    """``n`` canary subjects (unique per run), their stores seeded, the catalog written."""
    run = uuid.uuid4().hex[:8]
    subjects = [f"canary.{run}.{i}@example.org" for i in range(n)]
    batch = Batch(folder, pg_schema, mariadb, redis_prefix, subjects)
    folder.mkdir(parents=True, exist_ok=True)
    _seed(batch)
    write_catalog(batch)
    return batch


def _seed(b: Batch) -> None:
    people = [*enumerate(b.subjects), *((100 + i, p) for i, p in enumerate(b.bystanders))]
    pg = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    s = f'"{b.pg_schema}"'
    with pg.connect() as conn:
        conn.execute(text(f"CREATE TABLE {s}.customers (id int PRIMARY KEY, email text)"))
        conn.execute(text(f"CREATE TABLE {s}.orders (id int PRIMARY KEY, "
                          f"customer_id int REFERENCES {s}.customers(id), total int)"))  # fmt: skip
        for pid, email in people:
            conn.execute(text(f"INSERT INTO {s}.customers VALUES (:i, :e)"), {"i": pid, "e": email})
            orders = 2 if pid < 100 else 1  # a subject: 3 rows in all; a bystander: 2
            for k in range(orders):
                conn.execute(text(f"INSERT INTO {s}.orders VALUES (:o, :i, 5)"),
                             {"o": pid * 10 + k, "i": pid})  # fmt: skip
    pg.dispose()
    maria = create_engine(MARIADB_ADMIN.replace("/test", f"/{b.mariadb}"))
    with maria.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id int PRIMARY KEY, email varchar(120), "
                          "amount int)"))  # fmt: skip
        for pid, email in people:
            for k in range(2 if pid < 100 else 1):
                conn.execute(text("INSERT INTO invoices VALUES (:o, :e, 9)"),
                             {"o": pid * 10 + k, "e": email})  # fmt: skip
    maria.dispose()
    with sqlite3.connect(b.sqlite) as db:
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, email TEXT, kind TEXT)")
        for pid, email in people:
            for k in range(2 if pid < 100 else 1):
                db.execute("INSERT INTO events VALUES (?, ?, 'login')", (pid * 10 + k, email))
    db.close()
    r = _redis()
    for pid, email in people:
        for k in range(2 if pid < 100 else 1):
            r.set(f"{b.redis_prefix}session:{email}:{k}", "opaque")
        r.sadd(f"{b.redis_prefix}newsletter", email)
    r.close()


def _redis() -> Any:
    import redis

    return redis.Redis.from_url(REDIS_URL)


def write_catalog(b: Batch) -> Path:
    """The four stores, every one erased by deletion, no gates (verification or approval)."""
    email = {"identities": {"email": "email"}, "erase": "delete"}
    catalog = {
        "version": 1,
        "policies": {"erasure": {"identity_verification": False, "approval": False}},
        "stores": {
            "crm": {
                "adapter": "sql", "retry": RETRY,
                "connection": {"url": "postgresql://postgres@127.0.0.1:5432/test",
                               "schema": b.pg_schema},
                "collections": {
                    "customers": email,
                    "orders": {"references": {"customer_id": "customers.id"}, "erase": "delete"},
                },
            },
            "billing": {
                "adapter": "sql", "retry": RETRY,
                "connection": {"url": f"mysql://root@127.0.0.1:3306/{b.mariadb}"},
                "collections": {"invoices": email},
            },
            "cache": {
                "adapter": "redis", "retry": RETRY,
                "connection": {"url": REDIS_URL}, "key_prefix": b.redis_prefix,
                "collections": {
                    "sessions": {"keys": "session:{email}:*"},
                    "newsletter": {"keys": "newsletter", "member": "{email}"},
                },
            },
            "events": {
                "adapter": "sql", "retry": RETRY,
                "connection": {"url": "sqlite:///events.db"},
                "collections": {"events": email},
            },
        },
    }  # fmt: skip
    path = b.folder / "catalog.yaml"
    path.write_text(yamlpos.dump(catalog, sort_keys=False))
    return path


# -- the independent check: what each store really holds ----------------------------------------


def held(b: Batch, email: str) -> dict[str, int]:
    """How many rows / keys / memberships of ``email`` each store holds, read directly."""
    # Bounded: a read that waits on a lock fails the test instead of hanging it.
    pg = create_engine(PG_ADMIN, connect_args={"options": "-c statement_timeout=10000"})
    s = f'"{b.pg_schema}"'
    with pg.connect() as conn:
        crm = conn.execute(text(
            f"SELECT count(*) + (SELECT count(*) FROM {s}.orders o JOIN {s}.customers c "
            f"ON o.customer_id = c.id WHERE c.email = :e) FROM {s}.customers WHERE email = :e"
        ), {"e": email}).scalar_one()  # fmt: skip
    pg.dispose()
    maria = create_engine(MARIADB_ADMIN.replace("/test", f"/{b.mariadb}"))
    with maria.connect() as conn:
        billing = conn.execute(
            text("SELECT count(*) FROM invoices WHERE email = :e"), {"e": email}
        ).scalar_one()
    maria.dispose()
    with sqlite3.connect(b.sqlite) as db:
        events = db.execute("SELECT count(*) FROM events WHERE email = ?", (email,)).fetchone()[0]
    db.close()
    r = _redis()
    keys = len(list(r.scan_iter(match=f"{b.redis_prefix}session:{email}:*")))
    member = int(bool(r.sismember(f"{b.redis_prefix}newsletter", email)))
    r.close()
    return {"crm": crm, "billing": billing, "cache": keys + member, "events": events}


def assert_erased_only_subjects(b: Batch) -> None:
    """Every subject is gone from every store; every bystander is all there."""
    for subject, bystander in zip(b.subjects, b.bystanders, strict=True):
        assert held(b, subject) == dict.fromkeys(ERASED, 0), subject
        assert held(b, bystander) == KEPT, bystander


# -- the lock that holds every crm erasure mid-way ----------------------------------------------


class CrmLock:
    """A SHARE lock on the batch's ``crm.customers``, held by this test: changes wait for it
    (every crm erasure), reads do not (the test's own checks)."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self._engine = create_engine(PG_ADMIN)
        self._conn: Connection | None = self._engine.connect()
        self._conn.execute(text(f'LOCK TABLE "{schema}".customers IN SHARE MODE'))

    def waiting(self) -> int:
        """Server processes waiting for a lock on a table of the schema (blocked erasures)."""
        with self._engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(DISTINCT l.pid) FROM pg_locks l "
                "JOIN pg_class c ON c.oid = l.relation "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND NOT l.granted"
            ), {"s": self.schema}).scalar_one())  # fmt: skip

    def release(self) -> None:
        """End the transaction (nothing was changed): the waiting erasures go on."""
        if self._conn is not None:
            self._conn.rollback()
            self._conn.close()
            self._conn = None
        self._engine.dispose()


# -- requests -------------------------------------------------------------------------------


async def submit_batch(rc: RequestClient, b: Batch) -> list[str]:
    """One erasure request per subject, submitted concurrently; their ids in subject order."""

    async def one(email: str) -> str:
        rid = f"batch-{uuid.uuid4().hex[:10]}"
        await rc.submit(
            DsrInput(rid, RequestType.ERASURE, [Identity("email", email)], datetime.now(UTC))
        )
        return rid

    return list(await asyncio.gather(*(one(s) for s in b.subjects)))


async def views(rc: RequestClient, rids: list[str]) -> list[StatusView | None]:
    """Every request's status view (None where no worker answered the query)."""

    async def one(rid: str) -> StatusView | None:
        try:
            return await rc.status(rid)
        except Exception:  # between workers, or while Temporal restarts
            return None

    return list(await asyncio.gather(*(one(r) for r in rids)))


async def until_all(rc: RequestClient, rids: list[str], check: Callable[[StatusView], bool],
                    what: str, seconds: float = 90) -> list[StatusView]:  # fmt: skip
    """Poll every request's status until ``check`` holds for all of them (bounded).

    Every view seen on the way must show each ``done`` store verified, nothing left.
    """
    last: list[StatusView | None] = []
    for _ in range(int(seconds * 4)):
        last = await views(rc, rids)
        for v in last:
            for o in v.stores if v is not None else []:
                if o.status == StoreStatus.DONE:
                    assert o.verification is not None and o.verification.residual == 0, o
        if all(v is not None and check(v) for v in last):
            return [v for v in last if v is not None]
        await asyncio.sleep(0.25)
    summary = [(v.status, [(o.store, o.status) for o in v.stores]) if v else None for v in last]
    raise AssertionError(f"timed out waiting for {what}; last: {summary}")


def status_of(view: StatusView, store: str) -> StoreStatus | None:
    return next((o.status for o in view.stores if o.store == store), None)


def mid_fanout(view: StatusView) -> bool:
    """``crm`` is erasing (held by the lock) while some other store has already finished."""
    others = [status_of(view, s) for s in STORES if s != "crm"]
    return status_of(view, "crm") == StoreStatus.RUNNING and StoreStatus.DONE in others


async def until_mid_fanout(rc: RequestClient, rids: list[str], lock: CrmLock) -> None:
    """Until every request is mid-fan-out and PostgreSQL shows each crm erasure waiting."""
    await until_all(rc, rids, mid_fanout, "every request to be mid-fan-out", seconds=60)
    for _ in range(240):
        if lock.waiting() >= len(rids):
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"only {lock.waiting()} crm erasures are waiting on the lock")


def completed(view: StatusView) -> bool:
    return view.status == RequestStatus.COMPLETED


# -- the outcome ----------------------------------------------------------------------------


def tlog_entries(rt: Runtime) -> dict[str, int]:
    """Transparency-log entries per request, counted in the ledger."""
    from sqlalchemy import func, select

    with rt.ledger.session() as s:
        rows = s.execute(
            select(TlogLeafRow.request_id, func.count()).group_by(TlogLeafRow.request_id)
        ).all()
    return {rid: n for rid, n in rows}


async def bundle_activities(client: Client, rid: str) -> int:
    """How many times the request's history scheduled the evidence bundle's activity."""
    history = await client.get_workflow_handle(rid).fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    return scheduled.count("build_evidence_bundle")


async def assert_batch_erased(rt: Runtime, client: Client, b: Batch, rids: list[str],
                              final: list[StatusView], out: Path) -> None:  # fmt: skip
    """Every request ended verified in every store, once signed, once logged, verifiable."""
    assert len(final) == len(rids) == len(b.subjects)
    for view in final:
        assert view.status == RequestStatus.COMPLETED, view
        assert sorted(o.store for o in view.stores) == list(STORES), view
        for o in view.stores:
            # Never done without its verification: re-queried, nothing left.
            assert o.status == StoreStatus.DONE, (view.request_id, o)
            assert o.verification is not None and o.verification.residual == 0, o
            assert o.receipt is not None and o.receipt.affected == ERASED[o.store], o
        row = rt.ledger.get_request(view.request_id)
        assert row is not None and row.status == "completed"
        assert sorted((s.store, s.status, s.affected, s.residual) for s in row.stores) == [
            (s, "done", ERASED[s], 0) for s in STORES
        ]
    # The independent check: the rows and keys are really gone; the bystanders' are not.
    assert_erased_only_subjects(b)
    # Exactly one signed bundle per request, logged exactly once.
    logged = tlog_entries(rt)
    assert {r: logged.get(r, 0) for r in rids} == dict.fromkeys(rids, 1), logged
    # The only other entries: the worker's anchors of the audit chain (not a request's).
    assert set(logged) - set(rids) <= {ANCHOR_KEY}, logged
    for rid in rids:
        assert await bundle_activities(client, rid) == 1, rid
    keyring = rt.keys.keyring_path.read_bytes()
    root = rt.keys.keyring().root_key_id
    for rid, view in zip(rids, final, strict=True):
        assert view.artifact is not None and view.artifact.kind == "evidence_bundle"
        opening = rt.artifacts.export_one(rid, "opening", out)
        assert opening is not None
        report = verify_bundle(
            Path(view.artifact.path),
            Expect(keyring, TrustState(out / "verifier.json"), root, request_id=rid,
                   opening=json.loads(opening.read_text())),
        )  # fmt: skip
        assert report.ok and report.verdict == "VERIFIED", (rid, report.failure)
        assert sorted(s["store"] for s in report.stores) == list(STORES)


def assert_no_subject_in(texts: list[str], b: Batch) -> None:
    """No canary (subject or bystander e-mail) in what a process wrote."""
    for t in texts:
        for email in [*b.subjects, *b.bystanders]:
            assert email.split("@")[0] not in t, "a worker logged personal data"
