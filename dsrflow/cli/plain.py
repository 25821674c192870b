"""Writing a view to a pipe without Rich: the bytes Rich would write, for the plain cases.

Importing Rich's console and table costs more than the rest of ``request list`` on the fast path
(docs/benchmarks.md, "CLI start-up"). When standard output is not a terminal (as Rich decides
it: no ``TTY_COMPATIBLE``/``FORCE_COLOR``), its encoding is UTF-8 and every string of the view
is printable ASCII that needs no wrapping, what Rich prints is fully determined: no styles,
tables in the ``HEAVY_HEAD`` box at their natural widths, lines as they are. ``render`` writes
exactly that and returns None for anything else, which then goes through Rich.
``tests/unit/test_cli_plain.py`` compares both on the same views, byte for byte.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dsrflow.cli.render import Block

WIDTH = 200
"""The width of piped output (``cli.output``'s consoles)."""

# Words of printable ASCII but the backslash (Rich's escaping does not give a trailing one back),
# single spaces between them, none at the edges.
_CELL = re.compile(r"(?:[\x21-\x5b\x5d-\x7e]+(?: [\x21-\x5b\x5d-\x7e]+)*)?")
_LINE = re.compile(r"[\x20-\x7e]*")


def to_pipe() -> bool:
    """Whether standard output is what Rich treats as a plain, UTF-8, non-terminal file."""
    if "TTY_COMPATIBLE" in os.environ or "FORCE_COLOR" in os.environ:
        return False
    out = sys.stdout
    try:
        if out.isatty():
            return False
    except ValueError:  # closed
        return False
    return (getattr(out, "encoding", None) or "utf-8").lower().startswith("utf")


def render(blocks: Sequence[Block]) -> str | None:
    """The text Rich would print for ``blocks``; None when only Rich can say."""
    from dsrflow.cli.render import Line

    if not to_pipe():
        return None
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Line):
            text = block.text
            if not _LINE.fullmatch(text) or (block.bold and "\\" in text):
                return None  # a bold line goes through markup, like a table's cells
            if not block.soft_wrap and (len(text) > WIDTH or text != text.strip()):
                return None  # Rich would wrap or trim it
            parts.append(text + "\n")
            continue
        table = _table(block.headers, block.rows)
        if table is None:
            return None
        parts.append(table)
    return "".join(parts)


def _table(headers: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> str | None:
    if not all(_CELL.fullmatch(c) for c in (*headers, *(c for r in rows for c in r))):
        return None
    widths = [max(len(c) for c in column) for column in zip(headers, *rows, strict=True)]
    if sum(widths) + 3 * len(widths) + 1 > WIDTH:
        return None  # Rich would shrink and wrap columns

    def rule(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right + "\n"

    def row(edge: str, cells: tuple[str, ...]) -> str:
        return (
            edge
            + edge.join(f" {c.ljust(w)} " for c, w in zip(cells, widths, strict=True))
            + (edge + "\n")
        )

    return "".join(
        [
            rule("┏", "━", "┳", "┓"),
            row("┃", headers),
            rule("┡", "━", "╇", "┩"),
            *(row("│", r) for r in rows),
            rule("└", "─", "┴", "┘"),
        ]
    )


def write(text: str) -> None:
    """Write ``text`` to standard output, flushed (as Rich does after each print)."""
    sys.stdout.write(text)
    sys.stdout.flush()
