"""`request show --reveal --reason` and `POST /requests/{id}/reveal`: refused without a reason or
the role, before Temporal is contacted; `show` alone never prints an identifier. (The decode
itself runs against a real history in tests/lifecycle/test_reveal.py.)"""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.cli import invoke
from tests.unit.api_kit import api_runtime, auth, client, one_line_error, token
from tests.unit.service_kit import env_of, project, runtime

API = "/api/v1"


def test_cli_reveal_needs_a_reason_and_the_role(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    project(rt, "dsr-1")
    env = {**env_of(tmp_path), "DSRFLOW_ROLES": "analyst"}
    no_reason = invoke("request", "show", "dsr-1", "--reveal", env=env)
    assert no_reason.returncode != 0 and no_reason.stderr.strip().endswith("--reason: required")
    assert "dsr-1" not in no_reason.stdout  # refused before anything was shown
    alone = invoke("request", "show", "dsr-1", "--reason", "why", env=env)
    assert alone.returncode != 0 and "--reason goes with --reveal" in alone.stderr
    auditor = {**env, "DSRFLOW_ROLES": "auditor"}
    refused = invoke("request", "show", "dsr-1", "--reveal", "--reason", "why", env=auditor)
    assert refused.returncode == 5 and "staff:cli may not reveal" in refused.stderr
    assert rt.ledger.audit_entries() == []
    shown = invoke("request", "show", "dsr-1", env=env)
    assert shown.returncode == 0 and "subject" not in shown.stdout  # hidden by default
    # Allowed, with a reason: the report prints, then Temporal (not running) is needed.
    unreachable = invoke("request", "show", "dsr-1", "--reveal", "--reason", "why", env=env)
    assert unreachable.returncode != 0 and "dsr-1" in unreachable.stdout
    assert "Temporal" in unreachable.stderr
    assert [e.action for e in rt.ledger.audit_entries()] == ["view", "view"]  # no decode


def test_api_reveal_needs_a_reason_and_the_role(tmp_path: Path) -> None:
    rt = api_runtime(tmp_path)
    project(rt, "dsr-1")
    c = client(rt)
    url = f"{API}/requests/dsr-1/reveal"
    r = c.post(url, json={"reason": "why"}, headers=auth(token(rt, "auditor")))
    assert r.status_code == 403 and "may not reveal" in one_line_error(r)
    analyst = auth(token(rt, "analyst"))
    r = c.post(url, json={"reason": " "}, headers=analyst)
    assert r.status_code == 400 and one_line_error(r) == "--reason: required"
    r = c.post(url, json={}, headers=analyst)
    assert r.status_code == 400
    r = c.post(url, json={"reason": "subject called"}, headers=analyst)
    assert r.status_code == 503  # allowed: Temporal, which holds the identifiers, is down
    assert not [e for e in rt.ledger.audit_entries() if e.action == "reveal"]
