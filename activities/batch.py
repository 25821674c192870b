"""Activities of an erasure batch: seal a member's identities, erase a chunk set-based.

``seal_identities`` runs in a member request (its payloads are encrypted under the member's
key); its result is what the member signals the batch. ``erase_batch`` opens each member's
sealed identities with that member's key, erases the whole chunk in one transaction through the
adapter's ``erase_many`` (one statement per collection), journals one receipt per member inside
that transaction, then counts each member's residual by another query (``verify_many``) and
keeps each member's answer in the ledger (``batch_answers``), where her
``check_batch_result`` reads it: the batch workflow carries request ids only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import replace
from datetime import UTC, datetime

import structlog
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio import activity

from dsrflow.activities.errors import store_errors
from dsrflow.adapters.sdk import (
    BatchEraser,
    NotSupportedError,
    OperationReceipt,
    RetryableAdapterError,
    Subject,
    spec_of,
)
from dsrflow.batches import (
    BatchChunkInput,
    BatchChunkResult,
    BatchResultCheck,
    BatchResultChecked,
    MemberResult,
    Sealed,
    SealedMember,
    SealInput,
)
from dsrflow.catalog.pool import AdapterPool
from dsrflow.crypto.keystore import KeyStore
from dsrflow.domain import Identity, StoreReceipt, VerifyReceipt
from dsrflow.ledger.batch_answers import BatchAnswers
from dsrflow.ledger.journal import ReceiptJournal, plain

log = structlog.get_logger(__name__)


def seal(keystore: KeyStore, request_id: str, identities: list[Identity]) -> str:
    """Identities sealed under the request's own data key (AAD: the request id)."""
    key_id, key = keystore.key_for(request_id)
    body = json.dumps([[i.kind, i.value] for i in identities]).encode()
    nonce = os.urandom(12)
    data = nonce + AESGCM(key).encrypt(nonce, body, request_id.encode())
    return f"{key_id}:{base64.b64encode(data).decode()}"


def member_keys(keystore: KeyStore, members: list[SealedMember]) -> dict[str, bytes]:
    """Each member's data key, by key id, in one read (``KeyStore.get_many``).

    Raises:
        KeyDestroyedError: A member was purged: its identities are gone.
    """
    return keystore.get_many([key_of(m) for m in members])


def key_of(member: SealedMember) -> str:
    """The key id a member's identities were sealed under (``KEY_ID:BASE64``)."""
    return member.sealed.partition(":")[0]


def unseal_all(keystore: KeyStore, members: list[SealedMember]) -> list[list[Identity]]:
    """Open what ``seal`` sealed for each member (fails for another request's blob).

    Raises:
        KeyDestroyedError: A member was purged: its identities are gone.
        cryptography.exceptions.InvalidTag: A blob not sealed for its member.
    """
    return unseal_with(member_keys(keystore, members), members)


def unseal_with(keys: dict[str, bytes], members: list[SealedMember]) -> list[list[Identity]]:
    """``unseal_all`` with the members' keys already read."""
    out = []
    for member in members:
        key_id, _, b64 = member.sealed.partition(":")
        data = base64.b64decode(b64)
        body = AESGCM(keys[key_id]).decrypt(data[:12], data[12:], member.request_id.encode())
        out.append([Identity(kind, value) for kind, value in json.loads(body)])
    return out


