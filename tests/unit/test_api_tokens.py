"""API tokens: made, listed and revoked by an admin (audited), kept as digests, shown once,
expiring, revocable; bearer sign-in with them, and the ``dsrflow tokens`` commands."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dsrflow.cli.main import app as cli
from dsrflow.errors import Conflict, NotFound, UserError
from dsrflow.service.principal import NotAllowed
from dsrflow.service.tokens import (
    LAST_USED_EVERY,
    Authenticate,
    CreateToken,
    ListTokens,
    RevokeToken,
    parse_lifetime,
)
from tests.unit.api_kit import api_runtime, auth, client, one_line_error
from tests.unit.service_kit import ADMIN, ANALYST, AUDITOR, env_of


@pytest.fixture
def rt(tmp_path: Path):
    rt = api_runtime(tmp_path)
    yield rt
    rt.ledger.close()


def make(rt, *roles: str, expires_in: str = "30d", actor: str = "staff:ann"):
    return CreateToken(rt).run(ADMIN, actor=actor, roles=list(roles), expires_in=expires_in)


@pytest.mark.parametrize(("text", "life"), [("12h", timedelta(hours=12)), ("30d", timedelta(
    days=30)), ("8w", timedelta(weeks=8)), ("366d", timedelta(days=366))])  # fmt: skip
def test_lifetimes(text: str, life: timedelta) -> None:
    assert parse_lifetime(text) == life


@pytest.mark.parametrize("text", ["", "30", "d", "0d", "-1d", "1y", "367d", "53w", "1.5d", "9\n"])
def test_bad_lifetimes_are_one_line(text: str) -> None:
    with pytest.raises(UserError, match=r"^--expires-in: ") as exc:
        parse_lifetime(text)
    assert "\n" not in str(exc.value)


def test_a_token_is_shown_once_and_only_its_digest_is_kept(rt) -> None:
    made = make(rt, "analyst", "approver")
    assert re.fullmatch(r"dsr_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", made.token)
    assert made.info.roles == ("analyst", "approver") and made.info.state() == "active"
    secret = made.token.split("_", 2)[2]
    rt.ledger.close()
    raw = b"".join(p.read_bytes() for p in (rt.settings.state_dir).glob("ledger.db*"))
    assert secret.encode() not in raw and made.token.encode() not in raw
    [listed] = ListTokens(rt).run(ADMIN)
    assert listed.id == made.info.id and secret not in repr(listed)


def test_sign_in_checks_secret_revocation_and_expiry(rt) -> None:
    made = make(rt, "analyst", expires_in="1h")
    verdict = Authenticate(rt).run(made.token)
    assert verdict.principal is not None and verdict.principal.actor == "staff:ann"
    assert verdict.principal.roles == {"analyst"}
    wrong = made.token[:-1] + ("A" if made.token[-1] != "A" else "B")
    assert Authenticate(rt).run(wrong).refusal == "unknown"
    assert Authenticate(rt).run("dsr_ffffffffffff_" + "A" * 43).refusal == "unknown"
    for junk in ("", "Bearer x", made.token + "x", made.token.upper(), "dsr_x_y"):
        assert Authenticate(rt).run(junk).refusal == "malformed"
    later = datetime.now(UTC) + timedelta(hours=2)
    assert Authenticate(rt).run(made.token, now=later).refusal == "expired"
    RevokeToken(rt).run(ADMIN, made.info.id)
    assert Authenticate(rt).run(made.token).refusal == "revoked"


def test_last_use_is_recorded_at_most_once_a_minute(rt) -> None:
    made = make(rt, "auditor")
    t0 = datetime.now(UTC)
    Authenticate(rt).run(made.token, now=t0)
    Authenticate(rt).run(made.token, now=t0 + LAST_USED_EVERY / 2)
    [info] = ListTokens(rt).run(ADMIN)
    assert info.last_used_at == t0
    Authenticate(rt).run(made.token, now=t0 + LAST_USED_EVERY)
    [info] = ListTokens(rt).run(ADMIN)
    assert info.last_used_at == t0 + LAST_USED_EVERY


def test_only_admins_manage_tokens_and_every_step_is_audited(rt) -> None:
    for who in (ANALYST, AUDITOR):
        with pytest.raises(NotAllowed, match=r"may not tokens\.manage"):
            CreateToken(rt).run(who, actor="staff:x", roles=["admin"], expires_in="1d")
        with pytest.raises(NotAllowed):
            ListTokens(rt).run(who)
        with pytest.raises(NotAllowed):
            RevokeToken(rt).run(who, "000000000000")
    made = make(rt, "intake", actor="service:web")
    ListTokens(rt).run(ADMIN)
    RevokeToken(rt).run(ADMIN, made.info.id)
    with pytest.raises(Conflict, match="revoked already"):
        RevokeToken(rt).run(ADMIN, made.info.id)
    with pytest.raises(NotFound, match="no such token"):
        RevokeToken(rt).run(ADMIN, "0123456789ab")
    entries = [(e.actor, e.action, e.category, e.detail) for e in rt.ledger.audit_entries()]
    assert [e[:3] for e in entries] == [
        ("staff:root", "tokens.create", "system"),
        ("staff:root", "tokens.list", "system"),
        ("staff:root", "tokens.revoke", "system"),
    ]
    assert entries[0][3]["token"] == made.info.id and entries[0][3]["roles"] == ["intake"]
    assert entries[0][3]["token_actor"] == "service:web"
    secret = made.token.split("_", 2)[2]
    assert all(secret not in str(e) for e in entries)


def test_bad_actor_or_role_is_refused(rt) -> None:
    with pytest.raises(UserError, match="actor: expected KIND:NAME"):
        make(rt, "analyst", actor="ann")
    with pytest.raises(UserError, match=r"unknown role\(s\) root"):
        make(rt, "root")
    with pytest.raises(UserError, match="has no role"):
        make(rt)


def test_bearer_sign_in_over_http(rt) -> None:
    made = make(rt, "auditor")
    c = client(rt)
    r = c.get("/api/v1/metrics", headers=auth(made.token))
    assert r.status_code == 200
    r = c.get("/api/v1/metrics")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "bearer token is required" in one_line_error(r)
    r = c.get("/api/v1/metrics", headers={"Authorization": f"Basic {made.token}"})
    assert r.status_code == 401
    RevokeToken(rt).run(ADMIN, made.info.id)
    r = c.get("/api/v1/metrics", headers=auth(made.token))
    assert r.status_code == 401 and one_line_error(r) == f"token {made.info.id}: revoked"


def test_tokens_commands(tmp_path: Path) -> None:
    api_runtime(tmp_path).ledger.close()
    env = env_of(tmp_path)
    run = CliRunner().invoke
    made = run(cli, ["tokens", "create", "--actor", "staff:ann", "--role", "analyst", "--role",
                     "approver", "--expires-in", "30d"], env=env)  # fmt: skip
    assert made.exit_code == 0, made.output
    [tok] = re.findall(r"dsr_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", made.output)
    tid = tok[4:16]
    assert f"token {tid} for staff:ann (analyst, approver), expires " in made.output
    listed = run(cli, ["tokens", "list"], env=env)
    assert listed.exit_code == 0 and tid in listed.output and "active" in listed.output
    assert tok[17:] not in listed.output
    revoked = run(cli, ["tokens", "revoke", tid], env=env)
    assert revoked.exit_code == 0 and f"revoked token {tid} (staff:ann)" in revoked.output
    assert "revoked" in run(cli, ["tokens", "list"], env=env).output
    refused = run(cli, ["tokens", "list"], env={**env, "DSRFLOW_ROLES": "analyst"})
    assert isinstance(refused.exception, NotAllowed)
    bad = run(cli, ["tokens", "create", "--actor", "staff:x", "--role", "analyst",
                    "--expires-in", "forever"], env=env)  # fmt: skip
    assert isinstance(bad.exception, UserError) and "--expires-in" in str(bad.exception)
