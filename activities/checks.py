"""The ``check_store`` activity: a store's verification and residual sweep, in one activity.

Requests started since patch ``check-store`` check a store after its verb with this one
activity instead of ``verify_store`` then ``sweep_store`` (one server round trip and one
workflow task fewer per store). Each check still runs by its own path: the verification is
``StoreActivities.verify_store`` (the adapter's ``verify``), the sweep is
``SweepActivities.sweep_store`` (the adapter's independent sweep), called as they are when
they run alone, so their typed errors (``store_errors``), logs and heartbeats are theirs. Both
only read: a retry that runs both again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from temporalio import activity

from dsrflow.activities.stores import StoreActivities
from dsrflow.activities.sweep import SweepActivities
from dsrflow.domain import CheckInput, CheckResult, StoreTaskInput, SweepInput, VerifyReceipt
from dsrflow.sweeps import SweepReport

Verify = Callable[[StoreTaskInput], VerifyReceipt]
Sweep = Callable[[SweepInput], SweepReport]


class CheckActivities:
    """A store's checks after its verb, through the activities that run each one alone.

    Args:
        stores: Holds the verification (``verify_store``).
        sweeps: Holds the residual sweep (``sweep_store``).
    """

    def __init__(self, stores: StoreActivities, sweeps: SweepActivities) -> None:
        self.stores = stores
        self.sweeps = sweeps

    @activity.defn(name="check_store")
    def check_store(self, inp: CheckInput) -> CheckResult:
        """Verify the erasure (when asked), then sweep (when asked and nothing was left)."""
        return run_checks(inp, verify=self.stores.verify_store, sweep=self.sweeps.sweep_store)


def run_checks(inp: CheckInput, *, verify: Verify, sweep: Sweep) -> CheckResult:
    """Run the checks ``inp`` asks for, in the order the workflow ran them as activities.

    A verification that finds records left stops here: the store waits for a person whatever
    the sweep would say, and a retry runs the verb again (then both checks). The test harnesses
    call this with stand-in checks, so the order they see is this one.

    Args:
        inp: Which checks to run, for whom.
        verify: The verification (raises the store's typed errors).
        sweep: The sweep (raises the store's typed errors).
    """
    verification = None
    if inp.verify:
        verification = verify(inp.verify_task())
        if verification.residual > 0:
            return CheckResult(verification=verification)
        # Each check had the store's heartbeat timeout to itself; the sweep's starts here.
        activity.heartbeat()
    report = sweep(inp.sweep_task(inp.sweep_after)) if inp.sweep_after is not None else None
    return CheckResult(verification=verification, report=report)
