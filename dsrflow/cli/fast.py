"""The fast start of ``dsrflow request list`` and ``dsrflow request show ID``.

People (and scripts) run these two far more than anything else, and the Temporal CLI answers
the same questions in ~50 ms; through Typer, pydantic and SQLAlchemy they took ~500 ms
(docs/benchmarks.md, "CLI start-up"). Their plain forms are parsed here instead, and run the
same use cases (``ListRequests``, ``ShowRequest``: same authorisation, same audit entry) over the
plain-SQL read runtime (``dsrflow.read_runtime``), printed by the same ``cli.render``.

Handled: ``request list`` with ``--status S`` and ``--limit N`` (also as ``--opt=value``), and
``request show ID``. Everything else (``--help``, ``--subject``, ``--all``, ``--reveal``, global
options, anything unusual) returns None and the Typer app runs; so does a ledger the read
runtime declines (PostgreSQL, missing, another revision). Errors are raised, not printed: the
entry point (``cli.main``) prints them exactly as for the Typer path. Logging is not configured
here: nothing on these two paths logs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from dsrflow.read_runtime import ReadRuntime
    from dsrflow.runtime import Runtime

_LIST_OPTIONS = ("--status", "--limit")


def parse(argv: list[str]) -> tuple[str, dict[str, str]] | None:
    """``("list", {option: value})`` or ``("show", {"id": ID})``; None for anything else."""
    if len(argv) < 2 or argv[0] != "request":
        return None
    command, rest = argv[1], argv[2:]
    if command == "show":
        if len(rest) == 1 and rest[0] and not rest[0].startswith("-"):
            return "show", {"id": rest[0]}
        return None
    if command != "list":
        return None
    options: dict[str, str] = {}
    i = 0
    while i < len(rest):
        name, eq, value = rest[i].partition("=")
        if name not in _LIST_OPTIONS or name in options:
            return None
        if not eq:
            if i + 1 >= len(rest):
                return None
            i += 1
            value = rest[i]
        if value.startswith("-"):  # Click's reading of that is its own; let it decide
            return None
        options[name] = value
        i += 1
    limit = options.get("--limit", "50")
    if not (limit.isascii() and limit.isdigit()):
        return None  # Click's "not a valid integer" message, with its usage lines
    return "list", options


def run(argv: list[str]) -> int | None:
    """Run a plain ``request list`` / ``request show ID``; None when the Typer app must.

    Returns:
        The exit code (0), or None.

    Raises:
        UserError: As the Typer path raises it (bad filter, unknown request, not allowed...).
    """
    parsed = parse(argv)
    if parsed is None:
        return None
    from dsrflow.read_runtime import open_read_runtime

    rrt = open_read_runtime(os.environ)
    if rrt is None:
        return None
    try:
        _execute(rrt, *parsed)
    finally:
        rrt.close()
    return 0


def _execute(rrt: ReadRuntime, command: str, options: dict[str, str]) -> None:
    from dsrflow.cli.actor import local_actor
    from dsrflow.cli.render import render_list, render_report
    from dsrflow.service.principal import Principal
    from dsrflow.service.reads import ListRequests, ShowRequest

    # The CLI's principal, as CliState.principal builds it (no --actor on this path).
    principal = Principal.of(rrt.settings.actor or local_actor(), rrt.settings.roles.split(","))
    # The use cases use rt.settings and rt.ledger only on these paths, which the read runtime
    # provides (the plain-SQL reader has the Ledger methods they call).
    rt = cast("Runtime", rrt)
    if command == "list":
        limit = int(options.get("--limit", "50"))
        render_list(ListRequests(rt).run(principal, options.get("--status"), limit))
    else:
        render_report(ShowRequest(rt).run(principal, options["id"]))
