"""Helpers for the application-layer tests: a runtime on a temporary state folder."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dsrflow.domain import (
    HumanAction,
    ProjectionEvent,
    RequestStatus,
    RequestType,
    StoreOutcome,
    StoreStatus,
)
from dsrflow.runtime import Runtime
from dsrflow.service.principal import Principal
from dsrflow.settings import Settings

ADMIN = Principal.of("staff:root", ["admin"])
AUDITOR = Principal.of("staff:aud", ["auditor"])
ANALYST = Principal.of("staff:ann", ["analyst"])
ENGINEER = Principal.of("staff:eng", ["engineer"])


def runtime(tmp: Path) -> Runtime:
    """A runtime with its own state folder (SQLite ledger) and no catalog file."""
    env = {
        "DSRFLOW_STATE_DIR": str(tmp / "state"),
        "DSRFLOW_CATALOG": str(tmp / "none.yaml"),
        "DSRFLOW_TASK_QUEUE": f"svc-{uuid.uuid4().hex[:8]}",
    }
    return Runtime(Settings.load(env), env, migrate_ledger=True)


def env_of(tmp: Path) -> dict[str, str]:
    """The environment a CliRunner needs to reach ``runtime(tmp)``'s state."""
    return {
        "DSRFLOW_STATE_DIR": str(tmp / "state"),
        "DSRFLOW_CATALOG": str(tmp / "none.yaml"),
        "DSRFLOW_ACTOR": "staff:cli",
        "DSRFLOW_TEMPORAL_ADDRESS": "127.0.0.1:1",
    }


def project(
    rt: Runtime,
    request_id: str,
    status: RequestStatus = RequestStatus.RUNNING,
    *,
    reason: str = "",
    detail: str = "",
    store: str = "shop",
    ended_days_ago: float | None = None,
) -> None:
    """Put a request in the ledger as the workflow's projection would."""
    now = datetime.now(UTC)
    rt.ledger.apply(
        ProjectionEvent(
            request_id=request_id,
            request_type=RequestType.ERASURE,
            status=status,
            received_at=now - timedelta(days=40),
            stores=[
                StoreOutcome(
                    store,
                    "sql",
                    StoreStatus.PENDING,
                    error_type="E" if detail else None,
                    error=detail or None,
                )
            ],
            seq=1,
            reason=reason,
            due_at=now + timedelta(days=20),
            actions=[HumanAction(1, now, "staff:bob", "approved", store, detail)],
        )
    )
    if ended_days_ago is not None:
        from dsrflow.ledger.models import RequestRow

        with rt.ledger.session() as s:
            row = s.get(RequestRow, request_id)
            assert row is not None
            row.completed_at = now - timedelta(days=ended_days_ago)
