"""Leak test: a canary person's access and erasure leave no trace outside the stores.

A made-up person (``leak_kit.Canary``: unusual e-mail with a plus-tag and capitals, name, phone
and customer id) lives in four real stores: the demo shop and support SQLite files, a
PostgreSQL schema and a Redis prefix. The real CLI (subprocesses) files an access request and
then an erasure for her, with a real worker process on the session's Temporal dev server, every
process logging JSON at debug level. Afterwards every form of every canary value is searched
for, and must be absent, in:

- every log line: the worker's, every CLI command's output, and this process's own output;
- Temporal's history of both requests, read without the codec (raw event bytes and JSON) and
  through ``temporal workflow show --output json``;
- the evidence bundle as written to disk (and inside it);
- the ledger database, cell by cell; the columns documented as holding a sealed or keyed form
  of an identifier (``docs/architecture.md``, "Where personal data may go") must hold rows for
  these requests and no form of the canary in them (ciphertext, not the value);
- every file under the state folder (access package, staging, opening: encrypted at rest).

Positive controls show the search can fail: it finds a planted canary (plain and base64) in a
file; the canary is in every store before the erasure and in the access package the subject
receives; the history decrypted with the request's key holds her e-mail (so the raw history is
searched where she is).
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from temporalio.client import Client

from dsrflow.catalog import yamlpos
from dsrflow.demo import data
from dsrflow.devserver import DevServer
from dsrflow.runtime import Runtime
from tests.e2e.leak_kit import Canary, blobs, found_in, ledger_cells, scan_tree
from tests.faults.faultkit import WorkerProcess, decoded_history, temporal_show, wait_worker_ready
from tests.fixtures.databases import PG_ADMIN
from tests.fixtures.lifecycle import DEMO_SHOP, DEMO_SUPPORT
from tests.fixtures.redis_store import REDIS_URL
from tests.fixtures.stack import make_runtime, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

CANARY = Canary()
FORMS = CANARY.forms()
# Columns that hold an identifier only sealed (AES-GCM under the request's data key) or keyed
# (HMAC under the blind-index key), as docs/architecture.md documents; each must have rows
# for the canary's requests and hold no form of her values.
SEALED = {
    ("subject_contacts", "sealed"),
    ("request_subjects", "token"),
    ("receipt_journal_subjects", "token"),
    ("data_keys", "wrapped"),
}


def test_the_search_finds_a_planted_canary(tmp_path: Path) -> None:
    """Positive control of the search itself: plain, lower-cased, base64 at every alignment,
    inside a zip, and nothing in a file without her."""
    import zipfile

    clean = tmp_path / "clean.txt"
    clean.write_text("nobody here: bob@example.com, +44 20 7946 0202, order 101\n")
    assert found_in(clean.read_bytes(), FORMS) == []
    for i, planted in enumerate([
        CANARY.email.encode(),
        CANARY.email.upper().encode(),
        b"tel:" + b"07700 900461",
        json.dumps({"id": CANARY.customer_id}).encode(),
        *(base64.b64encode(b"x" * pad + CANARY.name.encode()) for pad in range(3)),
    ]):  # fmt: skip
        path = tmp_path / f"planted-{i}.bin"
        path.write_bytes(b"\x00noise " + planted + b" noise\xff")
        assert found_in(path.read_bytes(), FORMS), f"planted #{i} not found: {planted!r}"
    with zipfile.ZipFile(tmp_path / "planted.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("inner.json", json.dumps({"who": CANARY.name.lower()}))
    assert CANARY.name.lower().encode() not in (tmp_path / "planted.zip").read_bytes()  # deflated
    hits = scan_tree(tmp_path, FORMS)
    assert any(name.endswith("planted.zip!inner.json") for name in hits), hits
    assert str(clean) not in hits


def _seed_stores(demo: Path, schema: str, prefix: str) -> None:
    c = CANARY
    with_her = {
        "shop": [
            ("INSERT INTO customers VALUES (?, ?, ?, ?, '2024-08-01T09:00:00Z', 0)",
             (c.customer_id, c.email, c.name, c.phone)),
            ("INSERT INTO addresses VALUES (77, ?, '9 Vexley Mews', 'Canterbury', 'CT1 9ZZ')",
             (c.customer_id,)),
            ("INSERT INTO orders VALUES (777, ?, ?, '9 Vexley Mews, Canterbury', 1999, "
             "'2024-08-02T10:00:00Z')", (c.customer_id, c.name)),
        ],
        "support": [
            ("INSERT INTO tickets VALUES (577, ?, ?, 'Parcel late', '2024-08-03T10:00:00Z')",
             (c.email.lower(), c.customer_id)),
            ("INSERT INTO ticket_messages VALUES (977, 577, ?, ?)",
             (c.email.lower(), f"Hi, {c.name} here; call me on {c.phone}")),
        ],
    }  # fmt: skip
    import sqlite3

    for store, statements in with_her.items():
        with sqlite3.connect(demo / "stores" / f"{store}.db") as db:
            for sql, args in statements:
                db.execute(sql, args)
        db.close()
    engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    s = f'"{schema}"'
    with engine.connect() as conn:
        conn.execute(text(f"CREATE TABLE {s}.people (id int PRIMARY KEY, email text, "
                          "full_name text, phone text, customer_ref text)"))  # fmt: skip
        conn.execute(
            text(f"INSERT INTO {s}.people VALUES (1, :e, :n, :p, :c), "
                 "(2, 'bob@example.com', 'Bob Builder', '+44 20 7946 0202', '2')"),
            {"e": c.email, "n": c.name, "p": c.phone, "c": str(c.customer_id)},
        )  # fmt: skip
    engine.dispose()
    r = redis.Redis.from_url(REDIS_URL)
    r.set(f"{prefix}session:{c.customer_id}:web", json.dumps({"email": c.email, "name": c.name}))
    r.set(f"{prefix}session:{c.customer_id}:app", f"phone={c.phone}")
    r.set(f"{prefix}session:2:web", "bob")
    r.close()


def _catalog(demo: Path, schema: str, prefix: str) -> Path:
    catalog = {
        "version": 1,
        "stores": {
            "shop": DEMO_SHOP,
            "support": DEMO_SUPPORT,
            "crm": {
                "adapter": "sql",
                "after": ["shop"],
                "connection": {"url": "postgresql://postgres@127.0.0.1:5432/test",
                               "schema": schema},
                "collections": {"people": {
                    "identities": {"email": "email", "phone": "phone",
                                   "customer_ref": "customer_id"},
                    "erase": "delete",
                }},
            },
            "cache": {
                "adapter": "redis",
                "after": ["shop"],
                "connection": {"url": REDIS_URL},
                "key_prefix": prefix,
                "collections": {"sessions": {"keys": "session:{customer_id}:*"}},
            },
        },
    }  # fmt: skip
    path = demo / "leak.yaml"
    path.write_text(yamlpos.dump(catalog, sort_keys=False))
    return path


def _stores_text(demo: Path, schema: str, prefix: str) -> dict[str, bytes]:
    """Everything each store holds, as bytes (the SQLite files whole, WAL included)."""
    out = {
        store: b"".join(p.read_bytes() for p in (demo / "stores").glob(f"{store}.db*"))
        for store in data.STORES
    }
    engine = create_engine(PG_ADMIN)
    with engine.connect() as conn:
        rows = conn.execute(text(f'SELECT * FROM "{schema}".people')).all()
    engine.dispose()
    out["crm"] = repr(rows).encode()
    r = redis.Redis.from_url(REDIS_URL)
    keys = sorted(r.scan_iter(match=prefix + "*"))
    out["cache"] = b"\n".join(k + b"=" + (r.get(k) or b"") for k in keys)
    r.close()
    return out


async def _cli(rt: Runtime, logs: dict[str, str], *args: str, actor: str) -> str:
    code, out = await run_cli(rt, *args, actor=actor)
    logs[f"cli {' '.join(args[:2])} ({len(logs)})"] = out
    assert code == 0, out
    return out


async def _request(rt: Runtime, logs: dict[str, str], kind: str, out_dir: Path) -> str:
    rid = f"t-leak-{kind[:3]}-{uuid.uuid4().hex[:8]}"
    phone = f"phone={CANARY.phone}"
    await _cli(rt, logs, "request", "submit", "--type", kind, "--email", CANARY.email,
               "--identity", phone, "--request-id", rid, actor="staff:leak-analyst")  # fmt: skip
    await _cli(rt, logs, "request", "verify-identity", rid, "--method", "email_link",
               actor="staff:leak-analyst")  # fmt: skip
    if kind == "erasure":
        await _cli(rt, logs, "request", "approve", rid, actor="staff:leak-approver")
    await _cli(rt, logs, "request", "watch", rid, actor="staff:leak-analyst")
    await _cli(rt, logs, "request", "show", rid, actor="staff:leak-analyst")
    await _cli(rt, logs, "request", "result", rid, "--out", str(out_dir),
               actor="staff:leak-analyst")  # fmt: skip
    return rid


async def _raw_history(rt: Runtime, rid: str) -> bytes:
    """What Temporal stores, read by a client WITHOUT the codec: the JSON (payloads in base64)
    and the raw event bytes."""
    raw = await Client.connect(
        rt.settings.temporal_address, namespace=rt.settings.temporal.namespace
    )
    history = await raw.get_workflow_handle(rid).fetch_history()
    return history.to_json().encode() + b"".join(e.SerializeToString() for e in history.events)


@pytest.mark.timeout(420)  # about fourteen CLI processes and a worker on a busy machine
async def test_canary_leaves_no_trace(
    temporal_server: DevServer,
    pg_schema: str,
    redis_prefix: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    demo = tmp_path / "demo"
    data.seed(demo)
    _seed_stores(demo, pg_schema, redis_prefix)
    before = _stores_text(demo, pg_schema, redis_prefix)
    for store, held in before.items():  # positive control: she is in every store
        assert found_in(held, FORMS), f"the canary is not in store {store} before the run"
    rt = make_runtime(
        temporal_server, tmp_path / "state", _catalog(demo, pg_schema, redis_prefix),
        DSRFLOW_LOG_FORMAT="json", DSRFLOW_LOG_LEVEL="debug",
    )  # fmt: skip
    out_dir = tmp_path / "out"
    logs: dict[str, str] = {}
    worker = WorkerProcess(rt, tmp_path / "worker.log")  # outside the state folder
    ids: list[str] = []
    try:
        await wait_worker_ready(worker)
        ids.append(await _request(rt, logs, "access", out_dir))
        ids.append(await _request(rt, logs, "erasure", out_dir))
        access_id, erasure_id = ids
        client = await rt.client()
        decrypted = "\n".join(await decoded_history(client, erasure_id))
        places: dict[str, bytes] = {
            f"history of {rid} (raw, no codec)": await _raw_history(rt, rid) for rid in ids
        }
        for rid in ids:
            shown = await temporal_show(rt.settings.temporal_address, rid)
            places[f"temporal workflow show {rid}"] = shown.encode()
    finally:
        worker.stop()  # every line it will write is in the file once it returned
        rt.ledger.close()

    # Positive controls: the data flowed where it should, so its absence elsewhere means something.
    package = out_dir / f"{access_id}-access-package.zip"
    assert any(found_in(b, FORMS) for _, b in blobs(package)), "the package lacks her records"
    assert CANARY.email.lower() in decrypted, "the decrypted history lacks her e-mail"
    after = _stores_text(demo, pg_schema, redis_prefix)
    for store, held in after.items():
        assert found_in(held, FORMS) == [], f"the canary is still in store {store}"

    worker_log = worker.output()
    assert '"event"' in worker_log and "erase" in worker_log, "the worker's log was not read"
    assert '"level": "debug"' in worker_log, "the worker did not log at debug level"
    places["worker log"] = worker_log.encode()
    for name, out in logs.items():
        places[name] = out.encode()
    captured = capfd.readouterr()
    places["this process's output"] = (captured.out + captured.err).encode()
    bundle = out_dir / f"{erasure_id}-evidence-bundle.zip"
    for name, blob in blobs(bundle):
        places[f"evidence bundle {name}"] = blob

    leaks = {where: hits for where, blob in places.items() if (hits := found_in(blob, FORMS))}
    assert leaks == {}, leaks

    state = Path(rt.settings.state_dir)
    assert scan_tree(state, FORMS) == {}  # every file at rest, zips opened

    ledgers = sorted(state.rglob("*.db"))
    assert ledgers, f"no ledger database under {state}"
    sealed_rows: dict[tuple[str, str], int] = {}
    cell_leaks: list[tuple[str, str, list[str]]] = []
    for db in ledgers:
        for table, column, value in ledger_cells(db):
            if (table, column) in SEALED:
                sealed_rows[(table, column)] = sealed_rows.get((table, column), 0) + 1
            if hits := found_in(value, FORMS):
                cell_leaks.append((table, column, hits))
    assert cell_leaks == [], cell_leaks
    assert set(sealed_rows) == SEALED, f"sealed columns without rows: {SEALED - set(sealed_rows)}"
