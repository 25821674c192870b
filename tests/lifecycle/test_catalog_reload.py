"""A running worker picks up a changed catalog; each store records the digest it ran under."""

from __future__ import annotations

import asyncio
from pathlib import Path

from structlog.testing import capture_logs

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.catalog import load_catalog, yamlpos
from dsrflow.catalog.pool import AdapterPool
from dsrflow.lifecycle import StoreDecision
from tests.fixtures.lifecycle import DEMO_SHOP, DEMO_SUPPORT, broken_store, fix_broken_store

NO_GATES = {"erasure": {"identity_verification": False, "approval": False}}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, stores: dict) -> None:
    path.write_text(yamlpos.dump({"version": 1, "stores": stores}, sort_keys=False))


def test_pool_reloads_a_valid_change_and_keeps_the_old_catalog_on_a_bad_one(
    demo_dir: Path,
) -> None:
    path = demo_dir / "reload.yaml"
    write(path, {"shop": DEMO_SHOP, "support": DEMO_SUPPORT})
    registry = AdapterRegistry.from_entry_points()
    clock = FakeClock()
    pool = AdapterPool(load_catalog(path, registry), registry, {}, check_every=1.0, clock=clock)
    try:
        first = pool.catalog.digest
        shop, support = pool.get("shop"), pool.get("support")

        write(path, {"shop": DEMO_SHOP, "support": {**DEMO_SUPPORT, "description": "v2"}})
        assert pool.catalog.digest == first  # looked at no more than once a second
        clock.now += 1.5
        second = pool.catalog.digest
        assert second != first
        assert pool.get("shop") is shop  # unchanged store: same adapter (and connections)
        assert pool.get("support") is not support  # changed store: rebuilt
        assert pool.entry("support").common.description == "v2"

        path.write_text("version: 1\nstores:\n  shop: {adapter: nosuch}\n")
        with capture_logs() as logs:
            for _ in range(3):
                clock.now += 1.5
                assert pool.catalog.digest == second
        refused = [e for e in logs if e["log_level"] == "warning"]
        assert len(refused) == 1  # one line, not one a second
        assert refused[0]["first"].startswith(f"{path.resolve()}:3: stores.shop.adapter")

        write(path, {"shop": DEMO_SHOP})
        clock.now += 1.5
        assert set(pool.catalog.stores) == {"shop"}
    finally:
        pool.close()


async def test_retry_after_a_catalog_fix_runs_the_current_catalog(
    checks_harness, demo_dir: Path
) -> None:
    stores = {"shop": DEMO_SHOP, "crm": broken_store()}
    async with checks_harness(stores, NO_GATES) as (h, fakes):
        handle = await h.submit(email="bob@example.com")
        await h.until(handle, lambda v: v.status == "needs_attention", "crm to fail")
        planned = fakes.pool.catalog.digest
        # The fix is in the catalog: point crm at the database where it really is.
        fix_broken_store(demo_dir, "fixed/crm.db")
        write(h.rt.settings.catalog, {**stores, "crm": broken_store("fixed/crm.db")})
        for _ in range(100):  # the worker looks at the file about once a second
            if fakes.pool.catalog.digest != planned:
                break
            await asyncio.sleep(0.1)
        fixed = fakes.pool.catalog.digest
        assert fixed != planned
        await h.act(handle, "retry_store", StoreDecision("crm", "staff:ann", "retry", "fixed"))
        result = await handle.result()
    final = {o.store: o for o in result.stores}
    assert final["crm"].status == "done" and final["crm"].receipt.affected == 1
    assert final["crm"].catalog_digest == fixed
    assert final["shop"].catalog_digest == planned
    # Every task still carries the digest the request planned with.
    assert {t.catalog_digest for t in fakes.tasks} == {planned}
