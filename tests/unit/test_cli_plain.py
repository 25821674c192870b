"""``cli.plain`` writes, byte for byte, what Rich writes for the same view, or declines.

Views are drawn from text that is plain (the common case) and from text that is not (markup,
backslashes, tabs, control and wide characters, long lines, wide tables): whenever ``render``
answers, its text must equal Rich's output on the same (piped) standard output.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsrflow.cli import plain
from dsrflow.cli.render import Block, Grid, Line, emit_rich

_WORDS = st.sampled_from(
    ["dsr-1", "erasure", "needs_attention", "2026-10-23 16:22", "None", "0", "[bold]", "[/]",
     "a\\", "\\[x]", "x]", "[red", "é", "中文", "\t", "a\x1b[31m", "", " ", "  ", "a  b", "x" * 90,
     ":", "E: boom", "[shop]"]
)  # fmt: skip
_TEXT = st.lists(_WORDS, max_size=4).map(" ".join) | _WORDS


def _rich(capsys: pytest.CaptureFixture[str], blocks: list[Block]) -> str:
    capsys.readouterr()
    emit_rich(blocks)
    return capsys.readouterr().out


@st.composite
def _views(draw: st.DrawFn) -> list[Block]:
    blocks: list[Block] = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            text = draw(_TEXT)
            bold = draw(st.integers(0, len(text)))
            blocks.append(Line(text, soft_wrap=draw(st.booleans()), bold=bold))
        else:
            n = draw(st.integers(1, 5))
            headers = tuple(draw(st.lists(_WORDS, min_size=n, max_size=n)))
            rows = draw(st.lists(st.lists(_TEXT, min_size=n, max_size=n).map(tuple), max_size=4))
            blocks.append(Grid(headers, tuple(rows)))
    return blocks


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_views())
def test_plain_writes_what_rich_writes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, blocks: list[Block]
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    text = plain.render(blocks)
    if text is not None:
        assert text == _rich(capsys, blocks)


def test_the_usual_views_are_plain(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    views: list[list[Block]] = [
        [Grid(("request", "type", "due"), ())],
        [Grid(("request", "type", "due"), (("dsr-1", "erasure", ""), ("dsr-22", "access", "x")))],
        [
            Line("dsr-1 erasure running received 2026-10-23 16:22Z ", bold=5),
            Grid(("store", "error"), (("shop", "E: [/bold] [red]x"),)),
            Line("history:", soft_wrap=False),
            Line("  2026-12-02 16:22:02 staff:bob approved [shop] "),
        ],
    ]
    for blocks in views:
        text = plain.render(blocks)
        assert text is not None and text == _rich(capsys, blocks)
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich would style it: only Rich may print it
    assert plain.render(views[0]) is None
