"""Property-based: random and mutated catalogs end in a catalog or one ``ConfigError``.

Issue 14, build item 2 (catalog parsing). Three families:

- structural mutations of the shipped demo catalog: a value anywhere replaced by an arbitrary
  YAML-like value (recursive strategy), a key dropped, a key added;
- text mutations of the same file (bytes replaced, inserted, deleted; lines duplicated);
- arbitrary YAML-like documents.

Whatever the input, ``load_catalog`` returns a catalog or raises ``ConfigError`` whose every
line starts with the file name (``FILE:LINE: field: ...`` or ``FILE: ...``), holds no control
character and never echoes a long value the file held. A valid catalog dumped and loaded again
is the same catalog.
"""

from __future__ import annotations

import copy
import unicodedata
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.catalog import load_catalog, yamlpos
from dsrflow.errors import ConfigError

REGISTRY = AdapterRegistry.from_entry_points()
DEMO_TEXT = resources.files("dsrflow.demo").joinpath("catalog.yaml").read_text(encoding="utf-8")
DEMO = yaml.safe_load(DEMO_TEXT)
LONG = "Q" * 70 + "longvalue"
"""A value longer than any error line should quote: it must never come back whole."""

SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["sql", "delete", "anonymize", "keep", "email", "shop", "support", LONG]),
)
YAMLISH = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["adapter", "after"]), inner, max_size=3
        )
    ),
    max_leaves=8,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


BUDGET = settings(max_examples=40)
"""Each example writes and loads a file: a smaller count than the profile's, same seed rules."""


def load(tmp_path: Path, text: str) -> object:
    """Load ``text`` as a catalog file; the catalog, or the checked ``ConfigError`` lines."""
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        return load_catalog(path, REGISTRY)
    except ConfigError as exc:
        message = str(exc)
        assert message, "an empty error"
        for line in message.split("\n"):
            assert line.startswith(str(path)), f"a line that names no file: {line!r}"
            bad = [c for c in line if unicodedata.category(c) == "Cc"]
            assert not bad, f"a control character reached the message: {line!r}"
            assert LONG not in line, f"a long value echoed whole: {line!r}"
            assert "Traceback" not in line
        return message


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@BUDGET
@given(data=st.data())
def test_a_value_anywhere_replaced_ends_in_a_catalog_or_config_lines(
    tmp_path_factory, data
) -> None:
    tmp = tmp_path_factory.mktemp("cat")
    doc = copy.deepcopy(DEMO)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(_paths(doc)[1:] or [("version",)]), label="path")
        target = doc
        try:
            for key in path[:-1]:
                target = target[key]
            how = data.draw(st.sampled_from(["replace", "drop", "add"]), label="how")
            if how == "replace":
                target[path[-1]] = data.draw(YAMLISH, label="value")
            elif how == "drop":
                del target[path[-1]]
            elif isinstance(target, dict):
                target[data.draw(st.text(max_size=8), label="key")] = data.draw(YAMLISH)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the path
    load(tmp, dump(doc))


@BUDGET
@given(data=st.data())
def test_text_mutations_of_the_demo_file_end_in_a_catalog_or_config_lines(
    tmp_path_factory, data
) -> None:
    tmp = tmp_path_factory.mktemp("cat")
    text = DEMO_TEXT
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        i = data.draw(st.integers(0, len(text)), label="position")
        how = data.draw(st.sampled_from(["replace", "insert", "delete", "dupline"]))
        piece = data.draw(
            st.text(max_size=3)
            | st.sampled_from(["\t", ":", "- ", "&a ", "*a", "!!python/", LONG]),
            label="text",
        )
        if how == "replace":
            text = text[:i] + piece + text[i + 1 :]
        elif how == "insert":
            text = text[:i] + piece + text[i:]
        elif how == "delete":
            text = text[:i] + text[i + len(piece) + 1 :]
        else:
            lines = text.split("\n")
            j = i % len(lines)
            text = "\n".join([*lines[: j + 1], lines[j], *lines[j + 1 :]])
    load(tmp, text)


@BUDGET
@given(doc=YAMLISH)
def test_arbitrary_documents_end_in_config_lines(tmp_path_factory, doc) -> None:
    out = load(tmp_path_factory.mktemp("cat"), dump(doc))
    assert isinstance(out, str), "an arbitrary document was accepted as a catalog"


@BUDGET
@given(
    doc=st.dictionaries(
        st.sampled_from(["version", "stores", "policies", "identity_kinds"]), YAMLISH, max_size=4
    )
)
def test_arbitrary_top_level_fields_end_in_config_lines(tmp_path_factory, doc) -> None:
    out = load(tmp_path_factory.mktemp("cat"), dump(doc))
    assert isinstance(out, str), "a catalog without valid stores was accepted"


@BUDGET
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_end_in_config_lines(tmp_path_factory, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("cat") / "catalog.yaml"
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as exc:
        load_catalog(path, REGISTRY)
    assert all(line.startswith(str(path)) for line in str(exc.value).split("\n"))


def test_the_demo_catalog_round_trips(tmp_path: Path) -> None:
    first = load(tmp_path, DEMO_TEXT)
    assert not isinstance(first, str), first
    again = tmp_path / "again.yaml"
    again.write_text(yamlpos.dump(first.raw), encoding="utf-8")
    second = load_catalog(again, REGISTRY)
    assert second.raw == first.raw
    assert set(second.stores) == set(first.stores)
    for name, store in first.stores.items():
        other = second.stores[name]
        assert other.common == store.common and other.config == store.config
        assert other.capabilities == store.capabilities


def test_found_a_long_unknown_kind_is_quoted_short(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace("customer_id: customer_id}", f"customer_id: {LONG}}}")
    message = load(tmp_path, text)
    assert isinstance(message, str) and "unknown identity kind 'QQQ" in message


def test_found_a_control_character_is_one_line_with_its_line(tmp_path: Path) -> None:
    message = load(tmp_path, "version: 1\nstores:\n  a\x1f: 1\n")
    assert message == f"{tmp_path / 'catalog.yaml'}:3: invalid YAML: unacceptable character #x001f"


def test_found_a_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_bytes(b"version: 1\n\x80")
    with pytest.raises(ConfigError, match=r"catalog.yaml: the catalog is not UTF-8 \(byte 11\)$"):
        load_catalog(path, REGISTRY)
