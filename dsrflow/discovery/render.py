"""The scan's machine-readable forms: JSON, SARIF 2.1.0 and ``--suggest``'s catalog snippets.

Only names, classes, confidences and counts go out: a sampled value never reaches a report.
"""

from __future__ import annotations

from typing import Any

import yaml

from dsrflow import __version__
from dsrflow.discovery.classify import Finding
from dsrflow.discovery.report import ScanResult, StoreScan, TableReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
RULE_UNMAPPED = "dsrflow.unmapped-personal-data"
IDENTITY_KINDS = {"email": "email", "phone": "phone"}  # classes a request can find a subject by


def finding_json(f: Finding) -> dict[str, Any]:
    """One finding: class, confidence, evidence kind and counts."""
    return {"class": f.cls, "confidence": f.confidence, "evidence": f.evidence,
            "matched": f.matched, "sampled": f.sampled, "in_text": f.in_text}  # fmt: skip


def to_json(result: ScanResult) -> dict[str, Any]:
    """The whole coverage report as JSON-ready data."""
    return {
        "min_confidence": result.min_confidence,
        "unmapped_tables": result.unmapped_count,
        "stores": [_store_json(s) for s in result.stores],
    }


def _store_json(s: StoreScan) -> dict[str, Any]:
    out: dict[str, Any] = {"store": s.store, "dialect": s.dialect, "error": s.error,
                           "skipped": s.skipped}  # fmt: skip
    if s.budget is not None:
        b = s.budget
        out["budget"] = {
            "max_rows": b.max_rows, "rows_read": b.rows_read, "max_seconds": b.max_seconds,
            "seconds": b.seconds, "sample_rows": b.sample_rows, "statements": b.statements,
            "statement_timeout_s": b.statement_timeout_s,
        }  # fmt: skip
    out["tables"] = [
        {
            "schema": t.schema, "table": t.table, "status": t.status, "reason": t.reason,
            "sampled_rows": t.sampled_rows, "not_sampled": t.not_sampled,
            "columns": [
                {"column": c.name, "status": c.status, "reason": c.reason,
                 "findings": [finding_json(f) for f in c.findings]}
                for c in t.columns
            ],
        }
        for t in s.tables
    ]  # fmt: skip
    return out


def to_sarif(result: ScanResult) -> dict[str, Any]:
    """SARIF 2.1.0: one result per unmapped column, located at ``store/schema/table``.

    Code-scanning tools (GitHub's among them) show each as an alert; its logical location is
    the column, its physical location the catalog file to add the mapping to.
    """
    results = []
    for s in result.stores:
        for t in s.unmapped():
            for c in t.columns:
                if c.status != "unmapped":
                    continue
                strong = [f for f in c.findings if f.confidence >= result.min_confidence]
                classes = ", ".join(f"{f.cls} ({f.confidence:.2f}, {f.evidence})" for f in strong)
                fqn = f"{s.store}.{t.schema}.{t.table}.{c.name}"
                results.append({
                    "ruleId": RULE_UNMAPPED,
                    "level": "error",
                    "message": {"text": f"Column {fqn} holds personal data ({classes}) that "
                                        "the catalog does not map."},
                    "locations": [{"logicalLocations": [
                        {"fullyQualifiedName": fqn, "kind": "member"}]}],
                    "partialFingerprints": {"column/v1": fqn},
                    "properties": {"store": s.store, "schema": t.schema, "table": t.table,
                                   "column": c.name,
                                   "findings": [finding_json(f) for f in c.findings]},
                })  # fmt: skip
        for t in s.tables:
            if t.not_sampled and t.status not in ("mapped", "ignored"):
                results.append({
                    "ruleId": "dsrflow.not-sampled", "level": "warning",
                    "message": {"text": f"Table {s.store}.{t.qualified} was not sampled: "
                                        f"{t.not_sampled}; only its column names were checked."},
                    "locations": [{"logicalLocations": [
                        {"fullyQualifiedName": f"{s.store}.{t.qualified}", "kind": "type"}]}],
                })  # fmt: skip
        if s.error:
            results.append({
                "ruleId": "dsrflow.scan-failed", "level": "error",
                "message": {"text": f"Store {s.store} could not be scanned: {s.error}"},
                "locations": [{"logicalLocations": [{"fullyQualifiedName": s.store}]}],
            })  # fmt: skip
    rules = [
        {"id": RULE_UNMAPPED, "name": "UnmappedPersonalData",
         "shortDescription": {"text": "Personal data not covered by the dsrflow catalog"},
         "help": {"text": "Map the table in the catalog (identities, references, erase) or "
                          "record why it is ignored under the store's scan.ignore."}},
        {"id": "dsrflow.not-sampled", "name": "NotSampled",
         "shortDescription": {"text": "A table's values were not read (budget, timeout, grant)"}},
        {"id": "dsrflow.scan-failed", "name": "ScanFailed",
         "shortDescription": {"text": "A store could not be scanned"}},
    ]  # fmt: skip
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "dsrflow scan", "version": __version__,
                                      "rules": rules}},
                  "results": results}],
    }  # fmt: skip


def suggest(result: ScanResult) -> str:
    """A catalog snippet per unmapped table, for a person to review before adding it.

    Identities come from the classes found (e-mail, phone), references from foreign keys to
    tables the catalog maps; erasure defaults to ``delete``, which a person must confirm.
    """
    parts = []
    for s in result.stores:
        mapped = {t.table for t in s.tables if t.status == "mapped"}
        for t in s.unmapped():
            parts.append(_snippet(s.store, t, mapped))
    return "\n".join(parts)


def _snippet(store: str, t: TableReport, mapped: set[str]) -> str:
    coll: dict[str, Any] = {}
    identities = {}
    for c in t.columns:
        for f in c.findings:
            if f.cls in IDENTITY_KINDS and not f.in_text and c.status == "unmapped":
                identities[c.name] = IDENTITY_KINDS[f.cls]
                break
    if identities:
        coll["identities"] = identities
    refs = {col: f"{table}.{rcol}" for col, table, rcol in t.foreign_keys if table in mapped}
    if refs:
        coll["references"] = refs
    coll["erase"] = "delete"
    found = ", ".join(t.unmapped_classes())
    header = (f"# store {store}, table {t.qualified}: found {found}. Review before adding: "
              "identities from the classifier, references from foreign keys.")  # fmt: skip
    body = yaml.safe_dump({"stores": {store: {"collections": {t.table: coll}}}},
                          sort_keys=False, default_flow_style=False)  # fmt: skip
    return header + "\n" + body
