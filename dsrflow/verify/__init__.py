"""Offline verification of evidence bundles.

Imports nothing from Temporal, the ledger or the API: only the standard library,
``cryptography`` and ``rfc8785`` (via ``dsrflow.evidence.format``).
"""

from dsrflow.verify.verifier import Report, verify_bundle

__all__ = ["Report", "verify_bundle"]
