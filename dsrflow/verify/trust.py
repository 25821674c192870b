"""Which keyring to trust: schema, root signature, root pinning (explicit trust) and rollback.

Outcomes of the root decision, reported as ``Report.trust``:

- ``expected``: ``--root-keyid`` named this root (and it is pinned from now on);
- ``pinned``: the state file pins this root key id;
- ``first-use``: ``--trust-on-first-use`` was given, so this root is pinned now;
- ``not-pinned``: none of these. Every check still runs, but the verdict is
  ``VERIFIED (root key not pinned)`` (exit 3): anyone can make a keyring that verifies its own
  bundles, so a scripted check must not read this as a pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dsrflow.evidence.format import FormatError, b64decode, parse_json
from dsrflow.keys.keyring import Keyring, KeyringError, load_keyring
from dsrflow.verify.report import VerificationError
from dsrflow.verify.schema import SchemaError, check

if TYPE_CHECKING:
    from dsrflow.verify.report import Report
    from dsrflow.verify.verifier import Expect


def _schema_check(data: bytes) -> None:
    """The keyring's envelope and body match their schemas (before any semantic check)."""
    try:
        env = parse_json("keyring", data)
        check("envelope", env, "keyring")
        body = parse_json("keyring payload", b64decode(env["payload"]))
        check("keyring", body, "keyring")
    except (FormatError, SchemaError) as exc:
        raise VerificationError(str(exc)) from None
    except ValueError:
        raise VerificationError("keyring: payload is not canonical base64") from None


def trusted_keyring(expect: Expect, report: Report) -> Keyring:
    """Load the keyring, decide whether its root is trusted, refuse rollbacks; save the state.

    Raises:
        VerificationError: ``keyring: <reason>``.

    """
    _schema_check(expect.keyring)
    try:
        ring = load_keyring(expect.keyring)
    except KeyringError as exc:
        raise VerificationError(str(exc)) from None
    state, root = expect.state, ring.root_key_id
    if expect.root_key_id is not None and expect.root_key_id != root:
        raise VerificationError(
            f"keyring: root key {root} is not the expected {expect.root_key_id}"
        )
    if expect.root_key_id is not None:
        report.trust = "expected"
    elif root in state.pinned:
        report.trust = "pinned"
    elif expect.trust_on_first_use:
        report.trust = "first-use"
        report.notes.append(
            f"root key {root} trusted on first use (--trust-on-first-use) and pinned; compare it "
            f"with the fingerprint {ring.controller!r} publishes"
        )
    else:
        report.trust = "not-pinned"
        others = sorted(k for k, name in state.pinned.items() if name == ring.controller)
        seen = f"; pinned roots named {ring.controller!r}: {', '.join(others)}" if others else ""
        report.notes.append(
            f"root key {root} is not pinned: pass --root-keyid with the fingerprint "
            f"{ring.controller!r} publishes, or --trust-on-first-use{seen}"
        )
    if ring.version < expect.min_keyring_version:
        raise VerificationError(
            f"keyring: version {ring.version} is older than --min-keyring-version "
            f"{expect.min_keyring_version}"
        )
    seen_version = state.versions.get(root, 0)
    if ring.version < seen_version:
        raise VerificationError(
            f"keyring: version {ring.version} is older than version {seen_version} already seen "
            f"under root {root} (rollback)"
        )
    if report.trust != "not-pinned":
        state.pin(root, ring.controller)
    state.versions[root] = max(ring.version, seen_version)
    state.save()
    return ring


def describe(ring: Keyring, trust: str | None) -> str:
    """The passed line of the keyring check."""
    how = {"expected": "the expected root", "pinned": "a pinned root",
           "first-use": "a root trusted on first use",
           "not-pinned": "a root that is NOT pinned"}.get(trust or "", "a root")  # fmt: skip
    return (
        f"keyring: version {ring.version} of {ring.controller!r}, signed by {how} "
        f"{ring.root_key_id}"
    )
