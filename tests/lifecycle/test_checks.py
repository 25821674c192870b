"""After a store's verb: verify, the independent sweep, resuming retries, recovered receipts.

Real workflow and real SQLite stores; the sweep is a stand-in whose hits each test sets (see
``stand_ins.py``), and the store verbs are the real activities wrapped to count calls. New
requests run both checks in one ``check_store`` activity (patch ``check-store``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsrflow.cli.main import app
from dsrflow.domain import RequestType
from dsrflow.errors import UserError
from dsrflow.lifecycle import StoreDecision
from dsrflow.sweeps import SweepHit
from tests.fixtures.lifecycle import DEMO_SHOP, DEMO_SUPPORT
from tests.lifecycle.stand_ins import sweeping

GATES_OFF = {"identity_verification": False, "approval": False}
NO_GATES = {"erasure": GATES_OFF, "access": GATES_OFF, "export": GATES_OFF}
UNMAPPED = [SweepHit("signin_log.user_email", 1, "email")]


def by_store(stores) -> dict:
    return {o.store: o for o in stores}


def state(view, store: str) -> str | None:
    """A store's status in a status view (None before planning)."""
    outcome = by_store(view.stores).get(store)
    return str(outcome.status) if outcome is not None else None


async def test_sweep_hits_after_erasure_park_the_store_until_fixed(checks_harness) -> None:
    stores = {"shop": sweeping(DEMO_SHOP), "support": sweeping(DEMO_SUPPORT)}
    async with checks_harness(stores, NO_GATES) as (h, fakes):
        fakes.hits = {
            "shop": UNMAPPED,
            "support": [SweepHit("tickets.body", 2, "email", "substring")],
        }
        handle = await h.submit(email="dave@example.com")
        view = await h.until(
            handle,
            lambda v: state(v, "shop") == "failed_needs_attention",
            "shop to fail on the sweep",
        )
        assert view.status == "needs_attention"
        shop = h.store(view, "shop")
        assert shop.error_type == "ResidualData"
        assert shop.error == (
            "subject still found in signin_log.user_email (1 row): "
            "the catalog's mapping misses them"
        )
        assert shop.sweep.hit_count == 1 and shop.verification.residual == 0
        first = shop.receipt
        assert first.affected > 0

        # The catalog is fixed (the stand-in's hits go); the retried erase finds nothing new.
        del fakes.hits["shop"]
        await h.act(handle, "retry_store", StoreDecision("shop", "staff:ann", "retry", "mapped"))
        view = await h.until(
            handle,
            lambda v: state(v, "support") == "failed_needs_attention",
            "support to fail on the sweep",
        )
        # Support matched nothing, but the sweep finds her: needs attention, not "not found".
        support = h.store(view, "support")
        assert support.receipt.matched == 0 and support.error_type == "ResidualData"
        assert support.warnings == [
            "matched nothing while the sweep found the subject's identifiers"
        ]
        await h.act(handle, "skip_store", StoreDecision("support", "staff:ann", "skip", "checked"))
        result = await handle.result()
    final = by_store(result.stores)
    assert final["shop"].status == "done"
    assert final["shop"].receipt.recovered
    assert (final["shop"].receipt.matched, final["shop"].receipt.affected) == (
        first.matched,
        first.affected,
    )
    assert final["shop"].sweep.hit_count == 0 and final["shop"].error is None
    assert final["shop"].warnings == ["counts recovered from an earlier committed attempt"]
    assert fakes.calls[("erase_store", "shop")] == 2  # the sweep found data: erase again
    assert all(s.after == "erasure" for s in fakes.sweeps)
    warned = [(a.store, a.action) for a in h.rt.ledger.actions(handle.id)]
    assert ("support", "store_warning") in warned


@pytest.mark.parametrize("failing", ["verify", "sweep"])
async def test_retry_resumes_at_the_step_that_failed(checks_harness, failing: str) -> None:
    async with checks_harness({"shop": sweeping(DEMO_SHOP)}, NO_GATES) as (h, fakes):
        fakes.fail_once = {(failing, "shop")}
        handle = await h.submit(email="dave@example.com")
        view = await h.until(handle, lambda v: v.status == "needs_attention", "the check to fail")
        shop = h.store(view, "shop")
        assert shop.error_type == "PermanentStoreError" and "injected outage" in shop.error
        kept = shop.receipt
        assert kept is not None and kept.affected > 0  # the erase had committed
        await h.act(handle, "retry_store", StoreDecision("shop", "staff:ann", "retry", "back"))
        result = await handle.result()
    shop = by_store(result.stores)["shop"]
    assert shop.status == "done" and shop.receipt == kept
    assert fakes.calls[("erase_store", "shop")] == 1  # not erased again
    # Both checks are one activity: the retry runs it again (both checks; they only read).
    assert fakes.calls[("check_store", "shop")] == 2
    assert fakes.calls[("verify_store", "shop")] == fakes.calls[("sweep_store", "shop")] == 0
    assert fakes.steps[(failing, "shop")] == 2
    assert fakes.steps[("verify", "shop")] == 2
    assert fakes.steps[("sweep", "shop")] == (2 if failing == "sweep" else 1)


