"""What the records claim must make sense: the rules a valid signature alone cannot give.

Per record: the action is one its status allows and agrees with its collections; counts are the
sums of the collections'; a kept collection cites a basis; an exemption cites its Art. 17(3)
ground (GDPR); ``not_found`` matched nothing anywhere; times run forward; an erased store was
checked again and found empty (the sweep is ``dsrflow.verify.coverage``). Then the outcome:
every store erased, not found, exempt or kept by policy, and at least one store in scope.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from dsrflow.evidence.records import ACTIONS_BY_STATUS, ERASED, collections_action
from dsrflow.verify.report import VerificationError

SATISFIED = (*ERASED, "keep-with-basis", "exempt", "not_found")
_ART17_3 = re.compile(r"^Art\. 17\(3\)\([a-e]\)")


def _v1_action(collections: list[dict[str, Any]]) -> str:
    """Format v1's rule: from the configured collection actions (docs, section 3 of v1)."""
    actions = {c["action"] for c in collections}
    if actions <= {"keep"}:
        return "keep-with-basis"
    return "anonymize" if "anonymize" in actions else "delete"


def check_record(name: str, rec: dict[str, Any], version: int, regulation: str) -> None:
    """One record's internal consistency (the record already matches its schema).

    Raises:
        VerificationError: ``records/<store>.json: <reason>``.

    """
    status, action, cols = rec["status"], rec["action"], rec["collections"]
    if action not in ACTIONS_BY_STATUS.get(status, ()):
        raise VerificationError(f"{name}: action {action!r} contradicts status {status!r}")
    if action == "not_found":
        if rec["matched"] not in (None, 0):
            raise VerificationError(f"{name}: recorded as not found but matched {rec['matched']}")
        for c in cols:
            if c["matched"] or c["affected"]:
                raise VerificationError(
                    f"{name}: recorded as not found but collection {c['collection']!r} "
                    f"matched {c['matched']}"
                )
    # Pointer rows (``unlink``) belong to other people: reported apart, never in her totals.
    own = [c for c in cols if c["action"] != "unlink"]
    if own:
        for key in ("matched", "affected"):
            total = sum(c[key] for c in own)
            if rec[key] != total:
                raise VerificationError(
                    f"{name}: {key} is {rec[key]}, but its collections add up to {total}"
                )
    for c in cols:
        if c["action"] == "keep" and not (c["basis"] or "").strip():
            raise VerificationError(
                f"{name}: collection {c['collection']!r} is kept without a basis"
            )
    if status == "done" and cols:
        derived = collections_action(cols) if version >= 2 else _v1_action(cols)
        if derived is None:
            raise VerificationError(f"{name}: done, but no collection changed or kept anything")
        if action != derived:
            raise VerificationError(
                f"{name}: action {action!r} disagrees with its collections ({derived!r})"
            )
    if action in ERASED:
        _erased(name, rec)
    if action == "exempt":
        ground = (rec["exemption"] or {}).get("ground") or ""
        if regulation == "gdpr" and not _ART17_3.match(ground):
            raise VerificationError(
                f"{name}: exemption does not cite an Art. 17(3) ground ({ground!r})"
            )
        if not ground.strip():
            raise VerificationError(f"{name}: exemption does not cite a ground")
    if rec["started_at"] and rec["finished_at"] and rec["finished_at"] < rec["started_at"]:
        raise VerificationError(f"{name}: finished before it started")


def _erased(name: str, rec: dict[str, Any]) -> None:
    """Residual 0 in the transaction, and a later check (re-query or a manual attestation)."""
    for c in rec["collections"]:
        left = c["residual_in_transaction"]
        if c["action"] in (*ERASED, "unlink") and left not in (None, 0):
            raise VerificationError(
                f"{name}: collection {c['collection']!r} had residual {left} in the transaction"
            )
    check = rec["verification"]
    if check is None:
        raise VerificationError(f"{name}: recorded as erased but never checked again")
    if check["method"] == "re-query":
        if check["residual"] != 0:
            raise VerificationError(
                f"{name}: recorded as erased but residual is {check['residual']}"
            )
        if rec["finished_at"] and check["checked_at"] < rec["finished_at"]:
            raise VerificationError(f"{name}: checked again before the erasure finished")


def check_outcome_counts(records: dict[str, dict[str, Any]], outcomes: dict[str, int]) -> None:
    """The signed per-status counts must be the records' statuses."""
    counts = dict(Counter(r["status"] for r in records.values()))
    if counts != outcomes:
        raise VerificationError("statement: outcome counts do not match the records")


def retention_limits(records: dict[str, dict[str, Any]]) -> list[str]:
    """What stays in place by the bundle's own account (exemptions, kept collections)."""
    out = []
    for store, rec in sorted(records.items()):
        ex = rec["exemption"]
        if rec["action"] == "exempt" and ex:
            until = f" until {ex['until']}" if ex.get("until") else ""
            out.append(f"store {store!r} keeps the data under {ex['ground']}{until}")
        for c in rec["collections"]:
            if c["action"] == "keep":
                until = f" until {c['until']}" if c.get("until") else ""
                out.append(
                    f"store {store!r} keeps collection {c['collection']!r} ({c['basis']}){until}"
                )
            elif c["action"] == "anonymize" and c.get("basis"):
                until = f" until {c['until']}" if c.get("until") else ""
                out.append(
                    f"store {store!r} keeps anonymised rows of {c['collection']!r} "
                    f"({c['basis']}){until}"
                )
    return out


def orchestrator_copy_limits(copy: Any) -> list[str]:
    """The controller's stated protection of its own copy: reported, not checkable offline."""
    if not isinstance(copy, dict):
        return ["how long the orchestrator keeps its own copy of the request (not stated)"]
    return [
        f"that the orchestrator's copy ({', '.join(copy['covers'])}) is destroyed "
        f"{copy['destroy_after_days']} days after the request ended, by destroying key "
        f"{copy['key_id']} (the controller's commitment)"
    ]


def check_outcome(records: dict[str, dict[str, Any]]) -> None:
    """The erasure is complete: some store was in scope, and none failed or was left unerased.

    Raises:
        VerificationError: ``outcome: ...`` naming every store that was not erased.

    """
    if not records:
        raise VerificationError(
            "outcome: no store was in scope (empty inventory): the bundle proves no erasure"
        )
    bad = [
        f"{store} ({rec['status']})"
        for store, rec in sorted(records.items())
        if rec["action"] not in SATISFIED
    ]
    if bad:
        raise VerificationError(f"outcome: the erasure is incomplete; not erased: {', '.join(bad)}")
