"""No personal data in logs: the redaction processor is the safety net."""

from __future__ import annotations

import logging

import pytest
import structlog

from dsrflow.logging import configure, redact_processor
from dsrflow.redact import scrub


def test_sensitive_keys_and_free_text_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure("json", "info")
    log = structlog.get_logger("t")
    log.info(
        "lookup for alice@example.com failed",
        email="alice@example.com",
        identities=["customer_id:1"],
        detail="WHERE name = 'Alice Example' phone +44 20 7946 0101",
        request_id="dsr-20261122-abcd",
        store="shop",
    )
    logging.getLogger("temporalio.x").warning("payload for bob@example.com")
    err = capsys.readouterr().err
    for leaked in (
        "alice@example.com",
        "Alice Example",
        "7946",
        "bob@example.com",
        "customer_id:1",
    ):
        assert leaked not in err
    assert "dsr-20261122-abcd" in err and '"store": "shop"' in err
    assert err.count("[redacted]") >= 5


def test_processor_keeps_safe_values() -> None:
    event = {"event": "erased", "matched": 3, "timestamp": "2026-11-22T10:00:00Z"}
    assert redact_processor(None, "info", dict(event)) == event


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ('no such table: "customers"', "customers"),
        ("request dsr-20261122-151318 at 2026-11-22T15:13:18Z", "2026-11-22T15:13:18Z"),
        ("sha256:987ba02965ce5c654eba8dcfb7c83b39", "987ba02965ce5c654eba8dcfb7c83b39"),
    ],
)
def test_scrub_keeps_names_ids_and_digests(text: str, kept: str) -> None:
    assert kept in scrub(text)


def test_scrub_removes_driver_details() -> None:
    msg = "violates unique constraint Key (email)=(x@y.io) [parameters: ('x@y.io',)]"
    assert "x@y.io" not in scrub(msg)