def result_tag(key: bytes, request_id: str, receipt: StoreReceipt, check: VerifyReceipt) -> str:
    """HMAC-SHA256, under the member's data key, of its receipt's and verification's counts.

    The tag of an answer carried in the ``batch_result`` signal, as batches did before answers
    were kept in the ledger (``answer_tag``); checked for those only. Only ``erase_batch``
    (which holds the members' keys) could compute it.
    """
    counts = [
        [c.collection, c.action, c.matched, c.affected, c.residual] for c in receipt.collections
    ]
    body = json.dumps(
        [request_id, receipt.store, receipt.action, receipt.matched, receipt.affected,
         receipt.recovered, receipt.operation_digest, counts, check.residual,
         check.operation_digest]
    ).encode()  # fmt: skip
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def answer_tag(
    key: bytes, request_id: str, store: str, receipt: StoreReceipt, check: VerifyReceipt
) -> str:
    """HMAC-SHA256, under the member's data key, of a kept answer: all of it.

    Covers the member, the store the answer is for, and every field of the receipt and the
    verification (as the ledger keeps them), so a row copied to another store or edited in any
    field (a count, ``dry_run``, a note) no longer matches. Only ``erase_batch`` (which holds
    the members' keys) can compute it.
    """
    body = json.dumps(
        ["dsrflow-batch-answer-v2", request_id, store, plain(receipt), plain(check)],
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


class BatchActivities:
    """Activities an erasure batch and its members call."""

    def __init__(
        self,
        pool: AdapterPool,
        keystore: KeyStore,
        *,
        journal: ReceiptJournal,
        answers: BatchAnswers,
    ) -> None:
        self.pool = pool
        self.keystore = keystore
        self.journal = journal
        self.answers = answers

    @activity.defn(name="seal_identities")
    def seal_identities(self, inp: SealInput) -> Sealed:
        """Seal a member's resolved identities for the batch (only its own key opens them)."""
        return Sealed(seal(self.keystore, inp.request_id, inp.identities))

    @activity.defn(name="check_batch_result")
    def check_batch_result(self, inp: BatchResultCheck) -> BatchResultChecked:
        """Whether a batch answer was computed by ``erase_batch`` for this member.

        A ``kept`` answer is read from the ledger and returned with the verdict; an answer
        carried in the signal (batches before ``kept``) is checked as it came.
        """
        res = inp.result
        if res.kept:
            return self._kept_answer(inp.request_id, res.store)
        if res.receipt is None or res.verification is None or not res.tag:
            return BatchResultChecked(False)
        _, key = self.keystore.key_for(inp.request_id)
        want = result_tag(key, inp.request_id, res.receipt, res.verification)
        return BatchResultChecked(hmac.compare_digest(want, res.tag))

    def _kept_answer(self, request_id: str, store: str) -> BatchResultChecked:
        """The member's kept answer for ``store``, trusted only if it is that, untouched."""
        kept = self.answers.kept(request_id, store)
        if kept is None:
            return BatchResultChecked(False)
        receipt, check = kept.receipt, kept.verification
        if receipt.store != store or check.store != store or receipt.action != "erase":
            return BatchResultChecked(False)  # another store's answer, or not an erasure
        if receipt.dry_run:
            return BatchResultChecked(False)  # a batch never dry-runs
        _, key = self.keystore.key_for(request_id)
        want = answer_tag(key, request_id, store, receipt, check)
        if not hmac.compare_digest(want, kept.tag):
            return BatchResultChecked(False)
        return BatchResultChecked(True, receipt, check)

    @activity.defn(name="erase_batch")
    def erase_batch(self, inp: BatchChunkInput) -> BatchChunkResult:
        """Erase one store for a chunk of members; each member's own receipt and verification.

        Returns ``fallback`` when the store cannot be erased in batches (its members then erase
        it one by one). A retry after a commit finds nothing left: each member's journaled
        receipt is returned instead (``recovered``), as for a lone request.
        """
        started = datetime.now(UTC)
        attempt = activity.info().attempt
        with store_errors(inp.store):
            adapter, catalog = self.pool.checkout(inp.store)
            entry = catalog.stores.get(inp.store)
            if entry is None or not spec_of(adapter).erase_many_for(entry.config):
                return BatchChunkResult(inp.store, fallback=True)
            eraser: BatchEraser = adapter  # type: ignore[assignment]
            keys = member_keys(self.keystore, inp.members)  # read once: unseal, then tag
            ids = unseal_with(keys, inp.members)
            subjects = [
                Subject.of(i, request_id=m.request_id)
                for i, m in zip(ids, inp.members, strict=True)
            ]
            tokens = [self.journal.blind_index(i) for i in ids]

            def receipt_of(op: OperationReceipt) -> StoreReceipt:
                return StoreReceipt(
                    store=inp.store, adapter=adapter.name, adapter_version=adapter.version,
                    action="erase", matched=op.matched, affected=op.affected,
                    operation_digest=op.operation_digest, started_at=started,
                    finished_at=datetime.now(UTC), attempt=attempt, collections=op.collections,
                    catalog_digest=catalog.digest,
                )  # fmt: skip

            journaled: list[StoreReceipt] = []

            def on_commit(ops: list[OperationReceipt]) -> None:
                # Inside the store's transaction: no member's erasure commits without its receipt.
                journaled.extend(receipt_of(op) for op in ops)
                self._record(
                    [
                        (r, m.request_id, t)
                        for r, m, t in zip(journaled, inp.members, tokens, strict=True)
                    ]
                )

            try:
                eraser.erase_many(subjects, activity.heartbeat, on_commit=on_commit)
            except NotSupportedError:
                return BatchChunkResult(inp.store, fallback=True)
            checks = eraser.verify_many(subjects)
        # The ledger reads and writes below fail as typed, scrubbed errors like the store's.
        with store_errors(inp.store):
            checked_at = datetime.now(UTC)
            results = []
            for receipt, member, check in zip(journaled, inp.members, checks, strict=True):
                receipt = self._recovered(receipt, member.request_id)
                verification = VerifyReceipt(
                    store=inp.store, residual=check.matched, checked_at=checked_at,
                    operation_digest=check.operation_digest,
                )  # fmt: skip
                tag = answer_tag(
                    keys[key_of(member)], member.request_id, inp.store, receipt, verification
                )
                results.append(MemberResult(member.request_id, receipt, verification, tag))
            self._keep(inp, results)
        log.info(
            "erase batch",
            batch_id=inp.batch_id,
            store=inp.store,
            members=len(results),
            affected=sum(r.receipt.affected for r in results),
        )
        return BatchChunkResult(inp.store, kept=True)

    def _keep(self, inp: BatchChunkInput, results: list[MemberResult]) -> None:
        """Keep every member's answer for her to read (the store work has committed)."""
        try:
            self.answers.keep(
                inp.batch_id,
                inp.store,
                [(r.request_id, r.receipt, r.verification, r.tag) for r in results],
            )
        except Exception as exc:
            # The erasure committed and is journaled: a retry recovers each member's receipt.
            raise RetryableAdapterError(
                f"store {inp.store!r}: the ledger could not keep the batch's answers "
                f"({type(exc).__name__}); retried"
            ) from None

    def _record(self, entries: list[tuple[StoreReceipt, str, list[str]]]) -> None:
        try:
            self.journal.record_many(entries, operation="erase")
        except Exception as exc:
            store = entries[0][0].store if entries else "?"
            raise RetryableAdapterError(
                f"store {store!r}: the receipt journal (ledger) could not record a batch "
                f"erasure ({type(exc).__name__}); the batch was rolled back"
            ) from None

    def _recovered(self, receipt: StoreReceipt, request_id: str) -> StoreReceipt:
        """A member's earlier committed receipt when this run found nothing left of her."""
        if receipt.affected > 0:
            return receipt
        earlier = self.journal.committed(request_id, receipt.store, "erase")
        if earlier is not None and earlier.receipt.affected > 0:
            return replace(earlier.receipt, recovered=True, attempt=receipt.attempt)
        return receipt
