"""A fixed, reproducible erasure request: the worked example in docs/examples, benchmarks, tests.

Keys come from fixed seeds and every time is fixed, so the same code always yields the same
bytes (Ed25519 signatures are deterministic). Never use these keys for anything real.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dsrflow.domain import (
    Attestation,
    CollectionCount,
    DsrInput,
    EvidenceInput,
    Exemption,
    Identity,
    OrchestratorCopy,
    RequestType,
    StoreOutcome,
    StorePlan,
    StoreReceipt,
    StoreStatus,
    VerifyReceipt,
)
from dsrflow.evidence.bundle import BuiltBundle
from dsrflow.evidence.format import b64encode
from dsrflow.evidence.issuer import EvidenceIssuer, StaticKeys
from dsrflow.keys.keyring import KeyEntry, Keyring
from dsrflow.keys.signer import LocalSigner
from dsrflow.sweeps import SweepExclusion, SweepReport
from dsrflow.tlog.memory import MemoryLog

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CONTROLLER = "Example Controller Ltd"
ORIGIN = "dsrflow.evidence/example-controller-ltd"
K_REQ = bytes(range(32))
SUBJECT = Identity("email", "Jane.Doe@Example.org")


def seeded(name: str) -> LocalSigner:
    """A signer from a published seed: ``SHA-256("dsrflow example " + name)``."""
    return LocalSigner.from_seed(hashlib.sha256(b"dsrflow example " + name.encode()).digest())


ROOT, EVIDENCE, LOG = seeded("root"), seeded("evidence"), seeded("log")


def example_keyring(version: int = 1, keys: list[KeyEntry] | None = None) -> Keyring:
    """The example keyring (root-signed with ``ROOT``)."""
    at = T0 - timedelta(days=30)
    default = [
        KeyEntry(EVIDENCE.key_id, "evidence", EVIDENCE.public_key, at),
        KeyEntry(LOG.key_id, "log", LOG.public_key, at),
    ]
    return Keyring(CONTROLLER, version, at, ROOT.public_key, ORIGIN, tuple(keys or default))


CATALOG_DIGEST = "sha256:" + hashlib.sha256(b"example catalog").hexdigest()
RULES = ["email: lower(trim(column)) = value", "email: position(value in lower(column)) > 0 (text)"]


def _sweep(store: str, searched: list[str], at: datetime, **kw: object) -> SweepReport:
    return SweepReport(
        store, "sql-sweep", searched=searched, rules=RULES, kinds=["email"], checked_at=at,
        catalog_digest=CATALOG_DIGEST, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _done(
    store: str, collections: list[CollectionCount], minute: int, sweep: list[str] | None = None
) -> StoreOutcome:
    start = T0 + timedelta(minutes=minute)
    matched = sum(c.matched for c in collections)
    affected = sum(c.affected for c in collections)
    digest = "sha256:" + hashlib.sha256(f"template {store}".encode()).hexdigest()
    return StoreOutcome(
        store=store,
        adapter="sql",
        status=StoreStatus.DONE,
        attempts=1,
        receipt=StoreReceipt(
            store,
            "sql",
            "0.1.0",
            "erase",
            matched,
            affected,
            digest,
            start,
            start + timedelta(seconds=2),
            collections=collections,
        ),
        verification=VerifyReceipt(store, 0, start + timedelta(seconds=3), digest),
        actor="workload:dsrflow-worker-1",
        sweep=_sweep(store, sweep, start + timedelta(seconds=5)) if sweep is not None else None,
        catalog_digest=CATALOG_DIGEST,
    )


def example_outcomes(extra_stores: int = 0) -> list[StoreOutcome]:
    """Five stores and ``extra_stores`` more.

    Anonymised with a kept collection and a sweep exclusion, deleted, exempt, not found, and
    shredded on paper (a manual store verified by attestation).
    """
    shop = _done(
        "shop",
        [
            CollectionCount("customers", "delete", 1, 1, 0),
            CollectionCount("orders", "anonymize", 3, 3, 0, "Art. 6(1)(c) GDPR: order statistics"),
            CollectionCount(
                "order_items", "keep", 4, 0, None, "Art. 17(3)(b) GDPR: bookkeeping", "2033-12-31"
            ),
        ],
        1,
    )
    shop = replace(
        shop,
        sweep=_sweep(
            "shop",
            [
                "customers.email",
                "newsletter.address",
                "order_items.buyer_email",
                "orders.contact_email",
                "signin_log.note",
            ],
            T0 + timedelta(minutes=1, seconds=5),
            excluded=[
                SweepExclusion("order_items.buyer_email", 4, "kept:Art. 17(3)(b) GDPR: bookkeeping")
            ],
            not_swept=["audit_archive.payload: over the row budget (2000000 rows > 1000000)"],
        ),
    )
    support = _done(
        "support", [CollectionCount("tickets", "delete", 2, 2, 0)], 2, ["tickets.requester"]
    )
    billing = StoreOutcome(
        "billing", "sql", StoreStatus.EXEMPT, attempts=0, actor="staff:analyst-7",
        exemption=Exemption("Art. 17(3)(b)", "tax records", "2033-12-31"),
    )  # fmt: skip
    crm = StoreOutcome(
        "crm", "sql", StoreStatus.NOT_FOUND, attempts=1, actor="workload:dsrflow-worker-1"
    )
    paper = StoreOutcome(
        "paper", "manual", StoreStatus.DONE, attempts=0, actor="staff:records-3",
        attestation=Attestation(
            "staff:records-3", T0 + timedelta(minutes=20), "shredded", "SHRED-2026-0142",
            "sha256:" + hashlib.sha256(b"example shredding certificate").hexdigest(),
        ),
    )  # fmt: skip
    extras = [
        _done(f"store{i:02d}", [CollectionCount("rows", "delete", 1, 1, 0)], 3 + i, ["rows.email"])
        for i in range(extra_stores)
    ]
    return [shop, support, billing, crm, paper, *extras]


def _plan(o: StoreOutcome) -> StorePlan:
    if o.adapter == "manual":
        return StorePlan(o.store, "manual", ["access", "erase"], human_task=True)
    caps = ["erase", "sweep", "verify"] if o.sweep else ["erase", "verify"]
    return StorePlan(o.store, "sql", caps)


def example_input(extra_stores: int = 0, request_id: str = "dsr-20260302-example") -> EvidenceInput:
    """The example request's evidence input."""
    outcomes = example_outcomes(extra_stores)
    return EvidenceInput(
        request=DsrInput(
            request_id, RequestType.ERASURE, [SUBJECT], T0 - timedelta(days=3), case_ref="CASE-42"
        ),
        workflow_id=request_id,
        run_id="0195a1b2-0000-7000-8000-000000000001",
        catalog_digest=CATALOG_DIGEST,
        inventory=[_plan(o) for o in outcomes],
        outcomes=outcomes,
        completed_at=T0 + timedelta(minutes=30),
        due_at=T0 + timedelta(days=27),
        orchestrator_copy=OrchestratorCopy(key_id="dk_0123456789abcdef01234567"),
    )


