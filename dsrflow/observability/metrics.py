"""dsrflow's own Prometheus series: where each comes from, and the registries that serve them.

Two sources, chosen so that several workers and API processes add up to the truth:

- the ledger, read at scrape time (``LedgerCollector``, served by the API's ``/metrics``): requests
  by type and status, overdue requests, store outcomes, time to close. Whichever process moved a
  request, the ledger has it, and a restart loses nothing;
- events in the worker (``WorkerMetrics``, served by the worker's ``/metrics``): store operations
  and residual sweeps as they finish, counted per process (sum them across workers).

Labels are store names, request types, statuses and outcomes: never a request id or a subject.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from dsrflow.ledger import Ledger

CLOSE_BUCKETS: tuple[float, ...] = (
    60, 600, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400,
    60 * 86400, 90 * 86400,
)  # fmt: skip
"""Time-to-close buckets, in seconds: a minute to the GDPR's extended three months."""


class LedgerCollector(Collector):
    """The ledger's aggregates as gauges and a histogram, read on every scrape.

    Args:
        ledger: Returns the ledger (the runtime opens it on first use).
    """

    def __init__(self, ledger: Callable[[], Ledger]) -> None:
        self._ledger = ledger

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: registering must not read the ledger."""
        return []

    def collect(self) -> Iterable[Metric]:
        """Read the ledger; ``dsrflow_ledger_up`` 0 and nothing else when it cannot be read."""
        from dsrflow.ledger.stats import read_stats

        up = GaugeMetricFamily("dsrflow_ledger_up", "Whether the ledger could be read (1) or not.")
        try:
            stats = read_stats(self._ledger())
        except Exception:  # a scrape must answer; the failure is the series' value
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        requests = GaugeMetricFamily(
            "dsrflow_requests",
            "Requests in the ledger by type and status.",
            labels=["type", "status"],
        )
        for (kind, status), n in sorted(stats.requests.items()):
            requests.add_metric([kind, status], n)
        yield requests
        overdue = GaugeMetricFamily(
            "dsrflow_requests_overdue", "Open requests past their due date.", labels=["type"]
        )
        for kind, n in sorted(stats.overdue.items()):
            overdue.add_metric([kind], n)
        yield overdue
        stores = GaugeMetricFamily(
            "dsrflow_store_outcomes",
            "Store states of all requests in the ledger, by store and outcome (its status).",
            labels=["store", "outcome"],
        )
        for (store, outcome), n in sorted(stats.store_outcomes.items()):
            stores.add_metric([store, outcome], n)
        yield stores
        closing = HistogramMetricFamily(
            "dsrflow_request_time_to_close_seconds",
            "Seconds from receipt to close of ended requests, by type.",
            labels=["type"],
        )
        for kind, seconds in sorted(stats.close_seconds.items()):
            buckets = [(_le(b), float(sum(1 for s in seconds if s <= b))) for b in CLOSE_BUCKETS]
            buckets.append(("+Inf", float(len(seconds))))
            closing.add_metric([kind], buckets, sum_value=sum(seconds))
        yield closing


def _le(bound: float) -> str:
    return str(float(bound))


def ledger_registry(ledger: Callable[[], Ledger]) -> CollectorRegistry:
    """A registry holding the ledger's series only (the API's ``/metrics``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LedgerCollector(ledger))
    return registry


class WorkerMetrics:
    """Counters of what a worker process did, in their own registry (one per runtime)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.store_operations = Counter(
            "dsrflow_store_operations",
            "Store activity attempts finished by this worker, by store, operation and outcome.",
            ["store", "operation", "outcome"],
            registry=self.registry,
        )
        self.sweeps = Counter(
            "dsrflow_sweeps",
            "Residual sweeps run by this worker, by store.",
            ["store"],
            registry=self.registry,
        )
        self.sweep_hits = Counter(
            "dsrflow_sweep_hits",
            "Residual sweeps that found the subject's identifiers in rows, by store.",
            ["store"],
            registry=self.registry,
        )
