"""Activities that produce a request's result: the access package and the evidence bundle."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from dsrflow.artifacts import ArtifactStore, PackageMismatch
from dsrflow.domain import (
    ArtifactRef,
    AssembleInput,
    EvidenceInput,
    OrchestratorCopy,
    StoreStatus,
)
from dsrflow.evidence.format import b64encode
from dsrflow.evidence.issuer import EvidenceIssuer

log = structlog.get_logger(__name__)

PACKAGE_ATTEMPTS = 5
"""Attempts at assembling a package whose staged records differ from the receipts."""


class ResultActivities:
    """Assemble access packages and sign evidence bundles.

    The issuer (keys, signers, transparency log) is created lazily inside the activity process:
    private keys never enter Temporal payloads, and only the bundle's path and digest go back.
    """

    def __init__(
        self,
        artifacts: ArtifactStore,
        issuer_factory: Callable[[], EvidenceIssuer],
        retention_days: int = 30,
        authority: str | None = None,
    ) -> None:
        self.artifacts = artifacts
        self.authority = authority
        self._issuer_factory = issuer_factory
        self.retention_days = retention_days
        self._issuer: EvidenceIssuer | None = None

    def _issuer_(self) -> EvidenceIssuer:
        if self._issuer is None:
            self._issuer = self._issuer_factory()
        return self._issuer

    @activity.defn(name="assemble_access_package")
    def assemble_access_package(self, inp: AssembleInput) -> ArtifactRef:
        """Zip the staged records of every store into one encrypted package.

        Each done store's staged records must number what its receipt claims: a retried
        assembly never produces a package that claims records it does not hold. A mismatch is
        retried (a slow shared disk may catch up), then fails loudly.
        """
        done = [o for o in inp.stores if o.status == StoreStatus.DONE]
        expected = {o.store: o.receipt.matched if o.receipt else None for o in done}
        manifest = {
            "request_id": inp.request_id,
            "request_type": str(inp.request_type),
            "stores": {
                o.store: {"status": str(o.status), "records": o.receipt.matched if o.receipt else 0}
                for o in inp.stores
            },
        }
        try:
            path = self.artifacts.assemble_package(
                inp.request_id, expected, manifest, **self._notice()
            )
        except PackageMismatch as exc:
            attempt = activity.info().attempt
            raise ApplicationError(
                f"access package of request {inp.request_id}: {exc}",
                {"attempt": attempt},
                type="PackageIncomplete",
                non_retryable=attempt >= PACKAGE_ATTEMPTS,
            ) from None
        log.info("access package assembled", request_id=inp.request_id, stores=len(expected))
        return ArtifactRef(kind="access_package", path=str(path), sha256=_file_sha256(path))

    def _notice(self) -> dict[str, str]:
        """The rights notice's authority (Art. 77), when the settings name one."""
        return {"authority": self.authority} if self.authority else {}

    @activity.defn(name="build_evidence_bundle")
    def build_evidence_bundle(self, inp: EvidenceInput) -> ArtifactRef:
        """Sign and log the evidence bundle; store it with the subject's (encrypted) opening.

        Retry-safe: the opening is saved before the bundle and each file lands whole (written
        aside, then renamed), so a saved bundle means the attempt that made it finished its
        work; a retry after that (the worker died before Temporal heard) returns that bundle
        instead of signing and logging a second one. Only a death in the milliseconds between
        the log append and the saves still leaves the log an undelivered entry (append-only).
        """
        request_id = inp.request.request_id
        done = self.artifacts.issued_bundle(request_id)
        if done is not None:
            log.info("evidence bundle issued by an earlier attempt", request_id=request_id)
            return ArtifactRef(kind="evidence_bundle", path=str(done), sha256=_file_sha256(done))
        k_req = secrets.token_bytes(32)  # fresh per bundle: the commitment key
        # The bundle says how the orchestrator's own copy is protected and when it goes away.
        key_id, _ = self.artifacts.keystore.key_for(request_id)
        copy = OrchestratorCopy(key_id=key_id, destroy_after_days=self.retention_days)
        built = self._issuer_().issue(replace(inp, orchestrator_copy=copy), k_req)
        self.artifacts.save_opening(  # first: a saved bundle always has its opening
            request_id,
            {
                "request_id": request_id,
                "identifier": built.identifier,
                "k_req": b64encode(k_req),
                "commitment": built.subject_commitment,
            },
        )
        path = self.artifacts.save_bundle(request_id, built.data)
        log.info(
            "evidence bundle signed", request_id=request_id, sha256=built.sha256,
            log_index=built.log_index,
        )  # fmt: skip
        return ArtifactRef(kind="evidence_bundle", path=str(path), sha256=built.sha256)


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
