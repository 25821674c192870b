"""Offline verification of evidence bundles.

Imports nothing from Temporal, the ledger or the API: only the standard library,
``cryptography``, ``rfc8785`` and pure dsrflow modules.
"""

from dsrflow.verify.report import Report, VerificationError
from dsrflow.verify.state import TrustState
from dsrflow.verify.verifier import Expect, verify_bundle

__all__ = ["Expect", "Report", "TrustState", "VerificationError", "verify_bundle"]
