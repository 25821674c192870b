"""Hostile bundles made the way a dishonest controller (or a compromised pipeline) would.

Every helper re-signs with the example's *real* evidence key and logs the new envelope with its
real log key, so the bundle passes every signature and digest check and reaches the rule under
test. ``edit_record`` / ``edit_inventory`` change a signed document and re-seal; ``sign_statement``
signs an arbitrary statement over arbitrary members (for the manifest and the subjects).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dsrflow.evidence import example
from dsrflow.evidence.bundle import envelope_leaf, log_members
from dsrflow.evidence.format import (
    CHECKPOINT,
    ENVELOPE,
    INCLUSION,
    INVENTORY,
    MANIFEST,
    PAYLOAD_TYPE,
    canonical,
    dsse_envelope,
    sha256_hex,
    write_zip,
)
from tests.unit.evidence_kit import reseal, statement

Edit = Callable[[Any], Any]


def _json(m: dict[str, bytes], name: str) -> Any:
    return json.loads(m[name])


def edit_record(
    m: dict[str, bytes], store: str, fn: Edit, *, predicate: Edit | None = None
) -> bytes:
    """Change one record in place (``fn`` mutates the dict) and re-seal with the real key."""
    name = f"records/{store}.json"
    rec = _json(m, name)
    fn(rec)
    content = {**m, name: canonical(rec)}
    pred = statement(m)["predicate"]
    if predicate is not None:
        predicate(pred)
    return reseal(content, predicate=pred)


def edit_inventory(m: dict[str, bytes], fn: Edit) -> bytes:
    """Change the inventory (``fn`` mutates the dict) and re-seal with the real key."""
    inv = _json(m, INVENTORY)
    fn(inv)
    return reseal({**m, INVENTORY: canonical(inv)})


def edit_predicate(m: dict[str, bytes], fn: Edit) -> bytes:
    """Change the signed predicate (``fn`` mutates it) and re-seal with the real key."""
    pred = statement(m)["predicate"]
    fn(pred)
    return reseal(m, predicate=pred)


def sign_statement(m: dict[str, bytes], st: dict[str, Any]) -> bytes:
    """Sign ``st`` with the real evidence key over the members of ``m``, log it, zip it."""
    members = {k: v for k, v in m.items() if k not in (ENVELOPE, CHECKPOINT, INCLUSION)}
    members[ENVELOPE] = canonical(dsse_envelope(PAYLOAD_TYPE, canonical(st), example.EVIDENCE))
    leaf = envelope_leaf(members)
    log = example.example_issuer().log
    proof = log.append(leaf, "x", example.LOG, example.ORIGIN)
    members.update(log_members(proof, leaf, example.ORIGIN))
    return write_zip(members)


def with_manifest(m: dict[str, bytes], fn: Edit) -> bytes:
    """Change the manifest (``fn`` mutates it) and sign a statement naming its new digest."""
    manifest = _json(m, MANIFEST)
    fn(manifest)
    raw = canonical(manifest)
    st = statement(m)
    for s in st["subject"]:
        if s["name"] == MANIFEST:
            s["digest"]["sha256"] = sha256_hex(raw)
    return sign_statement({**m, MANIFEST: raw}, st)


def relog(m: dict[str, bytes], **changes: bytes) -> bytes:
    """Replace unsigned log members (no key needed: anyone can do this)."""
    return write_zip({**m, **changes})
