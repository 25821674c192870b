"""Orchestration alone: the real workflow with every store activity scripted by name
(``tests/fixtures/activities.py``), so retries, parking and retry-store need no store."""

from __future__ import annotations

from dsrflow.domain import RequestType
from dsrflow.lifecycle import StoreDecision
from tests.fixtures.activities import StoreScript

GATES_OFF = {"identity_verification": False, "approval": False}
NO_GATES = {"erasure": GATES_OFF, "access": GATES_OFF}


def outcomes(view) -> dict[str, str]:
    return {o.store: str(o.status) for o in view.stores}


async def test_an_outage_is_retried_until_the_store_answers(scripted_harness) -> None:
    shop = StoreScript(holds=3, failures=["StoreUnavailable", "StoreUnavailable"])
    async with scripted_harness({"shop": shop}, NO_GATES) as (h, stores):
        handle = await h.submit()
        result = await handle.result()
    assert result.status == "completed"
    [outcome] = result.stores
    assert (outcome.status, outcome.receipt.affected, outcome.receipt.attempt) == ("done", 3, 3)
    erase, check = [("erase_store", "shop")] * 3, [("check_store", "shop")]
    assert stores.calls == erase + check  # the checks run once, after the attempt that worked
    [asked] = stores.checks
    assert asked.verify and asked.sweep_after == "erasure"  # both checks, in one activity
    assert outcome.verification is not None and outcome.sweep is not None


async def test_a_permanent_failure_parks_one_store_and_retry_reruns_only_it(
    scripted_harness,
) -> None:
    scripts = {"shop": StoreScript(holds=2), "crm": StoreScript(failures=["PermanentStoreError"])}
    async with scripted_harness(scripts, NO_GATES) as (h, stores):
        handle = await h.submit()
        view = await h.until(
            handle,
            lambda v: v.status == "needs_attention" and outcomes(v).get("shop") == "done",
            "crm parked after the shop is done",
        )
        assert outcomes(view) == {"shop": "done", "crm": "failed_needs_attention"}
        assert h.store(view, "crm").error_type == "PermanentStoreError"
        assert stores.count("erase_store", "crm") == 1  # a permanent error is not retried
        await h.act(handle, "retry_store", StoreDecision("crm", "staff:ann", "retry", "fixed"))
        result = await handle.result()
    assert result.status == "completed"
    assert {o.store: str(o.status) for o in result.stores} == {"shop": "done", "crm": "done"}
    assert stores.count("erase_store", "shop") == 1 and stores.count("erase_store", "crm") == 2


async def test_data_left_after_erasure_needs_a_person(scripted_harness) -> None:
    async with scripted_harness({"shop": StoreScript(holds=4, left_after_erasure=1)}, NO_GATES) as (
        h,
        stores,
    ):
        handle = await h.submit()
        view = await h.until(handle, lambda v: v.status == "needs_attention", "the store parked")
        shop = h.store(view, "shop")
        assert (str(shop.status), shop.error_type) == ("failed_needs_attention", "ResidualData")
        assert shop.verification.residual == 1
        assert stores.calls == [("erase_store", "shop"), ("check_store", "shop")]
        assert shop.sweep is None  # records left: no sweep ran, the store waits either way


async def test_access_runs_every_store_and_sweeps_where_data_was_found(scripted_harness) -> None:
    scripts = {"shop": StoreScript(holds=2), "support": StoreScript(holds=0)}
    async with scripted_harness(scripts, NO_GATES) as (h, stores):
        handle = await h.submit(rtype=RequestType.ACCESS)
        result = await handle.result()
    assert result.status == "completed"
    assert {o.store: str(o.status) for o in result.stores} == {
        "shop": "done",
        "support": "not_found",
    }
    assert {o.store: o.receipt.matched for o in result.stores} == {"shop": 2, "support": 0}
    accessed = sorted(store for name, store in stores.calls if name == "access_store")
    assert accessed == ["shop", "support"]
    assert stores.count("check_store", "shop") == 1  # swept where the store had something
    assert stores.count("verify_store", "shop") == stores.count("sweep_store", "shop") == 0
    shop = next(c for c in stores.checks if c.store == "shop")
    assert not shop.verify and shop.sweep_after == "access"  # an access is swept, not verified
