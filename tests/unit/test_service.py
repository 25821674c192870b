"""The application layer: principals, authorisation, input checks and each use case's audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from dsrflow.domain import RequestStatus
from dsrflow.errors import UserError
from dsrflow.ledger import Ledger
from dsrflow.service import checks
from dsrflow.service.audit import AuditLine, fold
from dsrflow.service.decisions import Decide, DecisionInput
from dsrflow.service.principal import DEFAULT_POLICY, ROLES, NotAllowed, Principal, authorise
from dsrflow.service.reads import ListRequests, ListTasks, ShowRequest
from dsrflow.service.results import DownloadResult, Purge
from tests.unit.service_kit import ADMIN, ANALYST, AUDITOR, ENGINEER, project, runtime


def audit_of(rt, request_id: str | None = None) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.category) for e in rt.ledger.audit_entries(request_id)]


# -- principal and policy ----------------------------------------------------------------


@pytest.mark.parametrize(
    "actor", ["ann", "staff:", ":ann", "staff:ann bob", "staff:[b]x", "Staff:ann", "s:a\n", ""]
)
def test_malformed_actor_is_refused_in_one_line(actor: str) -> None:
    with pytest.raises(UserError, match="actor: expected KIND:NAME") as exc:
        Principal.of(actor, ["admin"])
    assert "\n" not in str(exc.value)


def test_principal_needs_a_known_role() -> None:
    with pytest.raises(UserError, match="has no role"):
        Principal.of("staff:ann", [])
    with pytest.raises(UserError, match=r"unknown role\(s\) root"):
        Principal.of("staff:ann", ["root"])
    assert Principal.of("staff:ann", [" analyst ", ""]).roles == {"analyst"}


def test_every_use_case_names_only_known_roles_and_admin_may_do_all() -> None:
    for use_case, roles in DEFAULT_POLICY.items():
        assert roles <= ROLES, use_case
        assert authorise(ADMIN, use_case) is ADMIN


def test_authorise_refuses_missing_or_unentitled_principals() -> None:
    with pytest.raises(NotAllowed, match="approve: no authenticated caller"):
        authorise(None, "approve")
    with pytest.raises(
        NotAllowed, match=r"staff:ann may not approve \(needs one of: admin, approver\)"
    ):
        authorise(ANALYST, "approve")
    with pytest.raises(NotAllowed):
        authorise(Principal("staff:x", frozenset({"analyst"})), "unknown-use-case")  # admin only
    assert authorise(AUDITOR, "view") is AUDITOR


# -- input checks --------------------------------------------------------------------------


@pytest.mark.parametrize("rid", ["dsr-1\n", "a\x00b", "../etc", "a" * 81, "[/bold]", "", "-x"])
def test_bad_request_ids_are_refused(rid: str) -> None:
    with pytest.raises(UserError, match="use 1-80 letters") as exc:
        checks.request_id(rid)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "value", ["tomorrow", "2026-13-01", "2026-02-30", "2026-1-1", "2026-01-01\n"]
)
def test_dates_must_be_calendar_dates(value: str) -> None:
    with pytest.raises(UserError, match="--until: "):
        checks.day(value, "--until")


def test_a_real_date_and_markup_text_are_accepted() -> None:
    assert checks.day("2030-12-31", "--until") == "2030-12-31"
    assert checks.text("[/oops] [bold]", "--reason") == "[/oops] [bold]"
    for bad in ("two\nlines", "bell\x07", "rtl\u202e"):
        with pytest.raises(UserError, match="--reason: control or formatting character"):
            checks.text(bad, "--reason")


def test_folding_keeps_decisions_and_counts_views() -> None:
    from datetime import UTC, datetime, timedelta

    t = datetime(2026, 1, 1, tzinfo=UTC)
    lines = [
        AuditLine(t, "staff:a", "view", "view"),
        AuditLine(t + timedelta(minutes=1), "staff:a", "approve", "decision"),
        AuditLine(t + timedelta(minutes=2), "staff:a", "view", "view"),
        AuditLine(t + timedelta(minutes=3), "staff:b", "view", "view"),
        AuditLine(t + timedelta(minutes=4), "staff:a", "download", "download"),
        AuditLine(t + timedelta(minutes=5), "staff:a", "view", "view"),
    ]
    folded = fold(lines)
    assert [(x.actor, x.action, x.count) for x in folded] == [
        ("staff:a", "view", 3), ("staff:a", "approve", 1), ("staff:b", "view", 1),
        ("staff:a", "download", 1),
    ]  # fmt: skip
    assert folded[0].last_at == t + timedelta(minutes=5)


# -- use cases on a real ledger -----------------------------------------------------------


def test_show_is_authorised_and_audited_as_a_view(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    project(rt, "dsr-a")
    with pytest.raises(NotAllowed):
        ShowRequest(rt).run(ENGINEER, "dsr-a")
    assert audit_of(rt) == []
    report = ShowRequest(rt).run(AUDITOR, "dsr-a")
    report = ShowRequest(rt).run(AUDITOR, "dsr-a")
    assert report.request.id == "dsr-a" and report.request.stores[0].store == "shop"
    assert audit_of(rt, "dsr-a") == [("staff:aud", "view", "view")] * 2
    assert [(x.action, x.count) for x in report.audit] == [("view", 2)]
    everything = ShowRequest(rt).run(AUDITOR, "dsr-a", everything=True)
    assert [(x.action, x.count) for x in everything.audit] == [("view", 1)] * 3
    with pytest.raises(UserError, match="request dsr-b: not in the ledger"):
        ShowRequest(rt).run(AUDITOR, "dsr-b")


def test_list_refuses_an_unknown_status_naming_the_allowed_ones(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    project(rt, "dsr-a", RequestStatus.NEEDS_ATTENTION)
    with pytest.raises(
        UserError,
        match=r"--status: .bogus. is not one of received, .*, cancelled, rejected, ended-outside$",
    ):
        ListRequests(rt).run(AUDITOR, "bogus")
    assert [r.id for r in ListRequests(rt).run(AUDITOR, "needs-attention")] == ["dsr-a"]
    assert [r.id for r in ListRequests(rt).run(AUDITOR, "needs_attention")] == ["dsr-a"]
    assert ListRequests(rt).run(AUDITOR, "running") == []
    with pytest.raises(NotAllowed):
        ListRequests(rt).run(ENGINEER)
    assert ListTasks(rt).run(ENGINEER, everything=True) == []  # engineers see tasks, not lists


def test_result_of_an_unfinished_request_says_so(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    project(rt, "dsr-a", RequestStatus.RUNNING)
    with pytest.raises(
        UserError, match=r"request dsr-a has not finished \(running\); no result yet"
    ) as exc:
        DownloadResult(rt).run(ANALYST, "dsr-a", tmp_path / "out")
    assert exc.value.exit_code == 3
    with pytest.raises(NotAllowed):
        DownloadResult(rt).run(AUDITOR, "dsr-a", tmp_path / "out")
    assert audit_of(rt) == []


def test_download_is_audited_with_the_files(tmp_path: Path) -> None:
    from dsrflow.artifacts import BUNDLE

    rt = runtime(tmp_path)
    project(rt, "dsr-a", RequestStatus.COMPLETED)
    folder = rt.artifacts.dir("dsr-a")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / BUNDLE).write_bytes(b"PK-bundle")
    written = DownloadResult(rt).run(ANALYST, "dsr-a", tmp_path / "out")
    assert [p.name for p in written] == ["dsr-a-evidence-bundle.zip"]
    [entry] = rt.ledger.audit_entries("dsr-a")
    assert (entry.actor, entry.action, entry.category) == ("staff:ann", "download", "download")
    assert entry.detail == {"files": ["dsr-a-evidence-bundle.zip"]}


def test_purge_is_admin_only_and_audited_as_system(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    project(rt, "dsr-old", RequestStatus.COMPLETED, ended_days_ago=10)
    project(rt, "dsr-new", RequestStatus.COMPLETED, ended_days_ago=1)
    with pytest.raises(NotAllowed):
        Purge(rt).run(ANALYST, older_than=5)
    assert [p.request_id for p in Purge(rt).run(ADMIN, older_than=5, dry_run=True)] == ["dsr-old"]
    assert audit_of(rt) == []
    [done] = Purge(rt).run(ADMIN, older_than=5)
    assert done.request_id == "dsr-old"
    assert audit_of(rt) == [("staff:root", "purge", "system")]
    with pytest.raises(UserError, match="--older-than: between 0 and 36500 days"):
        Purge(rt).run(ADMIN, older_than=-1)


def test_decisions_are_checked_and_authorised_before_temporal(tmp_path: Path) -> None:
    rt = runtime(tmp_path)
    decide = Decide(rt)
    with pytest.raises(NotAllowed, match="may not approve"):
        decide.check(ANALYST, DecisionInput("approve", "dsr-a"))
    with pytest.raises(UserError, match="--until: 2026-13-01 is not a calendar date"):
        decide.check(ADMIN, DecisionInput("exempt_store", "dsr-a", store="shop", ground="x",
                                          until="2026-13-01"))  # fmt: skip
    with pytest.raises(UserError, match="--until: expected a date YYYY-MM-DD"):
        decide.check(ADMIN, DecisionInput("exempt_store", "dsr-a", store="shop", ground="x",
                                          until="tomorrow"))  # fmt: skip
    with pytest.raises(UserError, match=r"STORE .* not a name"):
        decide.check(ADMIN, DecisionInput("retry_store", "dsr-a", store="[/bold]"))
    with pytest.raises(UserError, match="--outcome: 'maybe' is not one of done, not_found"):
        decide.check(ADMIN, DecisionInput("complete_task", "dsr-a", store="s", outcome="maybe"))
    arg = decide.check(ADMIN, DecisionInput("approve", "dsr-a", reason="[/oops]"))
    assert (arg.actor, arg.reason) == ("staff:root", "[/oops]")  # the principal is the actor
    assert audit_of(rt) == []


def test_migration_classifies_entries_written_before_it(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    from dsrflow.ledger.migrate import config

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(config(conn), "0002")
        for action in ("approve", "view", "download", "codec_decode", "purge"):
            conn.execute(
                text("INSERT INTO audit_log (at, actor, action, detail) "
                     "VALUES ('2026-01-01', 'staff:a', :a, '{}')"), {"a": action}
            )  # fmt: skip
    ledger = Ledger(url, migrate=True)  # 0002 -> head: the backfill runs
    assert [(e.action, e.category) for e in ledger.audit_entries()] == [
        ("approve", "decision"), ("view", "view"), ("download", "download"),
        ("codec_decode", "decode"), ("purge", "system"),
    ]  # fmt: skip
    ledger.audit("anonymous:1.2.3.4", "codec_refused")  # writers that do not say get one too
    assert ledger.audit_entries()[-1].category == "decode"
    from dsrflow.ledger import audit_chain

    with ledger.session() as s:  # entries written before the chain existed are chained too
        chain = audit_chain.walk(s)
    assert (chain.problem, chain.entries) == (None, 6)
