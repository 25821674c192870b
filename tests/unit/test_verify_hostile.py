"""Hostile bundles re-signed with the controller's real key: schemas, sets and cross-field rules.

The threat model is a regulator's: the controller itself, or a compromised signing pipeline,
issues a misleading bundle. Every bundle here carries valid signatures, digests and a valid log
proof (``hostile_kit`` re-seals with the real keys), so only the rule under test can catch it.
Each docstring names the class of issue 9 ("Build" item) the test covers; each of these bundles
was accepted by the verifier before that issue (see the report of the change).
"""

from __future__ import annotations

import json

import pytest

from dsrflow.evidence import example
from dsrflow.evidence.format import INVENTORY, MANIFEST
from tests.unit.evidence_kit import build, members, reseal, statement, verify
from tests.unit.hostile_kit import edit_inventory, edit_predicate, edit_record, with_manifest


@pytest.fixture(scope="module")
def parts() -> dict[str, bytes]:
    return members(build())


def rejected(report, reason: str) -> None:
    assert not report.ok, "a hostile bundle was accepted"
    assert reason in report.failure, report.failure


# -- 1. schemas: types, ranges, times, enumerations, unknown fields, ASCII ------------------


def test_boolean_is_never_an_integer(tmp_path, parts) -> None:
    """Class 1 (schema: types): ``attempts: true`` is not an integer."""
    data = edit_record(parts, "support", lambda r: r.update(attempts=True))
    rejected(verify(tmp_path, data), "schema record-v")
    rejected(verify(tmp_path, data), "$.attempts: must be integer, not a boolean")


def test_false_is_not_a_residual_of_zero(tmp_path, parts) -> None:
    """Class 1 (schema: types): a re-check ``residual: false`` is not residual 0."""
    data = edit_record(parts, "support", lambda r: r["verification"].update(residual=False))
    rejected(verify(tmp_path, data), "$.verification: ")


def test_negative_count(tmp_path, parts) -> None:
    """Class 1 (schema: ranges): a negative count."""

    def negative(r):
        r["collections"][0]["affected"] = -2
        r["affected"] = -2

    rejected(verify(tmp_path, edit_record(parts, "support", negative)), "must be at least 0")


def test_time_that_does_not_parse(tmp_path, parts) -> None:
    """Class 1 (schema: times): ``finished_at`` is not a YYYY-MM-DDTHH:MM:SSZ instant."""
    data = edit_record(parts, "support", lambda r: r.update(finished_at="2026-02-30T10:00:00Z"))
    rejected(verify(tmp_path, data), "$.finished_at: is not a valid YYYY-MM-DDTHH:MM:SSZ")


def test_unknown_collection_action(tmp_path, parts) -> None:
    """Class 1 (schema: enumerations): a collection action outside the spec."""
    data = edit_record(parts, "support", lambda r: r["collections"][0].update(action="shred"))
    rejected(verify(tmp_path, data), "$.collections[0].action: must be one of")


def test_unknown_field_in_a_record_is_refused(tmp_path, parts) -> None:
    """Class 1 (schema: no unknown fields): free text where a person's note would leak a name."""
    data = edit_record(parts, "support", lambda r: r.update(note="asked by Jane Doe"))
    report = verify(tmp_path, data)
    rejected(report, "records/support.json: schema record-v")
    rejected(report, "unknown field 'note'")
    assert "Jane" not in report.failure


def test_non_ascii_citation(tmp_path, parts) -> None:
    """Class 1 (schema: ASCII-only article citations)."""
    data = edit_record(
        parts, "billing", lambda r: r["exemption"].update(ground="Art. 17(3)(b) \u2013 Fr\u00e9d")
    )
    rejected(verify(tmp_path, data), "$.exemption.ground: is not in the required form")


def test_keyring_version_must_be_an_integer(tmp_path, parts) -> None:
    """Class 5: ``keyring_version`` as a string is an error."""
    data = edit_predicate(parts, lambda p: p.update(keyring_version="1"))
    rejected(verify(tmp_path, data), "$.predicate.keyring_version: must be integer")


def test_keyring_version_is_required(tmp_path, parts) -> None:
    """Class 5: a predicate without ``keyring_version`` is an error."""
    data = edit_predicate(parts, lambda p: p.pop("keyring_version"))
    rejected(verify(tmp_path, data), "missing required field 'keyring_version'")


# -- 2. sets ------------------------------------------------------------------------------


