"""Many requests whose gates are passed at once, on one worker: the driver the load test and
``bench/bench_load.py`` share.

Every request needs both gates (identity verification, then approval by another person). The
driver submits them all, then sends every verification at once, then every approval at once,
each through the service layer (``Submit``, ``Decide``) exactly as the CLI and the API do, so
an action is audited once the workflow accepted it. Nothing here retries beyond what the request
client does for every caller: what the driver sees is what a person at the CLI would see.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dsrflow.catalog import yamlpos
from dsrflow.demo import data
from dsrflow.domain import DsrResult, RequestStatus
from dsrflow.errors import UserError
from dsrflow.requests_client import RequestClient
from dsrflow.runtime import Runtime
from dsrflow.service.decisions import Decide, DecisionInput
from dsrflow.service.intake import Submit, SubmitCommand
from dsrflow.service.principal import Principal

ANALYST = Principal.of("staff:load-analyst", ["admin"])
VERIFIER = Principal.of("staff:load-verifier", ["admin"])
APPROVER = Principal.of("staff:load-approver", ["admin"])
GATES = (("verify_identity", VERIFIER, "identity_verified"), ("approve", APPROVER, "approved"))


def gated_demo(folder: Path) -> Path:
    """The demo stores, with both gates on for access and erasure; the catalog's path."""
    data.seed(folder)
    path = folder / "catalog.yaml"
    catalog = yaml.safe_load(path.read_text())
    both = {"identity_verification": True, "approval": True}
    catalog["policies"] = {"access": both, "erasure": both}
    path.write_text(yamlpos.dump(catalog, sort_keys=False))
    return path


@dataclass
class LoadRun:
    """What one run saw.

    Attributes:
        ids: The requests, in submission order.
        errors: (request, step, the message the person would have read) of every step that failed.
        seconds: Wall time per phase (submit, verify_identity, approve, complete).
        retries: Transient refusals the request client retried (transparently).
    """

    ids: list[str] = field(default_factory=list)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    retries: Counter[str] = field(default_factory=Counter)

    @property
    def actions(self) -> int:
        """People's actions sent (one submit and two gates per request)."""
        return 3 * len(self.ids)


async def run_load(rt: Runtime, n: int, *, finish_s: float = 600) -> LoadRun:
    """Submit ``n`` requests (access and erasure alternating), pass both gates of all at once,
    and wait until every workflow closed (at most ``finish_s`` seconds)."""
    rc = RequestClient(await rt.client(), rt.settings.task_queue)
    run = LoadRun()
    tag = uuid.uuid4().hex[:6]
    kinds = ("access", "erasure")
    cmds = {
        f"t-load-{tag}-{i:03d}": SubmitCommand(
            kinds[i % 2], email=[f"load-{tag}-{i}@example.com"], request_id=f"t-load-{tag}-{i:03d}"
        )
        for i in range(n)
    }
    run.ids = list(cmds)
    submit = Submit(rt)

    async def one_submit(rid: str) -> None:
        try:
            await submit.run(ANALYST, submit.check(ANALYST, cmds[rid]), rc)
        except UserError as exc:
            run.errors.append((rid, "submit", str(exc)))

    await _phase(run, "submit", [one_submit(rid) for rid in run.ids])
    decide = Decide(rt)
    for update, who, _ in GATES:

        async def one_gate(rid: str, update: str = update, who: Principal = who) -> None:
            try:
                await decide.run(who, DecisionInput(update, rid, method="email_link"), rc)
            except UserError as exc:
                run.errors.append((rid, update, str(exc)))

        await _phase(run, update, [one_gate(rid) for rid in run.ids])

    async def finished(rid: str) -> None:
        try:
            result = await asyncio.wait_for(rc.handle(rid).result(), finish_s)
        except TimeoutError:
            run.errors.append((rid, "complete", f"not complete after {finish_s:.0f} s"))
            return
        assert isinstance(result, DsrResult)
        if result.status != RequestStatus.COMPLETED:
            run.errors.append((rid, "complete", f"ended {result.status}"))

    await _phase(run, "complete", [finished(r) for r in run.ids])
    run.retries = rc.retries
    return run


async def _phase(run: LoadRun, name: str, calls: list) -> None:  # type: ignore[type-arg]
    start = time.monotonic()
    await asyncio.gather(*calls)
    run.seconds[name] = time.monotonic() - start
