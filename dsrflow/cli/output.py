"""Where the CLI prints, and how it prints an error.

Imported by every command and by the fast start (``dsrflow.cli.fast``), so it imports Rich's
console and nothing of Typer.
"""

from __future__ import annotations

import sys

from rich.console import Console

# Piped output (logs, scripts, CI) gets wide lines instead of tables squeezed to 80 columns.
_WIDTH = None if sys.stdout.isatty() else 200
out = Console(highlight=False, emoji=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, emoji=False, width=None if sys.stderr.isatty() else 200)


def error(message: str) -> None:
    """Print an error: one line per problem, prefixed ``error:`` (the message is data)."""
    from rich.markup import escape

    from dsrflow.service.checks import printable

    for line in message.split("\n") or [""]:
        err.print(f"[bold red]error:[/] {escape(printable(line))}", markup=True, soft_wrap=True)