def test_duplicate_statement_subject(tmp_path, parts) -> None:
    """Class 2 (sets): the statement names manifest.json twice (never "the last one wins")."""
    from tests.unit.hostile_kit import sign_statement

    st = statement(parts)
    st["subject"] = [st["subject"][0], st["subject"][0], st["subject"][1]]
    rejected(verify(tmp_path, sign_statement(parts, st)), "$.subject: has more than 2 entries")
    st["subject"] = st["subject"][:2]
    rejected(verify(tmp_path, sign_statement(parts, st)), "statement: subject: duplicate entries")


def test_duplicate_manifest_member(tmp_path, parts) -> None:
    """Class 2 (sets): a member listed twice in the manifest."""

    def twice(m):
        m["members"] = sorted([*m["members"], m["members"][-1]], key=lambda x: x["name"])

    rejected(verify(tmp_path, with_manifest(parts, twice)), f"{MANIFEST}: members: duplicate")


def test_duplicate_inventory_store(tmp_path, parts) -> None:
    """Class 2 (sets): a store listed twice in the inventory."""

    def twice(inv):
        inv["stores"] = sorted([*inv["stores"], inv["stores"][0]], key=lambda s: s["store"])

    rejected(verify(tmp_path, edit_inventory(parts, twice)), f"{INVENTORY}: stores: duplicate")


def test_inventory_out_of_order(tmp_path, parts) -> None:
    """Class 2 (order): the inventory is sorted by store, and the verifier checks it."""
    data = edit_inventory(parts, lambda inv: inv["stores"].reverse())
    rejected(verify(tmp_path, data), f"{INVENTORY}: stores: not sorted")


# -- 3. cross-field semantics ----------------------------------------------------------------


def test_counts_must_add_up(tmp_path, parts) -> None:
    """Class 3: a store's counts agree with the sum of its collections."""
    data = edit_record(parts, "shop", lambda r: r.update(matched=99))
    rejected(verify(tmp_path, data), "records/shop.json: matched is 99, but its collections add")


def test_not_found_that_matched_in_a_collection(tmp_path, parts) -> None:
    """Class 3: a ``not_found`` store matched 0 in every collection."""

    def hidden(r):
        r["collections"] = [{"collection": "users", "action": "delete", "matched": 3,
                             "affected": 0, "residual_in_transaction": None, "basis": None,
                             **({"until": None} if "sweep" in r else {})}]  # fmt: skip
        r["matched"], r["affected"] = 0, 0

    rejected(
        verify(tmp_path, edit_record(parts, "crm", hidden)),
        "records/crm.json: recorded as not found but collection 'users' matched 3",
    )


def test_delete_when_every_collection_was_kept(tmp_path, parts) -> None:
    """Class 3: the store-level action agrees with its collections."""

    def kept(r):
        for c in r["collections"]:
            c.update(action="keep", affected=0, residual_in_transaction=None, basis="Art. 6(1)(c)")
        r["affected"], r["action"] = 0, "delete"

    rejected(verify(tmp_path, edit_record(parts, "shop", kept)), "disagrees with its collections")


def test_kept_collection_without_basis(tmp_path, parts) -> None:
    """Class 3: a kept collection cites a basis."""

    def no_basis(r):
        next(c for c in r["collections"] if c["action"] == "keep")["basis"] = None

    rejected(verify(tmp_path, edit_record(parts, "shop", no_basis)), "is kept without a basis")


def test_exemption_needs_an_art_17_3_ground(tmp_path, parts) -> None:
    """Class 3: an exempt store cites an Art. 17(3) ground (not any article)."""
    data = edit_record(parts, "billing", lambda r: r["exemption"].update(ground="Art. 6(1)(f)"))
    rejected(verify(tmp_path, data), "exemption does not cite an Art. 17(3) ground")


def test_residual_in_the_transaction(tmp_path, parts) -> None:
    """Class 3: residual 0 in the transaction as well as in the later re-check."""
    data = edit_record(
        parts, "support", lambda r: r["collections"][0].update(residual_in_transaction=2)
    )
    rejected(verify(tmp_path, data), "had residual 2 in the transaction")


def test_signed_in_the_future(tmp_path, parts) -> None:
    """Class 3: a signing time in the future (beyond the documented skew) is refused."""
    data = edit_predicate(parts, lambda p: p.update(signed_at="2099-01-01T00:00:00Z"))
    rejected(verify(tmp_path, data), "is in the future")


