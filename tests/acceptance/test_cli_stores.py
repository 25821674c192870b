"""Issue 8, "Must show": what `dsrflow stores test` tells the newcomer before any real request,
through the real CLI (a subprocess), on every engine. The dry run must print the same problems
the real erasure meets and leave every table byte-identical; no output holds her data."""

from __future__ import annotations

from pathlib import Path

from tests.acceptance.newcomer import (
    FK_CONSTRAINTS,
    SUBMITTED_EMAIL,
    UNMAPPED_HIT,
    NewcomerStore,
    canaries_in,
    run_cli,
    squash,
)

SUBJECT = f"email={SUBMITTED_EMAIL}"


def test_stores_test_fails_naming_the_foreign_keys_that_block_her_delete(
    shop: NewcomerStore, tmp_path: Path
) -> None:
    """reviews.customer_id (a table the catalog does not mention) and Noah's referrer_id point
    at customers rows the catalog deletes: each is a FAIL naming the constraint."""
    before = shop.dump()
    code, out = run_cli(shop.render(), tmp_path / "state", "stores", "test", "shop")
    text = squash(out)
    assert code != 0, text
    for name in FK_CONSTRAINTS:
        assert name in text, f"{name} not named: {text}"
    fail_lines = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert any("fk_reviews_customer" in line for line in fail_lines), out
    assert "Traceback" not in out
    assert shop.dump() == before


def test_stores_test_passes_the_fixed_catalog(shop: NewcomerStore, tmp_path: Path) -> None:
    code, out = run_cli(shop.render("catalog-fixed.yaml"), tmp_path / "state", "stores", "test")
    assert code == 0, out
    assert not [line for line in out.splitlines() if line.startswith("FAIL")], out


def test_dry_run_erase_prints_the_problems_and_changes_nothing(
    shop: NewcomerStore, tmp_path: Path
) -> None:
    before = shop.dump()
    code, out = run_cli(
        shop.render(), tmp_path / "state", "stores", "test", "shop", "--subject", SUBJECT, "--erase"
    )
    text = squash(out)
    assert code != 0, text
    # The same problems as the real erasure: the blocking constraints and the sweep hit,
    # named by constraint and table.column, counts only.
    for name in FK_CONSTRAINTS:
        assert name in text, f"{name} not named: {text}"
    assert UNMAPPED_HIT in text, text
    # Per-collection counts of the real statements, for every collection of her catalog.
    for coll in ("customers", "orders", "order_items", "addresses", "newsletter_signups"):
        assert coll in text, f"no line for collection {coll}: {text}"
    assert canaries_in(out) == [], out
    assert "Traceback" not in out
    assert shop.dump() == before  # rolled back: every table byte-identical


def test_dry_run_erase_of_the_fixed_catalog_is_rolled_back_too(
    shop: NewcomerStore, tmp_path: Path
) -> None:
    """With a catalog under which the erasure succeeds, the dry run really erases (inside the
    transaction) and still leaves every table byte-identical."""
    before = shop.dump()
    code, out = run_cli(
        shop.render("catalog-fixed.yaml"), tmp_path / "state",
        "stores", "test", "shop", "--subject", SUBJECT, "--erase",
    )  # fmt: skip
    text = squash(out)
    assert code == 0, text
    assert not [line for line in out.splitlines() if line.startswith("FAIL")], out
    for coll in ("customers", "reviews", "signin_log", "newsletter_signups"):
        assert coll in text, f"no line for collection {coll}: {text}"
    assert canaries_in(out) == [], out
    assert shop.dump() == before


def test_dry_run_access_changes_nothing_and_prints_no_values(
    shop: NewcomerStore, tmp_path: Path
) -> None:
    before = shop.dump()
    code, out = run_cli(shop.render(), tmp_path / "state", "stores", "test", "shop",
                        "--subject", SUBJECT)  # fmt: skip
    assert "Traceback" not in out
    assert "customers" in out and "newsletter_signups" in out, out
    assert canaries_in(out) == [], out
    assert shop.dump() == before
    assert code in (0, 1), out  # a check result, not a crash or a usage error


def test_a_malformed_subject_is_a_one_line_error(shop: NewcomerStore, tmp_path: Path) -> None:
    """`--subject` without KIND=: a one-line error naming the option, never echoing it."""
    before = shop.dump()
    code, out = run_cli(shop.render(), tmp_path / "state", "stores", "test", "shop",
                        "--subject", SUBMITTED_EMAIL)  # fmt: skip
    assert code != 0, out
    assert "No such option" not in out, out  # the option exists
    assert "Traceback" not in out
    assert "--subject" in out, out  # names what is wrong
    assert canaries_in(out) == [], out  # without echoing the value
    assert shop.dump() == before
