"""How an erasure was checked: the independent sweep and a person's attestation (format v2).

An erased store (``delete``, ``anonymize``) or a store kept by policy must have no sweep hits;
where the inventory says the store supports the sweep, its record must carry one that searched
something and finished after the erasure. A ``not_found`` store with sweep hits is refused too
(the catalog's mapping missed the subject). An ``attested`` verification is accepted for manual
stores only and is named in the report as resting on a person's word. What a sweep could not
cover, or what no sweep covered at all, goes in the report's "cannot prove" list.
"""

from __future__ import annotations

from typing import Any

from dsrflow.evidence.records import ERASED, is_listed_warning
from dsrflow.verify.report import VerificationError

SWEPT_ACTIONS = (*ERASED, "keep-with-basis")
"""Actions of a ``done`` store: the ones that need a clean sweep where the store supports one."""


def _hits(sweep: dict[str, Any]) -> str:
    return ", ".join(
        f"{h['location']} ({h['count']} {'row' if h['count'] == 1 else 'rows'})"
        for h in sweep["hits"]
    )


def check_record(name: str, rec: dict[str, Any], inventory: dict[str, Any], version: int) -> None:
    """The record's sweep and attestation.

    Raises:
        VerificationError: ``records/<store>.json: <reason>``.

    """
    action, check = rec["action"], rec["verification"]
    if check is not None and check["method"] == "attested":
        if rec["adapter"]["name"] != "manual" or inventory["adapter"] != "manual":
            raise VerificationError(
                f"{name}: an attested verification is accepted for manual stores only"
            )
        if rec["actor"] != check["by"]:
            raise VerificationError(f"{name}: attested by {check['by']}, but the actor differs")
    if version < 2:
        return
    for i, warning in enumerate(rec["warnings"]):
        if not is_listed_warning(warning):
            raise VerificationError(
                f"{name}: warnings[{i}] is not one of the listed phrases (no free text in evidence)"
            )
    sweep = rec["sweep"]
    if sweep is None:
        if action in SWEPT_ACTIONS and "sweep" in inventory["capabilities"]:
            raise VerificationError(
                f"{name}: recorded as {action}, but the store supports the sweep "
                "and none is recorded"
            )
        return
    if sweep["hits"] and (action in SWEPT_ACTIONS or action == "not_found"):
        raise VerificationError(
            f"{name}: recorded as {action}, but the sweep still found the subject in {_hits(sweep)}"
        )
    if action in SWEPT_ACTIONS:
        if not sweep["searched"]:
            raise VerificationError(f"{name}: recorded as {action}, but the sweep searched nothing")
        if sweep["checked_at"] is None:
            raise VerificationError(f"{name}: recorded as {action}, but the sweep has no time")
        if rec["finished_at"] and sweep["checked_at"] < rec["finished_at"]:
            raise VerificationError(f"{name}: the sweep ran before the erasure finished")


def summary(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per store for the report: action, how it was checked, the sweep's coverage."""
    out = []
    for store, rec in sorted(records.items()):
        check, sweep = rec["verification"], rec.get("sweep")
        out.append(
            {
                "store": store,
                "status": rec["status"],
                "action": rec["action"],
                "verification": check["method"] if check else None,
                "residual": check.get("residual") if check else None,
                "attested_by": check.get("by") if check else None,
                "exemption": rec["exemption"],
                "sweep": {
                    "method": sweep["method"],
                    "searched": len(sweep["searched"]),
                    "hits": sum(h["count"] for h in sweep["hits"]),
                    "excluded": sum(x["count"] for x in sweep["excluded"]),
                    "not_swept": sweep["not_swept"],
                }
                if sweep
                else None,
            }
        )
    return out


def limits(records: dict[str, dict[str, Any]], version: int) -> list[str]:
    """What the checks of each store do not reach, by the bundle's own account."""
    if version < 2:
        return [
            "format v1 records no independent sweep: 'residual 0' rests on each adapter's own "
            "re-query, which uses the same matching that erased"
        ]
    out = []
    for store, rec in sorted(records.items()):
        check, sweep = rec["verification"], rec["sweep"]
        if check is not None and check["method"] == "attested":
            attach = (
                f", attachment {check['attachment_sha256']}" if check["attachment_sha256"] else ""
            )
            out.append(
                f"store {store!r}: the erasure rests on a person's attestation ({check['by']} at "
                f"{check['at']}: {check['disposal_method']}, certificate {check['certificate_ref']}"
                f"{attach}), not on a check this verifier can repeat"
            )
        if (
            rec["action"] in SWEPT_ACTIONS
            and sweep is None
            and check
            and check["method"] != "attested"
        ):
            out.append(
                f"store {store!r}: no independent sweep recorded; residual 0 rests on the "
                "adapter's re-query"
            )
        if sweep is None:
            continue
        out += [f"store {store!r}: the sweep did not cover {loc}" for loc in sweep["not_swept"]]
        out += [
            f"store {store!r}: {x['count']} sweep hit(s) in {x['location']} not counted "
            f"({x['reason']})"
            for x in sweep["excluded"]
        ]
    if any(r["sweep"] for r in records.values()):
        out.append(
            "data held under identifiers the sweep does not search for (it searches the strong "
            "kinds listed in each record, by the rules listed there)"
        )
    return out


def notes(records: dict[str, dict[str, Any]], planned_catalog: str) -> list[str]:
    """Report notes: attested stores, stores run under another catalog, and warnings."""
    out = [
        f"store {store!r} ran under catalog {rec['catalog_digest']}, not the planned "
        f"{planned_catalog} (changed before a retry)"
        for store, rec in sorted(records.items())
        if rec.get("catalog_digest") and rec["catalog_digest"] != planned_catalog
    ]
    out += [
        f"store {store!r}: {warning}"
        for store, rec in sorted(records.items())
        for warning in rec.get("warnings", [])
    ]
    return out + [
        f"store {store!r}: verified by attestation of {rec['verification']['by']} "
        f"({rec['verification']['disposal_method']}, certificate "
        f"{rec['verification']['certificate_ref']}): it rests on a person's word"
        for store, rec in sorted(records.items())
        if rec["verification"] and rec["verification"]["method"] == "attested"
    ]
