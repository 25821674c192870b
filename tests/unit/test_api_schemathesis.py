"""Schemathesis against the API's own OpenAPI document, in process (ASGI), as an admin.

Generated requests (valid and not) must never get a 5xx, except the documented 503 of an
operation that needs Temporal (``x-dsrflow-temporal``: Temporal is deliberately unreachable
here), and every response must carry the security headers and match the document (status
codes, content types, bodies).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from dsrflow.api.app import OPENAPI
from dsrflow.api.context import TEMPORAL
from tests.unit.api_kit import SECURITY_HEADERS, api_runtime, finished_request, token

TEMPORAL_DOWN = "cannot reach Temporal; try again later"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    # A generous sign-in limit: a fuzzer's bad tokens must not lock the admin out mid-run.
    rt = api_runtime(tmp_path_factory.mktemp("fuzz"), DSRFLOW_API_AUTH_FAILURES="1000000")
    finished_request(rt, "dsr-fuzz")
    app = rt.api_app()
    yield {"app": app, "token": token(rt, "admin", actor="staff:fuzz")}
    rt.ledger.close()


def no_server_error(ctx: Any, response: Any, case: Any) -> None:
    """No 5xx, but the documented 503 while Temporal cannot be reached."""
    if response.status_code < 500:
        return
    temporal = bool(case.operation.definition.raw.get(TEMPORAL))
    message = json.loads(response.content).get("error", "")
    if response.status_code == 503 and temporal and message == TEMPORAL_DOWN:
        return
    raise AssertionError(f"{response.status_code} from {case.operation.label}: {message}")


def security_headers(ctx: Any, response: Any, case: Any) -> None:
    """Every answer carries the security headers."""
    for name, value in SECURITY_HEADERS.items():
        got = response.headers.get(name)
        assert got == [value], f"{case.operation.label} {response.status_code}: {name}={got}"


def one_line_errors(ctx: Any, response: Any, case: Any) -> None:
    """Every error is one line of JSON with only ``error``, and no trace."""
    if response.status_code < 400:
        return
    body = json.loads(response.content)
    assert set(body) == {"error"} and "\n" not in body["error"], body
    assert "Traceback" not in body["error"]


def invalid_data_rejected(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis's rejection check, counting 413 (body over the cap) as a rejection too."""
    if response.status_code == 413:
        return None
    return negative_data_rejection(ctx, response, case)


CHECKS = [
    no_server_error,
    security_headers,
    one_line_errors,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    invalid_data_rejected,
]


# Each operation gets random path values, then the request that exists (with its deliverables),
# in both modes: data that fits the document and data that does not.
KNOWN = {"request_id": "dsr-fuzz", "store": "shop"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("known_ids", [False, True], ids=["random-ids", "known-ids"])
def test_api_against_its_openapi_document(
    api: dict[str, Any], mode: GenerationMode, known_ids: bool
) -> None:
    # schemathesis.pytest.from_fixture does not run under pytest 9 (it sets Function._nodeid),
    # so the operations are driven through their Hypothesis strategies directly.
    schema = schemathesis.openapi.from_asgi(OPENAPI, api["app"])
    headers = {"Authorization": f"Bearer {api['token']}"}
    failures, tried = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        params = {p.name for p in operation.path_parameters}
        if known_ids and not params:
            continue
        fixed = {k: v for k, v in KNOWN.items() if k in params} if known_ids else None
        strategy = operation.as_strategy(mode, path_parameters=fixed)

        @given(case=strategy)
        @settings(
            max_examples=10, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck), phases=[Phase.generate],
        )  # fmt: skip
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        tried += 1
        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert tried >= (5 if known_ids else 20)
    assert not failures, "\n\n".join(failures)
