"""Activities that produce a request's result: the access package and the evidence bundle."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from pathlib import Path

import structlog
from temporalio import activity

from dsrflow.artifacts import ArtifactStore
from dsrflow.domain import ArtifactRef, AssembleInput, EvidenceInput, StoreStatus
from dsrflow.evidence.bundle import build_bundle
from dsrflow.evidence.format import b64encode
from dsrflow.evidence.signing import Signer

log = structlog.get_logger(__name__)


class ResultActivities:
    """Assemble access packages and sign evidence bundles.

    The signer is created lazily inside the activity process from the key on disk (or a KMS
    signer): private keys never enter Temporal payloads.
    """

    def __init__(
        self, artifacts: ArtifactStore, signer_factory: Callable[[], Signer], controller: str
    ) -> None:
        self.artifacts = artifacts
        self._signer_factory = signer_factory
        self._signer: Signer | None = None
        self.controller = controller

    def _signer_(self) -> Signer:
        if self._signer is None:
            self._signer = self._signer_factory()
        return self._signer

    @activity.defn(name="assemble_access_package")
    def assemble_access_package(self, inp: AssembleInput) -> ArtifactRef:
        """Zip the staged records of every store into one encrypted package."""
        stores = [o.store for o in inp.stores if o.status == StoreStatus.DONE]
        manifest = {
            "request_id": inp.request_id,
            "request_type": str(inp.request_type),
            "stores": {
                o.store: {"status": str(o.status), "records": o.receipt.matched if o.receipt else 0}
                for o in inp.stores
            },
        }
        path = self.artifacts.assemble_package(inp.request_id, stores, manifest)
        log.info("access package assembled", request_id=inp.request_id, stores=len(stores))
        return ArtifactRef(kind="access_package", path=str(path), sha256=_file_sha256(path))

    @activity.defn(name="build_evidence_bundle")
    def build_evidence_bundle(self, inp: EvidenceInput) -> ArtifactRef:
        """Sign the evidence bundle and store it with the subject's (encrypted) opening."""
        k_req = secrets.token_bytes(32)
        built = build_bundle(inp, self._signer_(), self.controller, k_req)
        path = self.artifacts.save_bundle(inp.request.request_id, built.data)
        self.artifacts.save_opening(
            inp.request.request_id,
            {
                "request_id": inp.request.request_id,
                "identifier": built.identifier,
                "k_req": b64encode(k_req),
                "commitment": built.subject_commitment,
            },
        )
        log.info("evidence bundle signed", request_id=inp.request.request_id, sha256=built.sha256)
        return ArtifactRef(kind="evidence_bundle", path=str(path), sha256=built.sha256)


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
