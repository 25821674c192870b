"""Helpers for the message tests: a runtime with mail settings, and projected snapshots."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dsrflow.domain import (
    ArtifactRef,
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

SENDER = Principal.of("system:messages", ["admin"])
ADDRESS = "alice.subject@example.org"
RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def runtime(tmp: Path, **extra: str) -> Runtime:
    env = {
        "DSRFLOW_STATE_DIR": str(tmp / "state"),
        "DSRFLOW_CATALOG": str(tmp / "none.yaml"),
        "DSRFLOW_TASK_QUEUE": f"msg-{uuid.uuid4().hex[:8]}",
        "DSRFLOW_MESSAGES_RETRY_INITIAL_S": "60",
        "DSRFLOW_MESSAGES_RETRY_MAX_S": "600",
        **extra,
    }
    return Runtime(Settings.load(env), env, migrate_ledger=True)


class Projector:
    """Feeds a request's snapshots to the ledger the way the workflow does (rising ``seq``)."""

    def __init__(self, rt: Runtime, request_id: str, rtype: RequestType = RequestType.ERASURE):
        self.rt, self.request_id, self.rtype = rt, request_id, rtype
        self.seq = 0
        self.actions: list[HumanAction] = []
        self.due = datetime(2026, 4, 2, 23, 59, 59, tzinfo=UTC)

    def act(self, actor: str, action: str, detail: str = "", store: str | None = None) -> None:
        at = RECEIVED + timedelta(days=len(self.actions) + 1)
        self.actions.append(HumanAction(len(self.actions) + 1, at, actor, action, store, detail))

    def event(
        self, status: RequestStatus, *, reason: str = "", artifact: ArtifactRef | None = None
    ) -> ProjectionEvent:
        self.seq += 1
        return ProjectionEvent(
            request_id=self.request_id, request_type=self.rtype, status=status,
            received_at=RECEIVED, stores=[StoreOutcome("shop", "sql", StoreStatus.PENDING)],
            artifact=artifact, seq=self.seq, due_at=self.due, reason=reason,
            actions=list(self.actions),
        )  # fmt: skip

    def project(self, status: RequestStatus, **kw: object) -> ProjectionEvent:
        event = self.event(status, **kw)  # type: ignore[arg-type]
        self.rt.ledger.apply(event)
        return event
