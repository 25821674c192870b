"""JSON logs name their logger and keep the Temporal SDK's context (ids, types) readable, while
personal data is still redacted: through the SDK's real activity logger adapter."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
import structlog
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from dsrflow.logging import configure

pytestmark = pytest.mark.unit

SUBJECT = "alice.logctx@example.com"


@activity.defn(name="erase_store")
def _erase() -> None:
    activity.logger.warning(f"store could not find {SUBJECT}")
    structlog.get_logger("dsrflow.activities.stores").warning(
        "erased", request_id="dsr-20261203-ab12", store="shop", email=SUBJECT
    )


def _events(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_sdk_context_and_logger_names_are_kept_personal_data_is_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("json", "info")
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        activity_type="erase_store",
        activity_id="7",
        workflow_id="dsr-20261203-ab12",
        workflow_type="DataSubjectRequestWorkflow",
        task_queue="dsrflow",
    )
    try:
        env.run(_erase)
    finally:
        logging.getLogger().handlers.clear()  # the handler holds capsys's stream
    err = capsys.readouterr().err
    assert SUBJECT not in err
    sdk, ours = _events(err)

    assert sdk["logger"] == "temporalio.activity"
    assert sdk["activity_type"] == "erase_store" and sdk["activity_id"] == "7"
    assert sdk["workflow_id"] == "dsr-20261203-ab12"
    assert sdk["workflow_type"] == "DataSubjectRequestWorkflow"
    assert sdk["task_queue"] == "dsrflow" and sdk["attempt"] == 1
    # the message is the SDK's words with the subject scrubbed, not a redacted dict repr
    assert sdk["event"] == "store could not find [redacted]"

    assert ours["logger"] == "dsrflow.activities.stores"
    assert ours["request_id"] == "dsr-20261203-ab12" and ours["store"] == "shop"
    assert ours["email"] == "[redacted]"
