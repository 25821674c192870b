"""The workflow's typed activity stubs name real activities with their real types."""

from __future__ import annotations

import typing

from dsrflow.activities.batch import BatchActivities
from dsrflow.activities.checks import CheckActivities
from dsrflow.activities.ledger import LedgerActivities
from dsrflow.activities.results import ResultActivities
from dsrflow.activities.stores import StoreActivities
from dsrflow.activities.sweep import SweepActivities
from dsrflow.domain import RequestType
from dsrflow.workflows import acts
from dsrflow.workflows.machine.rules import CAPABILITY


def _registered() -> dict[str, tuple[type, type]]:
    """Each registered activity's name -> (input type, result type), from its signature."""
    found = {}
    for cls in (
        BatchActivities,
        CheckActivities,
        LedgerActivities,
        ResultActivities,
        StoreActivities,
        SweepActivities,
    ):
        for fn in vars(cls).values():
            defn = getattr(fn, "__temporal_activity_definition", None)
            if defn is None:
                continue
            hints = typing.get_type_hints(fn)
            ret = hints.pop("return")
            (arg,) = hints.values()
            found[defn.name] = (arg, ret)
    return found


def test_every_stub_matches_its_activity() -> None:
    registered = _registered()
    for stub in acts.ALL:
        assert stub.name in registered, f"no activity is registered as {stub.name!r}"
        assert (stub.input_type, stub.result_type) == registered[stub.name], stub.name
    assert {s.name for s in acts.ALL} == set(registered), "an activity has no stub"


def test_every_request_type_has_a_verb_for_its_capability() -> None:
    for rtype in RequestType:
        assert acts.VERBS[rtype].name.startswith(CAPABILITY[rtype])
