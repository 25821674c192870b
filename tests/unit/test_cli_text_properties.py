"""Every user-supplied string is data: arbitrary text into every CLI option and catalog field.

Property: whatever the text (Rich markup, control characters, any Unicode), a command ends with
a result or a one-line user error; never a traceback, an internal error or an escape sequence
echoed to the terminal; and text that is accepted does not break a later command that prints it.
"""

from __future__ import annotations

import unicodedata
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dsrflow.catalog import yamlpos
from dsrflow.cli.main import app
from dsrflow.domain import RequestStatus
from dsrflow.errors import ConfigError, UserError
from dsrflow.service.decisions import Decide, DecisionInput
from tests.unit.service_kit import ADMIN, env_of, project, runtime

MARKUP = st.sampled_from(
    ["[/oops]", "[/bold]", "[bold]x", "[red]", "[link=x]y[/link]", ":cat:", "\\[", "]", "["]
)
CONTROL = st.sampled_from(["\n", "\r", "\x00", "\x1b[31m", "\t", "\u202e", "\u200b", "\x7f"])
TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(MARKUP, CONTROL, st.text(max_size=5)), max_size=6).map("".join),
    st.sampled_from(["dsr-a", "2027-12-01", "shop", "done", "a@b.io", "email=a@b.io", "x=y"]),
)
X = "\u0000X\u0000"  # where the drawn text goes (never a real argument)

# Every command and option a person can type text into (paths that would write elsewhere
# excluded: --out of result is a temporary folder, --state-dir is fixed).
COMMANDS: list[list[str]] = [
    ["--actor", X, "request", "list"],
    ["--catalog", X, "stores", "list"],
    ["request", "submit", "--type", X, "--email", "a@b.io"],
    ["request", "submit", "--type", "access", "--email", X],
    ["request", "submit", "--type", "access", "--identity", X],
    ["request", "submit", "--type", "rectification", "--email", "a@b.io", "--set", X],
    ["request", "submit", "--type", "access", "--email", "a@b.io", "--request-id", X],
    ["request", "submit", "--type", "access", "--email", "a@b.io", "--case-ref", X],
    ["request", "submit", "--type", "access", "--email", "a@b.io", "--regulation", X],
    ["request", "watch", X],
    ["request", "list", "--status", X],
    ["request", "list", "--limit", X],
    ["request", "show", X],
    ["request", "tasks", "--all"],
    ["request", "result", X, "--out", "{out}"],
    ["request", "verify-identity", X, "--method", "email_link"],
    ["request", "verify-identity", "dsr-a", "--method", X],
    ["request", "verify-identity", "dsr-a", "--method", "m", "--reference", X],
    ["request", "approve", "dsr-a", "--reason", X],
    ["request", "deny", "dsr-a", "--ground", X],
    ["request", "deny", "dsr-a", "--ground", "g", "--note", X],
    ["request", "extend", "dsr-a", "--reason", X, "--months", "1"],
    ["request", "extend", "dsr-a", "--reason", "r", "--days", X],
    ["request", "cancel", "dsr-a", "--reason", X],
    ["request", "hold", "dsr-a", "--reason", X],
    ["request", "release", "dsr-a", "--reason", X],
    ["request", "retry-store", "dsr-a", X],
    ["request", "skip-store", "dsr-a", "shop", "--reason", X],
    ["request", "exempt-store", "dsr-a", "shop", "--ground", X],
    ["request", "exempt-store", "dsr-a", "shop", "--ground", "g", "--until", X],
    ["request", "exempt-store", "dsr-a", "shop", "--ground", "g", "--note", X],
    ["request", "complete-task", "dsr-a", "shop", "--outcome", X],
    ["request", "complete-task", "dsr-a", "shop", "--outcome", "done", "--method", X],
    ["request", "complete-task", "dsr-a", "shop", "--outcome", "done", "--certificate-ref", X],
    ["request", "complete-task", "dsr-a", "shop", "--outcome", "done", "--attachment-digest", X],
    ["purge", "--dry-run", "--older-than", X],
    ["stores", "show", X],
    ["stores", "test", X],
    ["stores", "test", "shop", "--subject", X],
    ["keys", "revoke", X],
]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("props")
    project(runtime(tmp), "dsr-a", RequestStatus.RUNNING)
    return tmp


def no_control(text: str) -> bool:
    return not any(unicodedata.category(c) == "Cc" for c in text if c != "\n")


