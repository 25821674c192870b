"""Search by subject: a keyed blind index written at submission, read by `request list
--subject` and the API's list filter, audited without the value, removed by purge."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dsrflow.domain import DsrInput, RequestStatus
from dsrflow.errors import UserError
from dsrflow.ledger import subjects
from dsrflow.ledger.models import AuditRow, RequestSubjectRow
from dsrflow.lifecycle import SubmissionAck
from dsrflow.requests_client import SubmitRefused, Submitted
from dsrflow.runtime import Runtime
from dsrflow.service.intake import Submit, SubmitCommand
from dsrflow.service.principal import Principal
from dsrflow.service.reads import ListRequests
from dsrflow.service.results import Purge
from tests.fixtures.cli import invoke
from tests.unit.api_kit import api_runtime, auth, client, one_line_error, token
from tests.unit.service_kit import ADMIN, ANALYST, env_of, project, runtime

INTAKE = Principal.of("staff:in", ["intake"])
API = "/api/v1"


class FakeRequests:
    """Stands in for Temporal at the submit: accepts, or refuses like an ended workflow id."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse

    async def submit(self, inp: DsrInput) -> Submitted:
        if self.refuse:
            raise SubmitRefused(f"request {inp.request_id} already exists and has ended")
        ack = SubmissionAck(inp.request_id, RequestStatus.RUNNING, inp.received_at,
                            inp.received_at + timedelta(days=30))  # fmt: skip
        return Submitted(ack, created=True)


def submit(rt: Runtime, rid: str, *, email: list[str] = (), identity: list[str] = (),
           refuse: bool = False) -> None:  # fmt: skip
    use_case = Submit(rt)
    cmd = SubmitCommand("erasure", list(email), list(identity), request_id=rid)
    inp = use_case.check(INTAKE, cmd)
    asyncio.run(use_case.run(INTAKE, inp, FakeRequests(refuse)))  # type: ignore[arg-type]
    if not refuse:
        project(rt, rid)  # what the workflow's first projection does


def found(rt: Runtime, subject: str) -> set[str]:
    return {r.id for r in ListRequests(rt).run(ANALYST, subject=subject)}


def ledger_text(rt: Runtime) -> str:
    """Every value of every ledger table, as text."""
    path = rt.settings.state_dir / "ledger.db"
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(repr(row) for t in tables for row in db.execute(f'SELECT * FROM "{t}"'))


def test_a_subject_is_found_by_its_normalised_identifier_and_only_by_it(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    submit(rt, "dsr-ann", email=["Ann@Example.com "])
    submit(rt, "dsr-ann-tag", email=["ann+x@example.com"])
    submit(rt, "dsr-phone", identity=["phone=+44 20 7946 0018"])
    submit(rt, "dsr-both", email=["ann@example.com"], identity=["phone=0044 20 7946 0018"])
    project(rt, "dsr-other")  # in the ledger, about nobody we search for

    assert found(rt, "email=ann@example.com") == {"dsr-ann", "dsr-both"}
    assert found(rt, "email= ANN@EXAMPLE.COM  ") == {"dsr-ann", "dsr-both"}
    assert found(rt, "email=ann+x@example.com") == {"dsr-ann-tag"}  # a plus-tag is another person
    assert found(rt, "phone=+442079460018") == {"dsr-phone", "dsr-both"}
    assert found(rt, "phone=00 44 (0)20 7946 0018") == {"dsr-phone", "dsr-both"}
    assert found(rt, "email=nobody@example.com") == set()
    # Kind-separated: the same text under another kind is another token.
    assert found(rt, "customer_id=ann@example.com") == set()
    # Combined with the other filters.
    running = ListRequests(rt).run(ANALYST, "running", subject="email=ann@example.com")
    assert {r.id for r in running} == {"dsr-ann", "dsr-both"}
    # The ledger keeps tokens, never the identifier (the contact is sealed under its data key).
    text = ledger_text(rt)
    for clear in ("ann@example.com", "Ann@Example.com", "+442079460018", "7946"):
        assert clear not in text


def test_the_search_is_audited_as_a_view_naming_the_kind_only(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    submit(rt, "dsr-ann", email=["ann@example.com"])
    ListRequests(rt).run(ANALYST)  # a plain list is not audited
    ListRequests(rt).run(ANALYST, subject="email=ann@example.com")
    with rt.ledger.session() as s:
        rows = [(r.actor, r.action, r.category, r.request_id, r.detail)
                for r in s.query(AuditRow).order_by(AuditRow.id)]  # fmt: skip
    assert rows[-1] == ("staff:ann", "search", "view", None, {"by": "subject", "kind": "email"})
    assert [r[1] for r in rows] == ["submit", "search"]
    assert "ann@example.com" not in ledger_text(rt)


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("ann@example.com", "--subject: expected KIND=VALUE (e.g. email=ADDRESS)"),
        ("Email=ann@example.com", "--subject: expected KIND=VALUE (e.g. email=ADDRESS)"),
        ("email=   ", "--subject: expected KIND=VALUE (e.g. email=ADDRESS)"),
        ("email=ann@exa\nmple.com", "--subject email=...: control or formatting character"),
        ("phone=ann", "--subject phone=...: no value left after normalising"),
    ],
)
def test_a_bad_subject_is_refused_without_echoing_it(
    tmp_path: Path, subject: str, message: str
) -> None:
    rt = runtime(tmp_path)
    with pytest.raises(UserError) as err:
        ListRequests(rt).run(ANALYST, subject=subject)
    assert str(err.value).startswith(message)
    assert "ann" not in str(err.value)
    assert rt.ledger.audit_entries() == []  # nothing searched, nothing audited


