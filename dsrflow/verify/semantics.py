"""What the records claim must make sense: the rules a valid signature alone cannot give.

Every record's action must be one its status allows; an erased store must have been checked
again and found empty; an exemption must cite an article; ``not_found`` must have matched
nothing. Then the outcome: every store erased, not found, exempt or kept by policy.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from dsrflow.evidence.records import ACTIONS_BY_STATUS, ERASED
from dsrflow.verify.report import VerificationError

SATISFIED = (*ERASED, "keep-with-basis", "exempt", "not_found")
_ARTICLE = re.compile(r"^Art(icle|\.)\s*\d+")


def check_record(name: str, rec: dict[str, Any]) -> None:
    """One record's internal consistency.

    Raises:
        VerificationError: ``records/<store>.json: <reason>``.

    """
    status, action = rec.get("status"), rec.get("action")
    allowed = ACTIONS_BY_STATUS.get(status) if isinstance(status, str) else None
    if allowed is None:
        raise VerificationError(f"{name}: unknown status {status!r}")
    if action not in allowed:
        raise VerificationError(f"{name}: action {action!r} contradicts status {status!r}")
    check = rec.get("verification")
    if action in ERASED:
        if not isinstance(check, dict) or "residual" not in check:
            raise VerificationError(f"{name}: recorded as erased but never checked again")
        if check["residual"] != 0:
            raise VerificationError(
                f"{name}: recorded as erased but residual is {check['residual']}"
            )
        if not check.get("checked_at"):
            raise VerificationError(f"{name}: recorded as erased but no time of the check")
    if action == "exempt":
        ground = (rec.get("exemption") or {}).get("ground")
        if not isinstance(ground, str) or not _ARTICLE.match(ground.strip()):
            raise VerificationError(f"{name}: exemption does not cite an article ({ground!r})")
    if action == "not_found" and rec.get("matched") not in (None, 0):
        raise VerificationError(f"{name}: recorded as not found but matched {rec['matched']}")


def check_outcome_counts(records: dict[str, dict[str, Any]], outcomes: Any) -> None:
    """The signed per-status counts must be the records' statuses."""
    counts = dict(Counter(r.get("status") for r in records.values()))
    if counts != outcomes:
        raise VerificationError("statement: outcome counts do not match the records")


def summary(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per store for the report."""
    return [
        {
            "store": store,
            "status": rec.get("status"),
            "action": rec.get("action"),
            "residual": (rec.get("verification") or {}).get("residual"),
            "exemption": rec.get("exemption"),
        }
        for store, rec in sorted(records.items())
    ]


def retention_limits(records: dict[str, dict[str, Any]]) -> list[str]:
    """What stays in place by the bundle's own account (exemptions, kept collections)."""
    out = []
    for store, rec in sorted(records.items()):
        ex = rec.get("exemption")
        if rec.get("action") == "exempt" and ex:
            until = f" until {ex['until']}" if ex.get("until") else ""
            out.append(f"store {store!r} keeps the data under {ex['ground']}{until}")
        for c in rec.get("collections") or []:
            if c.get("action") == "keep":
                basis = c.get("basis") or "no basis recorded"
                out.append(f"store {store!r} keeps collection {c['collection']!r} ({basis})")
    return out


def orchestrator_copy_limits(copy: Any) -> list[str]:
    """The controller's stated protection of its own copy: reported, not checkable offline."""
    if not isinstance(copy, dict):
        return ["how long the orchestrator keeps its own copy of the request (not stated)"]
    return [
        f"that the orchestrator's copy ({', '.join(copy.get('covers') or [])}) is destroyed "
        f"{copy.get('destroy_after_days')} days after the request ended, by destroying key "
        f"{copy.get('key_id')} (the controller's commitment)"
    ]


def check_outcome(records: dict[str, dict[str, Any]]) -> None:
    """The erasure is complete: no store failed or was left unerased.

    Raises:
        VerificationError: ``outcome: ...`` naming every store that was not erased.

    """
    bad = [
        f"{store} ({rec.get('status')})"
        for store, rec in sorted(records.items())
        if rec.get("action") not in SATISFIED
    ]
    if bad:
        raise VerificationError(f"outcome: the erasure is incomplete; not erased: {', '.join(bad)}")