def check_outcome(result: Any, multi_line_ok: bool = False) -> None:
    """A result, or a one-line user error; never a traceback or a stray exception."""
    assert "Traceback" not in result.output and "internal error" not in result.output
    exc = result.exception
    if exc is None or isinstance(exc, SystemExit):
        assert no_control(result.output), repr(result.output)
        return
    assert isinstance(exc, UserError), f"{type(exc).__name__}: {exc}"
    message = str(exc)
    if not (multi_line_ok and isinstance(exc, ConfigError)):
        assert "\n" not in message, repr(message)
    printed = _printed_error(message)
    assert no_control(printed), repr(printed)  # nothing that drives the terminal


def _printed_error(message: str) -> str:
    """What ``main()`` prints for a user error: ``common.error``'s lines on stderr."""
    import io

    from rich.console import Console

    from dsrflow.cli import common

    saved, buf = common.err, io.StringIO()
    common.err = Console(file=buf, width=200, highlight=False, emoji=False)
    try:
        common.error(message)
    finally:
        common.err = saved
    return buf.getvalue()


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(command=st.sampled_from(COMMANDS), text=TEXT)
def test_every_cli_option_takes_any_text(state: Path, command: list[str], text: str) -> None:
    args = [text if a == X else a.replace("{out}", str(state / "out")) for a in command]
    result = CliRunner().invoke(app, args, env=env_of(state))
    check_outcome(result, multi_line_ok="--catalog" in command)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=TEXT)
def test_accepted_text_prints_back_in_show_list_and_tasks(state: Path, text: str) -> None:
    rt = runtime(state)
    try:  # what a person's decision would carry into the request's history
        Decide(rt).check(ADMIN, DecisionInput("cancel", "dsr-a", reason=text))
    except UserError:
        return
    project(rt, "dsr-t", RequestStatus.NEEDS_ATTENTION, reason=text, detail=text)
    try:
        for args in (["request", "show", "dsr-t"], ["request", "list"], ["request", "tasks"]):
            result = CliRunner().invoke(app, args, env=env_of(state))
            assert result.exit_code == 0 and result.exception is None, result.output
        shown = CliRunner().invoke(app, ["request", "show", "dsr-t"], env=env_of(state))
        assert f"staff:bob approved [shop] {text}".rstrip() in shown.output
    finally:
        _forget(rt, "dsr-t")


def _forget(rt: Any, request_id: str) -> None:
    from sqlalchemy import delete

    from dsrflow.ledger.models import RequestActionRow, RequestRow, StoreStateRow

    # Audit entries stay: the audit log is append-only (and hash-chained).
    with rt.ledger.session() as s:
        for model in (RequestActionRow, StoreStateRow):
            s.execute(delete(model).where(model.request_id == request_id))
        s.execute(delete(RequestRow).where(RequestRow.id == request_id))


DEMO = yaml.safe_load(resources.files("dsrflow.demo").joinpath("catalog.yaml").read_text())


def _string_slots(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every string in the catalog: ("key", path) for keys, ("value", path) for values."""
    slots: list[tuple] = []
    if isinstance(node, dict):
        for k, v in node.items():
            slots.append(("key", (*path, k)))
            slots += _string_slots(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            slots += _string_slots(v, (*path, i))
    elif isinstance(node, str):
        slots.append(("value", path))
    return slots


SLOTS = _string_slots(DEMO)


def _replaced(slot: tuple, text: str) -> dict:
    import copy

    data = copy.deepcopy(DEMO)
    kind, path = slot
    parent = data
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    if kind == "value":
        parent[last] = text
    else:
        parent[text] = parent.pop(last)
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(slot=st.sampled_from(SLOTS), text=TEXT)
def test_every_catalog_string_field_takes_any_text(state: Path, slot: tuple, text: str) -> None:
    path = state / "catalog-prop.yaml"
    path.write_text(yamlpos.dump(_replaced(slot, text), allow_unicode=True), encoding="utf-8")
    env = {**env_of(state), "DSRFLOW_CATALOG": str(path)}
    validated = CliRunner().invoke(app, ["catalog", "validate"], env=env)
    check_outcome(validated, multi_line_ok=True)
    if validated.exception is not None:
        return
    # Accepted: every command that prints the catalog must work with it.
    listed = CliRunner().invoke(app, ["stores", "list"], env=env)
    check_outcome(listed)
    assert listed.exception is None
    for name in yaml.safe_load(path.read_text())["stores"]:
        check_outcome(CliRunner().invoke(app, ["stores", "show", name], env=env))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.one_of(TEXT, st.text(min_size=50, max_size=400)))
def test_any_catalog_file_is_a_config_error_or_a_catalog(state: Path, text: str) -> None:
    path = state / "catalog-raw.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    env = {**env_of(state), "DSRFLOW_CATALOG": str(path)}
    check_outcome(CliRunner().invoke(app, ["catalog", "validate"], env=env), multi_line_ok=True)