def test_signed_before_the_request_was_received(tmp_path, parts) -> None:
    """Class 3: signed (and completed) before the request was received."""
    data = edit_predicate(parts, lambda p: p.update(received_at="2026-03-05T00:00:00Z"))
    rejected(verify(tmp_path, data), "before the request was received")


def test_empty_scope_is_not_an_erasure(tmp_path, parts) -> None:
    """Class 3: "all 0 stores erased" is refused."""
    content = {k: v for k, v in parts.items() if not k.startswith("records/")}
    inv = json.loads(parts[INVENTORY])
    inv["stores"] = []
    content[INVENTORY] = json.dumps(inv, separators=(",", ":"), sort_keys=True).encode()
    pred = statement(parts)["predicate"]
    pred["outcomes"] = {}
    rejected(verify(tmp_path, reseal(content, predicate=pred)), "no store was in scope")


# -- the sweep and attestations (issue 8 "Evidence of the sweep"; issue 9 class 8) -----------


def test_sweep_hits_refuse_erased(tmp_path, parts) -> None:
    """Issue 8 Build 3: "erased" with sweep hits > 0 is refused, naming table.column and count."""
    hit = {"location": "signin_log.user_email", "count": 1, "kind": "email", "mode": "equality"}
    data = edit_record(parts, "support", lambda r: r["sweep"]["hits"].append(hit))
    rejected(
        verify(tmp_path, data),
        "records/support.json: recorded as delete, but the sweep still found the subject in "
        "signin_log.user_email (1 row)",
    )


def test_missing_sweep_where_the_store_supports_it(tmp_path, parts) -> None:
    """Issue 8 Build 3: a store whose inventory says ``sweep`` must carry a sweep to be erased."""
    data = edit_record(parts, "support", lambda r: r.update(sweep=None))
    rejected(verify(tmp_path, data), "the store supports the sweep and none is recorded")


def test_not_found_with_sweep_hits(tmp_path) -> None:
    """Issue 8 Build 3: "not found" while the sweep finds the subject is refused."""
    from dataclasses import replace

    from dsrflow.sweeps import SweepHit, SweepReport
    from tests.unit.evidence_kit import with_outcome

    sweep = SweepReport("crm", "sql-sweep", ["users.email"], [SweepHit("users.email", 2, "email")],
                        checked_at=example.T0)  # fmt: skip
    inp = with_outcome("crm", sweep=sweep)
    inp = replace(inp, inventory=[replace(p, capabilities=["erase", "sweep"]) if p.name == "crm"
                                  else p for p in inp.inventory])  # fmt: skip
    rejected(verify(tmp_path, build(inp)), "recorded as not_found, but the sweep still found")


def test_warning_with_free_text_is_refused(tmp_path, parts) -> None:
    """Class 1 (no free text): warnings are listed phrases only, never a person's text."""
    data = edit_record(parts, "support", lambda r: r["warnings"].append("ticket of Jane Doe kept"))
    report = verify(tmp_path, data)
    rejected(report, "records/support.json: warnings[0] is not one of the listed phrases")
    assert "Jane" not in report.failure


def test_store_run_under_another_catalog_is_reported(tmp_path, parts) -> None:
    """Issue 8 Build 7: the record names the catalog the store ran under; the report shows it."""
    other = "sha256:" + "ab" * 32
    report = verify(
        tmp_path, edit_record(parts, "support", lambda r: r.update(catalog_digest=other))
    )
    assert report.ok, report.failure
    assert any(f"store 'support' ran under catalog {other}, not the planned" in n
               for n in report.notes)  # fmt: skip


def test_attestation_only_for_manual_stores(tmp_path, parts) -> None:
    """Class 8: an attested verification is accepted for manual stores only."""
    paper = json.loads(parts["records/paper.json"])["verification"]
    data = edit_record(parts, "support", lambda r: r.update(verification=paper))
    rejected(verify(tmp_path, data), "attested verification is accepted for manual stores only")


def test_manual_store_verifies_by_attestation(tmp_path, parts) -> None:
    """Class 8: a manual store's attested disposal verifies and is named in the report."""
    report = verify(tmp_path, reseal(parts), root_key_id=example.ROOT.key_id)
    assert report.ok and report.verdict == "VERIFIED", report.failure
    [paper] = [s for s in report.stores if s["store"] == "paper"]
    assert paper["verification"] == "attested" and paper["attested_by"] == "staff:records-3"
    assert any("rests on a person's" in n for n in report.notes)
    assert any("store 'shop': the sweep did not cover audit_archive.payload" in x
               for x in report.limits)  # fmt: skip
