"""The Dockerfile and compose.yaml, checked without building or running them (no image registry
here, docs/deployment.md): every DSRFLOW_* variable is a setting and its value loads, every
command the image runs is a CLI command taking the options given, ports agree across the files
and the docs, and the trial catalog loads."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.catalog import load_catalog
from dsrflow.devserver import SEARCH_ATTRIBUTES
from dsrflow.settings import Settings
from tests.fixtures.cli import invoke

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
DOCS = (ROOT / "docs" / "deployment.md").read_text()


def dockerfile(instruction: str) -> list[str]:
    """The arguments of every ``instruction`` line (continuations joined)."""
    text = DOCKERFILE.replace("\\\n", " ")
    return [
        line.split(None, 1)[1]
        for line in text.splitlines()
        if line.split(None, 1)[:1] == [instruction]
    ]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for args in dockerfile("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def is_setting(name: str) -> bool:
    """Whether ``DSRFLOW_<FIELD>`` or ``DSRFLOW_<GROUP>_<FIELD>`` names a field of Settings."""
    key = name.removeprefix("DSRFLOW_").lower()
    field = Settings.model_fields.get(key)
    if field is not None and not hasattr(field.annotation, "model_fields"):
        return True
    group, _, rest = key.partition("_")
    model = Settings.model_fields.get(group)
    return model is not None and rest in getattr(model.annotation, "model_fields", {})


def dsrflow_services() -> dict[str, dict[str, Any]]:
    """The services running the dsrflow image with its entrypoint (``dsrflow``)."""
    return {
        name: svc
        for name, svc in SERVICES.items()
        if svc.get("image") == "dsrflow:trial" and "entrypoint" not in svc
    }


def published(service: str) -> list[tuple[int, int]]:
    return [tuple(int(p) for p in port.split(":")) for port in SERVICES[service].get("ports", [])]  # type: ignore[misc]


def test_every_dsrflow_variable_is_a_setting_and_its_values_load() -> None:
    env_sets = [dockerfile_env()] + [svc.get("environment", {}) for svc in SERVICES.values()]
    names = {k for env in env_sets for k in env if k.startswith("DSRFLOW_")}
    assert len(names) >= 8, names
    unknown = sorted(n for n in names if not is_setting(n))
    assert unknown == [], f"not settings of dsrflow: {unknown}"
    for name, svc in dsrflow_services().items():
        env = {**dockerfile_env(), **{k: str(v) for k, v in svc.get("environment", {}).items()}}
        settings = Settings.load({**env, "DSRFLOW_ENV_FILE": "/dev/null"})  # raises if wrong
        if name == "worker":
            assert settings.metrics.worker_port is not None  # its health check needs it


def test_the_image_runs_the_dsrflow_cli_as_a_non_root_user() -> None:
    assert dockerfile("FROM") == ["python:3.11-slim"]
    assert any('".[server]"' in run or "'.[server]'" in run for run in dockerfile("RUN"))
    assert dockerfile("ENTRYPOINT") == ['["dsrflow"]']
    [user] = dockerfile("USER")
    assert user not in ("root", "0")
    assert any("useradd" in run and f"--create-home {user}" in run for run in dockerfile("RUN"))
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dsrflow = "dsrflow.cli.main:main"' in pyproject


def test_every_command_the_image_runs_is_a_cli_command_with_those_options() -> None:
    commands = [["worker"]]  # the Dockerfile's CMD
    commands += [svc["command"] for svc in dsrflow_services().values()]
    assert ["serve", "--host", "0.0.0.0", "--port", "8235"] in commands
    assert ["ledger", "upgrade"] in commands
    for command in commands:
        words = [w for w in command if not w.startswith("-")]
        options = [w.split("=")[0] for w in command if w.startswith("--")]
        path = [w for w in words if re.fullmatch(r"[a-z][a-z-]*", w)]
        run = invoke(*path, "--help")
        assert run.returncode == 0, (command, run.stdout, run.stderr)
        for option in options:
            assert option in run.stdout, (command, option, run.stdout)


def test_ports_agree_between_compose_dockerfile_and_docs() -> None:
    exposed = {int(p) for args in dockerfile("EXPOSE") for p in args.split()}
    worker_port = int(SERVICES["worker"]["environment"]["DSRFLOW_METRICS_WORKER_PORT"])
    api_cmd = SERVICES["api"]["command"]
    api_port = int(api_cmd[api_cmd.index("--port") + 1])
    assert {worker_port, api_port} <= exposed
    assert (worker_port, worker_port) in published("worker")
    assert (api_port, api_port) in published("api")
    assert f"127.0.0.1:{worker_port}/readyz" in " ".join(SERVICES["worker"]["healthcheck"]["test"])
    assert f"127.0.0.1:{api_port}/readyz" in " ".join(SERVICES["api"]["healthcheck"]["test"])
    temporal = SERVICES["temporal"]["command"]
    frontend = next(int(a.split("=")[1]) for a in temporal if a.startswith("--port="))
    ui = next(int(a.split("=")[1]) for a in temporal if a.startswith("--ui-port="))
    address = SERVICES["worker"]["environment"]["DSRFLOW_TEMPORAL_ADDRESS"]
    assert address == f"temporal:{frontend}"
    assert (ui, ui) in published("temporal")
    for port in (worker_port, api_port, frontend, ui):
        assert re.search(rf"\b{port}\b", DOCS), f"port {port} is not in docs/deployment.md"
    assert "not built in CI" in DOCS


def test_services_depend_on_what_exists_and_have_health_checks() -> None:
    for name, svc in SERVICES.items():
        for needed, how in svc.get("depends_on", {}).items():
            assert needed in SERVICES, (name, needed)
            if how["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[needed], needed
        if svc.get("restart") != "no":  # one-shot jobs (the migration) have none
            assert "healthcheck" in svc, name
    registered = [a.split("=", 1)[1] for a in SERVICES["temporal"]["command"]
                  if a.startswith("--search-attribute=")]  # fmt: skip
    assert registered == [f"{k}={v}" for k, v in SEARCH_ATTRIBUTES.items()]


def test_the_trial_catalog_loads() -> None:
    mounts = SERVICES["worker"]["volumes"]
    [source] = [m.split(":")[0] for m in mounts if m.split(":")[1] == "/etc/dsrflow/catalog.yaml"]
    catalog = load_catalog(ROOT / source, AdapterRegistry.from_entry_points(blocked=frozenset()))
    assert list(catalog.stores) == ["shop"]
    # the store's password reaches the worker, which connects (the API does not)
    assert "password_env: SHOP_DB_PASSWORD" in (ROOT / source).read_text()
    assert "SHOP_DB_PASSWORD" in SERVICES["worker"]["environment"]
