"""The transparency log under concurrent writers in several processes (real processes: the
rest of the log's tests are in-process, tests/unit/test_tlog.py)."""

from __future__ import annotations

import hashlib
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dsrflow.evidence import example
from dsrflow.ledger import Ledger
from dsrflow.tlog import checkpoint, merkle
from dsrflow.tlog.store import SqlLog

ORIGIN = example.ORIGIN


def _append_many(db: str, worker: int, count: int) -> list[tuple[int, str]]:
    log = SqlLog(Ledger(f"sqlite:///{db}", migrate=True))
    out = []
    with ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(
                log.append,
                hashlib.sha256(b"%d-%d" % (worker, i)).digest(),
                f"w{worker}-{i}",
                example.LOG,
                ORIGIN,
            )
            for i in range(count)
        ]
        for f in futures:
            p = f.result()
            out.append((p.index, p.checkpoint))
    log.ledger.close()
    return out


def test_concurrent_appends_from_threads_and_processes(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    SqlLog(Ledger(f"sqlite:///{db}", migrate=True)).ledger.close()  # create the schema once
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        results = pool.starmap(_append_many, [(db, w, 12) for w in range(3)])
    indexes = sorted(i for r in results for i, _ in r)
    assert indexes == list(range(36))  # no index lost, none given twice
    log = SqlLog(Ledger(f"sqlite:///{db}", migrate=True))
    entries = log.leaves()
    assert len(entries) == 36 and len({leaf for _, leaf, _ in entries}) == 36
    tree = merkle.ListTree([merkle.leaf_hash(leaf) for _, leaf, _ in entries])
    keys = [(example.LOG.key_id, example.LOG.public_key)]
    for r in results:
        for index, note in r:  # each checkpoint a writer got is a prefix of the final log
            cp = checkpoint.open_note(note, ORIGIN, keys)
            assert cp.size > index and cp.root == tree.mth(0, cp.size)