async def test_a_commit_whose_completion_was_lost_is_done_with_its_counts(checks_harness) -> None:
    stores = {"shop": sweeping(DEMO_SHOP)}
    async with checks_harness(stores, NO_GATES) as (h, fakes):
        fakes.crash_after_commit = {"shop"}
        handle = await h.submit(email="dave@example.com")
        result = await handle.result()
    shop = by_store(result.stores)["shop"]
    assert fakes.calls[("erase_store", "shop")] == 2  # the activity ran again after the commit
    assert shop.status == "done", shop
    assert shop.receipt.recovered and shop.receipt.affected > 0
    assert shop.warnings == ["counts recovered from an earlier committed attempt"]
    assert shop.verification is not None and shop.verification.residual == 0
    assert shop.sweep is not None
    assert result.artifact is not None


async def test_access_with_sweep_hits_is_incomplete(checks_harness) -> None:
    stores = {"shop": sweeping(DEMO_SHOP), "support": {**sweeping(DEMO_SUPPORT), "after": []}}
    async with checks_harness(stores, NO_GATES) as (h, fakes):
        fakes.hits = {"shop": UNMAPPED}
        fakes.not_swept = {"support": ["attachments.blob: over the size budget"]}
        handle = await h.submit(RequestType.ACCESS, email="dave@example.com")
        view = await h.until(
            handle,
            lambda v: state(v, "shop") == "incomplete" and state(v, "support") == "not_found",
            "shop incomplete",
        )
        assert view.status == "needs_attention"
        shop, support = h.store(view, "shop"), h.store(view, "support")
        assert shop.error.startswith("subject still found in signin_log.user_email (1 row)")
        assert shop.error_type == "IncompleteAccess"
        # A sweep that could not cover everything warns; it does not fail the store.
        assert support.status == "not_found"
        assert support.warnings == ["sweep did not cover 1 location"]
        assert support.sweep.not_swept == ["attachments.blob: over the size budget"]
        assert all(s.after == "access" for s in fakes.sweeps)
        row = await h.ledger_until(
            lambda: (r := h.rt.ledger.get_request(handle.id)) and r.status == "needs_attention",
            "needs_attention in the ledger",
        )
        row = h.rt.ledger.get_request(handle.id)
        assert {s.store: s.status for s in row.stores}["shop"] == "incomplete"
        with pytest.raises(UserError, match="skipping a store needs a reason"):
            await h.act(handle, "skip_store", StoreDecision("shop", "staff:ann", "skip"))
        # Retry is accepted on an incomplete store: the access runs again (still incomplete).
        await h.act(handle, "retry_store", StoreDecision("shop", "staff:ann", "retry", "again"))
        await h.until(
            handle,
            lambda _: fakes.calls[("access_store", "shop")] == 2,
            "the access to run again",
        )
        await h.until(handle, lambda v: state(v, "shop") == "incomplete", "incomplete")
        skip = StoreDecision("shop", "staff:ann", "skip", "log table is out of scope")
        await h.act(handle, "skip_store", skip)
        result = await handle.result()
    assert result.status == "completed"
    assert by_store(result.stores)["shop"].status == "skipped"


def _identity_mismatch_store(folder: Path) -> dict:
    """An identity source whose customer row holds a different address than the one asked for.

    The customer row is ``mia+shop@example.org`` (a different person's address under the
    wrong-person rule), the newsletter row ``mia@example.org``: only the newsletter matches.
    """
    db = folder / "stores" / "mia.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT);"
            "CREATE TABLE newsletter (id INTEGER PRIMARY KEY, email TEXT);"
            "INSERT INTO customers VALUES (1, 'mia+shop@example.org');"
            "INSERT INTO newsletter VALUES (1, 'mia@example.org');"
        )
    return {
        "adapter": "sql",
        "identity_source": True,
        "connection": {"url": "sqlite:///stores/mia.db"},
        "collections": {
            "customers": {"identities": {"email": "email"}, "provides": {"id": "customer_id"}},
            "newsletter": {"identities": {"email": "email"}},
        },
    }


async def test_identity_source_matching_nothing_in_its_identity_collection_warns(
    checks_harness, demo_dir: Path
) -> None:
    stores = {"mia": _identity_mismatch_store(demo_dir)}
    async with checks_harness(stores, NO_GATES) as (h, _):
        handle = await h.submit(email="mia@example.org")
        result = await handle.result()
    mia = by_store(result.stores)["mia"]
    assert mia.status == "done" and mia.receipt.matched == 1
    assert mia.warnings == [
        "identity-source collection customers matched 0 rows while other collections matched"
    ]
    recorded = [(a.store, a.detail) for a in h.rt.ledger.actions(handle.id)]
    assert recorded == [("mia", mia.warnings[0])]
    # `request show` (the ledger's view) lists it under "warnings".
    shown = CliRunner().invoke(app, ["request", "show", handle.id], env=dict(h.rt.env))
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[lines.index("warnings:") + 1] == f"  mia: {mia.warnings[0]}"


async def test_catalog_digest_is_pinned_and_recorded_per_store(checks_harness) -> None:
    async with checks_harness({"shop": sweeping(DEMO_SHOP)}, NO_GATES) as (h, fakes):
        handle = await h.submit(email="dave@example.com")
        result = await handle.result()
    planned = fakes.pool.catalog.digest
    assert {t.catalog_digest for t in fakes.tasks} == {planned}
    assert {s.catalog_digest for s in fakes.sweeps} == {planned}
    assert by_store(result.stores)["shop"].catalog_digest == planned