CATALOG = """\
version: 1
identity_kinds:
  phone: {default_country_code: "44"}
  username: {match: casefold}
stores:
  shop:
    adapter: sql
    connection: {url: "sqlite:///shop.db"}
    collections:
      customers:
        identities: {email: email, phone: phone, login: username}
"""


def test_the_catalogs_kinds_normalise_the_search_as_they_did_the_submission(
    tmp_path: Path,
) -> None:
    from dsrflow.settings import Settings

    catalog = tmp_path / "dsrflow.yaml"
    catalog.write_text(CATALOG)
    env = {"DSRFLOW_STATE_DIR": str(tmp_path / "state"), "DSRFLOW_CATALOG": str(catalog)}
    rt = Runtime(Settings.load(env), env, migrate_ledger=True)
    submit(rt, "dsr-uk", identity=["phone=020 7946 0018", "username=Ann.P"])
    assert found(rt, "phone=+44 20 7946 0018") == {"dsr-uk"}  # the default country code
    assert found(rt, "username=ANN.p") == {"dsr-uk"}  # a declared casefold kind
    unknown = r"^--subject: unknown identity kind 'loyalty_no' \(known: "
    with pytest.raises(UserError, match=unknown):
        ListRequests(rt).run(ANALYST, subject="loyalty_no=A-1")


def test_a_refused_submission_removes_only_the_tokens_it_added(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    submit(rt, "dsr-1", email=["ann@example.com"])
    # The id names an ended request; someone submits another subject under it.
    with pytest.raises(SubmitRefused):
        submit(rt, "dsr-1", email=["ann@example.com", "bob@example.com"], refuse=True)
    assert found(rt, "email=ann@example.com") == {"dsr-1"}
    assert found(rt, "email=bob@example.com") == set()


def test_purge_removes_the_tokens_and_says_how_many(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    submit(rt, "dsr-old", email=["ann@example.com"], identity=["phone=+442079460018"])
    submit(rt, "dsr-new", email=["ann@example.com"])
    project(rt, "dsr-old", RequestStatus.COMPLETED, ended_days_ago=10)
    Purge(rt).run(ADMIN, older_than=5)
    assert found(rt, "email=ann@example.com") == {"dsr-new"}
    with rt.ledger.session() as s:
        left = {r.request_id for r in s.query(RequestSubjectRow)}
        [purge] = [r for r in s.query(AuditRow) if r.action == "purge"]
        detail: dict[str, Any] = purge.detail
    assert left == {"dsr-new"}
    assert purge.request_id == "dsr-old" and detail["subject_index_tokens"] == 2


def test_purge_removes_tokens_of_a_submission_that_never_started(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    subjects.add(rt.ledger, "dsr-lost", ["ab" * 32])
    subjects.add(rt.ledger, "dsr-fresh", ["cd" * 32])
    with rt.ledger.session() as s:
        s.get(RequestSubjectRow, ("dsr-lost", "ab" * 32)).created_at = datetime.now(
            UTC
        ) - timedelta(days=40)
    dry = Purge(rt).run(ADMIN, older_than=30, dry_run=True)
    assert [(p.request_id, p.status) for p in dry] == [("dsr-lost", "never started")]
    assert subjects.requests_for(rt.ledger, ["ab" * 32]) == ["dsr-lost"]  # a dry run keeps it
    Purge(rt).run(ADMIN, older_than=30)
    assert subjects.requests_for(rt.ledger, ["ab" * 32, "cd" * 32]) == ["dsr-fresh"]


def test_the_api_list_filter_and_the_cli_option(tmp_path: Path) -> None:
    rt = api_runtime(tmp_path)
    submit(rt, "dsr-ann", email=["ann@example.com"])
    submit(rt, "dsr-bob", email=["bob@example.com"])
    c, h = client(rt), auth(token(rt, "analyst"))
    r = c.get(f"{API}/requests", params={"subject": "email=Ann@Example.com "}, headers=h)
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()] == ["dsr-ann"]
    r = c.get(f"{API}/requests", params={"subject": "ann@example.com"}, headers=h)
    assert r.status_code == 400
    assert one_line_error(r) == "--subject: expected KIND=VALUE (e.g. email=ADDRESS)"

    cli_env = {**env_of(tmp_path), "DSRFLOW_ROLES": "analyst"}
    done = invoke("request", "list", "--subject", "email=bob@example.com", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "dsr-bob" in done.stdout and "dsr-ann" not in done.stdout
    bad = invoke("request", "list", "--subject", "bob@example.com", env=cli_env)
    assert bad.returncode != 0
    assert "--subject: expected KIND=VALUE" in bad.stderr and "bob@" not in bad.stderr
