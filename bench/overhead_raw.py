"""The raw-Temporal baseline of ``bench_overhead``: the same gates, K no-op activities.

A workflow started with update-with-start (``submit``), two people's updates (``verify``,
``approve``) and then K no-op activities in parallel; plain dataclasses, the SDK's default data
converter and sandbox. Kept in its own module so the sandbox can import it by name.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow


@dataclass(frozen=True)
class RawInput:
    """The request: its id, the subject's e-mail and how many stores."""

    request_id: str
    email: str
    stores: int


@dataclass(frozen=True)
class RawAct:
    """A person's action."""

    actor: str
    reason: str = ""


@dataclass(frozen=True)
class RawStoreTask:
    """One store's task."""

    request_id: str
    store: int
    email: str


@activity.defn(name="raw_noop")
async def raw_noop(task: RawStoreTask) -> int:
    """Does nothing (the store's work costs nothing here)."""
    return task.store


@workflow.defn(name="RawRequest")
class RawRequestWorkflow:
    """Gates (verify, approve) then K no-op activities."""

    def __init__(self) -> None:
        self.status = "received"
        self.verified = False
        self.approved = False

    @workflow.run
    async def run(self, inp: RawInput) -> str:
        """Wait for both gates, then run every store's activity."""
        self.status = "awaiting_verification"
        await workflow.wait_condition(lambda: self.verified)
        self.status = "awaiting_approval"
        await workflow.wait_condition(lambda: self.approved)
        self.status = "running"
        await asyncio.gather(
            *(
                workflow.execute_activity(
                    raw_noop,
                    RawStoreTask(inp.request_id, i, inp.email),
                    start_to_close_timeout=timedelta(seconds=60),
                )
                for i in range(inp.stores)
            )
        )
        self.status = "completed"
        return self.status

    @workflow.update
    async def submit(self, a: RawAct) -> str:
        """Acknowledge once the request is past ``received``."""
        await workflow.wait_condition(lambda: self.status != "received")
        return self.status

    @workflow.update
    def verify(self, a: RawAct) -> str:
        """Pass the identity gate."""
        self.verified = True
        return a.actor

    @workflow.update
    def approve(self, a: RawAct) -> str:
        """Pass the approval gate."""
        self.approved = True
        return a.actor
