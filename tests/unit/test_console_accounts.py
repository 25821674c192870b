"""Console accounts: argon2id hashes only, admin-only use cases, each audited without secrets,
and the ``dsrflow accounts`` commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from dsrflow.cli.main import app as cli
from dsrflow.errors import Conflict, NotFound, UserError
from dsrflow.ledger.models import ConsoleAccountRow
from dsrflow.service.accounts import (
    CreateAccount,
    ListAccounts,
    ResetPassword,
    SetDisabled,
    SetRoles,
    UnlockAccount,
)
from dsrflow.service.principal import NotAllowed
from dsrflow.service.signin import PasswordSignIn, Refused
from tests.unit.console_kit import FAST_ARGON, PASSWORD, console_runtime
from tests.unit.service_kit import ADMIN, ANALYST, env_of


@pytest.fixture
def rt(tmp_path: Path):
    runtime = console_runtime(tmp_path)
    yield runtime
    runtime.ledger.close()


def _everything_stored(rt) -> str:
    """Every row of the ledger as text (to look for secrets in it)."""
    out = []
    with rt.ledger.engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars()
        for name in list(names):
            out += [repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{name}"'))]
    return "\n".join(out)


def test_only_an_argon2id_hash_is_stored_and_no_secret_is_audited(rt) -> None:
    made = CreateAccount(rt).run(ADMIN, username="ann", roles=["analyst"], password=PASSWORD)
    assert made.one_time_password is None and made.info.actor == "staff:ann"
    reset = ResetPassword(rt).run(ADMIN, "ann")
    otp = reset.one_time_password
    assert otp and len(otp) >= 20
    with rt.ledger.session() as s:
        row = s.get(ConsoleAccountRow, "ann")
        assert row is not None and row.password_hash is not None
        stored_hash = row.password_hash
    assert stored_hash.startswith("$argon2id$")
    stored = _everything_stored(rt)
    assert PASSWORD not in stored and otp not in stored
    audit = json.dumps([(e.actor, e.action, e.detail) for e in rt.ledger.audit_entries()])
    assert PASSWORD not in audit and otp not in audit and stored_hash not in audit
    assert "argon2" not in audit


def test_a_one_time_password_must_be_replaced_and_works(rt) -> None:
    made = CreateAccount(rt).run(ADMIN, username="bob", roles=["approver", "auditor"])
    assert made.one_time_password is not None and made.info.must_change_password
    done = PasswordSignIn(rt).run("bob", made.one_time_password)
    assert done.must_change_password and done.principal.roles == {"approver", "auditor"}


def test_rules_for_usernames_roles_and_passwords(rt) -> None:
    create = CreateAccount(rt).run
    with pytest.raises(UserError, match=r"^username: "):
        create(ADMIN, username="Not Valid", roles=["analyst"], password=PASSWORD)
    with pytest.raises(UserError, match="role: controller is not a console role"):
        create(ADMIN, username="c", roles=["controller"], password=PASSWORD)
    with pytest.raises(UserError, match="password: at least 12 characters"):
        create(ADMIN, username="c", roles=["analyst"], password="short")
    with pytest.raises(NotAllowed):
        create(ANALYST, username="c", roles=["analyst"], password=PASSWORD)
    create(ADMIN, username="c", roles=["analyst"], password=PASSWORD)
    with pytest.raises(Conflict, match="exists already"):
        create(ADMIN, username="c", roles=["admin"], password=PASSWORD)
    with pytest.raises(NotFound):
        SetRoles(rt).run(ADMIN, "nobody", roles=["analyst"])


def test_roles_disable_enable_unlock_list_are_admin_only_and_audited(rt) -> None:
    CreateAccount(rt).run(ADMIN, username="ann", roles=["analyst"], password=PASSWORD)
    assert SetRoles(rt).run(ADMIN, "ann", roles=["auditor", "engineer"]).roles == (
        "auditor", "engineer",
    )  # fmt: skip
    assert SetDisabled(rt).run(ADMIN, "ann", disabled=True).state() == "disabled"
    with pytest.raises(Refused):
        PasswordSignIn(rt).run("ann", PASSWORD)
    with pytest.raises(Conflict):
        SetDisabled(rt).run(ADMIN, "ann", disabled=True)
    assert SetDisabled(rt).run(ADMIN, "ann", disabled=False).state() == "active"
    assert UnlockAccount(rt).run(ADMIN, "ann").state() == "active"
    assert [a.username for a in ListAccounts(rt).run(ADMIN)] == ["ann"]
    for case in (lambda: ListAccounts(rt).run(ANALYST),
                 lambda: SetRoles(rt).run(ANALYST, "ann", roles=["admin"]),
                 lambda: UnlockAccount(rt).run(ANALYST, "ann"),
                 lambda: ResetPassword(rt).run(ANALYST, "ann")):  # fmt: skip
        with pytest.raises(NotAllowed):
            case()
    actions = [(e.actor, e.action, e.category) for e in rt.ledger.audit_entries()]
    assert [a for a in actions if a[0] == "staff:root"] == [
        ("staff:root", f"accounts.{a}", "system")
        for a in ("create", "roles", "disable", "enable", "unlock", "list")
    ]


def test_an_admin_cannot_disable_themselves(rt) -> None:
    CreateAccount(rt).run(ADMIN, username="root", roles=["admin"], password=PASSWORD)
    with pytest.raises(Conflict, match="your own account"):
        SetDisabled(rt).run(ADMIN, "root", disabled=True)


def test_a_changed_hash_parameter_is_applied_at_the_next_sign_in(tmp_path: Path) -> None:
    rt = console_runtime(tmp_path)
    CreateAccount(rt).run(ADMIN, username="ann", roles=["analyst"], password=PASSWORD)
    stronger = console_runtime(tmp_path, DSRFLOW_CONSOLE_PASSWORD_TIME_COST="2")

    def stored() -> str:
        with stronger.ledger.session() as s:
            row = s.get(ConsoleAccountRow, "ann")
            assert row is not None and row.password_hash is not None
            return row.password_hash

    assert ",t=1," in stored()
    PasswordSignIn(stronger).run("ann", PASSWORD)
    assert ",t=2," in stored()
    PasswordSignIn(stronger).run("ann", PASSWORD)  # and it still verifies


def test_accounts_commands(tmp_path: Path) -> None:
    console_runtime(tmp_path).ledger.close()
    env = {**env_of(tmp_path), **FAST_ARGON}
    run = CliRunner().invoke
    made = run(cli, ["accounts", "create", "ann", "--role", "analyst", "--role", "approver"],
               env=env)  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "account ann (analyst, approver) acts as staff:ann" in made.output
    [otp] = re.findall(r"^([A-Za-z0-9_-]{24})$", made.output, re.M)
    given = run(cli, ["accounts", "create", "bob", "--role", "auditor", "--password-stdin"],
                env=env, input=PASSWORD + "\n")  # fmt: skip
    assert given.exit_code == 0 and "one-time" not in given.output, given.output
    listed = run(cli, ["accounts", "list"], env=env)
    assert listed.exit_code == 0 and "ann" in listed.output and "bob" in listed.output
    assert otp not in listed.output and "$argon2" not in listed.output
    assert run(cli, ["accounts", "roles", "ann", "--role", "admin"], env=env).exit_code == 0
    assert "disabled" in run(cli, ["accounts", "disable", "bob"], env=env).output
    assert "enabled" in run(cli, ["accounts", "enable", "bob"], env=env).output
    assert "active" in run(cli, ["accounts", "unlock", "bob"], env=env).output
    reset = run(cli, ["accounts", "reset", "bob"], env=env)
    assert reset.exit_code == 0 and "one-time password for bob" in reset.output
    refused = run(cli, ["accounts", "list"], env={**env, "DSRFLOW_ROLES": "analyst"})
    assert isinstance(refused.exception, NotAllowed)
    bad = run(cli, ["accounts", "create", "x", "--role", "analyst", "--password-stdin"],
              env=env, input="short\n")  # fmt: skip
    assert isinstance(bad.exception, UserError) and "at least 12" in str(bad.exception)
    rt = console_runtime(tmp_path)
    with rt.ledger.session() as s:
        roles = s.scalars(select(ConsoleAccountRow.roles).order_by(ConsoleAccountRow.username))
        assert list(roles) == ["admin", "auditor"]
