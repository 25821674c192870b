"""A submission whose workflow task is failing says the request may exist, not "refused".

Temporal answers update-with-start with "Workflow Task in failed state" when the workflow was
started but its worker cannot run it (the ledger fault test meets it: the worker cannot reach
the payload keys). The request then exists and runs once the worker recovers, so the caller is
told to submit again under the same id, which never creates a second request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode

from dsrflow.domain import DsrInput, Identity, RequestType
from dsrflow.errors import Unavailable
from dsrflow.requests_client import RequestClient, SubmitRefused

INP = DsrInput(
    "req-1", RequestType.ERASURE, [Identity("email", "a@example.org")], datetime.now(UTC)
)


class _Client:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def execute_update_with_start_workflow(self, *_: Any, **__: Any) -> Any:
        raise self.exc


async def test_a_failing_workflow_task_is_unavailable_and_names_the_id_to_resubmit() -> None:
    failing = RPCError(
        "Unable to perform workflow execution update due to Workflow Task in failed state.",
        RPCStatusCode.FAILED_PRECONDITION,
        b"",
    )
    rc = RequestClient(_Client(failing), "q")  # type: ignore[arg-type]
    with pytest.raises(Unavailable) as caught:
        await rc.submit(INP)
    assert not isinstance(caught.value, SubmitRefused)
    assert "may exist already" in str(caught.value)
    assert "--request-id req-1" in str(caught.value)
    assert "a@example.org" not in str(caught.value)
    assert caught.value.public == "the request could not be confirmed now; try again later"


async def test_other_rpc_errors_pass_through_unchanged() -> None:
    other = RPCError("namespace not found", RPCStatusCode.NOT_FOUND, b"")
    rc = RequestClient(_Client(other), "q")  # type: ignore[arg-type]
    with pytest.raises(RPCError) as caught:
        await rc.submit(INP)
    assert caught.value is other