@dataclass
class Example:
    """Everything a worked example consists of."""

    keyring: bytes
    bundle: BuiltBundle
    opening: dict[str, str]
    log: MemoryLog


def example_issuer(log: MemoryLog | None = None) -> EvidenceIssuer:
    """An issuer with the example keys and a log already holding five earlier entries."""
    if log is None:
        log = MemoryLog()
        for i in range(5):
            log.append(hashlib.sha256(b"earlier %d" % i).digest(), f"earlier-{i}", LOG, ORIGIN)
    keys = StaticKeys(example_keyring(), {"evidence": EVIDENCE, "log": LOG})
    return EvidenceIssuer(keys, log, clock=lambda: T0 + timedelta(minutes=31))


def build_example(extra_stores: int = 0) -> Example:
    """The worked example: keyring, bundle and the subject's opening."""
    issuer = example_issuer()
    inp = example_input(extra_stores)
    built = issuer.issue(inp, K_REQ)
    opening = {
        "request_id": inp.request.request_id,
        "identifier": built.identifier,
        "k_req": b64encode(K_REQ),
        "commitment": built.subject_commitment,
    }
    assert isinstance(issuer.log, MemoryLog)
    return Example(example_keyring().signed(ROOT), built, opening, issuer.log)


FILES = ("keyring.json", "evidence-bundle.zip", "subject-opening.json", "expected-digests.txt")


def _digests(ex: Example) -> str:
    import io
    import json
    import zipfile

    from dsrflow.evidence.bundle import envelope_leaf

    with zipfile.ZipFile(io.BytesIO(ex.bundle.data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    lines = [
        "# Expected values for the worked example (regenerate: python -m dsrflow.evidence.example)",
        f"root key id            {ROOT.key_id}",
        f"evidence key id        {EVIDENCE.key_id}",
        f"log key id             {LOG.key_id}",
        f"sha256(keyring.json)   {hashlib.sha256(ex.keyring).hexdigest()}",
        f"sha256(bundle)         {ex.bundle.sha256}",
        f"subject commitment     {ex.bundle.subject_commitment}",
        f"records Merkle root    {manifest['records_merkle_root']['root']}",
        f"envelope digest (leaf) {envelope_leaf(members).hex()}",
        f"log entry              index {ex.bundle.log_index} of {ex.log.tree.size}",
        f"log root               {ex.log.tree.mth(0, ex.log.tree.size).hex()}",
    ]
    lines += [f"member {n:<28} {hashlib.sha256(members[n]).hexdigest()}" for n in sorted(members)]
    return "\n".join(lines) + "\n"


def write_example(out_dir: Path) -> list[Path]:
    """Write the worked example files (``FILES``) into ``out_dir``."""
    import json

    ex = build_example()
    out_dir.mkdir(parents=True, exist_ok=True)
    contents = {
        "keyring.json": ex.keyring,
        "evidence-bundle.zip": ex.bundle.data,
        "subject-opening.json": (json.dumps(ex.opening, indent=2, sort_keys=True) + "\n").encode(),
        "expected-digests.txt": _digests(ex).encode(),
    }
    for name, data in contents.items():
        (out_dir / name).write_bytes(data)
    return [out_dir / n for n in FILES]


if __name__ == "__main__":
    import sys

    for written in write_example(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/examples")):
        print(written)
