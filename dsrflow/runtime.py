"""Composition root: builds every long-lived object from ``Settings`` once, and nothing else does.

The CLI, ``dsrflow dev``, the worker and the tests all go through ``Runtime``; activity classes
receive their collaborators through constructors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from dsrflow.errors import Unavailable, UserError
from dsrflow.settings import Settings, TemporalSettings

if TYPE_CHECKING:
    import asyncio

    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from temporalio.client import Client, Interceptor
    from temporalio.runtime import Runtime as TemporalRuntime
    from temporalio.service import TLSConfig
    from temporalio.worker import Worker

    from dsrflow.adapters.registry import AdapterRegistry
    from dsrflow.artifacts import ArtifactStore
    from dsrflow.catalog import Catalog
    from dsrflow.crypto.keystore import KeyStore
    from dsrflow.evidence.issuer import EvidenceIssuer
    from dsrflow.keys.manager import KeyManager
    from dsrflow.ledger import Ledger
    from dsrflow.ledger.journal import ReceiptJournal
    from dsrflow.messages.render import Templates
    from dsrflow.observability.endpoints import Checks, Exposition
    from dsrflow.observability.metrics import WorkerMetrics
    from dsrflow.tlog.store import SqlLog


WORKER_SHUTDOWN_GRACE = timedelta(seconds=10)
"""How long running activities get to finish when a worker stops."""


@dataclass
class Runtime:
    """Long-lived collaborators of one dsrflow process."""

    settings: Settings
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    migrate_ledger: bool = False
    """Migrate the ledger when first opened (``dsrflow dev``, tests) instead of refusing to
    start when its revision is not this dsrflow's."""
    trace_exporter: SpanExporter | None = None
    """Where spans go instead of OTLP when ``DSRFLOW_OTEL_ENABLED`` (tests, an embedding
    program)."""

    @cached_property
    def ledger(self) -> Ledger:
        """The ledger database."""
        from dsrflow.ledger import Ledger

        return Ledger(self.settings.ledger_database_url, migrate=self.migrate_ledger)

    @cached_property
    def keystore(self) -> KeyStore:
        """Per-request data keys."""
        from dsrflow.crypto.keystore import KeyStore, load_kek

        return KeyStore(self.ledger, load_kek(self.settings.keys_dir, self.settings.secret_env()))

    @cached_property
    def artifacts(self) -> ArtifactStore:
        """Access packages, evidence bundles, openings."""
        from dsrflow.artifacts import ArtifactStore

        return ArtifactStore(self.settings.artifacts_dir, self.keystore)

    @cached_property
    def journal(self) -> ReceiptJournal:
        """Durable store receipts and the subject blind index (key kept like the data keys)."""
        from dsrflow.ledger.journal import BLIND_INDEX_OWNER, ReceiptJournal

        return ReceiptJournal(self.ledger, lambda: self.keystore.key_for(BLIND_INDEX_OWNER)[1])

    @cached_property
    def templates(self) -> Templates:
        """The message templates (shipped, overridden by ``messages.templates_dir``)."""
        from dsrflow.messages.render import Templates

        return Templates(self.settings.messages.templates_dir)

    @cached_property
    def registry(self) -> AdapterRegistry:
        """Installed adapters, less those the operator blocked (never imported)."""
        from dsrflow.adapters.registry import AdapterRegistry

        return AdapterRegistry.from_entry_points(blocked=self.settings.adapters.blocked_names)

    @cached_property
    def catalog(self) -> Catalog:
        """The validated store catalog."""
        from dsrflow.catalog import load_catalog

        return load_catalog(self.settings.catalog, self.registry)

    @cached_property
    def keys(self) -> KeyManager:
        """The controller's keyring and signing keys (``state_dir/keys``)."""
        from dsrflow.keys.manager import KeyManager

        # The passphrases may come from the secrets folder or .env, not only the environment.
        env = {**self.env, **self.settings.secret_env()}
        return KeyManager(self.settings.keys_dir, env, self.settings.signing.passphrase_env)

    @cached_property
    def tlog(self) -> SqlLog:
        """The transparency log of evidence envelopes (ledger tables)."""
        from dsrflow.tlog.store import SqlLog

        return SqlLog(self.ledger)

    def evidence_issuer(self) -> EvidenceIssuer:
        """Signs and logs bundles; built inside the signing activity, keys created on first use."""
        from dsrflow.evidence.issuer import EvidenceIssuer

        self.keys.ensure(self.settings.controller)
        return EvidenceIssuer(self.keys, self.tlog)

    @cached_property
    def tracer_provider(self) -> TracerProvider | None:
        """The process's tracer provider when tracing is on (``DSRFLOW_OTEL_*``)."""
        if not self.settings.otel.enabled:
            return None
        from dsrflow.observability.tracing import tracer_provider

        return tracer_provider(self.settings.otel, self.trace_exporter)

    @cached_property
    def _client_interceptors(self) -> list[Interceptor]:
        from dsrflow.assertions import CallerSigner

        chain: list[Interceptor] = [CallerSigner(self.caller_key)]
        if (provider := self.tracer_provider) is not None:
            from dsrflow.observability.tracing import tracing_interceptor

            chain.append(tracing_interceptor(provider))  # workers on this client inherit it
        return chain

    @cached_property
    def worker_metrics(self) -> WorkerMetrics:
        """This process's worker counters (store operations, sweeps)."""
        from dsrflow.observability.metrics import WorkerMetrics

        return WorkerMetrics()

    @cached_property
    def sdk_metrics_port(self) -> int | None:
        """Loopback port of the SDK's Prometheus listener (only with the worker endpoint)."""
        m = self.settings.metrics
        if m.worker_port is None:
            return None
        from dsrflow.observability.serving import free_loopback_port

        return m.sdk_port or free_loopback_port()

    @cached_property
    def temporal_runtime(self) -> TemporalRuntime | None:
        """An SDK runtime exporting its metrics to Prometheus, or None (the SDK's default)."""
        port = self.sdk_metrics_port
        if port is None:
            return None
        from temporalio.runtime import PrometheusConfig, TelemetryConfig
        from temporalio.runtime import Runtime as SdkRuntime

        prometheus = PrometheusConfig(bind_address=f"127.0.0.1:{port}")
        return SdkRuntime(telemetry=TelemetryConfig(metrics=prometheus))

    async def client(self, *, sdk_metrics: bool = False) -> Client:
        """A Temporal client with dsrflow's encrypting data converter.

        Args:
            sdk_metrics: Connect through ``temporal_runtime`` (the worker process), so the
                SDK's series of this client and its workers reach the worker's ``/metrics``.

        Raises:
            Unavailable: Temporal cannot be reached.

        """
        from temporalio.client import Client

        from dsrflow.crypto.codec import data_converter

        t = self.settings.temporal
        api_key = t.api_key.get_secret_value() if t.api_key else None
        if api_key is None and t.api_key_env:
            api_key = self.env.get(t.api_key_env) or None
        try:
            return await Client.connect(
                t.address,
                namespace=t.namespace,
                data_converter=data_converter(self.keystore),
                interceptors=self._client_interceptors,
                tls=_tls_config(t) if t.uses_tls or api_key else False,
                api_key=api_key,
                runtime=self.temporal_runtime if sdk_metrics else None,
            )
        except RuntimeError as exc:
            raise Unavailable(
                f"cannot reach Temporal at {t.address} ({str(exc).splitlines()[0]}); "
                "is `dsrflow dev` (or your cluster) running?",
                public="cannot reach Temporal; try again later",
            ) from None

    def caller_key(self) -> bytes:
        """The key that signs and checks caller assertions (kept like the data keys)."""
        from dsrflow.assertions import KEY_OWNER

        return self.keystore.key_for(KEY_OWNER)[1]

    async def reconcile_forever(self, client: Client) -> None:
        """The worker's reconciler loop (``settings.reconcile_interval_s``; 0 turns it off)."""
        from dsrflow.reconciler import Reconciler
        from dsrflow.requests_client import RequestClient

        interval = self.settings.reconcile_interval_s
        if interval <= 0:
            return
        rc = RequestClient(client, self.settings.task_queue)
        await Reconciler(self.ledger, rc).run_forever(timedelta(seconds=interval))

    async def anchor_forever(self) -> None:
        """The worker's audit anchoring loop (``settings.audit_anchor_interval_s``; 0: off)."""
        import asyncio

        import structlog

        from dsrflow.service.auditlog import AnchorAudit
        from dsrflow.service.principal import Principal

        interval = self.settings.audit_anchor_interval_s
        if interval <= 0:
            return
        worker = Principal.of("system:worker", ["admin"])
        log = structlog.get_logger("dsrflow.audit")
        while True:
            try:
                await asyncio.to_thread(AnchorAudit(self).run, worker)
            except Exception as exc:  # keep anchoring on the next round; say why this one failed
                log.warning("audit anchor failed", error=type(exc).__name__)
            await asyncio.sleep(interval)

    async def messages_forever(self) -> None:
        """The worker's message sender loop (``messages.send_interval_s``; 0: off)."""
        import asyncio

        import structlog

        from dsrflow.service.messages import SendPending
        from dsrflow.service.principal import Principal

        interval = self.settings.messages.send_interval_s
        if interval <= 0:
            return
        worker = Principal.of("system:messages", ["admin"])
        log = structlog.get_logger("dsrflow.messages")
        while True:
            try:
                await asyncio.to_thread(SendPending(self).run, worker)
            except Exception as exc:  # send on the next round; say why this one failed
                log.warning("message round failed", error=type(exc).__name__)
            await asyncio.sleep(interval)

    def codec_app(self) -> FastAPI:
        """The codec server app (the Temporal UI decodes request payloads through it)."""
        from dsrflow.api.codec import create_codec_app, parse_origins, parse_tokens

        ui = self.settings.ui.port
        return create_codec_app(
            self.keystore,
            self.ledger,
            parse_tokens(
                tokens.get_secret_value() if (tokens := self.settings.codec.tokens) else None
            ),
            parse_origins(self.settings.codec_allowed_origins, ui),
        )

    def api_app(self) -> FastAPI:
        """The HTTP API app, the console and the privacy center on one app.

        ``dsrflow serve`` and ``dsrflow dev`` run it (docs/api.md, docs/console.md).
        """
        from dsrflow.api.app import create_api_app
        from dsrflow.console.web import install

        app = create_api_app(self)
        install(app, self)
        return app

    def api_ops(self) -> tuple[Checks, Exposition | None, str | None]:
        """The API's ``/readyz`` checks, ``/metrics`` body (None: off) and metrics token."""
        from dsrflow.observability.serving import api_ops

        return api_ops(lambda: self.ledger, self.settings.metrics)

    def worker_endpoint_app(self, client: Client, running: asyncio.Task[None]) -> FastAPI:
        """The worker's ``/metrics`` (its counters and the SDK's), ``/healthz``, ``/readyz``."""
        from dsrflow.observability.serving import worker_endpoint_app

        return worker_endpoint_app(
            lambda: self.ledger, client, running, self.worker_metrics.registry,
            sdk_port=self.sdk_metrics_port, settings=self.settings.metrics,
        )  # fmt: skip

    def worker(self, client: Client, task_queue: str | None = None) -> Worker:
        """A worker running the request workflow and every activity."""
        from temporalio.worker import Worker

        from dsrflow.activities.batch import BatchActivities
        from dsrflow.activities.checks import CheckActivities
        from dsrflow.activities.ledger import LedgerActivities
        from dsrflow.activities.results import ResultActivities
        from dsrflow.activities.stores import StoreActivities
        from dsrflow.activities.sweep import SweepActivities
        from dsrflow.catalog.pool import AdapterPool
        from dsrflow.ledger.batch_answers import BatchAnswers
        from dsrflow.observability.interceptor import ActivityMetrics
        from dsrflow.workflows.batch import ErasureBatchWorkflow
        from dsrflow.workflows.common import sandbox_runner
        from dsrflow.workflows.dsr import DataSubjectRequestWorkflow
        from dsrflow.workflows.guard import CallerCheck

        pool = AdapterPool(self.catalog, self.registry, self.env)
        stores = StoreActivities(pool, self.artifacts, journal=self.journal)
        sweeps = SweepActivities(pool)
        checks = CheckActivities(stores, sweeps)
        batches = BatchActivities(
            pool, self.keystore, journal=self.journal, answers=BatchAnswers(self.ledger)
        )
        results = ResultActivities(
            self.artifacts,
            self.evidence_issuer,
            self.settings.retention_days,
            authority=self.settings.messages.authority,
        )
        ledger = LedgerActivities(self.ledger)
        return Worker(
            client,
            task_queue=task_queue or self.settings.task_queue,
            workflows=[DataSubjectRequestWorkflow, ErasureBatchWorkflow],
            workflow_runner=sandbox_runner(),
            interceptors=[
                CallerCheck(self.caller_key(), self.settings.caller_assertion_max_age_s),
                ActivityMetrics(self.worker_metrics),
            ],
            activities=[
                stores.get_policy,
                stores.plan_request,
                stores.resolve_identities,
                stores.access_store,
                stores.erase_store,
                stores.rectify_store,
                stores.restrict_store,
                stores.verify_store,
                sweeps.sweep_store,
                checks.check_store,
                batches.seal_identities,
                batches.erase_batch,
                batches.check_batch_result,
                results.assemble_access_package,
                results.build_evidence_bundle,
                ledger.project,
                ledger.notify,
            ],
            activity_executor=ThreadPoolExecutor(max_workers=16, thread_name_prefix="dsr-act"),
            max_concurrent_activities=16,
            # A task the worker took must finish within the workflow-task timeout: the SDK's
            # 100 at once on a small machine took 5-8 s each under load (docs/benchmarks.md).
            max_concurrent_workflow_tasks=self.settings.worker_workflow_tasks,
            graceful_shutdown_timeout=WORKER_SHUTDOWN_GRACE,
        )


def _tls_config(t: TemporalSettings) -> TLSConfig | bool:
    """TLS to the frontend: system roots, or the configured CA, client pair and server name.

    Raises:
        UserError: A configured file cannot be read (names the variable).

    """
    from temporalio.service import TLSConfig

    def read(name: str, path: Path | None) -> bytes | None:
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError as exc:
            raise UserError(
                f"DSRFLOW_TEMPORAL_{name}: cannot read {path} ({exc.strerror})"
            ) from None

    if not any((t.tls_ca, t.tls_client_cert, t.tls_server_name)):
        return True
    return TLSConfig(
        server_root_ca_cert=read("TLS_CA", t.tls_ca),
        domain=t.tls_server_name,
        client_cert=read("TLS_CLIENT_CERT", t.tls_client_cert),
        client_private_key=read("TLS_CLIENT_KEY", t.tls_client_key),
    )
