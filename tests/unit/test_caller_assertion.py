"""The caller assertion and the codec server's allowed origins (pure checks)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from dsrflow import assertions
from dsrflow.api.codec import parse_origins
from dsrflow.errors import ConfigError
from dsrflow.lifecycle import Decision, IdentityVerification

KEY = b"k" * 32
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
AT = int(NOW.timestamp())


def _check(headers: dict, **over: object) -> str | None:
    args: dict = {"request_id": "r-1", "operation": "approve", "actor": "staff:ann", "now": NOW}
    return assertions.problem(headers, KEY, **{**args, **over})


def _signed(**over: object) -> dict:
    args: dict = {"operation": "approve", "actor": "staff:ann", "at": AT}
    return {assertions.HEADER: assertions.sign(KEY, "r-1", **{**args, **over})}


def test_a_valid_assertion_passes() -> None:
    assert _check(_signed()) is None


@pytest.mark.parametrize(
    ("headers", "over", "reason"),
    [
        ({}, {}, "no dsrflow caller assertion (sent from outside dsrflow)"),
        (_signed(), {"actor": "staff:dpo-jane"}, "caller assertion names another actor"),
        (_signed(), {"operation": "deny"}, "caller assertion was made for another call"),
        (_signed(), {"request_id": "r-2"}, "caller assertion was made for another call"),
        (_signed(at=AT - 301), {}, "caller assertion is stale (older than 300 s)"),
        (_signed(at=AT + 301), {}, "caller assertion is stale (older than 300 s)"),
    ],
)
def test_refusals_name_their_reason(headers: dict, over: dict, reason: str) -> None:
    assert _check(headers, **over) == reason


def test_a_forged_or_garbled_assertion_is_refused() -> None:
    forged = _signed()
    body = json.loads(forged[assertions.HEADER].data)
    body["actor"] = "staff:dpo-jane"  # the mac no longer matches
    forged[assertions.HEADER].data = json.dumps(body).encode()
    assert _check(forged, actor="staff:dpo-jane") == "caller assertion signature is not valid"
    garbled = _signed()
    garbled[assertions.HEADER].data = b"{not json"
    assert _check(garbled) == "malformed dsrflow caller assertion"
    other_key = {assertions.HEADER: assertions.sign(b"x" * 32, "r-1", operation="approve",
                                                    actor="staff:ann", at=AT)}  # fmt: skip
    assert _check(other_key) == "caller assertion signature is not valid"


def test_freshness_can_be_switched_off_for_time_skipping_servers() -> None:
    assert _check(_signed(at=AT - 86400), max_age_s=0) is None


def test_actor_comes_from_the_update_argument() -> None:
    assert assertions.actor_of([Decision("staff:ann")]) == "staff:ann"
    assert assertions.actor_of([IdentityVerification("email_link", "staff:bo")]) == "staff:bo"
    assert assertions.actor_of([{"actor": "staff:cy"}]) == "staff:cy"
    assert assertions.actor_of([]) == ""


def test_codec_origins_default_to_the_embedded_ui_and_refuse_wildcards() -> None:
    assert parse_origins("", 8233) == ["http://127.0.0.1:8233", "http://localhost:8233"]
    assert parse_origins("https://ui.example.com/, http://ui:8080", 1) == [
        "https://ui.example.com",
        "http://ui:8080",
    ]
    for bad in ("*", "https://*.example.com", "ui.example.com", "https://ui/path"):
        with pytest.raises(ConfigError, match="DSRFLOW_CODEC_ALLOWED_ORIGINS entry 1"):
            parse_origins(bad, 1)
