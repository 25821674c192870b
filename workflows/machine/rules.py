"""Fixed rules of a request that need no state: who may act, how a manual erasure is attested.

Pure: no Temporal import, no I/O. The workflow's validators and the machine use them.
"""

from __future__ import annotations

from dsrflow.domain import RequestType, StoreStatus
from dsrflow.evidence import schemas
from dsrflow.lifecycle import StoreDecision
from dsrflow.verify.schema import SchemaError, validate

MAX_ACTOR = 120  # the ledger's actor column
WORKLOAD = "workload:dsrflow-worker"
"""The actor recorded for what the worker itself did."""
DRY_RUN_REASON = "dry run: no store was changed, no evidence was signed"
STUCK = (StoreStatus.FAILED_NEEDS_ATTENTION, StoreStatus.INCOMPLETE)
"""Store states that wait for a person after a failure (the request needs attention)."""
CAPABILITY: dict[RequestType, str] = {
    RequestType.ACCESS: "access",
    RequestType.EXPORT: "access",
    RequestType.ERASURE: "erase",
    RequestType.RECTIFICATION: "rectify",
    RequestType.RESTRICTION: "restrict",
}
"""The capability a store must declare to take part in each request type."""
SWEPT = (RequestType.ERASURE, RequestType.ACCESS, RequestType.EXPORT)
"""Request types whose stores are swept afterwards (where the store declares ``sweep``)."""


class Refused(ValueError):
    """A person's action, or a transition, that the request's rules do not allow now.

    The message is one line naming why; it is what the caller is told.
    """


def need_actor(actor: str) -> None:
    """Refuse an action without a well-formed actor (it is recorded in the audit history)."""
    if not actor or ":" not in actor or len(actor) > MAX_ACTOR:
        raise Refused(
            f"say who acts, as 'staff:<pseudonym>' (at most {MAX_ACTOR} characters; "
            "it goes in the audit history)"
        )


def check_attestation(d: StoreDecision) -> None:
    """Refuse a manual erasure's completion that does not say how it was done, in fixed terms.

    The method comes from a fixed list, the certificate reference is a short token and the
    attachment a digest: no free text that could name the subject goes into the evidence.
    """
    if d.method not in schemas.DISPOSAL_METHODS:
        raise Refused(
            f"say how the data was disposed of: --method {'|'.join(schemas.DISPOSAL_METHODS)}"
        )
    checks = (
        ("by", d.actor, "a manual erasure is attested by a person ('staff:<pseudonym>')"),
        ("certificate_ref", d.certificate_ref, "--certificate-ref: a reference such as "
         "SHRED-2026-0142 (letters, digits, . _ : / # -; no spaces, at most 80)"),
        ("attachment_sha256", d.attachment_sha256, "--attachment-digest: sha256:<64 hex digits>"),
    )  # fmt: skip
    for key, value, hint in checks:
        try:
            validate(value, schemas.ATTESTED["properties"][key], schemas.ATTESTED)
        except SchemaError:
            raise Refused(hint) from None
