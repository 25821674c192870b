"""The CLI as a thin adapter over the application layer (in process, ``CliRunner``)."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from dsrflow.cli.main import app
from dsrflow.domain import RequestStatus
from dsrflow.errors import UserError
from dsrflow.service.principal import NotAllowed
from tests.unit.service_kit import env_of, project, runtime

CLI = Path(__file__).parents[2] / "dsrflow" / "cli"


def invoke(tmp: Path, *args: str, **env: str):
    runtime(tmp).ledger.close()  # an upgraded ledger, as `dsrflow ledger upgrade` leaves it
    return CliRunner().invoke(app, list(args), env={**env_of(tmp), **env})


def refused(result, pattern: str, exit_code: int = 2) -> None:
    """A one-line user error (what ``main()`` prints), never another exception."""
    assert isinstance(result.exception, UserError), result.output
    message = str(result.exception)
    assert "\n" not in message and re.search(pattern, message), message
    assert result.exception.exit_code == exit_code


def test_no_audit_call_and_no_ledger_row_in_the_cli() -> None:
    for path in CLI.glob("*.py"):
        source = path.read_text()
        assert "audit(" not in source, path.name
        assert not re.search(r"\bledger\.\w+\(", source), path.name  # reads go through it too


def test_show_folds_views_and_all_lists_them(tmp_path: Path) -> None:
    project(runtime(tmp_path), "dsr-a", reason="[/oops] halted", detail="[/bold] [red]x")
    for _ in range(3):
        shown = invoke(tmp_path, "request", "show", "dsr-a")
        assert shown.exit_code == 0, shown.output
    assert "dsr-a erasure running" in shown.output and "[/oops] halted" in shown.output
    assert "staff:bob approved [shop] [/bold] [red]x" in shown.output
    [audit] = [x for x in shown.output.splitlines() if "staff:cli view" in x]
    assert re.search(r"staff:cli view \(view\) x3 \(last ", audit), audit
    everything = invoke(tmp_path, "request", "show", "dsr-a", "--all")
    assert everything.output.count("staff:cli view (view)") == 4


def test_markup_and_control_characters_in_ids_are_one_line_errors(tmp_path: Path) -> None:
    refused(
        invoke(tmp_path, "request", "show", "[/bold]"), r"request id: not a request id; use 1-80"
    )
    refused(invoke(tmp_path, "request", "show", "dsr-1\n"), "use 1-80 letters")
    refused(invoke(tmp_path, "request", "approve", "a\x1b[31m"), "use 1-80 letters")


def test_list_status_filter_is_checked(tmp_path: Path) -> None:
    project(runtime(tmp_path), "dsr-a", RequestStatus.NEEDS_ATTENTION)
    refused(invoke(tmp_path, "request", "list", "--status", "bogus"), "not one of received, ")
    listed = invoke(tmp_path, "request", "list", "--status", "needs-attention")
    assert listed.exit_code == 0 and "dsr-a" in listed.output


def test_result_of_an_unfinished_request_exits_non_zero(tmp_path: Path) -> None:
    project(runtime(tmp_path), "dsr-a", RequestStatus.AWAITING_APPROVAL)
    result = invoke(tmp_path, "request", "result", "dsr-a", "--out", str(tmp_path / "o"))
    refused(result, r"has not finished \(awaiting_approval\)", exit_code=3)
    assert not (tmp_path / "o").exists()


def test_dates_are_refused_before_temporal_is_contacted(tmp_path: Path) -> None:
    base = ("request", "exempt-store", "dsr-a", "shop", "--ground", "Art. 17(3)(b)")
    refused(invoke(tmp_path, *base, "--until", "tomorrow"), "--until: expected a date")
    refused(invoke(tmp_path, *base, "--until", "2027-13-01"), "not a calendar date")
    # A valid one passes every check and only then needs Temporal (unreachable here).
    refused(invoke(tmp_path, *base, "--until", "2027-12-01"), "cannot reach Temporal")


def test_roles_come_from_the_environment_and_are_enforced(tmp_path: Path) -> None:
    result = invoke(tmp_path, "request", "approve", "dsr-a", DSRFLOW_ROLES="auditor")
    assert isinstance(result.exception, NotAllowed) and result.exception.exit_code == 5
    assert str(result.exception) == "staff:cli may not approve (needs one of: admin, approver)"
    refused(invoke(tmp_path, "request", "list", DSRFLOW_ROLES="wizard"), r"unknown role\(s\)")
    refused(invoke(tmp_path, "--actor", "ann", "request", "list"), "actor: expected KIND:NAME")


def test_catalog_alias_bomb_is_refused_at_load(tmp_path: Path) -> None:
    bomb = "version: 1\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    (tmp_path / "c.yaml").write_text(bomb + "stores: {}\n")
    result = invoke(tmp_path, "catalog", "validate", DSRFLOW_CATALOG=str(tmp_path / "c.yaml"))
    refused(result, r"c\.yaml:2: YAML anchors and aliases are not allowed in the catalog")


def test_catalog_yaml_written_by_dsrflow_has_no_aliases() -> None:
    from dsrflow.catalog.yamlpos import dump, load_with_positions

    gates = {"identity_verification": False}
    text = dump({"policies": {"erasure": gates, "access": gates}})
    assert "&" not in text and "*" not in text
    data, _ = load_with_positions(text, "c.yaml")
    assert data == {"policies": {"erasure": gates, "access": gates}}


def test_key_and_log_commands_reach_the_service_with_the_principal(tmp_path: Path) -> None:
    for args in (["keys", "list"], ["log", "checkpoint"], ["keys", "rotate"]):
        result = invoke(tmp_path, *args, DSRFLOW_ROLES="intake")
        assert isinstance(result.exception, NotAllowed), (args, result.output)
    published = invoke(tmp_path, "keys", "export-public", DSRFLOW_ROLES="auditor")
    assert published.exit_code == 0, published.output
    assert '{"payload":' in published.output  # the signed keyring envelope
    entries = [(e.actor, e.action, e.category) for e in runtime(tmp_path).ledger.audit_entries()]
    assert entries == [("staff:cli", "keys.init", "system")]  # keys created on first use
    again = invoke(tmp_path, "keys", "export-public", DSRFLOW_ROLES="auditor")
    assert again.exit_code == 0 and len(runtime(tmp_path).ledger.audit_entries()) == 1
