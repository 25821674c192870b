"""What the API's and the worker's operational endpoints answer with: checks and exposition.

Built by the composition root (``Runtime.api_ops`` and ``Runtime.worker_endpoint_app``).
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest

if TYPE_CHECKING:
    from fastapi import FastAPI
    from temporalio.client import Client

    from dsrflow.ledger import Ledger
    from dsrflow.observability.endpoints import Checks, Exposition
    from dsrflow.settings import MetricsSettings

CHECK_TIMEOUT = timedelta(seconds=3)
"""How long one readiness check may take (a probe must answer well inside its own timeout)."""


def ledger_reachable(ledger: Callable[[], Ledger]) -> bool:
    """Whether the ledger answers a trivial query."""
    from sqlalchemy import text

    try:
        with ledger().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


async def temporal_reachable(client: Client) -> bool:
    """Whether Temporal's frontend answers its health check."""
    try:
        return await client.service_client.check_health(timeout=CHECK_TIMEOUT)
    except Exception:
        return False


async def in_thread_with_timeout(fn: Callable[[], bool]) -> bool:
    """Run a blocking check in a thread; a check past ``CHECK_TIMEOUT`` has failed."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn), CHECK_TIMEOUT.total_seconds())
    except TimeoutError:
        return False


def exposition(
    registry: CollectorRegistry, sdk_port: int | None = None
) -> Callable[[], Awaitable[bytes]]:
    """The ``/metrics`` body: ``registry``'s series, then the Temporal SDK's when it has a port.

    The SDK serves its series on its own loopback listener (``PrometheusConfig``); one endpoint
    per process is simpler to scrape and to secure, so its text is appended here.
    """

    async def render() -> bytes:
        ours = await asyncio.to_thread(generate_latest, registry)
        if sdk_port is None:
            return ours
        return ours + await asyncio.to_thread(_sdk_text, sdk_port)

    return render


def _sdk_text(port: int) -> bytes:
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=CHECK_TIMEOUT.total_seconds()) as r:
            body: bytes = r.read()
    except OSError:
        return b"# the Temporal SDK's metrics listener did not answer\n"
    return body


def free_loopback_port() -> int:
    """A loopback port free a moment ago (for the SDK's listener, which cannot report its own)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def api_ops(
    ledger: Callable[[], Ledger], settings: MetricsSettings
) -> tuple[Checks, Exposition | None, str | None]:
    """The API's readiness (the ledger answers), ``/metrics`` body (None: off) and token.

    Temporal is not a readiness check of the API: reads, the console and the privacy center
    work without it, and the operations that need it answer 503 on their own.
    """
    from dsrflow.observability.metrics import ledger_registry

    async def ready() -> dict[str, bool]:
        return {"ledger": await in_thread_with_timeout(lambda: ledger_reachable(ledger))}

    metrics = exposition(ledger_registry(ledger)) if settings.api else None
    return ready, metrics, settings.token.get_secret_value() if settings.token else None


def worker_endpoint_app(
    ledger: Callable[[], Ledger],
    client: Client,
    running: asyncio.Task[None],
    registry: CollectorRegistry,
    *,
    sdk_port: int | None,
    settings: MetricsSettings,
) -> FastAPI:
    """The worker's endpoint: ready while the worker runs, Temporal and the ledger answer."""
    from fastapi import FastAPI

    from dsrflow.api.hardening import Hardening
    from dsrflow.observability.endpoints import OpsEndpoints

    async def ready() -> dict[str, bool]:
        return {
            "worker": not running.done(),
            "temporal": await temporal_reachable(client),
            "ledger": await in_thread_with_timeout(lambda: ledger_reachable(ledger)),
        }

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(
        OpsEndpoints,
        ready=ready,
        metrics=exposition(registry, sdk_port),
        token=settings.token.get_secret_value() if settings.token else None,
    )
    app.add_middleware(Hardening, max_body_bytes=1024)  # the same headers as the API's answers
    return app
