"""A submission whose workflow task is failing says the request may exist, not "refused".

Temporal answers update-with-start with "Workflow Task in failed state" when the workflow was
started but its worker cannot run it (the ledger fault test meets it: the worker cannot reach
the payload keys). The request then exists and runs once the worker recovers, so the caller is
told to submit again under the same id, which never creates a second request. The client
first sends it again (same update id) for its patience; only then does the caller hear of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.api.workflowservice.v1 import DescribeTaskQueueResponse
from temporalio.service import RPCError, RPCStatusCode

from dsrflow.domain import DsrInput, Identity, RequestType
from dsrflow.errors import Unavailable
from dsrflow.requests_client import Patience, RequestClient, SubmitRefused

INP = DsrInput(
    "req-1", RequestType.ERASURE, [Identity("email", "a@example.org")], datetime.now(UTC)
)


class _Service:
    """A worker polls the queue (its tasks fail: it cannot reach the payload keys)."""

    async def describe_task_queue(self, *_: Any, **__: Any) -> Any:
        resp = DescribeTaskQueueResponse()
        resp.pollers.add().last_access_time.FromDatetime(datetime.now(UTC))
        return resp


class _Client:
    namespace = "default"
    workflow_service = _Service()

    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.update_ids: list[str] = []

    async def execute_update_with_start_workflow(self, *_: Any, **kw: Any) -> Any:
        self.update_ids.append(kw["id"])
        raise self.exc


BRIEF = Patience(total_s=1.0, attempt_s=0.5, first_pause_s=0.05, max_pause_s=0.1)


async def test_a_failing_workflow_task_is_unavailable_and_names_the_id_to_resubmit() -> None:
    failing = RPCError(
        "Unable to perform workflow execution update due to Workflow Task in failed state.",
        RPCStatusCode.FAILED_PRECONDITION,
        b"",
    )
    client = _Client(failing)
    rc = RequestClient(client, "dsr-queue-7", patience=BRIEF)  # type: ignore[arg-type]
    with pytest.raises(Unavailable) as caught:
        await rc.submit(INP)
    assert not isinstance(caught.value, SubmitRefused)
    assert "may exist already" in str(caught.value)
    assert "--request-id req-1" in str(caught.value)
    assert "Workflow Task in failed state" in str(caught.value)  # Temporal's last word
    assert "a worker last asked task queue dsr-queue-7" in str(caught.value)
    assert "a@example.org" not in str(caught.value)
    public = caught.value.public or ""
    assert "may exist already" in public and "dsr-queue-7" not in public
    # Sent again, always as the same update: Temporal applies a submission once.
    assert len(client.update_ids) >= 2 and len(set(client.update_ids)) == 1


async def test_other_rpc_errors_pass_through_unchanged() -> None:
    other = RPCError("namespace not found", RPCStatusCode.NOT_FOUND, b"")
    rc = RequestClient(_Client(other), "q", patience=BRIEF)  # type: ignore[arg-type]
    with pytest.raises(RPCError) as caught:
        await rc.submit(INP)
    assert caught.value is other
