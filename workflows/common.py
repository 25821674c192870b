"""Constants and small helpers shared by the request workflow's parts (deterministic)."""

from __future__ import annotations

import pkgutil

from temporalio.common import SearchAttributeKey
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

DSR_STATUS = SearchAttributeKey.for_keyword("DsrStatus")
DSR_TYPE = SearchAttributeKey.for_keyword("DsrType")
DSR_DUE = SearchAttributeKey.for_datetime("DsrDueAt")

MAX_IDENTITY_HOPS = 5
MACHINE = "dsrflow.workflows.machine"
"""The request machine's package: pure, passed through the sandbox (``sandbox_runner``)."""


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox with dsrflow's own modules passed through.

    Its domain, lifecycle and evidence types are pure and deterministic; passing them through
    keeps one copy per process (not one per workflow run) and makes every payload type's module
    visible to the data converter inside the sandbox (a type defined in a module the workflow
    never imports by name would otherwise decode with no module globals). Worker and replayer
    must use the same runner.

    The workflow modules themselves (``dsrflow.workflows``) are not passed through: they
    are re-imported in each sandbox, where the sandbox's restrictions apply to them. The one
    exception is the request machine (``dsrflow.workflows.machine``): pure rules and state with
    no Temporal import, no clock and no I/O (an import contract keeps it so), holding no
    module-level state a run could change. Re-importing it in every sandbox was most of the
    cost of starting a request's workflow (issue 14); its instances still live per run.
    """
    import dsrflow

    core = sorted(
        f"dsrflow.{info.name}"
        for info in pkgutil.iter_modules(dsrflow.__path__)
        if info.name != "workflows"
    )
    core.append(MACHINE)
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*core)
    )
