"""Helpers for the evidence tests: build the example bundle, take it apart, re-seal it.

``reseal`` re-signs tampered content with a chosen key and logs it in a chosen log: that is how
a test reaches a check *behind* the signature (a buggy or dishonest controller), so each case
can assert the specific reason rather than the first digest mismatch.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from dsrflow.domain import EvidenceInput
from dsrflow.evidence import example
from dsrflow.evidence.bundle import envelope_leaf, log_members, seal
from dsrflow.evidence.format import ENVELOPE, UNSIGNED, write_zip
from dsrflow.evidence.issuer import EvidenceIssuer, StaticKeys
from dsrflow.keys.signer import Signer
from dsrflow.tlog.memory import MemoryLog
from dsrflow.verify import Expect, Report, TrustState, verify_bundle

RID = "dsr-20260302-example"
KEYRING = example.example_keyring().signed(example.ROOT)


def issuer(log: MemoryLog | None = None, keyring: Any = None) -> EvidenceIssuer:
    ring = keyring or example.example_keyring()
    keys = StaticKeys(ring, {"evidence": example.EVIDENCE, "log": example.LOG})
    base = example.example_issuer(log)
    return EvidenceIssuer(keys, base.log, clock=base.clock)


def build(inp: EvidenceInput | None = None, log: MemoryLog | None = None) -> bytes:
    return issuer(log).issue(inp or example.example_input(), example.K_REQ).data


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def statement(m: dict[str, bytes]) -> dict[str, Any]:
    env = json.loads(m[ENVELOPE])
    return json.loads(base64.b64decode(env["payload"]))


def reseal(
    m: dict[str, bytes],
    *,
    predicate: dict[str, Any] | None = None,
    signer: Signer = example.EVIDENCE,
    log: MemoryLog | None = None,
    log_signer: Signer = example.LOG,
) -> bytes:
    """Sign ``m``'s content again (as the controller would) and log the new envelope."""
    content = {k: v for k, v in m.items() if k not in UNSIGNED}
    sealed = seal(content, predicate or statement(m)["predicate"], signer)
    leaf = envelope_leaf(sealed)
    log = log or example.example_issuer().log
    proof = log.append(leaf, "x", log_signer, example.ORIGIN)
    sealed.update(log_members(proof, leaf, example.ORIGIN))
    return write_zip(sealed)


def verify(tmp_path: Path, data: bytes, keyring: bytes = KEYRING, **kw: Any) -> Report:
    path = tmp_path / "bundle.zip"
    path.write_bytes(data)
    kw.setdefault("state", TrustState())
    return verify_bundle(path, Expect(keyring, **kw))


def with_outcome(store: str, **changes: Any) -> EvidenceInput:
    inp = example.example_input()
    outcomes = [replace(o, **changes) if o.store == store else o for o in inp.outcomes]
    return replace(inp, outcomes=outcomes)
