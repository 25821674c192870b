"""Evidence v2 for a 20-store erasure: build+sign, and verify (medians of one run).

Run: .venv/bin/python bench/bench_evidence.py [ROUNDS]
Variants side by side: build+sign with the in-memory log, build+sign+append to the SQLite
transparency log (what the activity does, minus writing the file), and offline verification.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from dsrflow.evidence import example
from dsrflow.ledger import Ledger
from dsrflow.tlog.memory import MemoryLog
from dsrflow.tlog.store import SqlLog
from dsrflow.verify import Expect, TrustState, verify_bundle


def timed(fn, rounds: int) -> list[float]:
    fn()  # warm-up: imports, template compilation
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main(rounds: int) -> None:
    inp = example.example_input(extra_stores=15)
    assert len(inp.outcomes) == 20  # five example stores (one manual) + 15, each with a sweep
    tmp = Path(tempfile.mkdtemp())
    mem = example.example_issuer(MemoryLog())
    sql = example.example_issuer(SqlLog(Ledger(f"sqlite:///{tmp / 'ledger.db'}", migrate=True)))
    built = mem.issue(inp, example.K_REQ)
    (tmp / "b.zip").write_bytes(built.data)
    keyring = example.example_keyring().signed(example.ROOT)

    def verify() -> None:
        expect = Expect(keyring, TrustState(), example.ROOT.key_id)
        report = verify_bundle(tmp / "b.zip", expect)
        assert report.ok and report.verdict == "VERIFIED", report.failure

    results = {
        "build+sign (memory log)": timed(lambda: mem.issue(inp, example.K_REQ), rounds),
        "build+sign+SQLite log append": timed(lambda: sql.issue(inp, example.K_REQ), rounds),
        "verify (offline, all checks)": timed(verify, rounds),
    }
    print(f"20-store bundle: {len(built.data)} bytes; {rounds} rounds; medians")
    base = statistics.median(results["build+sign (memory log)"])
    for name, xs in results.items():
        med = statistics.median(xs)
        p90 = sorted(xs)[int(len(xs) * 0.9)]
        print(f"{name:32} median {med:6.2f} ms  p90 {p90:6.2f} ms  ratio {med / base:4.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
