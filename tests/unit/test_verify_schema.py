"""The published schemas, the small validator, old-format bundles, and record building.

Class 1 and 9 of issue 9 (schemas published and enforced; the spec is complete), and the
evidence bugs of issue 8 item 9 (basis/until of an anonymised collection carried into the
record; the store-level action derived from what happened, not from the configuration).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from dsrflow.domain import CollectionCount, StoreOutcome, StoreReceipt, StoreStatus
from dsrflow.evidence import example
from dsrflow.evidence.records import record_for, safe_warning, store_action
from dsrflow.evidence.schemas import MAX_INT, SCHEMAS, write_schemas
from dsrflow.verify import Expect, TrustState, verify_bundle
from dsrflow.verify.schema import SchemaError, check, validate
from tests.unit.evidence_kit import build, members, statement

ROOT = Path(__file__).resolve().parents[2]
V1 = Path(__file__).resolve().parent / "data" / "evidence-v1"


def test_published_schemas_are_the_enforced_ones(tmp_path) -> None:
    """Class 9/1: docs/schemas is exactly what the verifier enforces (regenerate if stale)."""
    written = write_schemas(tmp_path)
    assert {p.name for p in written} == {p.name for p in (ROOT / "docs/schemas").glob("*.json")}
    for p in written:
        assert p.read_bytes() == (ROOT / "docs/schemas" / p.name).read_bytes(), (
            f"docs/schemas/{p.name} is stale: run python -m dsrflow.evidence.schemas docs/schemas"
        )


def test_the_spec_names_every_schema_and_says_what_verified_proves() -> None:
    """Class 9: the page an outsider writes a verifier from is complete on these points."""
    spec = (ROOT / "docs/evidence-format.md").read_text()
    headings = [line for line in spec.splitlines() if line.startswith("## ")]
    assert any(h.endswith("What a VERIFIED bundle proves, and what it does not") for h in headings)
    for name in SCHEMAS:
        assert f"schemas/{name}.schema.json" in spec, name
    for needle in ("VERIFIED (root key not pinned)", "--trust-on-first-use", "dsrflow-evidence/v2",
                   "pinned_roots", "attested", "not_swept", "5 minutes"):  # fmt: skip
        assert needle in spec, needle


def test_every_document_of_the_example_matches_its_schema() -> None:
    m = members(build())
    st = statement(m)
    check("statement", st, "statement")
    check("manifest-v2", json.loads(m["manifest.json"]), "manifest")
    check("inventory", json.loads(m["inventory.json"]), "inventory")
    check("inclusion-proof", json.loads(m["log/inclusion-proof.json"]), "proof")
    check("envelope", json.loads(m["envelope.json"]), "envelope")
    for name in (n for n in m if n.startswith("records/")):
        check("record-v2", json.loads(m[name]), name)
    ring = json.loads(example.example_keyring().signed(example.ROOT))
    check("keyring", json.loads(base64.b64decode(ring["payload"])), "keyring")
    check("subject-opening", example.build_example().opening, "opening")


def test_validator_types_and_ranges() -> None:
    schema = SCHEMAS["inclusion-proof"]["properties"]["leaf_index"]
    validate(MAX_INT, schema, schema)
    for bad, why in ((MAX_INT + 1, "beyond 2\\^53"), (True, "not a boolean"), (-1, "at least"),
                     (1.5, "not an integer")):  # fmt: skip
        with pytest.raises(SchemaError, match=why):
            validate(bad, schema, schema)
    name = SCHEMAS["record-v2"]["properties"]["store"]
    with pytest.raises(SchemaError, match="required form"):
        validate("shop\n", name, name)  # "$" is the end of the string, not before a newline
    with pytest.raises(KeyError, match="not supported"):
        validate(1, {"multipleOf": 2}, {})


def test_v1_bundles_still_verify_under_v1_rules(tmp_path) -> None:
    """The dsrflow 0.1 worked example (format v1) verifies, and says it records no sweep."""
    keyring = (V1 / "keyring.json").read_bytes()
    opening = json.loads((V1 / "subject-opening.json").read_text())
    report = verify_bundle(
        V1 / "evidence-bundle.zip",
        Expect(keyring, TrustState(), example.ROOT.key_id, opening=opening),
    )
    assert report.ok and report.verdict == "VERIFIED" and report.format_version == 1
    assert any(x.startswith("format v1 records no independent sweep") for x in report.limits)


def _outcome(collections: list[CollectionCount]) -> StoreOutcome:
    t = example.T0
    receipt = StoreReceipt("s", "sql", "1", "erase", sum(c.matched for c in collections),
                           sum(c.affected for c in collections), "sha256:" + "0" * 64, t, t,
                           collections=collections)  # fmt: skip
    return StoreOutcome("s", "sql", StoreStatus.DONE, 1, receipt)


def test_anonymised_collection_keeps_basis_and_until() -> None:
    """Issue 8 item 9: basis/until on an ``anonymize`` rule reach the record."""
    out = _outcome([CollectionCount("orders", "anonymize", 2, 2, 0, "Art. 6(1)(c)", "2034-12-31")])
    [col] = record_for(out, None, "r")["collections"]
    assert (col["basis"], col["until"]) == ("Art. 6(1)(c)", "2034-12-31")


def test_store_action_comes_from_what_happened() -> None:
    """Issue 8 item 9: nothing deleted or anonymised, one collection kept -> keep-with-basis."""
    out = _outcome([
        CollectionCount("customers", "delete", 0, 0, 0),
        CollectionCount("orders", "anonymize", 0, 0, 0),
        CollectionCount("invoices", "keep", 4, 0, None, "Art. 17(3)(b)"),
    ])  # fmt: skip
    assert store_action(out) == "keep-with-basis"
    deleted_only = _outcome([CollectionCount("a", "delete", 1, 1, 0),
                             CollectionCount("b", "anonymize", 0, 0, 0)])  # fmt: skip
    assert store_action(deleted_only) == "delete"


def test_warnings_are_listed_phrases_only() -> None:
    """Only fixed phrases go into a record; anything else is replaced, never copied."""
    listed = "identity-source collection customers matched 0 rows while other collections matched"
    assert safe_warning(listed) == listed
    assert (
        safe_warning("jane.doe@example.org not found") == "warning withheld (not a listed phrase)"
    )
