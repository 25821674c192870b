"""The request's state and rules as plain, deterministic classes: no Temporal, no I/O.

``RequestMachine`` holds one request (gates, people's decisions, deadlines, history) and its
``StoreTable`` (store outcomes, legal transitions, readiness, decisions on stuck stores). The
workflow drives it; the unit tests drive it directly.
"""

from dsrflow.workflows.machine.people import Act
from dsrflow.workflows.machine.request import RequestMachine
from dsrflow.workflows.machine.rules import (
    DRY_RUN_REASON,
    WORKLOAD,
    Refused,
    check_attestation,
    need_actor,
)
from dsrflow.workflows.machine.stores import IllegalTransition, StoreTable

__all__ = [
    "DRY_RUN_REASON",
    "WORKLOAD",
    "Act",
    "IllegalTransition",
    "Refused",
    "RequestMachine",
    "StoreTable",
    "check_attestation",
    "need_actor",
]
